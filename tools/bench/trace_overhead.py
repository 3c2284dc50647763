#!/usr/bin/env python3
"""trace_overhead.py: what WEFT_TRACE costs on the ping-pong and binary-trees benchmarks
(issue 7 goal: under 10 % on both; runtime/DESIGN.md, [runtime.trace.overhead]).

    nice -n 15 bazel build //tools/bench/threads:threads_bench //tools/bench/runtime:binary_trees
    tools/bench/trace_overhead.py [--reps 15] [--modes default,all,sample=8] [--callgrind]

Runs the same binaries with tracing off and on, in pairs: each repetition runs, for every
traced mode, one run with tracing off and one with the mode, back to back (which goes
first alternates), so both runs of a pair see about the same machine load. Per mode it
prints the median and the minimum of its off and on runs, the ratios of the medians and
of the minimums, and the median of the pairs' ratios ("paired") with their range:

  - ping-pong: `threads_bench 1 pp1 --cpu`, ns of process CPU per round trip (1 worker,
    WEFT_BENCH_ITERS round trips, timed inside the program: the trace file's writing is
    not in it);
  - binary-trees: `binary_trees DEPTH WORKERS`, process CPU seconds (user + sys of the
    whole process, the trace file's writing included).

Pairs of processes are seconds apart; the ping-pong is also measured within one process
(`threads_bench PAIRS traceoverhead --cpu`: segments of 200k round trips alternating
tracing off and on, a pair within milliseconds), --inproc-runs times per mode, which is
the steadier figure on a loaded machine.

Process CPU time is the figure to trust on a shared machine (wall time counts the time
the process waits for a core); the minimum is the least disturbed run. With --callgrind
it also prints instructions, which do not depend on the load: per ping-pong round trip
(the difference of two runs, --cg-iters and twice that, counted up to the trace's Flush)
and for a whole binary-trees run (the trace file's writing included; with one worker by
default, as two workers' spinning makes the count vary by about 1 %). Callgrind runs the
program about 50 times slower, so the auto sampling, which follows real time, records
more there than in a real run.

Modes: `default` (WEFT_TRACE set, WEFT_TRACE_SAMPLE unset: auto), `all`
(WEFT_TRACE_SAMPLE=all), `sample=N` (WEFT_TRACE_SAMPLE=N); `off` is always measured. A
mode prefixed `base:` runs the binaries in --base-dir instead (threads_bench and
binary_trees built from another commit, for a before/after in one session; its pairs'
off runs use the same binaries; the in-process figure needs a threads_bench with
`traceoverhead` and is skipped for them). The load average is printed before, during
and after.
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(ROOT, "bazel-bin", "tools", "bench")
FIGURE = re.compile(r"ping-pong round trip, 1 worker\s+([0-9.]+) ns")
INPROC = re.compile(r"off ([0-9.]+) ns, on ([0-9.]+) ns per round trip \(medians\); on/off x([0-9.]+)")


def mode_env(mode, trace_path):
    mode = mode.split(":", 1)[-1]
    env = dict(os.environ)
    env.pop("WEFT_TRACE", None)
    env.pop("WEFT_TRACE_SAMPLE", None)
    if mode == "off":
        return env
    env["WEFT_TRACE"] = trace_path
    if mode == "all":
        env["WEFT_TRACE_SAMPLE"] = "all"
    elif mode.startswith("sample="):
        env["WEFT_TRACE_SAMPLE"] = mode.split("=", 1)[1]
    elif mode != "default":
        sys.exit("trace_overhead: unknown mode %r" % mode)
    return env


def run(cmd, env):
    """Runs cmd; returns (stdout, CPU s = user + sys of the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("trace_overhead: %s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    return p.stdout, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def check_trace(mode, path):
    if mode == "off":
        return
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        sys.exit("trace_overhead: mode %s wrote no trace to %s" % (mode, path))
    os.remove(path)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def report(title, fmt, pairs):
    """pairs: mode -> [(off, on)], each pair run back to back."""
    print(title)
    for mode, ps in pairs.items():
        off = [a for a, _ in ps]
        on = [b for _, b in ps]
        ratios = [b / a for a, b in ps]
        paired = statistics.median(ratios)
        print(("  %-12s off " + fmt + " median, " + fmt + " min; on " + fmt + " median, " + fmt +
               " min; x%.3f medians, x%.3f minimums; paired x%.3f (%+.1f %%) [%.3f - %.3f]")
              % (mode, statistics.median(off), min(off), statistics.median(on), min(on),
                 statistics.median(on) / statistics.median(off), min(on) / min(off), paired,
                 100 * (paired - 1), min(ratios), max(ratios)))


def callgrind_instructions(cmd, env, tmp, until_flush):
    """Instructions of cmd: up to the trace's Flush (the whole run when it never
    flushes), or the whole run."""
    out = os.path.join(tmp, "callgrind.out")
    for f in os.listdir(tmp):
        if f.startswith("callgrind.out"):
            os.remove(os.path.join(tmp, f))
    flags = ["--dump-before=weft::trace::Flush()"] if until_flush else []
    p = subprocess.run(["valgrind", "--tool=callgrind"] + flags + ["--callgrind-out-file=" + out] + cmd,
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("trace_overhead: callgrind %s failed: %s" % (" ".join(cmd), p.stderr[-2000:]))
    path = out + ".1" if os.path.exists(out + ".1") else out
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    sys.exit("trace_overhead: no totals in " + path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=15, help="pairs per mode and benchmark")
    ap.add_argument("--modes", default="default,all,sample=8")
    ap.add_argument("--base-dir", default=None,
                    help="threads_bench and binary_trees of another build, for base: modes")
    ap.add_argument("--threads-bench", default=os.path.join(BIN, "threads", "threads_bench"))
    ap.add_argument("--binary-trees", default=os.path.join(BIN, "runtime", "binary_trees"))
    ap.add_argument("--pp-iters", type=int, default=500000, help="round trips per ping-pong run")
    ap.add_argument("--bt-depth", type=int, default=16)
    ap.add_argument("--bt-workers", type=int, default=2)
    ap.add_argument("--only", choices=["pingpong", "binarytrees"], default=None)
    ap.add_argument("--inproc-runs", type=int, default=3,
                    help="in-process ping-pong measurements per mode (0: none)")
    ap.add_argument("--inproc-pairs", type=int, default=20, help="segment pairs per measurement")
    ap.add_argument("--callgrind", action="store_true",
                    help="also count instructions (slow: minutes under load)")
    ap.add_argument("--cg-iters", type=int, default=100000)
    ap.add_argument("--cg-depth", type=int, default=14)
    ap.add_argument("--cg-workers", type=int, default=1,
                    help="binary-trees workers under callgrind (1: the count is repeatable)")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m != "off"]
    bins = {"": (args.threads_bench, args.binary_trees)}
    if any(m.startswith("base:") for m in modes):
        if args.base_dir is None:
            sys.exit("trace_overhead: base: modes need --base-dir")
        bins["base"] = (os.path.join(args.base_dir, "threads_bench"),
                        os.path.join(args.base_dir, "binary_trees"))

    def binaries(mode):
        return bins["base" if mode.startswith("base:") else ""]
    for b in [b for pair in bins.values() for b in pair]:
        if not os.path.exists(b):
            sys.exit("trace_overhead: %s missing; build it first:\n  nice -n 15 bazel build "
                     "//tools/bench/threads:threads_bench //tools/bench/runtime:binary_trees" % b)
    tmp = tempfile.mkdtemp(prefix="weft_trace_overhead.")
    trace = os.path.join(tmp, "trace.json")
    benches = []
    if args.only in (None, "pingpong"):
        def pingpong(mode, env):
            env["WEFT_BENCH_ITERS"] = str(args.pp_iters)
            out, _ = run([binaries(mode)[0], "1", "pp1", "--cpu"], env)
            m = FIGURE.search(out)
            if not m:
                sys.exit("trace_overhead: no ping-pong figure in: " + out)
            return float(m.group(1))
        benches.append(("ping-pong round trip, 1 worker (`threads_bench 1 pp1 --cpu`, "
                        "WEFT_BENCH_ITERS=%d), CPU ns:" % args.pp_iters, "%.1f", pingpong))
    if args.only in (None, "binarytrees"):
        def binarytrees(mode, env):
            out, cpu = run([binaries(mode)[1], str(args.bt_depth), str(args.bt_workers)], env)
            if "long lived tree of depth" not in out:
                sys.exit("trace_overhead: unexpected binary_trees output: " + out)
            return cpu
        benches.append(("binary-trees (`binary_trees %d %d`), process CPU s (user+sys):"
                        % (args.bt_depth, args.bt_workers), "%.3f", binarytrees))
    print("trace_overhead: %d pairs (off, mode) per mode %s; load average %s"
          % (args.reps, ",".join(modes), loadavg()), flush=True)
    pairs = {title: {m: [] for m in modes} for title, _, _ in benches}
    for rep in range(args.reps):
        for title, _, fn in benches:
            for mode in modes:
                figures = {}
                for m in (("off", mode) if rep % 2 == 0 else (mode, "off")):
                    figures[m] = fn(mode, mode_env(m, trace))
                    check_trace(m, trace)
                pairs[title][mode].append((figures["off"], figures[mode]))
        print("  repetition %d done; load average %s" % (rep + 1, loadavg()), flush=True)
    print()
    for title, fmt, _ in benches:
        report(title, fmt, pairs[title])
    if args.only in (None, "pingpong") and args.inproc_runs > 0:
        print("ping-pong, 1 worker, in one process (`threads_bench %d traceoverhead --cpu`: "
              "segments alternating off and on), CPU ns per round trip:" % args.inproc_pairs)
        inproc = {m: [] for m in modes if not m.startswith("base:")}
        for _ in range(args.inproc_runs):
            for mode in inproc:
                env = mode_env(mode, trace)
                out, _ = run([args.threads_bench, str(args.inproc_pairs), "traceoverhead", "--cpu"], env)
                m = INPROC.search(out)
                if not m:
                    sys.exit("trace_overhead: no traceoverhead figure in: " + out)
                inproc[mode].append(tuple(float(g) for g in m.groups()))
        for mode, runs in inproc.items():
            print("  %-12s on/off x%.3f (%+.1f %%), median of %d runs: %s"
                  % (mode, statistics.median(r[2] for r in runs),
                     100 * (statistics.median(r[2] for r in runs) - 1), len(runs),
                     ", ".join("%.1f/%.1f x%.3f" % r for r in runs)))
    print("load average at the end: %s" % loadavg())
    if args.callgrind:
        if not shutil.which("valgrind"):
            sys.exit("trace_overhead: --callgrind needs valgrind")
        print()
        print("instructions (valgrind --tool=callgrind; ping-pong up to the trace's Flush, "
              "binary-trees the whole run):")
        base_pp = base_bt = None
        cg_modes = ["off"] + [m for m in modes if not m.startswith("base:")]
        if any(m.startswith("base:") for m in modes):
            cg_modes = ["base:off"] + [m for m in modes if m.startswith("base:")] + cg_modes
        for mode in cg_modes:
            env = mode_env(mode, trace)
            line = "  %-12s" % mode
            if args.only in (None, "pingpong"):
                counts = []
                for n in (args.cg_iters, 2 * args.cg_iters):
                    env["WEFT_BENCH_ITERS"] = str(n)
                    counts.append(callgrind_instructions([binaries(mode)[0], "1", "pp1"], env, tmp, True))
                env.pop("WEFT_BENCH_ITERS")
                per = (counts[1] - counts[0]) / args.cg_iters
                base_pp = per if mode.endswith("off") else base_pp
                line += " ping-pong %.0f per round trip" % per
                if not mode.endswith("off"):
                    line += " (%+.0f, x%.3f)" % (per - base_pp, per / base_pp)
            if args.only in (None, "binarytrees"):
                n = callgrind_instructions([binaries(mode)[1], str(args.cg_depth),
                                            str(args.cg_workers)], env, tmp, False)
                base_bt = n if mode.endswith("off") else base_bt
                line += "; binary_trees %d %d: %.1fM" % (args.cg_depth, args.cg_workers, n / 1e6)
                if not mode.endswith("off"):
                    line += " (x%.4f)" % (n / base_bt)
            if os.path.exists(trace):
                os.remove(trace)
            print(line, flush=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
