"""check_trace.py FILE: FILE is a Chrome trace event JSON document (Perfetto) with the
runtime's and the scheduler's events; exits non-zero naming the first problem."""
import collections
import json
import sys


def fail(msg):
    print("check_trace: " + msg)
    sys.exit(1)


with open(sys.argv[1]) as f:
    doc = json.load(f)  # valid JSON, or an exception
events = doc.get("traceEvents")
if not isinstance(events, list) or not events:
    fail("no traceEvents array")
names = collections.Counter()
details = collections.defaultdict(set)
stacks = collections.defaultdict(list)
thread_names = set()
for e in events:
    for key in ("ph", "name", "pid", "tid"):
        if key not in e:
            fail("event without %s: %r" % (key, e))
    ph = e["ph"]
    if ph == "M":
        if e["name"] == "thread_name":
            thread_names.add(e["args"]["name"])
        continue
    if ph not in ("B", "E", "i"):
        fail("unexpected phase %r" % e)
    if not isinstance(e.get("ts"), (int, float)) or e["ts"] <= 0:
        fail("bad ts: %r" % e)
    if ph == "i" and e.get("s") != "t":
        fail("instant without thread scope: %r" % e)
    names[(e.get("cat"), e["name"], ph)] += 1
    if "detail" in e["args"]:
        details[e["name"]].add(e["args"]["detail"])
    # Durations nest per OS thread, in time order.
    if ph == "B":
        stacks[e["tid"]].append(e)
    elif ph == "E":
        if not stacks[e["tid"]] or stacks[e["tid"]][-1]["name"] != e["name"]:
            fail("unbalanced end: %r" % e)
        begin = stacks[e["tid"]].pop()
        if e["ts"] < begin["ts"]:
            fail("end before begin: %r %r" % (begin, e))

expected = [
    ("threads", "spawn", "i"),
    ("threads", "block", "i"),
    ("threads", "wake", "i"),
    ("threads", "worker-parked", "B"),
    ("threads", "worker-parked", "E"),
    ("threads", "safepoint-stop", "B"),
    ("threads", "safepoint-stop", "E"),
    ("runtime", "stop-the-world", "B"),
    ("gc", "collect", "B"),
    ("gc", "collect", "E"),
]
for key in expected:
    if names[key] == 0:
        fail("no %s event; saw %s" % (key, sorted(names)))
if names[("threads", "spawn", "i")] < 3:
    fail("expected 3 spawns (main, echo, yielder), saw %d" % names[("threads", "spawn", "i")])
if names[("gc", "collect", "B")] < 5:
    fail("expected 5 collections, saw %d" % names[("gc", "collect", "B")])
# 100 round trips: each blocks a receiver and wakes it.
if names[("threads", "block", "i")] < 100 or names[("threads", "wake", "i")] < 100:
    fail("too few block/wake events: %s" % names)
for name in ("block", "wake"):
    if not details[name] & {"channel receive", "channel send"}:
        fail("no %s with a channel wait reason: %s" % (name, details[name]))
if "join" not in details["block"]:
    fail("no block with reason 'join': %s" % details["block"])
if not {"weft worker 0", "weft worker 1"} <= thread_names:
    fail("worker threads not named: %s" % thread_names)
print("check_trace: ok, %d events" % len(events))
