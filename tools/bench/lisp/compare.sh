#!/usr/bin/env bash
# compare.sh: Weft Lisp against Guile 3.0 on fib 30, binary-trees 16 and ping-pong.
#
#   tools/bench/lisp/compare.sh [WEFT_BINARY] [RUNS]
#
# Builds //tools:weft with -c opt unless a binary is given, installs guile-3.0 when
# missing, warms Guile's compilation cache, then runs each program RUNS times (default
# 5) and prints the median wall and CPU (user+sys) seconds and the Weft/Guile ratios,
# and the load average before and after. CPU time is the figure to trust on a loaded
# machine: it is the child's own user+sys time (bash's `time` reports the waited-for
# child's rusage; checked 2026-11-30 against /usr/bin/time and
# getrusage(RUSAGE_CHILDREN)), while wall time also counts waiting for a CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
weft="${1:-}"
runs="${2:-5}"
if [ -z "$weft" ]; then
  (cd "$root" && bazel build -c opt //tools:weft >&2)
  weft="$(cd "$root" && bazel info -c opt bazel-bin 2>/dev/null)/tools/weft"
fi
if ! command -v guile >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq guile-3.0 >&2
fi
export GUILE_AUTO_COMPILE=1

# measure CMD...: prints "wall cpu" in seconds for one run.
measure() {
  local tf wall user sys
  tf=$(mktemp)
  bash -c 'TIMEFORMAT="%R %U %S"; { time "${@:1}" >/dev/null 2>&1; } 2>"$0"' "$tf" "$@"
  read -r wall user sys < "$tf"
  rm -f "$tf"
  awk -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f %.3f\n", w, u + s }'
}

median() { sort -n | awk '{a[NR]=$1} END { print a[int((NR+1)/2)] }'; }

bench() {
  local name="$1"; shift
  local weft_prog="$1"; shift
  local guile_prog="$1"; shift
  guile "$here/$guile_prog" >/dev/null 2>&1 || true  # warm the compilation cache
  local ww=() wc=() gw=() gc=()
  for _ in $(seq "$runs"); do
    read -r w c < <(measure "$weft" run "$here/$weft_prog")
    ww+=("$w"); wc+=("$c")
    read -r w c < <(measure guile "$here/$guile_prog")
    gw+=("$w"); gc+=("$c")
  done
  local mww mwc mgw mgc
  mww=$(printf '%s\n' "${ww[@]}" | median); mwc=$(printf '%s\n' "${wc[@]}" | median)
  mgw=$(printf '%s\n' "${gw[@]}" | median); mgc=$(printf '%s\n' "${gc[@]}" | median)
  awk -v n="$name" -v a="$mww" -v b="$mwc" -v c="$mgw" -v d="$mgc" 'BEGIN {
    printf "%-14s weft wall %6.2fs cpu %6.2fs | guile wall %6.2fs cpu %6.2fs | ratio wall %5.2fx cpu %5.2fx\n",
      n, a, b, c, d, (c > 0 ? a / c : 0), (d > 0 ? b / d : 0) }'
}

echo "runs: $runs (medians); $(guile --version | head -1); weft: $weft"
echo "$(date -u +%FT%TZ) load average: $(cut -d' ' -f1-3 /proc/loadavg)"
bench fib fib.scm fib.scm
bench binary-trees binary-trees.scm binary-trees.scm
bench ping-pong ping-pong.wl ping-pong-guile.scm
echo "$(date -u +%FT%TZ) load average: $(cut -d' ' -f1-3 /proc/loadavg)"
