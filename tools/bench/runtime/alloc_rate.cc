// alloc_rate.cc: the allocation-rate test through the public API (runtime/weft.h).
//
//   bazel run //tools/bench/runtime:alloc_rate -- N
//
// As the peers (shared/peers/gc/src/alloc/alloc_malloc.cpp, tools/bench/peers/): N
// (default 100M) small objects, each a pair (i . ()), the last 1000 kept alive in a
// ring of roots. Each object the ring evicts is read first, so the checksum is the
// sum of every value: N(N-1)/2. Prints `allocated N objects, checksum S`, then
// `ns-per-alloc: X` (allocation loop time / N) and the collector's figures as
// `key: number` lines (tools/bench/README.md, "Contract").
//
// The ring is 1000 Locals of one scope (managed stack slots, the analogue of the
// peers' global array of pointers: roots, stored without a write barrier). The loop
// uses the fast handle API ([runtime.handles.fast]): the fixnum goes into a scratch
// Local with SetValue, ConsInto writes the new pair straight into its ring slot after
// CarInto read the evicted one, so an object costs one allocation and no new slot.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "runtime/weft.h"

namespace {

constexpr int kKeep = 1000;

int Main(long n, long* checksum) {
  weft::Scope scope("alloc-rate");
  weft::Local nil = scope.Nil();
  weft::Local value = scope.Nil();
  std::vector<weft::Local> ring;
  ring.reserve(kKeep);
  for (int k = 0; k < kKeep; ++k) ring.push_back(scope.Nil());
  long sum = 0;
  long i = 0;
  while (i < n) {
    for (int k = 0; k < kKeep && i < n; ++k, ++i) {
      weft::Local cell = ring[k];
      if (!cell.IsNil()) {
        weft::CarInto(cell, value);
        sum += weft::FixnumValue(value);
      }
      value.SetValue(weft::FixnumBits(i));
      weft::ConsInto(value, nil, cell);
    }
  }
  for (const weft::Local& cell : ring) {
    if (cell.IsNil()) continue;
    weft::CarInto(cell, value);
    sum += weft::FixnumValue(value);
  }
  *checksum = sum;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000000L;
  if (n < 0) {
    std::fprintf(stderr, "alloc_rate: N must be >= 0, got %ld\n", n);
    return 2;
  }
  weft::Options options;
  options.workers = 1;
  absl::StatusOr<std::unique_ptr<weft::Runtime>> runtime = weft::Runtime::Create(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "alloc_rate: %s\n", runtime.status().ToString().c_str());
    return 1;
  }
  long checksum = 0;
  double loop_ns = 0;
  absl::StatusOr<int> code = (*runtime)->Run([n, &checksum, &loop_ns] {
    const auto t0 = std::chrono::steady_clock::now();
    int r = Main(n, &checksum);
    loop_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                  .count();
    return r;
  });
  if (!code.ok()) {
    std::fprintf(stderr, "alloc_rate: %s\n", code.status().ToString().c_str());
    return 1;
  }
  const weft::Stats stats = (*runtime)->GetStats();
  uint64_t collections = 0;
  for (uint64_t c : stats.collections) collections += c;
  std::printf("allocated %ld objects, checksum %ld\n", n, checksum);
  std::printf("ns-per-alloc: %.3f\n", n > 0 ? loop_ns / static_cast<double>(n) : 0.0);
  std::printf("max-pause-ms: %.3f\n", absl::ToDoubleMilliseconds(stats.max_pause));
  std::printf("total-pause-ms: %.3f\n", absl::ToDoubleMilliseconds(stats.total_pause));
  std::printf("gc-count: %llu\n", static_cast<unsigned long long>(collections));
  return *code;
}
