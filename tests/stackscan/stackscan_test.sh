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

# The target lives until its standard input, a FIFO this script holds open on fd 3,
# is closed (at most 300 s): by `exec 3>&-` below, or by this script's exit when a
# check fails.
fifo="${TEST_TMPDIR:-/tmp}/target.in"
rm -f "$fifo"
mkfifo "$fifo"
"$target" 300 <"$fifo" >"$out" 2>"$err" &
pid=$!
exec 3>"$fifo"
for _ in $(seq 100); do grep -q ready "$out" 2>/dev/null && break; sleep 0.1; done
grep -q "ready $pid" "$out" || fail "target did not start"

# The socket is private.
[ "$(stat -c %a "$WEFT_CONTROL_DIR")" = 700 ] || fail "control dir is not 0700"
[ "$(stat -c %a "$WEFT_CONTROL_DIR/$pid.sock")" = 600 ] || fail "socket is not 0600"

# Wait until every green thread has reached its wait (the locker and the reader start
# last).
for _ in $(seq 100); do
  dump="$("$stackscan" "$pid")"
  grep -q '"reader" blocked' <<<"$dump" && grep -q '"locker" blocked' <<<"$dump" && break
  sleep 0.05
done
grep -q 'thread 1 "main"' <<<"$dump" || fail "no main thread in: $dump"
grep -q 'frame live-main (info 7)' <<<"$dump" || fail "no live-main frame"
grep -q 'fixnum 42' <<<"$dump" || fail "slot not decoded"
grep -q 'string "hello stackscan"' <<<"$dump" || fail "string slot not decoded"
grep -q '"consumer" blocked waiting on channel receive' <<<"$dump" || fail "no blocked consumer: $dump"
grep -q '"sleeper" sleeping' <<<"$dump" || fail "no sleeper: $dump"
grep -q 'frame consumer-loop' <<<"$dump" || fail "no consumer frame"
grep -qE '#[0-9]+ +0x[0-9a-f]+ ' <<<"$dump" || fail "no native backtrace"
# Wait reasons: a mutex (its address) and an fd (its number).
grep -qE '^thread [0-9]+ "locker" blocked waiting on mutex 0x[0-9a-f]+ for [0-9]+\.[0-9]{3}s, worker [0-9]+$' \
  <<<"$dump" || fail "no mutex wait: $dump"
grep -qE '^thread [0-9]+ "reader" blocked waiting on fd readable fd [0-9]+ for [0-9]+\.[0-9]{3}s, worker [0-9]+$' \
  <<<"$dump" || fail "no fd wait: $dump"
# Main waits for its standard input: fd 0 is printed too.
grep -qE '^thread 1 "main" blocked waiting on fd readable fd 0 for [0-9]+\.[0-9]{3}s, worker [0-9]+$' \
  <<<"$dump" || fail "no wait on fd 0: $dump"
grep -q 'frame locker-frame' <<<"$dump" || fail "no locker frame"
grep -q 'frame reader-frame' <<<"$dump" || fail "no reader frame"

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

# The JSON and the text describe the same threads, waits, frames, slots (with their
# retained bytes) and native frames: the text is parsed back and compared field by
# field (only the seconds waited, and the worker of the sleeper, which wakes every
# second and may resume on the other worker, differ between the two requests).
text_dump="${TEST_TMPDIR:-/tmp}/dump.txt"
json_dump="${TEST_TMPDIR:-/tmp}/dump.json"
"$stackscan" "$pid" --roots >"$text_dump" || fail "text dump"
"$stackscan" "$pid" --roots --json >"$json_dump" || fail "JSON dump"
python3 - "$text_dump" "$json_dump" <<'PY' || fail "the JSON and the text dumps differ"
import json, re, sys
text = open(sys.argv[1]).read()
d = json.load(open(sys.argv[2]))
head = re.compile(r'thread (\d+) "(.*)" (\w+)(?: waiting on ([a-z ]+?)(?: (0x[0-9a-f]+)| fd (\d+))?'
                  r'(?: for [0-9]+\.[0-9]{3}s)?)?, worker (-?\d+)(, detached)?$')
lines = text.split('\n')
m = re.match(r'weft: (\d+) green threads$', lines[0])
assert m and int(m[1]) == len(d["threads"]), (lines[0], len(d["threads"]))
threads = []
for line in lines[1:]:
    if not line:
        continue
    if line.startswith('thread '):
        m = head.match(line)
        assert m, line
        wait = None
        if m[4] is not None:
            wait = {"reason": m[4]}
            if m[5] is not None:
                wait["object"] = m[5]
            if m[6] is not None:
                wait["fd"] = int(m[6])
        t = {"id": int(m[1]), "name": m[2], "state": m[3], "worker": int(m[7]),
             "detached": m[8] is not None, "wait": wait, "frames": [], "native": []}
        threads.append(t)
        continue
    m = re.match(r'  frame (.*) \(info (-?\d+)\)$', line)
    if m:
        t["frames"].append({"name": m[1], "info": int(m[2]), "slots": []})
        continue
    m = re.match(r'    \[(\d+)\] (.*)  \(keeps (\d+) bytes alive\)$', line)
    if m:
        t["frames"][-1]["slots"].append(
            {"index": int(m[1]), "value": m[2], "retained_bytes": int(m[3])})
        continue
    m = re.match(r'  #(\d+) +0x([0-9a-f]+) (.*)$', line)
    if m:
        assert int(m[1]) == len(t["native"]), line
        t["native"].append({"pc": "0x" + m[2], "symbol": m[3]})
        continue
    assert line.startswith('  managed stack: ') or line.startswith('  native: '), line
assert len(threads) == len(d["threads"])
reasons = set()
for t, j in zip(threads, d["threads"]):
    for key in ("id", "name", "state", "worker", "detached", "frames", "native"):
        if key == "worker" and t["state"] == "sleeping":
            continue
        assert t[key] == j[key], (t["id"], key, t[key], j[key])
    if t["wait"] is None:
        assert j["wait"] is None, (t, j["wait"])
    else:
        reasons.add(t["wait"]["reason"])
        assert t["wait"]["reason"] == j["wait"]["reason"], (t["wait"], j["wait"])
        if "fd" in t["wait"]:
            assert j["wait"]["fd"] == t["wait"]["fd"], (t["wait"], j["wait"])
        else:
            assert "fd" not in j["wait"], j["wait"]
            assert j["wait"]["object"] == t["wait"].get("object"), (t["wait"], j["wait"])
assert {"channel receive", "mutex", "fd readable", "sleep"} <= reasons, reasons
assert sum(len(f["slots"]) for t in threads for f in t["frames"]) > 10
assert all(t["native"] for t in threads), "a thread without a native backtrace"
PY

census="$("$stackscan" "$pid" --census)"
grep -q '^total' <<<"$census" || fail "census: $census"

# Who keeps an object alive: the address of a consumer's pair, as the dump prints it
# (`    [K] pair 0x... gen G` under `frame consumer-loop` of `thread ID "consumer"`).
read -r path_thread path_slot path_addr < <(awk '
  /^thread / { id = $2 }
  /^  frame / { frame = $2 }
  frame == "consumer-loop" && $2 == "pair" { gsub(/[][]/, "", $1); print id, $1, $3; exit }
' <<<"$dump") || true
[ -n "${path_addr:-}" ] || fail "no consumer pair in the dump: $dump"
path="$("$stackscan" "$pid" --path "$path_addr")" || fail "--path $path_addr failed: $path"
expected="thread $path_thread \"consumer\" frame consumer-loop slot [$path_slot]"
[ "$(sed -n 1p <<<"$path")" = "$expected" ] || fail "path root: want <$expected>, got: $path"
grep -qx "pair $path_addr gen [0-9]*" <<<"$(sed -n 2p <<<"$path")" || fail "path object: $path"
[ "$(wc -l <<<"$path")" = 2 ] || fail "path length: $path"
"$stackscan" "$pid" --path "$path_addr" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["reachable"] is True, d
assert d["object"].startswith("pair '"$path_addr"' gen "), d
assert d["path"][0].endswith("frame consumer-loop slot ['"$path_slot"']"), d
assert d["path"][-1] == d["object"], d
' || fail "path JSON"
# An address that is no object's start, one outside the heap, and one that is no
# address: clear errors, exit 1, and the process keeps answering.
inside="$(printf '0x%x' $((path_addr + 8)))"
msg="$("$stackscan" "$pid" --path "$inside" 2>&1)" && fail "accepted $inside: $msg"
grep -q "error: path: $inside is not the start of an object" <<<"$msg" || fail "inside: $msg"
msg="$("$stackscan" "$pid" --path 0x10 2>&1)" && fail "accepted 0x10: $msg"
grep -q 'error: path: 0x10 is not in the heap' <<<"$msg" || fail "outside: $msg"
msg="$("$stackscan" "$pid" --path pear 2>&1)" && fail "accepted pear: $msg"
grep -q "error: path: 'pear' is not an address" <<<"$msg" || fail "not an address: $msg"
status=0
msg="$("$stackscan" "$pid" --path "$path_addr" --census 2>&1)" || status=$?
[ "$status" = 2 ] || fail "--path --census: exit $status: $msg"
"$stackscan" "$pid" --nonative | grep -q 'frame live-main' || fail "no dump after path errors"

# Bad input: clear errors, non-zero exits.
if "$stackscan" notapid 2>/dev/null; then fail "accepted a bad pid"; fi
msg="$("$stackscan" 999999 2>&1 || true)"
grep -q 'no process with pid 999999' <<<"$msg" || fail "missing process message: $msg"

# SIGQUIT dumps to stderr and the process keeps running.
kill -QUIT "$pid"
for _ in $(seq 50); do grep -q 'frame live-main' "$err" && break; sleep 0.1; done
grep -q 'frame live-main' "$err" || fail "no SIGQUIT dump on stderr"
kill -0 "$pid" || fail "process died on SIGQUIT"
exec 3>&-
wait "$pid" || fail "target exited non-zero"
[ ! -e "$WEFT_CONTROL_DIR/$pid.sock" ] || fail "socket left behind"
echo PASS
