// binary_trees.cc: parallel binary-trees (the Benchmarks Game algorithm) over managed
// pairs, through the public API (runtime/weft.h) only.
//
//   binary_trees [--depth=16] [--workers=0]
//
// As in the parallel Benchmarks Game programs, each depth of the iterated trees is a
// task of its own: one green thread per depth builds and checks its 2^(max-d+min)
// trees, and the runtime spreads the threads over its workers. The main thread builds
// the stretch tree and the long-lived tree, which stays alive (in a Local) through
// every collection of the run. Every check is compared with the node count it must
// have, so the program exits 1 if a tree was damaged.
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "runtime/weft.h"

ABSL_FLAG(int, depth, 16, "maximum tree depth (the Benchmarks Game's N)");
ABSL_FLAG(int, workers, 0, "runtime workers (0: one per core)");

namespace {

constexpr int kMinDepth = 4;

// BottomUp returns a tree of `depth`: a node is (left . right), a leaf (() . ()).
// The handles come from the scope's members (scope.Nil, scope.Cons): a slot bump
// with no thread lookup ([runtime.handles.fast]); a scope per node keeps the code
// plain (tools/bench/runtime/binary_trees.cc shows the register-file style instead).
weft::Local BottomUp(int depth) {
  weft::Scope scope("bottom-up");
  if (depth == 0) return scope.Escape(scope.Cons(scope.Nil(), scope.Nil()));
  weft::Local left = BottomUp(depth - 1);
  weft::Local right = BottomUp(depth - 1);
  return scope.Escape(scope.Cons(left, right));
}

// Check counts the nodes of a tree; the parent's scope opens the child's. It allocates
// nothing, so it polls (weft::Safepoint): with two workers, a collection the other
// tree's builder needs would otherwise wait for this whole walk.
long Check(const weft::Scope& parent, weft::Local tree) {
  weft::Safepoint();
  weft::Scope scope(parent, "check");
  weft::Local left = scope.Car(tree);
  if (left.IsNil()) return 1;
  return 1 + Check(scope, left) + Check(scope, scope.Cdr(tree));
}

long Nodes(int depth) { return (2L << depth) - 1; }

int Main(int max_depth) {
  weft::Scope scope("main");
  const absl::Time start = absl::Now();
  int failures = 0;
  auto expect = [&failures](const char* what, int depth, long got, long want) {
    if (got != want) {
      std::fprintf(stderr, "binary_trees: FAILED: %s of depth %d: check %ld, expected %ld\n",
                   what, depth, got, want);
      ++failures;
    }
  };
  {
    weft::Scope stretch("stretch");
    long check = Check(stretch, BottomUp(max_depth + 1));
    std::printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, check);
    expect("stretch tree", max_depth + 1, check, Nodes(max_depth + 1));
  }
  weft::Local long_lived = BottomUp(max_depth);

  struct Task {
    int depth;
    long iterations;
    weft::Thread thread;
  };
  std::vector<Task> tasks;
  for (int d = kMinDepth; d <= max_depth; d += 2) {
    const long iterations = 1L << (max_depth - d + kMinDepth);
    tasks.push_back({d, iterations, weft::Spawn(
                                        [d, iterations] {
                                          weft::Scope s("depth");
                                          long check = 0;
                                          for (long i = 0; i < iterations; ++i) {
                                            // A scope per tree: BottomUp's result
                                            // slot goes with it.
                                            weft::Scope tree(s, "tree");
                                            check += Check(tree, BottomUp(d));
                                          }
                                          // Escaped: a Local of s would end with s.
                                          return s.Escape(s.Fixnum(check));
                                        },
                                        {.name = "depth"})});
  }
  for (Task& t : tasks) {
    weft::Scope j("join");
    long check = weft::FixnumValue(t.thread.Join());
    std::printf("%ld\t trees of depth %d\t check: %ld\n", t.iterations, t.depth, check);
    expect("trees", t.depth, check, t.iterations * Nodes(t.depth));
  }
  long check = Check(scope, long_lived);
  std::printf("long lived tree of depth %d\t check: %ld\n", max_depth, check);
  expect("long lived tree", max_depth, check, Nodes(max_depth));

  const weft::Stats stats = weft::GetStats();
  std::printf("%.1f ms; collections per generation [%s]; max pause %.3f ms; %llu steals\n",
              absl::ToDoubleMilliseconds(absl::Now() - start),
              absl::StrJoin(stats.collections, ", ").c_str(),
              absl::ToDoubleMilliseconds(stats.max_pause),
              static_cast<unsigned long long>(stats.steals));
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int depth = absl::GetFlag(FLAGS_depth);
  if (depth < kMinDepth + 2 || depth > 24) {
    std::fprintf(stderr, "binary_trees: --depth must be in [%d, 24]\n", kMinDepth + 2);
    return 2;
  }
  weft::Options options;
  options.workers = absl::GetFlag(FLAGS_workers);
  absl::StatusOr<std::unique_ptr<weft::Runtime>> runtime = weft::Runtime::Create(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "binary_trees: %s\n", runtime.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<int> code = (*runtime)->Run([depth] { return Main(depth); });
  if (!code.ok()) {
    std::fprintf(stderr, "binary_trees: FAILED: %s\n", code.status().ToString().c_str());
    return 1;
  }
  return *code;
}
