#!/usr/bin/env bash
# image_test.sh WEFT DIR: `weft run --save-image` / `--image` round trips of Weft Lisp
# programs, a chained save, and bad images (corrupted, truncated, missing, native
# objects) giving a clear message and a non-zero exit.
set -uo pipefail
weft="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
dir="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_run NAME WANT_RC WANT_TEXT ARGS...: runs weft, checks exit code and output.
expect_run() {
  local name="$1" want_rc="$2" want="$3"; shift 3
  local out rc
  out="$("$weft" run "$@" 2>&1)"; rc=$?
  if [ "$rc" -ne "$want_rc" ]; then fail "$name: exit $rc, expected $want_rc; output: $out"; return; fi
  if [ -n "$want" ] && [[ "$out" != *"$want"* ]]; then fail "$name: output lacks '$want': $out"; return; fi
  echo "ok: $name"
}

expect_run save 0 "" --save-image "$tmp/p.img" "$dir/prelude.wl"
[ -s "$tmp/p.img" ] || fail "save: no image written"
ls "$tmp" | grep -q '\.tmp\.' && fail "save: a temporary file was left behind"
want_main=$'144\n3\n1000\n998001\n#t\n#t\n1\n6\n#t\nhello'
expect_run load 0 "$want_main" --image "$tmp/p.img" "$dir/main.wl"
# Loading twice from the same image gives the same state (the image is not changed).
expect_run load-again 0 "$want_main" --image "$tmp/p.img" "$dir/main.wl"
expect_run chain-save 0 "" --image "$tmp/p.img" --save-image "$tmp/q.img" "$dir/more.wl"
expect_run chain-load 0 "273" --image "$tmp/q.img" "$dir/main2.wl"

# Bad images.
size=$(stat -c %s "$tmp/p.img")
cp "$tmp/p.img" "$tmp/flip.img"
printf '\x55' | dd of="$tmp/flip.img" bs=1 seek=$((size - 100)) conv=notrunc status=none
expect_run corrupted 1 "weft: image $tmp/flip.img: section" --image "$tmp/flip.img" "$dir/main.wl"
expect_run corrupted-says-checksum 1 "checksum mismatch" --image "$tmp/flip.img" "$dir/main.wl"
head -c $((size / 2)) "$tmp/p.img" > "$tmp/trunc.img"
expect_run truncated 1 "weft: image $tmp/trunc.img: truncated: the header says $size bytes, the file has $((size / 2))" \
  --image "$tmp/trunc.img" "$dir/main.wl"
echo "not an image" > "$tmp/text.img"
expect_run not-an-image 1 "shorter than the 80-byte header" --image "$tmp/text.img" "$dir/main.wl"
expect_run missing 1 "weft: image $tmp/missing.img: cannot open: No such file or directory" \
  --image "$tmp/missing.img" "$dir/main.wl"
# Not a regular file: refused by name, at once ([heap.image.regular-file]). The FIFO has
# no writer; its open blocked `weft run` for ever before (RELIABILITY.md known bug 30),
# hence the timeout (exit 124 if it blocks).
mkfifo "$tmp/fifo.img"
out="$(timeout 60 "$weft" run --image "$tmp/fifo.img" "$dir/main.wl" 2>&1)"; rc=$?
if [ "$rc" -ne 1 ] || [[ "$out" != *"weft: image $tmp/fifo.img: not a regular file"* ]]; then
  fail "fifo: exit $rc, expected 1 and 'not a regular file'; output: $out"
else
  echo "ok: fifo"
fi
rm -f "$tmp/fifo.img"
mkdir -p "$tmp/dir.img"
expect_run directory 1 "weft: image $tmp/dir.img: not a regular file" --image "$tmp/dir.img" "$dir/main.wl"
rmdir "$tmp/dir.img"
expect_run native 1 "weft: image $tmp/n.img: global 'ch' reaches a channel, a native object that an image cannot hold" \
  --save-image "$tmp/n.img" "$dir/native.wl"
[ -e "$tmp/n.img" ] && fail "native: an image was written"
# A failed program saves nothing.
echo '(define x 1) (car 5)' > "$tmp/bad.wl"
expect_run failed-program 1 "" --save-image "$tmp/b.img" "$tmp/bad.wl"
[ -e "$tmp/b.img" ] && fail "failed-program: an image was written"

echo "$failures failed"
[ "$failures" -eq 0 ]
