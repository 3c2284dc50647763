#!/usr/bin/env python3
"""Weft's side-by-side benchmark harness (issue 9).

Builds our own peer programs (tools/bench/peers/, plain compiler commands) and the
Weft benchmark targets (Bazel), runs every case --reps times round-robin across
systems under /usr/bin/time -v, checks every output, and prints one table:

    case | system | figure (median) | range | wall | CPU | peak RSS | max pause |
    ratio to the baseline | Weft goal | met?

It also writes results/bench/<date>[-quick]/{table.md,chart.svg,runs.jsonl,raw/}.
Run it through `tools/dev bench [args]`; the contract for Weft benchmark programs is
in tools/bench/README.md.

    run.py [--quick] [--reps N] [--only REGEX] [--list] [--no-weft] [--no-peers]
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.join(HERE, "peers")
RESULTS = os.path.join(ROOT, "results", "bench")
BUILD = os.path.join(RESULTS, "build")

CFLAGS = ["-O2"]  # the flags the reference peer figures were measured with
CXXFLAGS = ["-std=c++20", "-O2"]


def say(msg=""):
    try:
        print(msg, flush=True)
    except BrokenPipeError:
        sys.exit(0)


# --------------------------------------------------------------------------------
# Peer builds: plain compiler commands into results/bench/build, redone only when a
# source is newer than its output.

def have(tool):
    return shutil.which(tool) is not None


def newer(out, srcs):
    if not os.path.exists(out):
        return True
    t = os.path.getmtime(out)
    return any(os.path.getmtime(s) > t for s in srcs)


def tree_files(d, exts):
    out = []
    for base, _, files in os.walk(d):
        out += [os.path.join(base, f) for f in files if f.endswith(exts)]
    return out


def peer_builds():
    """(key, output, command, cwd, sources, env, what-is-needed) for every peer binary."""
    p, b = PEERS, BUILD
    c, cpp = os.path.join(p, "c"), os.path.join(p, "cpp")
    gc_h = ("/usr/include/gc/gc.h", "libgc-dev")
    fiber_h = ("/usr/include/boost/fiber/all.hpp", "libboost-fiber-dev")
    ctx_h = ("/usr/include/boost/context/fiber.hpp", "libboost-context-dev")
    go_env = {"GOCACHE": os.path.join(b, "gocache"), "GOPATH": os.path.join(b, "gopath"),
              "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GO111MODULE": "on"}
    bt_c = os.path.join(c, "binary_trees_boehm.c")
    al_c = os.path.join(c, "alloc_rate_boehm.c")
    bt_cc = os.path.join(cpp, "binary_trees.cpp")
    out = [
        ("c-boehm/bt", f"{b}/binary_trees_boehm", ["gcc", *CFLAGS, "-o", f"{b}/binary_trees_boehm", bt_c, "-lgc"],
         None, [bt_c, f"{c}/gc_pause.h"], {}, [("gcc", "gcc"), gc_h]),
        ("c-boehm/bt-mt", f"{b}/binary_trees_boehm_mt",
         ["gcc", *CFLAGS, "-DWEFT_PEER_THREADS", "-o", f"{b}/binary_trees_boehm_mt", bt_c, "-lgc", "-lpthread"],
         None, [bt_c, f"{c}/gc_pause.h"], {}, [("gcc", "gcc"), gc_h]),
        ("c-boehm/alloc", f"{b}/alloc_rate_boehm", ["gcc", *CFLAGS, "-o", f"{b}/alloc_rate_boehm", al_c, "-lgc"],
         None, [al_c, f"{c}/gc_pause.h"], {}, [("gcc", "gcc"), gc_h]),
        ("cpp-new-delete/bt", f"{b}/binary_trees_new",
         ["g++", *CXXFLAGS, "-o", f"{b}/binary_trees_new", bt_cc, "-lpthread"], None, [bt_cc], {}, [("g++", "g++")]),
        ("cpp-arena/bt", f"{b}/binary_trees_arena",
         ["g++", *CXXFLAGS, "-DWEFT_PEER_ARENA", "-o", f"{b}/binary_trees_arena", bt_cc, "-lpthread"],
         None, [bt_cc], {}, [("g++", "g++")]),
        ("cpp-new-delete/alloc", f"{b}/alloc_rate_new",
         ["g++", *CXXFLAGS, "-o", f"{b}/alloc_rate_new", f"{cpp}/alloc_rate.cpp"],
         None, [f"{cpp}/alloc_rate.cpp"], {}, [("g++", "g++")]),
        ("boost-context/threads", f"{b}/context_threads",
         ["g++", *CXXFLAGS, "-o", f"{b}/context_threads", f"{cpp}/context_threads.cpp", "-lboost_context",
          "-pthread"], None, [f"{cpp}/context_threads.cpp", f"{cpp}/figures.h"], {}, [("g++", "g++"), ctx_h]),
        ("boost-fiber/threads", f"{b}/fiber_threads",
         ["g++", *CXXFLAGS, "-o", f"{b}/fiber_threads", f"{cpp}/fiber_threads.cpp", "-lboost_fiber",
          "-lboost_context", "-pthread"], None, [f"{cpp}/fiber_threads.cpp", f"{cpp}/figures.h"], {},
         [("g++", "g++"), fiber_h]),
    ]
    go_srcs = tree_files(os.path.join(p, "go"), (".go", ".mod"))
    for pkg in ("binarytrees", "allocrate", "threads"):
        out.append((f"go/{pkg}", f"{b}/go_{pkg}", ["go", "build", "-o", f"{b}/go_{pkg}", f"./{pkg}"],
                    os.path.join(p, "go"), go_srcs, go_env, [("go", "golang-go")]))
    java_srcs = tree_files(os.path.join(p, "java"), (".java",))
    out.append(("java/classes", f"{b}/java/BinaryTrees.class",
                ["javac", "-d", f"{b}/java", *java_srcs], None, java_srcs, {},
                [("javac", "default-jdk-headless")]))
    s = os.path.join(p, "sbcl")
    for src, pkg in (("binary-trees.lisp", "binary-trees"), ("alloc-rate.lisp", "alloc-rate")):
        out.append((f"sbcl/{pkg}", f"{b}/sbcl/{pkg}",
                    ["sbcl", "--noinform", "--non-interactive", "--load", "build.lisp", src, pkg, f"{b}/sbcl/{pkg}"],
                    s, [os.path.join(s, src), os.path.join(s, "gcpause.lisp"), os.path.join(s, "build.lisp")], {},
                    [("sbcl", "sbcl")]))
    return out


def build_peers():
    """Builds what is stale; returns {key: None if built, or the reason it is missing}."""
    os.makedirs(os.path.join(BUILD, "java"), exist_ok=True)
    os.makedirs(os.path.join(BUILD, "sbcl"), exist_ok=True)
    status = {}
    for key, out, cmd, cwd, srcs, env, needs in peer_builds():
        missing = [pkg for what, pkg in needs if not (os.path.exists(what) if what.startswith("/") else have(what))]
        if missing:
            status[key] = "needs " + ", ".join(sorted(set(missing))) + " (tools/dev bench installs it)"
            continue
        if not newer(out, srcs):
            status[key] = None
            continue
        e = dict(os.environ)
        e.update(env)
        t0 = time.time()
        p = subprocess.run(cmd, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0 or not os.path.exists(out):
            status[key] = "build failed: " + " ".join(cmd)
            say(f"build FAILED {key}: {' '.join(cmd)}\n{p.stdout[-2000:]}")
        else:
            status[key] = None
            say(f"built {key} ({time.time() - t0:.1f}s)")
    return status


# --------------------------------------------------------------------------------
# Weft targets: built with Bazel. A target that does not exist yet is skipped.

WEFT_PROGRAMS = {
    # label: what the program must do (see README.md, "Contract")
    "//tools/bench/runtime:binary_trees": "binary_trees N [WORKERS]: binary-trees text, optional max-pause-ms",
    "//tools/bench/runtime:alloc_rate": "alloc_rate N: 'allocated N objects, checksum S' + ns-per-alloc",
    "//tools/bench/threads:green_threads": "green_threads MODE N: RESULT lines + checksum, modes as the peers",
}
WEFT_PACKAGES = ["//tools/bench/heap", "//tools/bench/threads", "//tools/bench/runtime"]


class Bazel:
    def __init__(self, output_base, config):
        self.output_base = output_base
        self.config = config
        self.bin_dir = None

    def cmd(self, verb, *args):
        c = ["bazel"]
        if self.output_base:
            c.append(f"--output_base={self.output_base}")
        c.append(verb)
        if verb in ("build", "info"):
            c += ["--symlink_prefix=/"]  # leave others' bazel-* links alone
            c += self.config
        if verb == "build":
            c += ["--noshow_progress", "--color=no", "--curses=no"]
        return c + list(args)

    def run(self, verb, *args, quiet=True):
        return subprocess.run(self.cmd(verb, *args), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE if quiet else None, text=True)

    def query(self, expr):
        p = self.run("query", "--keep_going", "--output=label", expr)
        labels = [l.strip() for l in p.stdout.splitlines() if l.strip().startswith("//")]
        if p.returncode not in (0, 3) or (p.returncode == 3 and not labels):
            say(f"bazel query failed (exit {p.returncode}): {(p.stderr or '').strip().splitlines()[-1:]}")
        return labels

    def label_path(self, label):
        if self.bin_dir is None:
            p = self.run("info", "bazel-bin")
            self.bin_dir = p.stdout.strip()
        pkg, name = label[2:].split(":")
        return os.path.join(self.bin_dir, pkg, name)


def discover_weft(args):
    """Returns (programs {label: path}, gbench [(label, path)], figures [(label, path)], notes)."""
    notes = []
    if args.no_weft:
        return {}, [], [], ["Weft cases not run (--no-weft)"]
    if not have("bazel"):
        return {}, [], [], ["Weft cases skipped: bazel not installed"]
    bz = Bazel(args.bazel_output_base, args.bazel_config.split() if args.bazel_config else [])
    say("bazel: looking for Weft benchmark targets under " + ", ".join(p + "/..." for p in WEFT_PACKAGES))
    existing_pkgs = [p for p in WEFT_PACKAGES if os.path.exists(os.path.join(ROOT, p[2:], "BUILD"))
                     or os.path.exists(os.path.join(ROOT, p[2:], "BUILD.bazel"))]
    binaries, gb = [], set()
    if existing_pkgs:
        universe = " + ".join(p + "/..." for p in existing_pkgs)
        binaries = bz.query(f"kind(cc_binary, {universe})")
        if binaries:
            gb = set(bz.query(f"kind(cc_binary, {universe}) intersect rdeps({universe}, @system//:benchmark)"))
    for label, what in WEFT_PROGRAMS.items():
        if label not in binaries:
            notes.append(f"skip {label}: target does not exist yet ({what})")
    for p in WEFT_PACKAGES:
        if p not in existing_pkgs:
            notes.append(f"skip {p}/...: package does not exist yet")
    if not binaries:
        for n in notes:
            say(n)
        return {}, [], [], notes
    say(f"bazel build {' '.join(binaries)}")
    p = bz.run("build", "--keep_going", *binaries, quiet=False)
    failed = set()
    if p.returncode != 0:  # find which ones: a failed target may still have a stale binary
        for label in binaries:
            if bz.run("build", label).returncode != 0:
                failed.add(label)
    programs, gbench, figures = {}, [], []
    for label in binaries:
        path = bz.label_path(label)
        if label in failed or not os.access(path, os.X_OK):
            notes.append(f"skip {label}: does not build now (bazel build {label} fails)")
            continue
        if label in WEFT_PROGRAMS:
            programs[label] = path
        elif label in gb:
            gbench.append((label, path))
        else:
            figures.append((label, path))
    for n in notes:
        say(n)
    return programs, gbench, figures, notes


# --------------------------------------------------------------------------------
# Expected outputs (computed here, independently of every program).

def bt_expected(n):
    min_d = 4
    max_d = max(min_d + 2, n)
    nodes = lambda d: (1 << (d + 1)) - 1
    lines = [f"stretch tree of depth {max_d + 1}\t check: {nodes(max_d + 1)}"]
    for d in range(min_d, max_d + 1, 2):
        iters = 1 << (max_d - d + min_d)
        lines.append(f"{iters}\t trees of depth {d}\t check: {iters * nodes(d)}")
    lines.append(f"long lived tree of depth {max_d}\t check: {nodes(max_d)}")
    return "\n".join(lines)


def alloc_expected(n):
    return f"allocated {n} objects, checksum {n * (n - 1) // 2}"


KEY_LINE = re.compile(r"^([a-z][a-z0-9_-]*):\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")
RESULT_LINE = re.compile(r"^RESULT\s+(\S+)\s+([-+]?[0-9.eE+-]+)\s*(\S*)")
# The other figure-line form accepted from figure binaries (threads_bench prints it):
#   <name words>   <median> <unit> [<min> - <max>]  goal <text>
FIGURE_LINE = re.compile(r"^(\S.*?)\s{2,}([-+]?[0-9.]+)\s+(\S+)\s+\[([-+0-9.]+) - ([-+0-9.]+)\]")
JAVA_PAUSE = re.compile(r"\bPause\b.*?([0-9]+\.[0-9]+)ms\s*$")


def parse_output(stdout, stderr):
    """Splits a program's output into its text (for the checksum) and figures."""
    keys, results, text = {}, {}, []
    for line in stdout.splitlines():
        m, r = KEY_LINE.match(line), RESULT_LINE.match(line)
        if m:
            keys[m.group(1)] = float(m.group(2))
        elif r:
            results[r.group(1)] = float(r.group(2))
        else:
            text.append(line.rstrip())
    java_pauses = []
    for line in stderr.splitlines():
        m, r, j = KEY_LINE.match(line), RESULT_LINE.match(line), JAVA_PAUSE.search(line)
        if m:
            keys.setdefault(m.group(1), float(m.group(2)))
        elif r:
            results.setdefault(r.group(1), float(r.group(2)))
        elif j:
            java_pauses.append(float(j.group(1)))
    if java_pauses and "max-pause-ms" not in keys:
        keys["max-pause-ms"] = max(java_pauses)
        keys["gc-count"] = len(java_pauses)
    while text and not text[-1]:
        text.pop()
    return "\n".join(text), keys, results


# --------------------------------------------------------------------------------
# Cases.

class Goal:
    """A Weft goal. kind: 'figure' compares the figure itself, 'ratio' the ratio to
    the baseline, 'rss' the peak-RSS ratio to the baseline, 'pause' the max pause."""

    def __init__(self, text, kind, limit, strict=False, size_ok=True):
        self.text, self.kind, self.limit, self.strict, self.size_ok = text, kind, limit, strict, size_ok

    def check(self, row):
        v = {"figure": row.get("figure"), "ratio": row.get("ratio"), "rss": row.get("rss_ratio"),
             "pause": row.get("pause_ms")}[self.kind]
        if not self.size_ok:
            return f"{self.text}: n/a at this size"
        if v is None:
            return f"{self.text}: no figure"
        ok = v < self.limit if self.strict else v <= self.limit
        return f"{self.text}: {'met' if ok else 'UNMET'}"


class System:
    def __init__(self, name, argv, env=None, needs=None, expected=None):
        self.name, self.argv, self.env = name, argv, env or {}
        self.needs = needs or []  # peer build keys or Weft labels
        self.expected = expected


class Case:
    def __init__(self, cid, title, family, unit, metric, baseline, expected, goals=(), note=""):
        self.id, self.title, self.family, self.unit = cid, title, family, unit
        self.metric = metric  # "wall", "key:<name>" or "result:<name>"
        self.baseline, self.expected, self.goals, self.note = baseline, expected, list(goals), note
        self.systems = []


def java_cmd(gc, cls, *args):
    return ["java", f"-XX:+Use{gc}GC", "-Xlog:gc:stderr", "-cp", os.path.join(BUILD, "java"), cls, *map(str, args)]


def make_cases(quick, weft_programs):
    b = BUILD
    bt_n = 16 if quick else 20
    alloc_n = 10_000_000 if quick else 100_000_000
    cases = []
    wbt = weft_programs.get("//tools/bench/runtime:binary_trees")
    wal = weft_programs.get("//tools/bench/runtime:alloc_rate")
    wgt = weft_programs.get("//tools/bench/threads:green_threads")
    full_size = not quick

    # binary-trees, one mutator thread.
    c = Case("binary-trees", f"binary-trees N={bt_n}", "gc", "s", "wall", "cpp-arena",
             lambda text, keys, n=bt_n: text == bt_expected(n),
             [Goal("time <= 1.5x arena", "ratio", 1.5, size_ok=full_size),
              Goal("RSS <= 1.5x arena", "rss", 1.5, size_ok=full_size),
              Goal("max pause < 30 ms", "pause", 30.0, strict=True, size_ok=full_size)])
    c.systems = [
        System("cpp-arena", [f"{b}/binary_trees_arena", bt_n], needs=["cpp-arena/bt"]),
        System("cpp-new-delete", [f"{b}/binary_trees_new", bt_n], needs=["cpp-new-delete/bt"]),
        System("c-boehm", [f"{b}/binary_trees_boehm", bt_n], needs=["c-boehm/bt"]),
        System("go", [f"{b}/go_binarytrees", bt_n], needs=["go/binarytrees"]),
        System("java-serial", java_cmd("Serial", "BinaryTrees", bt_n), needs=["java/classes"]),
        System("java-parallel", java_cmd("Parallel", "BinaryTrees", bt_n), needs=["java/classes"]),
        System("java-g1", java_cmd("G1", "BinaryTrees", bt_n), needs=["java/classes"]),
        System("sbcl", [f"{b}/sbcl/binary-trees", bt_n], needs=["sbcl/binary-trees"]),
        System("weft", [wbt, bt_n], needs=["//tools/bench/runtime:binary_trees"]),
    ]
    cases.append(c)

    # binary-trees, two mutator threads / workers.
    c = Case("binary-trees-2t", f"binary-trees N={bt_n}, 2 threads", "gc", "s", "wall", "cpp-arena-2t",
             lambda text, keys, n=bt_n: text == bt_expected(n),
             [Goal("time <= 1.6x 2-thread arena", "ratio", 1.6, size_ok=full_size)])
    c.systems = [
        System("cpp-arena-2t", [f"{b}/binary_trees_arena", bt_n, 2], needs=["cpp-arena/bt"]),
        System("cpp-new-delete-2t", [f"{b}/binary_trees_new", bt_n, 2], needs=["cpp-new-delete/bt"]),
        System("c-boehm-2t", [f"{b}/binary_trees_boehm_mt", bt_n, 2], needs=["c-boehm/bt-mt"]),
        System("go-2t", [f"{b}/go_binarytrees", bt_n, 2], {"GOMAXPROCS": "2"}, needs=["go/binarytrees"]),
        System("java-serial-2t", java_cmd("Serial", "BinaryTrees", bt_n, 2), needs=["java/classes"]),
        System("java-parallel-2t", java_cmd("Parallel", "BinaryTrees", bt_n, 2), needs=["java/classes"]),
        System("java-g1-2t", java_cmd("G1", "BinaryTrees", bt_n, 2), needs=["java/classes"]),
        System("sbcl-2t", [f"{b}/sbcl/binary-trees", bt_n, 2], needs=["sbcl/binary-trees"]),
        System("weft-2w", [wbt, bt_n, 2], needs=["//tools/bench/runtime:binary_trees"]),
    ]
    cases.append(c)

    # allocation rate.
    c = Case("alloc-rate", f"alloc rate, {alloc_n // 1_000_000}M objects, last 1000 live", "gc", "ns/alloc",
             "key:ns-per-alloc", "cpp-new-delete", lambda text, keys, n=alloc_n: text == alloc_expected(n),
             [Goal("<= 4 ns/object", "figure", 4.0)], note="baseline: malloc/free (an arena cannot free singly)")
    c.n = alloc_n
    c.systems = [
        System("cpp-new-delete", [f"{b}/alloc_rate_new", alloc_n], needs=["cpp-new-delete/alloc"]),
        System("c-boehm", [f"{b}/alloc_rate_boehm", alloc_n], needs=["c-boehm/alloc"]),
        System("go", [f"{b}/go_allocrate", alloc_n], needs=["go/allocrate"]),
        System("java-serial", java_cmd("Serial", "AllocRate", alloc_n), needs=["java/classes"]),
        System("java-parallel", java_cmd("Parallel", "AllocRate", alloc_n), needs=["java/classes"]),
        System("java-g1", java_cmd("G1", "AllocRate", alloc_n), needs=["java/classes"]),
        System("sbcl", [f"{b}/sbcl/alloc-rate", alloc_n], needs=["sbcl/alloc-rate"]),
        System("weft", [wal, alloc_n], needs=["//tools/bench/runtime:alloc_rate"]),
    ]
    cases.append(c)

    # Green-thread cases: (id, title, mode, n, result name, unit, goal, expected checksum).
    tri = lambda n: n * (n - 1) // 2
    q = quick
    alive_n = 20_000 if q else 100_000
    thread_cases = [
        ("yield", "yield", 1_000_000 if q else 10_000_000, "yield", "ns",
         Goal("<= 20 ns", "figure", 20.0), lambda n: 2 * n),
        ("pingpong", "unbuffered channel ping-pong", 200_000 if q else 2_000_000, "pingpong", "ns/round trip",
         Goal("<= 100 ns", "figure", 100.0), tri),
        ("spawn-join", "spawn+join", 100_000 if q else 1_000_000, "spawn_join", "ns",
         Goal("<= 150 ns", "figure", 150.0), tri),
        ("spawn-100k-alive", "spawn threads, all alive", alive_n, "spawn_all_alive", "ms",
         Goal("<= 40 ms for 100k", "figure", 40.0, size_ok=not q), lambda n: n),
        ("blocked-thread-memory", "resident memory per blocked thread", alive_n, "blocked_thread_bytes",
         "B", Goal("<= 5 KiB", "figure", 5120.0), lambda n: n),
        ("cross-worker-wake", "cross-worker wake", 20_000 if q else 200_000, "cross_worker_wake", "ns",
         Goal("<= 2 us", "figure", 2000.0), tri),
        ("idle-cpu", "idle CPU, 2 workers", 1 if q else 5, "idle_cpu", "% CPU",
         Goal("< 1% over 5 s", "figure", 1.0, strict=True, size_ok=not q), lambda n: 1),
    ]
    mode_of = {"spawn-100k-alive": "alive", "blocked-thread-memory": "alive", "cross-worker-wake": "xwake",
               "idle-cpu": "idle", "spawn-join": "spawnjoin"}
    for cid, title, n, rname, unit, goal, chk in thread_cases:
        mode = mode_of.get(cid, cid)
        size = f"{n // 1000}k" if n >= 1000 else f"{n} s"
        baseline = {"cross-worker-wake": "os-threads", "idle-cpu": None}.get(cid, "boost-context")
        c = Case(cid, f"{title} ({size})", "switch", unit, f"result:{rname}", baseline,
                 lambda text, keys, n=n, chk=chk: keys.get("checksum") == chk(n), [goal])
        c.n = n
        c.systems = []
        if cid == "cross-worker-wake":
            c.systems.append(System("os-threads", [f"{b}/context_threads", "xwake", n],
                                    needs=["boost-context/threads"]))
        elif cid != "idle-cpu":
            c.systems.append(System("boost-context", [f"{b}/context_threads", mode, n],
                                    needs=["boost-context/threads"]))
        c.systems.append(System("boost-fiber", [f"{b}/fiber_threads", mode, n], needs=["boost-fiber/threads"]))
        procs = "2" if cid in ("cross-worker-wake", "idle-cpu") else "1"
        c.systems.append(System(f"go-p{procs}", [f"{b}/go_threads", mode, n], {"GOMAXPROCS": procs},
                                needs=["go/threads"]))
        c.systems.append(System("weft", [wgt, mode, n], needs=["//tools/bench/threads:green_threads"]))
        cases.append(c)
    return cases


# Goals for Google Benchmark / figure binaries, matched on the benchmark name as
# norm_name gives it ('_', '-', '/', '+', ',' and spaces removed, lower-cased). Value
# is in ns unless a counter is named. See README.md for the names to use. A goal goes
# only to a benchmark that measures it: a bare word matches too much
# (BM_SetCar_YoungPair and BM_WriteBarrierYoungHolder contain "young" and are stores,
# not collections).
NAME_GOALS = [
    # One small object per iteration: heap_bench's BM_Alloc* family, handles_bench's
    # BM_ConsAlloc (one Cons through the API). Not names that merely contain "alloc".
    (r"^(bm)?alloc|^(bm)?consalloc$", "ns", Goal("<= 4 ns/object", "figure", 4.0)),
    # A young collection of a 4 MiB nursery full of live data: heap_bench's
    # BM_YoungCollection4MiB/4000 (4000 KiB live of the 4032 KiB it fills). The smaller
    # live sizes show how the pause grows and carry no goal.
    (r"^(bm)?(young|minor|nursery)(collection|collect|gc)4mib4000(realtime)?$", "ns",
     Goal("< 2 ms", "figure", 2e6, strict=True)),
    (r"crossworker|xwake", "ns", Goal("<= 2 us", "figure", 2000.0)),
    (r"pingpong", "ns", Goal("<= 100 ns", "figure", 100.0)),
    (r"spawn.*alive|alive", "ns", Goal("<= 40 ms", "figure", 40e6)),
    (r"spawnjoin", "ns", Goal("<= 150 ns", "figure", 150.0)),
    (r"yield", "ns", Goal("<= 20 ns", "figure", 20.0)),
]
COUNTER_GOALS = {
    "bytes_per_thread": ("B", Goal("<= 5 KiB", "figure", 5120.0)),
    "idle_cpu_percent": ("%", Goal("< 1%", "figure", 1.0, strict=True)),
}


# --------------------------------------------------------------------------------
# Running.

def cpu_busy_s():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s):
    """Waits (at most limit_s) until other processes use < 10% of a CPU over 0.2 s."""
    t0 = time.time()
    while time.time() - t0 < limit_s:
        a = cpu_busy_s()
        time.sleep(0.2)
        if cpu_busy_s() - a < 0.02:
            break
    return time.time() - t0


def parse_time_v(text):
    def grab(label):
        m = re.search(re.escape(label) + r":\s*(.+)", text)
        return m.group(1).strip() if m else None
    wall = grab("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    if wall is None:
        return None
    w = 0.0
    for part in wall.split(":"):
        w = w * 60 + float(part)
    return {"wall_s": w, "cpu_s": float(grab("User time (seconds)")) + float(grab("System time (seconds)")),
            "rss_kib": int(grab("Maximum resident set size (kbytes)"))}


def run_once(case, system, rep, rawdir, timeout):
    argv = [str(a) for a in system.argv]
    base = os.path.join(rawdir, f"{case.id}.{system.name}.r{rep}")
    env = dict(os.environ)
    env.update(system.env)
    busy0 = cpu_busy_s()
    try:
        with open(base + ".out", "w") as fo, open(base + ".err", "w") as fe:
            p = subprocess.run(["/usr/bin/time", "-v", "-o", base + ".time", *argv], stdout=fo, stderr=fe,
                               env=env, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    busy1 = cpu_busy_s()
    rec = {"case": case.id, "system": system.name, "rep": rep,
           "cmd": " ".join([f"{k}={v}" for k, v in system.env.items()] + argv).replace(ROOT + "/", "")}
    tv = parse_time_v(open(base + ".time").read()) if os.path.exists(base + ".time") else None
    if tv:
        rec.update(tv)
        rec["other_cpu_s"] = round(max(0.0, busy1 - busy0 - tv["cpu_s"]), 2)
    stdout = open(base + ".out", errors="replace").read()
    stderr = open(base + ".err", errors="replace").read()
    text, keys, results = parse_output(stdout, stderr)
    rec["keys"], rec["results"] = keys, results
    rec["pause_ms"] = keys.get("max-pause-ms")
    if rc != 0:
        last = (stderr.strip().splitlines() or [""])[-1].replace(argv[0], os.path.basename(argv[0]))
        rec["error"] = f"exit {rc}: " + last[:90]
    elif not case.expected(text, keys):
        rec["error"] = "wrong output (checksum mismatch)"
    if case.metric == "wall":
        rec["figure"] = rec.get("wall_s")
    elif case.metric.startswith("key:"):
        k = case.metric[4:]
        rec["figure"] = keys.get(k)
        if rec["figure"] is None and tv and getattr(case, "n", None):
            rec["figure"] = tv["wall_s"] * 1e9 / case.n  # no loop timing printed: whole process
            rec["figure_note"] = "from wall"
    else:
        rec["figure"] = results.get(case.metric[7:])
    if "error" not in rec and rec["figure"] is None:
        rec["error"] = f"no {case.metric} figure in the output"
    return rec


def run_gbench(label, path, rep, rawdir, timeout, quick):
    name = label.split(":")[-1]
    base = os.path.join(rawdir, f"gbench.{name}.r{rep}")
    argv = [path, "--benchmark_format=json", f"--benchmark_out={base}.json", "--benchmark_out_format=json"]
    if quick:
        argv.append("--benchmark_min_time=0.05")
    try:
        with open(base + ".log", "w") as fo:
            p = subprocess.run(["/usr/bin/time", "-v", "-o", base + ".time", *argv], stdout=subprocess.DEVNULL,
                               stderr=fo, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    rows = []
    try:
        data = json.load(open(base + ".json"))
    except (OSError, ValueError):
        return [{"label": label, "bench": "(all)", "rep": rep, "error": f"exit {rc}, no JSON"}]
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    for bm in data.get("benchmarks", []):
        if bm.get("run_type") == "aggregate":
            continue
        r = {"label": label, "bench": bm["name"], "rep": rep}
        if bm.get("error_occurred"):
            r["error"] = bm.get("error_message", "error")
        else:
            r["real_ns"] = bm["real_time"] * scale.get(bm.get("time_unit", "ns"), 1.0)
            r["counters"] = {k: v for k, v in bm.items() if k in COUNTER_GOALS}
        rows.append(r)
    return rows


# Arguments for figure binaries that take some (run with none otherwise).
FIGURE_ARGS = {
    # threads_bench [REPS [ONLY]]: it takes its own median of REPS runs (default 5).
    "//tools/bench/threads:threads_bench": {"quick": ["1"], "full": ["3"]},
}


def run_figures(label, path, rep, rawdir, timeout, quick):
    name = label.split(":")[-1]
    base = os.path.join(rawdir, f"figures.{name}.r{rep}")
    argv = [path] + FIGURE_ARGS.get(label, {}).get("quick" if quick else "full", [])
    try:
        with open(base + ".out", "w") as fo, open(base + ".err", "w") as fe:
            p = subprocess.run(argv, stdout=fo, stderr=fe, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    _, keys, results = parse_output(open(base + ".out").read(), open(base + ".err").read())
    if rc != 0:
        return [{"label": label, "bench": "(all)", "rep": rep, "error": f"exit {rc}"}]
    units = {}
    for line in open(base + ".out").read().splitlines():
        m = RESULT_LINE.match(line)
        f = FIGURE_LINE.match(line)
        if m:
            units[m.group(1)] = m.group(3)
        elif f:
            results[f.group(1).strip()] = float(f.group(2))
            units[f.group(1).strip()] = f.group(3)
    rows = []
    for k, v in results.items():
        unit = units.get(k, "")
        scale = next((f for u, f in (("ns", 1.0), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9))
                      if unit == u or unit.startswith(u + "/")), None)
        row = {"label": label, "bench": k, "rep": rep, "value": v, "unit": unit}
        if scale is not None:
            row["real_ns"] = v * scale
            row["counters"] = {}
        elif ((unit.startswith("B") or unit.startswith("byte")) and re.search(r"byte|mem|rss", k, re.I)
              and re.search(r"thread", k, re.I)):  # the per-thread figure, not any byte count
            row["counters"] = {"bytes_per_thread": v}
        elif unit.startswith("%") and re.search(r"idle", k, re.I):
            row["counters"] = {"idle_cpu_percent": v}
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------
# Summaries, table and chart.

def fmt(v, unit=""):
    if v is None:
        return "-"
    if unit == "s":
        return f"{v:.2f}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def summarize(cases, records, skipped, matched=None):
    matched = matched or {}
    rows = []
    for c in cases:
        base_fig = base_rss = base_cpu = None
        crow = []
        for s in c.systems:
            recs = [r for r in records if r["case"] == c.id and r["system"] == s.name]
            row = {"case": c, "system": s.name, "title": c.title, "unit": c.unit}
            if (c.id, s.name) in skipped:
                row["skip"] = skipped[(c.id, s.name)]
            elif not recs:
                continue
            else:
                bad = [r for r in recs if "error" in r]
                good = [r for r in recs if "error" not in r]
                if bad:
                    row["fail"] = f"FAILED {len(bad)}/{len(recs)}: {bad[0]['error']}"
                else:
                    figs = [r["figure"] for r in good]
                    row["figure"] = statistics.median(figs)
                    row["lo"], row["hi"] = min(figs), max(figs)
                    row["wall"] = statistics.median(r["wall_s"] for r in good)
                    row["cpu"] = statistics.median(r["cpu_s"] for r in good)
                    row["rss_mib"] = statistics.median(r["rss_kib"] for r in good) / 1024
                    pauses = [r["pause_ms"] for r in good if r.get("pause_ms") is not None]
                    row["pause_ms"] = max(pauses) if pauses else None
                    row["disturbed"] = sum(1 for r in good if r.get("other_cpu_s", 0) > 0.2 + 0.1 * r["wall_s"])
                    row["from_wall"] = any(r.get("figure_note") for r in good)
                    if s.name == c.baseline:
                        base_fig, base_rss, base_cpu = row["figure"], row["rss_mib"], row["cpu"]
            crow.append(row)
        for (label, bench), (mc, vals) in matched.items():
            if mc is c:
                crow.append({"case": c, "system": f"weft {label.split(':')[-1]}: {bench}", "title": c.title,
                             "unit": c.unit, "figure": statistics.median(vals), "lo": min(vals), "hi": max(vals),
                             "from_figures": True})
        for row in crow:
            if row.get("from_figures") and c.id == "spawn-100k-alive" and getattr(c, "n", 0) != 100_000:
                pass  # the Weft binary spawns 100k: no ratio to a smaller peer run
            elif "figure" in row and base_fig:
                row["ratio"] = row["figure"] / base_fig
                row["rss_ratio"] = row["rss_mib"] / base_rss if base_rss and "rss_mib" in row else None
                if c.metric == "wall" and base_cpu and "cpu" in row:
                    row["cpu_ratio"] = row["cpu"] / base_cpu
            if row["system"].startswith("weft") and c.goals:
                goals = c.goals
                if row.get("from_figures"):  # measured at the binary's own size
                    goals = [Goal(g.text, g.kind, g.limit, g.strict) for g in goals]
                row["goal"] = "; ".join(g.check(row) if "figure" in row else f"{g.text}: not measured"
                                        for g in goals)
        rows += crow
    return rows


# Weft figure-binary / Google Benchmark results that measure what a switching case
# measures are shown in that case, next to the peers: (case id, name regex, source, scale
# from the source to the case's unit). Checked in this order.
CASE_MATCH = [
    ("blocked-thread-memory", r"byte|memory|rss", "bytes_per_thread", 1.0),
    ("idle-cpu", r"idle", "idle_cpu_percent", 1.0),
    ("spawn-100k-alive", r"alive", "real_ns", 1e-6),
    ("cross-worker-wake", r"crossworker|xwake", "real_ns", 1.0),
    ("pingpong", r"pingpong", "real_ns", 1.0),
    ("spawn-join", r"spawnjoin", "real_ns", 1.0),
    ("yield", r"yield", "real_ns", 1.0),
]


def norm_name(bench):
    return re.sub(r"[_\-/ +,]", "", bench.lower())


def extra_groups(extra):
    seen = []
    for r in extra:
        key = (r["label"], r["bench"])
        if key not in seen:
            seen.append(key)
    return seen


def match_extra(cases, extra):
    """{(label, bench): (case, values in the case's unit)} for the results that belong in a case."""
    by_id = {c.id: c for c in cases}
    out = {}
    for label, bench in extra_groups(extra):
        rs = [r for r in extra if (r["label"], r["bench"]) == (label, bench)]
        if any("error" in r for r in rs):
            continue
        for cid, rx, src, scale in CASE_MATCH:
            if cid not in by_id or not re.search(rx, norm_name(bench)):
                continue
            if src == "real_ns":
                vals = [r["real_ns"] * scale for r in rs if "real_ns" in r]
            else:
                vals = [r["counters"][src] * scale for r in rs if src in r.get("counters", {})]
            if vals:
                out[(label, bench)] = (by_id[cid], vals)
                break
    return out


def summarize_extra(extra, skipped_notes, matched=()):
    """Google Benchmark / figure rows not shown in a case: one per (label, benchmark)."""
    rows = []
    seen = [k for k in extra_groups(extra) if k not in matched]
    for label, bench in seen:
        rs = [r for r in extra if (r["label"], r["bench"]) == (label, bench)]
        bad = [r for r in rs if "error" in r]
        norm = norm_name(bench)
        row = {"case": None, "title": bench, "system": "weft " + label.split(":")[-1], "unit": "ns"}
        if bad:
            row["fail"] = f"FAILED {len(bad)}/{len(rs)}: {bad[0]['error']}"
            rows.append(row)
            continue
        goal = None
        if "real_ns" in rs[0]:
            vals = [r["real_ns"] for r in rs]
            for rx, unit, g in NAME_GOALS:
                if re.search(rx, norm):
                    goal = g
                    break
            row.update(figure=statistics.median(vals), lo=min(vals), hi=max(vals))
            rows_extra = []
            for cname, (cunit, cg) in COUNTER_GOALS.items():
                cv = [r["counters"][cname] for r in rs if cname in r.get("counters", {})]
                if cv:
                    x = {"case": None, "title": f"{bench} [{cname}]", "system": row["system"], "unit": cunit,
                         "figure": statistics.median(cv), "lo": min(cv), "hi": max(cv)}
                    x["goal"] = cg.check(x)
                    rows_extra.append(x)
        elif rs[0].get("counters"):  # a figure that is not a time: bytes or CPU %
            (cname, _), = rs[0]["counters"].items()
            cunit, goal = COUNTER_GOALS[cname]
            vals = [r["counters"][cname] for r in rs]
            row.update(figure=statistics.median(vals), lo=min(vals), hi=max(vals), unit=cunit)
            rows_extra = []
        else:
            vals = [r["value"] for r in rs]
            row.update(figure=statistics.median(vals), lo=min(vals), hi=max(vals), unit=rs[0].get("unit", ""))
            rows_extra = []
        if goal:
            row["goal"] = goal.check(row)
        if row.get("unit") == "ns" and row["figure"] >= 1e4:  # show long times in us or ms
            f, u = (1e6, "ms") if row["figure"] >= 1e6 else (1e3, "us")
            row.update(figure=row["figure"] / f, lo=row["lo"] / f, hi=row["hi"] / f, unit=u)
        rows.append(row)
        rows += rows_extra
    return rows


def table_lines(rows):
    head = ["case", "system", "median", "range", "wall s", "CPU s", "peak RSS MiB", "max pause ms",
            "x baseline", "x CPU", "Weft goal"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * 8 + ["---"]) + "|"]
    last = None
    for r in rows:
        title = r["title"] if r["title"] != last else ""
        last = r["title"]
        unit = r.get("unit", "")
        if "skip" in r:
            cells = [title, r["system"], "skipped: " + r["skip"]] + [""] * 7 + [r.get("goal", "")]
        elif "fail" in r:
            cells = [title, r["system"], r["fail"]] + [""] * 7 + [r.get("goal", "")]
        else:
            med = fmt(r["figure"], unit) + (f" {unit}" if unit and unit != "s" else (" s" if unit == "s" else ""))
            if r.get("from_wall"):
                med += " (whole process)"
            if r.get("disturbed"):
                med += f" (*{r['disturbed']})"
            base = r["case"].baseline if r.get("case") else None
            ratio = "1 (baseline)" if base == r["system"] else (f"{r['ratio']:.2f}" if "ratio" in r else "-")
            cells = [title, r["system"], med, f"{fmt(r['lo'], unit)}-{fmt(r['hi'], unit)}",
                     fmt(r.get("wall"), "s"), fmt(r.get("cpu"), "s"),
                     fmt(r.get("rss_mib")), fmt(r.get("pause_ms")), ratio,
                     f"{r['cpu_ratio']:.2f}" if r.get("cpu_ratio") is not None else "-", r.get("goal", "")]
        out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |")
    return out


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chart_svg(rows, title):
    """Horizontal bars from 1x to each system's ratio to its case's baseline, log scale.
    Grey: the baseline, green: peers, orange: Weft; a red tick marks a Weft ratio goal."""
    bars = [r for r in rows if r.get("ratio") is not None]
    if not bars:
        return None
    lo = min(0.5, min(r["ratio"] for r in bars) / 1.2)
    hi = max(2.0, max(r["ratio"] for r in bars) * 1.2)
    l0, l1 = math.log10(lo), math.log10(hi)
    left, width, bar_h, top = 300, 600, 14, 62
    groups = len({r["title"] for r in bars})
    h = top + (bar_h + 4) * len(bars) + 22 * groups + 40
    x = lambda v: left + (math.log10(v) - l0) / (l1 - l0) * width
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{h}" '
           'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{esc(title)}</text>',
           '<text x="10" y="36">median figure / baseline median, log scale, lower is better. Baselines: C++ arena '
           '(binary-trees), malloc/free (alloc rate), bare Boost.Context (switching), OS threads (wake).</text>',
           '<rect x="10" y="44" width="10" height="10" fill="#999999"/><text x="24" y="53">baseline</text>',
           '<rect x="90" y="44" width="10" height="10" fill="#1b9e77"/><text x="104" y="53">peer</text>',
           '<rect x="150" y="44" width="10" height="10" fill="#d95f02"/><text x="164" y="53">Weft</text>',
           '<rect x="210" y="44" width="3" height="10" fill="#e7298a"/><text x="218" y="53">Weft goal</text>']
    y = top
    last = None
    for r in bars:
        if r["title"] != last:
            y += 22
            out.append(f'<text x="10" y="{y - 6}" font-weight="bold">{esc(r["title"])}</text>')
            last = r["title"]
        weft = r["system"].startswith("weft")
        color = "#d95f02" if weft else ("#999999" if r["system"] == r["case"].baseline else "#1b9e77")
        a, b = sorted((x(1.0), x(r["ratio"])))
        out.append(f'<text x="{left - 6}" y="{y + bar_h - 3}" text-anchor="end">{esc(r["system"])}</text>')
        out.append(f'<rect x="{a:.1f}" y="{y}" width="{max(1.5, b - a):.1f}" height="{bar_h}" fill="{color}"/>')
        out.append(f'<text x="{max(b, x(1.0)) + 4:.1f}" y="{y + bar_h - 3}">{r["ratio"]:.2f}x</text>')
        if weft:
            for g in r["case"].goals:
                if g.kind == "ratio" and lo < g.limit < hi:
                    out.append(f'<rect x="{x(g.limit) - 1:.1f}" y="{y - 2}" width="3" height="{bar_h + 4}" '
                               'fill="#e7298a"/>')
        y += bar_h + 4
    v = 10 ** math.floor(l0)
    while v <= hi:
        for m in (1, 2, 5):
            t = v * m
            if lo <= t <= hi:
                one = abs(t - 1) < 1e-9
                out.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{y + 4}" '
                           f'stroke="{"#000" if one else "#ccc"}" stroke-width="{1 if one else 0.5}"/>')
                out.append(f'<text x="{x(t):.1f}" y="{y + 18}" text-anchor="middle">{t:g}x</text>')
        v *= 10
    out.append("</svg>")
    return "\n".join(out) + "\n"


def machine():
    model, cores = platform.processor() or "?", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        if m:
            model = m.group(1).strip()
        hv = re.search(r"Hypervisor vendor:\s*(.+)", out)
        if hv:
            model += f" ({hv.group(1).strip()} guest)"
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s*(\d+)", open("/proc/meminfo").read()).group(1))
        mem = f", {kb / 1048576:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return f"{model}, {cores} CPUs{mem}, Linux {platform.release()}"


def toolchains():
    def first(cmd):
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            return p.stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return None
    parts = []
    for name, cmd in (("gcc", ["gcc", "-dumpfullversion"]), ("go", ["go", "version"]),
                      ("java", ["java", "-version"]), ("sbcl", ["sbcl", "--version"])):
        v = first(cmd)
        if v:
            parts.append(v if name != "gcc" else f"gcc {v}")
    for pkg in ("libgc-dev", "libboost-fiber-dev"):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        if p.returncode == 0 and p.stdout:
            parts.append(f"{pkg} {p.stdout}")
    return "; ".join(parts)


# --------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (about two minutes)")
    ap.add_argument("--reps", type=int, default=3, help="runs of every case per system (default 3)")
    ap.add_argument("--only", metavar="REGEX", help="run only cases whose 'case-id/system' matches")
    ap.add_argument("--list", action="store_true", help="list the cases and systems, run nothing")
    ap.add_argument("--no-weft", action="store_true", help="do not build or run Weft targets")
    ap.add_argument("--no-peers", action="store_true", help="run only Weft systems")
    ap.add_argument("--bazel-output-base", default=os.environ.get("WEFT_BENCH_OUTPUT_BASE"),
                    help="bazel --output_base (default: $WEFT_BENCH_OUTPUT_BASE, else Bazel's own)")
    ap.add_argument("--bazel-config", default="-c opt", help="extra bazel build flags (default: -c opt)")
    ap.add_argument("--out", help="output directory (default results/bench/<date>[-quick])")
    ap.add_argument("--quiet-wait", type=float, default=None,
                    help="seconds to wait for an idle machine before each run (default 0.2 quick, 2 full)")
    ap.add_argument("--rerun-budget", type=float, default=180.0,
                    help="seconds of reruns of disturbed runs allowed in a full run (default 180; "
                         "none with --quick)")
    ap.add_argument("--report", metavar="DIR", help="rebuild DIR/table.md and chart.svg from DIR/runs.jsonl, "
                                                    "run nothing")
    ap.add_argument("--report-command", help=argparse.SUPPRESS)  # for a runs.jsonl without its meta line
    args = ap.parse_args()
    if args.report:
        return report_only(args.report, args.quick, args.report_command)
    only = re.compile(args.only) if args.only else None
    t_start = time.time()
    started = datetime.datetime.now()

    if args.list:
        for c in make_cases(args.quick, {}):
            say(f"{c.id:24s} {c.title}")
            for s in c.systems:
                mark = "" if not only or only.search(f"{c.id}/{s.name}") else "   (filtered out)"
                say(f"    {s.name}{mark}")
        return 0

    if not os.path.exists("/usr/bin/time"):
        say("run.py: /usr/bin/time is missing (Debian package 'time'; tools/dev bench installs it)")
        return 2

    say(f"== building peers into {os.path.relpath(BUILD, ROOT)}")
    built = build_peers() if not args.no_peers else {}
    for key, why in sorted(built.items()):
        if why:
            say(f"skip peer {key}: {why}")
    say("== Weft targets")
    weft_programs, gbench, figures, weft_notes = discover_weft(args)

    cases = make_cases(args.quick, weft_programs)
    skipped = {}
    for c in cases:
        keep = []
        wanted = [s.name for s in c.systems if not only or only.search(f"{c.id}/{s.name}")]
        if wanted and c.baseline and c.baseline not in wanted:
            wanted.append(c.baseline)  # a ratio needs its baseline
        for s in c.systems:
            if s.name not in wanted:
                continue
            if args.no_peers and not s.name.startswith("weft") and s.name != c.baseline:
                continue
            why = None
            for need in s.needs:
                if need.startswith("//"):
                    if need not in weft_programs:
                        why = f"{need} not built" if args.no_weft else f"{need} does not exist yet"
                elif built.get(need, "not built"):
                    why = built.get(need) or "not built"
            if why:
                skipped[(c.id, s.name)] = why
            keep.append(s)
        c.systems = keep
    cases = [c for c in cases if c.systems]
    if only:
        gbench = [g for g in gbench if only.search(g[0])]
        figures = [f for f in figures if only.search(f[0])]

    stamp = started.strftime("%Y-%m-%d") + ("-quick" if args.quick else "")
    outdir = args.out or os.path.join(RESULTS, stamp)
    rawdir = os.path.join(outdir, "raw")
    os.makedirs(rawdir, exist_ok=True)
    jsonl = open(os.path.join(outdir, "runs.jsonl"), "w")
    timeout = 120 if args.quick else 600
    quiet_wait = args.quiet_wait if args.quiet_wait is not None else (0.2 if args.quick else 2)
    rerun_budget = 0.0 if args.quick else args.rerun_budget  # seconds of reruns allowed in all

    runnable = [(c, s) for c in cases for s in c.systems if (c.id, s.name) not in skipped]
    say(f"== running {len(runnable)} case/system pairs + {len(gbench)} Google Benchmark and {len(figures)} "
        f"figure binaries, {args.reps} reps, round-robin")
    records, extra = [], []
    for rep in range(1, args.reps + 1):
        for c, s in runnable:
            wait_quiet(quiet_wait)
            rec = run_once(c, s, rep, rawdir, timeout)
            if (rec.get("other_cpu_s", 0) > 0.2 + 0.1 * rec.get("wall_s", 0) and "error" not in rec
                    and rerun_budget > rec.get("wall_s", 0)):
                say(f"   ({c.id}/{s.name}: other processes used {rec['other_cpu_s']} s CPU; rerun)")
                wait_quiet(quiet_wait * 3)
                t_rerun = time.time()
                rec = run_once(c, s, rep, rawdir, timeout)
                rec["retried"] = True
                rerun_budget -= time.time() - t_rerun
            records.append(rec)
            jsonl.write(json.dumps(rec) + "\n")
            jsonl.flush()
            fig = rec.get("figure")
            say(f"r{rep} {c.id:22s} {s.name:18s} {'FAIL ' + rec['error'] if 'error' in rec else fmt(fig) + ' ' + c.unit:28s}"
                f" wall={rec.get('wall_s', 0):.2f}s cpu={rec.get('cpu_s', 0):.2f}s "
                f"rss={rec.get('rss_kib', 0) / 1024:.0f}MiB"
                + (f" pause={rec['pause_ms']:.1f}ms" if rec.get("pause_ms") is not None else "")
                + (f" other={rec.get('other_cpu_s')}s" if rec.get("other_cpu_s") else ""))
        for label, path in gbench:
            wait_quiet(quiet_wait)
            rows = run_gbench(label, path, rep, rawdir, timeout * 2, args.quick)
            extra += rows
            for r in rows:
                jsonl.write(json.dumps(r) + "\n")
            say(f"r{rep} gbench {label}: {len(rows)} benchmarks")
        for label, path in figures:
            wait_quiet(quiet_wait)
            rows = run_figures(label, path, rep, rawdir, timeout * 2, args.quick)
            extra += rows
            for r in rows:
                jsonl.write(json.dumps(r) + "\n")
            say(f"r{rep} figures {label}: {len(rows)} figures")
    jsonl.close()

    meta = {"meta": True, "command": "tools/bench/run.py " + " ".join(sys.argv[1:]), "reps": args.reps,
            "quick": args.quick, "started": started.strftime("%Y-%m-%d %H:%M"),
            "elapsed_min": round((time.time() - t_start) / 60, 1), "weft_notes": weft_notes,
            "skipped": [[k[0], k[1], v] for k, v in skipped.items()]}
    with open(os.path.join(outdir, "runs.jsonl"), "a") as f:
        f.write(json.dumps(meta) + "\n")
    return write_report(cases, records, extra, skipped, meta, outdir)


def write_report(cases, records, extra, skipped, meta, outdir):
    matched = match_extra(cases, extra)
    rows = summarize(cases, records, skipped, matched) + summarize_extra(extra, meta["weft_notes"], matched)
    header = [
        f"# Weft benchmarks, {meta['started']} {time.strftime('%Z')}",
        "",
        f"- command: `{meta['command'].strip()}` ({meta['reps']} reps, round-robin; took {meta['elapsed_min']} min)",
        f"- machine: {machine()}",
        f"- toolchains: {toolchains()}",
        "- median and range are over the reps of the case's figure; wall, CPU (user+sys) and peak RSS "
        "are medians from /usr/bin/time -v; max pause is the longest over the reps, as the runtime reports it. "
        "`x baseline` divides the median figure by the baseline's; `x CPU` does the same with CPU time "
        "(process cases only), which moves less when other processes share the machine.",
        "- `(*k)`: in k of the reps other processes used more than 0.2 s + 10% of the run's wall time in CPU "
        "(measured from /proc/stat); a full run reruns such a run once while its rerun budget lasts.",
    ]
    timed = [r for r in records if r.get("wall_s")]
    if timed:
        other = sum(r.get("other_cpu_s", 0) for r in timed) / sum(r["wall_s"] for r in timed)
        mine = sum(r.get("cpu_s", 0) for r in timed) / sum(r["wall_s"] for r in timed)
        header.append(f"- load: while the process cases ran, other processes kept {other:.2f} of the machine's "
                      f"{os.cpu_count()} CPUs busy on average and the benchmarks themselves {mine:.2f} "
                      "(from /proc/stat and time -v).")
    for c in cases:
        if c.note:
            header.append(f"- {c.title}: {c.note}")
    md = header + [""] + table_lines(rows) + [""]
    if meta["weft_notes"]:
        md += ["Weft targets:", ""] + [f"- {n}" for n in meta["weft_notes"]] + [""]
    with open(os.path.join(outdir, "table.md"), "w") as f:
        f.write("\n".join(md))
    svg = chart_svg(rows, f"Weft benchmarks {meta['started'][:10]}" + (" (quick)" if meta["quick"] else ""))
    if svg:
        with open(os.path.join(outdir, "chart.svg"), "w") as f:
            f.write(svg)
    say("")
    say("\n".join(md))
    say(f"wrote {os.path.relpath(os.path.join(outdir, 'table.md'), ROOT)}"
        + (f" and {os.path.relpath(os.path.join(outdir, 'chart.svg'), ROOT)}" if svg else ""))
    failed = [r for r in rows if "fail" in r]
    return 1 if failed else 0


def report_only(outdir, quick_flag, command=None):
    """Rebuilds table.md and chart.svg from an earlier run's runs.jsonl."""
    lines = [json.loads(l) for l in open(os.path.join(outdir, "runs.jsonl")) if l.strip()]
    metas = [l for l in lines if l.get("meta")]
    records = [l for l in lines if "case" in l]
    extra = [l for l in lines if "label" in l]
    quick = (quick_flag or outdir.rstrip("/").endswith("-quick")
             or any(r["case"] == "binary-trees" and r["cmd"].endswith(" 16") for r in records))
    end = os.path.getmtime(os.path.join(outdir, "runs.jsonl"))
    rawdir = os.path.join(outdir, "raw")
    raw = [os.path.getmtime(os.path.join(rawdir, f)) for f in os.listdir(rawdir)] if os.path.isdir(rawdir) else []
    begin = min(raw) if raw else end
    meta = metas[-1] if metas else {
        "command": command or "(regenerated with --report; command not recorded)", "quick": quick,
        "reps": max([r["rep"] for r in records] or [0]), "weft_notes": [], "skipped": [],
        "elapsed_min": round((end - begin) / 60, 1) if raw else "?",
        "started": datetime.datetime.fromtimestamp(begin).strftime("%Y-%m-%d %H:%M")}
    cases = make_cases(meta["quick"], {})
    skipped = {(a, b): why for a, b, why in meta["skipped"]}
    ran = {(r["case"], r["system"]) for r in records}
    for c in cases:
        keep = []
        for s in c.systems:
            if (c.id, s.name) in ran or (c.id, s.name) in skipped:
                keep.append(s)
            elif s.name.startswith("weft") and not metas:
                skipped[(c.id, s.name)] = "not in this run"
                keep.append(s)
        c.systems = keep
    cases = [c for c in cases if c.systems]
    return write_report(cases, records, extra, skipped, meta, outdir)


if __name__ == "__main__":
    sys.exit(main())
