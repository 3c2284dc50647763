#!/usr/bin/env bash
# WEFT_TRACE end to end: run trace_target with tracing on, once per sampling mode of
# blockings (WEFT_TRACE_SAMPLE: every one, the default auto, one in four), then parse
# each file and check the events (check_trace.py).
set -euo pipefail
target="$1"
checker="$2"
for sample in all auto 4; do
  out="${TEST_TMPDIR:-/tmp}/weft_trace_${sample}.json"
  rm -f "$out"
  if [ "$sample" = auto ]; then
    env -u WEFT_TRACE_SAMPLE WEFT_TRACE="$out" "$target"
  else
    WEFT_TRACE="$out" WEFT_TRACE_SAMPLE="$sample" "$target"
  fi
  [ -s "$out" ] || { echo "no trace written to $out (WEFT_TRACE_SAMPLE=$sample)"; exit 1; }
  python3 "$checker" "$out" "$sample"
done
