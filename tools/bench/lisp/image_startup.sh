#!/usr/bin/env bash
# image_startup.sh [WEFT_BINARY] [RUNS]: startup of `weft run --image` against
# evaluating the same prelude from source.
#
# The prelude defines 200 procedures and computes data a program would want ready:
# the primes below 30000 by trial division, a 100000-entry association list and a
# 20000-element vector of strings. main.wl uses a little of each. Prints the median
# wall and CPU (user+sys) time of `weft run prelude+main` (from source) and of
# `weft run --image prelude.img main.wl`, and the image size; `empty` is the start-up
# and exit of the runtime alone (a one-line program).
set -euo pipefail
weft="${1:-bazel-bin/tools/weft}"
runs="${2:-5}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

{
  for i in $(seq 1 200); do echo "(define (proc$i x) (+ x $i))"; done
  cat <<'WL'
(define (prime? n)
  (let loop ((d 2))
    (cond ((> (* d d) n) #t) ((= 0 (remainder n d)) #f) (else (loop (+ d 1))))))
(define primes
  (let loop ((n 30000) (acc '()))
    (if (< n 2) acc (loop (- n 1) (if (prime? n) (cons n acc) acc)))))
(define table
  (let loop ((i 0) (acc '()))
    (if (= i 100000) acc (loop (+ i 1) (cons (cons i (* i i)) acc)))))
(define names (make-vector 20000 ""))
(do ((i 0 (+ i 1))) ((= i 20000)) (vector-set! names i (number->string i)))
WL
} > "$tmp/prelude.wl"
cat > "$tmp/main.wl" <<'WL'
(display (list (length primes) (proc200 1) (cdr (car table)) (vector-ref names 19999)))
(newline)
WL
cat "$tmp/prelude.wl" "$tmp/main.wl" > "$tmp/all.wl"
"$weft" run --save-image "$tmp/prelude.img" "$tmp/prelude.wl"

# measure CMD...: prints "wall cpu" in seconds for one run.
measure() {
  local t0 t1 out
  t0=$(date +%s%N)
  out=$( { /usr/bin/time -f "%U %S" "$@" > "$tmp/out.txt"; } 2>&1 | tail -1 )
  t1=$(date +%s%N)
  awk -v w="$(( (t1 - t0) / 1000000 ))" -v c="$out" 'BEGIN { split(c, a, " "); printf "%.3f %.3f\n", w / 1000, a[1] + a[2] }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo '(display "empty") (newline)' > "$tmp/empty.wl"
for mode in empty source image; do
  : > "$tmp/$mode.wall"; : > "$tmp/$mode.cpu"
  for r in $(seq 1 "$runs"); do
    if [ "$mode" = empty ]; then
      m=$(measure "$weft" run "$tmp/empty.wl")
    elif [ "$mode" = source ]; then
      m=$(measure "$weft" run "$tmp/all.wl")
    else
      m=$(measure "$weft" run --image "$tmp/prelude.img" "$tmp/main.wl")
    fi
    echo "${m% *}" >> "$tmp/$mode.wall"; echo "${m#* }" >> "$tmp/$mode.cpu"
  done
  echo "$mode: output $(cat "$tmp/out.txt"), median wall $(median < "$tmp/$mode.wall") s, CPU $(median < "$tmp/$mode.cpu") s"
done
echo "image: $(stat -c %s "$tmp/prelude.img") bytes"
