#!/usr/bin/env bash
# tools/gdb/weft.py on a live process stopped at a breakpoint and on a kernel core
# file of the same program aborting at that point: `info weft-threads` names the green threads, `weft-bt` unwinds the
# blocked one through the expected function.
set -euo pipefail
target="$(realpath "$1")"
script="$(realpath "$2")"
dir="${TEST_TMPDIR:-/tmp}"
gdbx() { gdb -batch -nx -iex "set debuginfod enabled off" -iex "set auto-load off" "$@"; }

live="$(gdbx -ex "source $script" -ex "break WeftGdbBreakHere" -ex run \
  -ex "info weft-threads" -ex "weft-bt gdb-waiter" -ex kill "$target" 2>&1)"
echo "$live"
check() {  # check TEXT REGEX WHAT
  if ! grep -Eq "$2" <<<"$1"; then echo "FAIL: $3 (no line matching /$2/)"; exit 1; fi
}
check "$live" '^thread 1 "main" running, worker [0-9]+$' "live: main listed as running"
check "$live" '^thread [0-9]+ "gdb-waiter" blocked waiting on channel receive 0x[0-9a-f]+, worker [0-9]+$' \
  "live: the waiter listed as blocked on a receive"
check "$live" '^weft: 2 green threads$' "live: count"
check "$live" '^  #[0-9 ]+0x[0-9a-f]+ in WaitInGdbTarget' "live: weft-bt shows WaitInGdbTarget"
check "$live" '^  #0  0x[0-9a-f]+ in weft::threads::Jump' "live: weft-bt starts at the switch"
id="$(grep -Eo '^thread [0-9]+ "gdb-waiter"' <<<"$live" | head -1 | cut -d' ' -f2)"

# The kernel writes "core" (or core.PID) in the working directory when core_pattern
# is a plain name; skip the core half of the test if it is piped elsewhere.
pattern="$(cat /proc/sys/kernel/core_pattern)"
if [[ "$pattern" == \|* ]]; then
  echo "core_pattern pipes cores to a program ($pattern): core file half skipped"
  echo PASS
  exit 0
fi
if [ -n "${TSAN_OPTIONS:-}" ]; then
  # A TSan process's core holds its shadow memory: too large to write within the
  # test's time. The live half above ran.
  echo "TSan build: core file half skipped"
  echo PASS
  exit 0
fi
mkdir -p "$dir/cores"
# Sanitizers disable core dumps by default (their shadow memory is excluded from the
# core with MADV_DONTDUMP, so allowing them is cheap).
(cd "$dir/cores" && rm -f core* && ulimit -c unlimited &&
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:disable_coredump=0" \
  TSAN_OPTIONS="${TSAN_OPTIONS:-}:disable_coredump=0" \
  GDB_TARGET_ABORT=1 "$target") || true
core="$(ls -t "$dir"/cores/core* 2>/dev/null | head -1 || true)"
[ -n "$core" ] && [ -s "$core" ] || { echo "FAIL: the aborting target left no core file"; exit 1; }
dead="$(gdbx -ex "source $script" -ex "info weft-threads" -ex "weft-bt $id" "$target" "$core" 2>&1)"
echo "$dead"
check "$dead" "^thread $id \"gdb-waiter\" blocked waiting on channel receive" "core: the waiter listed"
check "$dead" '^thread 1 "main" running' "core: main listed"
check "$dead" '^  #[0-9 ]+0x[0-9a-f]+ in WaitInGdbTarget' "core: weft-bt shows WaitInGdbTarget"

bad="$(gdbx -ex "source $script" -ex "weft-bt 999999" "$target" "$core" 2>&1 || true)"
check "$bad" 'weft: no green thread 999999' "core: unknown id is an error"
echo PASS
