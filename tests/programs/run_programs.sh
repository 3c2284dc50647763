#!/bin/sh
# Runs `weft test` on this directory (runfiles layout: cwd is the workspace root).
set -eu
weft="$1"
exec "$weft" test tests/programs --timeout-scale 3
