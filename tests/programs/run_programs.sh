#!/bin/sh
# Checks the weft tool's handling of bad command lines and its REPL, then runs
# `weft test` on this directory (runfiles layout: cwd is the workspace root).
set -u
weft="$1"
failed=0

# expect STATUS TEXT CMD...: CMD exits with STATUS and its output contains TEXT.
expect() {
  want_status="$1"; want_text="$2"; shift 2
  out="$("$@" 2>&1 </dev/null)"
  status=$?
  if [ "$status" -ne "$want_status" ] || ! printf '%s' "$out" | grep -qF -- "$want_text"; then
    echo "FAIL cli: $*: exit $status (expected $want_status), output:"
    printf '%s\n' "$out" | sed 's/^/    | /'
    failed=1
  else
    echo "PASS cli: $*"
  fi
}

prog=tests/programs/basics_arith.wl
expect 2 "bad value for --workers: 'many' (expected a non-negative integer)" "$weft" run "$prog" --workers many
expect 2 "missing value for --heap-soft-limit" "$weft" run "$prog" --heap-soft-limit
expect 2 "unknown option --frobnicate" "$weft" run "$prog" --frobnicate
expect 2 "workers" "$weft" run "$prog" --workers 1000
expect 2 "old_generation_growth_percent must be in [10, 1000]; got 5" "$weft" run "$prog" --old-growth-percent 5
expect 2 "cannot open no/such/file.wl" "$weft" run no/such/file.wl
expect 2 "unknown command" "$weft" launch
expect 2 "run: missing FILE" "$weft" run

expect 0 "(0 bad)" "$weft" run tools/lisp/showcase.wl
expect 0 "(0 bad)" "$weft" run tools/lisp/showcase.wl --old-growth-percent 10

repl_out="$(printf '(define x 20)\n(+ x\n 22)\n(car 1)\n"still here"\n' | "$weft" repl 2>&1)"
if printf '%s' "$repl_out" | grep -q '^42$' && printf '%s' "$repl_out" | grep -qF 'car: expected a pair' &&
   printf '%s' "$repl_out" | grep -qF '"still here"'; then
  echo "PASS cli: repl"
else
  echo "FAIL cli: repl, output:"
  printf '%s\n' "$repl_out" | sed 's/^/    | /'
  failed=1
fi

"$weft" test tests/programs --timeout-scale 3
status=$?
[ "$failed" -ne 0 ] && exit 1
exit "$status"
