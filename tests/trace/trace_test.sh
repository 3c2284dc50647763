#!/usr/bin/env bash
# WEFT_TRACE end to end: run trace_target with tracing on, then parse the file and
# check the events (check_trace.py).
set -euo pipefail
target="$1"
checker="$2"
out="${TEST_TMPDIR:-/tmp}/weft_trace.json"
rm -f "$out"
WEFT_TRACE="$out" "$target"
[ -s "$out" ] || { echo "no trace written to $out"; exit 1; }
python3 "$checker" "$out"
