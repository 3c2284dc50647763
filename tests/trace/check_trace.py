"""check_trace.py FILE [all|auto|N]: FILE is a Chrome trace event JSON document (Perfetto)
with the runtime's and the scheduler's events, written by trace_target with
WEFT_TRACE_SAMPLE set to the second argument (default all); exits non-zero naming the
first problem.

Every mode records every spawn, parking, safepoint stop, collection and each of its
phases (prepare, roots, remembered, trace, weak, finish: nested in it, in order), and
a wake only for a recorded block of the same thread (runtime/DESIGN.md,
[runtime.trace.sample], [runtime.trace.gc-phases]).
`all` records every block and wake; N one blocking in N (each block after a worker's
first carries args.sample = N); auto some, each with its weight."""
import collections
import json
import sys

sample = sys.argv[2] if len(sys.argv) > 2 else "all"


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
blockings = collections.defaultdict(list)  # green thread -> its block and wake events
weights = collections.Counter()  # args.sample of the blocks (1 when absent)
GC_PHASES = ["prepare", "roots", "remembered", "trace", "weak", "finish"]
phase_seq = collections.defaultdict(list)  # OS thread -> phases of its open collection
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
    if e["name"] in ("block", "wake"):
        blockings[e["args"]["value"]].append(e)
    if e["name"] == "block":
        weights[e["args"].get("sample", 1)] += 1
    elif "sample" in e["args"]:
        fail("args.sample on a %s: %r" % (e["name"], e))
    # Durations nest per OS thread, in time order.
    if ph == "B" and e.get("cat") == "gc" and e["name"] in GC_PHASES:
        # [runtime.trace.gc-phases]: a phase lies inside its collection, after the
        # phase before it.
        open_names = [x["name"] for x in stacks[e["tid"]]]
        if not open_names or open_names[-1] != "collect":
            fail("gc phase %s outside a collect span: %r (open: %s)" % (e["name"], e, open_names))
        seq = phase_seq[e["tid"]]
        if seq and GC_PHASES.index(e["name"]) <= GC_PHASES.index(seq[-1]):
            fail("gc phase %s after %s in one collection" % (e["name"], seq[-1]))
        seq.append(e["name"])
    if ph == "B" and e["name"] == "collect":
        phase_seq[e["tid"]].clear()
    if ph == "E" and e["name"] == "collect" and phase_seq[e["tid"]] != GC_PHASES:
        fail("a collection ended after phases %s, expected %s" % (phase_seq[e["tid"]], GC_PHASES))
    if ph == "B":
        stacks[e["tid"]].append(e)
    elif ph == "E":
        if not stacks[e["tid"]] or stacks[e["tid"]][-1]["name"] != e["name"]:
            fail("unbalanced end: %r" % e)
        begin = stacks[e["tid"]].pop()
        if e["ts"] < begin["ts"]:
            fail("end before begin: %r %r" % (begin, e))

# A recorded wake ends a recorded block of the same thread: per thread, in time order,
# blocks and wakes alternate, beginning with a block (the block is recorded before the
# thread can be found by a waker).
for tid, evs in blockings.items():
    evs.sort(key=lambda e: e["ts"])
    for i, e in enumerate(evs):
        if e["name"] != ("block" if i % 2 == 0 else "wake"):
            fail("thread %d: %s without a recorded block before it: %s"
                 % (tid, e["name"], [(x["name"], x["ts"]) for x in evs[max(0, i - 3):i + 1]]))

expected = [
    ("threads", "spawn", "i"),
    ("threads", "worker-parked", "B"),
    ("threads", "worker-parked", "E"),
    ("threads", "safepoint-stop", "B"),
    ("threads", "safepoint-stop", "E"),
    ("runtime", "stop-the-world", "B"),
    ("gc", "collect", "B"),
    ("gc", "collect", "E"),
    ("gc", "prepare", "B"),
    ("gc", "prepare", "E"),
    ("gc", "roots", "B"),
    ("gc", "roots", "E"),
    ("gc", "remembered", "B"),
    ("gc", "remembered", "E"),
    ("gc", "trace", "B"),
    ("gc", "trace", "E"),
    ("gc", "weak", "B"),
    ("gc", "weak", "E"),
    ("gc", "finish", "B"),
    ("gc", "finish", "E"),
    ("threads", "block", "i"),
    ("threads", "wake", "i"),
]
for key in expected:
    if names[key] == 0:
        fail("no %s event; saw %s" % (key, sorted(names)))
if names[("threads", "spawn", "i")] < 3:
    fail("expected 3 spawns (main, echo, yielder), saw %d" % names[("threads", "spawn", "i")])
if names[("gc", "collect", "B")] < 5:
    fail("expected 5 collections, saw %d" % names[("gc", "collect", "B")])
if not {"weft worker 0", "weft worker 1"} <= thread_names:
    fail("worker threads not named: %s" % thread_names)
blocks, wakes = names[("threads", "block", "i")], names[("threads", "wake", "i")]
if sample == "all":
    # 100 round trips: each blocks a receiver and wakes it.
    if blocks < 100 or wakes < 100:
        fail("too few block/wake events: %s" % names)
    if set(weights) != {1}:
        fail("sampled blocks with WEFT_TRACE_SAMPLE=all: %s" % weights)
    for name in ("block", "wake"):
        if not details[name] & {"channel receive", "channel send"}:
            fail("no %s with a channel wait reason: %s" % (name, details[name]))
    if "join" not in details["block"]:
        fail("no block with reason 'join': %s" % details["block"])
elif sample == "auto":
    if any(w < 1 or w > 1024 or w & (w - 1) for w in weights):
        fail("auto weights must be powers of two up to 1024: %s" % weights)
else:
    n = int(sample)
    # Each worker's first recorded blocking stands for itself; later ones for n.
    if set(weights) - {1, n} or weights[1] > len(thread_names):
        fail("WEFT_TRACE_SAMPLE=%d: block weights %s" % (n, weights))
    # At least 200 blockings (the round trips), so at least 200 / n recorded.
    if blocks < 200 // n:
        fail("WEFT_TRACE_SAMPLE=%d: only %d blocks recorded" % (n, blocks))
print("check_trace: ok (%s), %d events, %d blocks, %d wakes, block weights %s"
      % (sample, len(events), blocks, wakes, dict(weights)))
