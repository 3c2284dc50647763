// binary_trees.cc: the Benchmarks Game binary-trees over managed pairs, through the
// public API (runtime/weft.h) only.
//
//   bazel run //tools/bench/runtime:binary_trees -- N [WORKERS [YOUNG_PAUSE_MS
//       [MAX_NURSERY_MIB [IN_PLACE_PERCENT [GC_THREADS [OLD_GROWTH_PERCENT
//       [NURSERY_MIB [PROMOTION_AGE]]]]]]]]
//
// YOUNG_PAUSE_MS sets weft::Options::young_pause_target (0: no pause cap on the
// nursery's growth), MAX_NURSERY_MIB max_nursery_bytes, IN_PLACE_PERCENT
// promote_in_place_percent (0: always copy the nursery), GC_THREADS gc_threads,
// OLD_GROWTH_PERCENT old_generation_growth_percent, NURSERY_MIB nursery_bytes (the
// nursery's smallest size) and PROMOTION_AGE promotion_age; without them, the
// runtime's defaults.
//
// Prints exactly the text of the peer programs (shared/peers/gc/src/binarytrees/
// bt_arena.cpp and bt_mt.cpp; see tools/bench/README.md, "Contract"), then the
// figures `max-pause-ms`, `total-pause-ms`, `gc-count` (from weft::GetStats) as
// `key: number` lines, which run.py records and does not compare.
//
// A node is a pair (left . right); a leaf is (() . ()). With WORKERS > 1 the
// iterations of each depth are split evenly over WORKERS green threads, as bt_mt.cpp
// splits them over OS threads, on a runtime of WORKERS workers.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "runtime/weft.h"

namespace {

// Handles, the way an embedder writes a hot loop ([runtime.handles.fast]): a tree
// is built and checked with a fixed "register file" of Locals allocated once per
// scope (two per level for the build, one per level for the check), written with
// ConsInto / CarInto / CdrInto, so a node costs one allocation and a few slot stores
// and no handle allocation at all. Every managed reference lives in a slot at every
// allocation, so the collector may move the tree at any ConsInto.
constexpr int kMaxDepth = 40;

// Registers: Locals of the scope that created them; both arrays are indexed by depth.
struct Registers {
  explicit Registers(const weft::Scope& scope) : nil_value(scope.Nil().get()) {
    for (int d = 0; d <= kMaxDepth; ++d) {
      left[d] = scope.Nil();
      right[d] = scope.Nil();
    }
  }
  // Clear drops the subtrees still held after a build, so they can die.
  void Clear(int depth) {
    for (int d = 0; d <= depth; ++d) {
      left[d].SetValue(nil_value);
      right[d].SetValue(nil_value);
    }
  }
  const weft::Value nil_value;  // an immediate: safe to keep in C++
  weft::Local left[kMaxDepth + 1];   // build: the left subtree of a node at depth d
  weft::Local right[kMaxDepth + 1];  // build: its right subtree; check: the child
};

// BottomUp builds a tree of `depth` into `out`. A node is a pair (left . right); a
// leaf is (() . ()).
void BottomUp(int depth, weft::Local out, weft::Local nil, Registers& r) {
  if (depth == 0) {
    weft::ConsInto(nil, nil, out);
    return;
  }
  if (depth == 1) {  // half of the nodes are leaves: build them without a call each
    weft::ConsInto(nil, nil, r.left[1]);
    weft::ConsInto(nil, nil, r.right[1]);
    weft::ConsInto(r.left[1], r.right[1], out);
    return;
  }
  BottomUp(depth - 1, r.left[depth], nil, r);
  BottomUp(depth - 1, r.right[depth], nil, r);
  weft::ConsInto(r.left[depth], r.right[depth], out);
}

// RawCheck counts the nodes of the tree `node` without handles: a read-only walk keeps
// its nodes in C++ variables, as compiled code keeps them in registers
// ([runtime.handles.raw]). Called inside a NoSafepointScope, on subtrees of at most
// kRawHeight levels, so the thread goes at most 2^kRawHeight nodes without polling.
constexpr int kRawHeight = 10;

long RawCheck(weft::Value node) {
  const weft::Value left = weft::raw::Car(node);
  if (weft::raw::IsNil(left)) return 1;
  return 1 + RawCheck(left) + RawCheck(weft::raw::Cdr(node));
}

// Check counts the nodes of `tree` (at `level`; the child goes to r.right[level]).
// Allocates nothing, so it polls (weft::Safepoint) at every node above `raw_level`,
// as a compiler polls at calls and loop back edges: with WORKERS > 1, a collection
// that another green thread's build needs would otherwise wait for this whole walk
// (up to 2^21 nodes). From `raw_level` down, a subtree is one raw stretch (RawCheck).
long Check(weft::Local tree, int level, int raw_level, Registers& r) {
  if (level >= raw_level) {
    weft::NoSafepointScope no_safepoint;
    return RawCheck(tree.get());
  }
  weft::Safepoint();
  weft::Local child = r.right[level];
  weft::CarInto(tree, child);
  if (child.IsNil()) return 1;
  long n = 1 + Check(child, level + 1, raw_level, r);
  weft::CdrInto(tree, child);
  return n + Check(child, level + 1, raw_level, r);
}

// RawLevel: the level from which Check walks a tree of `depth` raw.
int RawLevel(int depth) { return depth > kRawHeight ? depth - kRawHeight : 0; }

// Iterate builds and checks the trees [begin, end) of one depth; returns their checks.
long Iterate(int depth, long begin, long end) {
  weft::Scope scope("iterate");
  weft::Local nil = scope.Nil();
  weft::Local tree = scope.Nil();
  Registers r(scope);
  long check = 0;
  for (long i = begin; i < end; ++i) {
    BottomUp(depth, tree, nil, r);
    r.Clear(depth);
    check += Check(tree, 0, RawLevel(depth), r);
    r.Clear(depth);
    tree.SetValue(r.nil_value);  // the next build must not keep this tree alive
  }
  return check;
}

int Main(int n, int workers) {
  weft::Scope scope("binary-trees");
  const int min_depth = 4;
  const int max_depth = n > min_depth + 2 ? n : min_depth + 2;
  if (max_depth + 1 > kMaxDepth) {
    std::fprintf(stderr, "binary_trees: N must be at most %d\n", kMaxDepth - 1);
    return 2;
  }
  weft::Local nil = scope.Nil();
  {
    weft::Scope stretch(scope, "stretch");
    weft::Local tree = stretch.Nil();
    Registers r(stretch);
    BottomUp(max_depth + 1, tree, nil, r);
    r.Clear(max_depth + 1);
    std::printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, Check(tree, 0, RawLevel(max_depth + 1), r));
  }
  weft::Local long_lived = scope.Nil();
  {
    weft::Scope build(scope, "long-lived");
    Registers r(build);
    BottomUp(max_depth, long_lived, nil, r);
  }
  for (int d = min_depth; d <= max_depth; d += 2) {
    const long iters = 1L << (max_depth - d + min_depth);
    long check = 0;
    if (workers == 1) {
      check = Iterate(d, 0, iters);
    } else {
      weft::Scope join_scope(scope, "join");
      std::vector<weft::Thread> threads;
      for (int t = 0; t < workers; ++t) {
        const long begin = iters * t / workers, end = iters * (t + 1) / workers;
        threads.push_back(weft::Spawn(
            [d, begin, end] { return weft::Fixnum(Iterate(d, begin, end)); },
            {.name = "trees"}));
      }
      for (weft::Thread& t : threads) check += weft::FixnumValue(t.Join());
    }
    std::printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, check);
  }
  {
    weft::Scope last(scope, "long-lived-check");
    Registers r(last);
    std::printf("long lived tree of depth %d\t check: %ld\n", max_depth,
                Check(long_lived, 0, RawLevel(max_depth), r));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10;
  const int workers = argc > 2 ? std::atoi(argv[2]) : 1;
  if (workers < 1 || workers > 256) {
    std::fprintf(stderr, "binary_trees: WORKERS must be in [1, 256], got %d\n", workers);
    return 2;
  }
  weft::Options options;
  options.workers = workers;
  if (argc > 3) options.young_pause_target = absl::Milliseconds(std::atof(argv[3]));
  if (argc > 4) options.max_nursery_bytes = static_cast<size_t>(std::atof(argv[4]) * (1 << 20));
  if (argc > 5) options.promote_in_place_percent = std::atoi(argv[5]);
  if (argc > 6) options.gc_threads = std::atoi(argv[6]);
  if (argc > 7) options.old_generation_growth_percent = std::atoi(argv[7]);
  if (argc > 8) options.nursery_bytes = static_cast<size_t>(std::atof(argv[8]) * (1 << 20));
  if (argc > 9) options.promotion_age = std::atoi(argv[9]);
  absl::StatusOr<std::unique_ptr<weft::Runtime>> runtime = weft::Runtime::Create(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "binary_trees: %s\n", runtime.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<int> code = (*runtime)->Run([n, workers] { return Main(n, workers); });
  if (!code.ok()) {
    std::fprintf(stderr, "binary_trees: %s\n", code.status().ToString().c_str());
    return 1;
  }
  const weft::Stats stats = (*runtime)->GetStats();
  uint64_t collections = 0;
  for (uint64_t c : stats.collections) collections += c;
  std::printf("max-pause-ms: %.3f\n", absl::ToDoubleMilliseconds(stats.max_pause));
  std::printf("total-pause-ms: %.3f\n", absl::ToDoubleMilliseconds(stats.total_pause));
  std::printf("gc-count: %llu\n", static_cast<unsigned long long>(collections));
  return *code;
}
