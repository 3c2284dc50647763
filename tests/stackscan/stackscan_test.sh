#!/usr/bin/env bash
# stackscan against a live process, and SIGQUIT on a live process.
set -euo pipefail
target="$1"
stackscan="$2"
# Unix socket paths are limited to 108 bytes: keep the directory short.
export WEFT_CONTROL_DIR="$(mktemp -u /tmp/weft-ss.XXXXXX)"
trap 'rm -rf "$WEFT_CONTROL_DIR"' EXIT
out="${TEST_TMPDIR:-/tmp}/target.out"
err="${TEST_TMPDIR:-/tmp}/target.err"

fail() { echo "FAIL: $*" >&2; exit 1; }

"$target" 8 >"$out" 2>"$err" &
pid=$!
for _ in $(seq 100); do grep -q ready "$out" 2>/dev/null && break; sleep 0.1; done
grep -q "ready $pid" "$out" || fail "target did not start"

# The socket is private.
[ "$(stat -c %a "$WEFT_CONTROL_DIR")" = 700 ] || fail "control dir is not 0700"
[ "$(stat -c %a "$WEFT_CONTROL_DIR/$pid.sock")" = 600 ] || fail "socket is not 0600"

dump="$("$stackscan" "$pid")"
grep -q 'thread 1 "main"' <<<"$dump" || fail "no main thread in: $dump"
grep -q 'frame live-main (info 7)' <<<"$dump" || fail "no live-main frame"
grep -q 'fixnum 42' <<<"$dump" || fail "slot not decoded"
grep -q 'string "hello stackscan"' <<<"$dump" || fail "string slot not decoded"
grep -q '"consumer" blocked waiting on channel receive' <<<"$dump" || fail "no blocked consumer: $dump"
grep -q '"sleeper" sleeping' <<<"$dump" || fail "no sleeper: $dump"
grep -q 'frame consumer-loop' <<<"$dump" || fail "no consumer frame"
grep -qE '#[0-9]+ +0x[0-9a-f]+ ' <<<"$dump" || fail "no native backtrace"

# Filters.
one="$("$stackscan" "$pid" --thread sleeper)"
grep -q '"sleeper"' <<<"$one" || fail "thread filter lost the sleeper"
if grep -q '"consumer"' <<<"$one"; then fail "thread filter kept a consumer"; fi
blocked="$("$stackscan" "$pid" --state blocked --nonative)"
[ "$(echo "$blocked" | grep -c '^thread ')" -ge 3 ] || fail "state filter: $blocked"

# JSON parses and matches the text.
"$stackscan" "$pid" --json --roots | python3 -c '
import json, sys
d = json.load(sys.stdin)
names = sorted(t["name"] for t in d["threads"])
assert "main" in names and "sleeper" in names and names.count("consumer") == 3, names
main = [t for t in d["threads"] if t["name"] == "main"][0]
frames = [f["name"] for f in main["frames"]]
assert "live-main" in frames, frames
slots = [s for f in main["frames"] for s in f["slots"]]
assert any(s["value"] == "fixnum 42" for s in slots), slots
assert all("retained_bytes" in s for s in slots)
' || fail "JSON dump"

census="$("$stackscan" "$pid" --census)"
grep -q '^total' <<<"$census" || fail "census: $census"

# Bad input: clear errors, non-zero exits.
if "$stackscan" notapid 2>/dev/null; then fail "accepted a bad pid"; fi
msg="$("$stackscan" 999999 2>&1 || true)"
grep -q 'no process with pid 999999' <<<"$msg" || fail "missing process message: $msg"

# SIGQUIT dumps to stderr and the process keeps running.
kill -QUIT "$pid"
for _ in $(seq 50); do grep -q 'frame live-main' "$err" && break; sleep 0.1; done
grep -q 'frame live-main' "$err" || fail "no SIGQUIT dump on stderr"
kill -0 "$pid" || fail "process died on SIGQUIT"
wait "$pid" || fail "target exited non-zero"
[ ! -e "$WEFT_CONTROL_DIR/$pid.sock" ] || fail "socket left behind"
echo PASS
