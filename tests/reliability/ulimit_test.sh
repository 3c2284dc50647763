#!/usr/bin/env bash
# Runs ulimit_prog under `ulimit -v N` for several N (KiB). Each run must either
# complete (the arena retried a smaller reservation) or end in a clean error: exit 1
# with a "clean-error:" line, or abort after a documented "weft: ..." fatal message.
# A segfault, any other signal, or lost data fails the test.
set -uo pipefail
prog="$1"

if [ "$("$prog" --sanitizer)" != none ]; then
  echo "skipped: sanitizer builds reserve terabytes of shadow memory; ulimit -v cannot apply"
  exit 0
fi

# The documented fatal messages (the same list as fault_injection_test.cc).
fatal_re="weft: out of memory for a green thread's (native|managed) stack|weft: heap: out of memory copying nursery survivors|weft: could not unprotect a native stack guard page"

failures=0
completed=0
clean=0
for kib in 16777216 4194304 2097152 1048576 786432 524288 393216 262144 196608 131072 98304 65536 32768; do
  out="$(bash -c "ulimit -v $kib; exec \"$prog\"" 2>&1)"
  rc=$?
  verdict=""
  case "$rc" in
    0) verdict="completed"; completed=$((completed + 1)) ;;
    1)
      if grep -q '^clean-error:' <<<"$out"; then
        verdict="clean error"; clean=$((clean + 1))
      else
        verdict="BAD (exit 1 without a clean-error line)"
      fi
      ;;
    134)
      if grep -qE "$fatal_re" <<<"$out"; then
        verdict="documented fatal"; clean=$((clean + 1))
      else
        verdict="BAD (abort without a documented message)"
      fi
      ;;
    *) verdict="BAD (exit $rc$([ "$rc" -gt 128 ] && echo ", signal $((rc - 128))"))" ;;
  esac
  printf 'ulimit -v %8d KiB: %s: %s\n' "$kib" "$verdict" "$(head -c 300 <<<"$out" | tr '\n' ' ')"
  case "$verdict" in BAD*) failures=$((failures + 1)) ;; esac
done
echo "ulimit: $completed completed, $clean clean errors, $failures bad"
[ "$failures" -eq 0 ]
