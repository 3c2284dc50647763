#!/usr/bin/env bash
# A short soak: 20 s (WEFT_SOAK_SECONDS overrides), RSS reported every 5 s.
set -euo pipefail
"$1" --seconds "${WEFT_SOAK_SECONDS:-20}" --report-every-seconds 5
