// binary_trees.cc: the Benchmarks Game binary-trees over managed pairs, through the
// public API (runtime/weft.h) only.
//
//   bazel run //tools/bench/runtime:binary_trees -- N [WORKERS]
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

// Handles: every constructor and accessor pushes a slot in the innermost scope, so
// the recursions open a scope only every kScopeLevels levels: a scope then holds at
// most 2^(kScopeLevels+1) slots, and the Scope push/pop cost is paid per 2^kScopeLevels
// nodes instead of per node (a scope per node doubles the run time).
constexpr int kScopeLevels = 4;

weft::Local BottomUp(int depth, weft::Local nil);

// Node returns a tree of `depth` in a new Local of the innermost scope.
weft::Local Node(int depth, weft::Local nil) {
  if (depth == 0) return weft::Cons(nil, nil);
  weft::Local left = BottomUp(depth - 1, nil);
  weft::Local right = BottomUp(depth - 1, nil);
  return weft::Cons(left, right);
}

// BottomUp returns a tree of `depth` in a new Local of the caller's innermost scope.
weft::Local BottomUp(int depth, weft::Local nil) {
  if (depth == 0 || depth % kScopeLevels != 0) return Node(depth, nil);
  weft::Scope scope("bottom-up");
  return scope.Escape(Node(depth, nil));
}

// Check counts the nodes of `tree`, whose root is `level` levels below the top.
// Allocates nothing. Opens a scope every kScopeLevels levels, at inner nodes only.
long Check(weft::Local tree, int level = 0) {
  weft::Local left = weft::Car(tree);
  if (left.IsNil()) return 1;
  if (level % kScopeLevels != 0) {
    return 1 + Check(left, level + 1) + Check(weft::Cdr(tree), level + 1);
  }
  weft::Scope scope("check");
  return 1 + Check(left, level + 1) + Check(weft::Cdr(tree), level + 1);
}

// Iterate builds and checks the trees [begin, end) of one depth; returns their checks.
long Iterate(int depth, long begin, long end) {
  weft::Scope scope("iterate");
  weft::Local nil = weft::Local::Nil();
  long check = 0;
  for (long i = begin; i < end; ++i) {
    weft::Scope tree_scope("tree");
    check += Check(BottomUp(depth, nil));
  }
  return check;
}

int Main(int n, int workers) {
  weft::Scope scope("binary-trees");
  const int min_depth = 4;
  const int max_depth = n > min_depth + 2 ? n : min_depth + 2;
  weft::Local nil = weft::Local::Nil();
  {
    weft::Scope stretch("stretch");
    std::printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1,
                Check(BottomUp(max_depth + 1, nil)));
  }
  weft::Local long_lived = BottomUp(max_depth, nil);
  for (int d = min_depth; d <= max_depth; d += 2) {
    const long iters = 1L << (max_depth - d + min_depth);
    long check = 0;
    if (workers == 1) {
      check = Iterate(d, 0, iters);
    } else {
      weft::Scope join_scope("join");
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
  std::printf("long lived tree of depth %d\t check: %ld\n", max_depth, Check(long_lived));
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
