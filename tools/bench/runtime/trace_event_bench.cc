// trace_event_bench: what one timeline event costs (runtime/DESIGN.md,
// [runtime.trace.event]); the whole-program overhead is tools/bench/trace_overhead.py's.
//
//   bazel-bin/tools/bench/runtime/trace_event_bench [REPS]
//
// Prints `RESULT <name> <ns> ns` lines, each the median over REPS (default 5) loops of
// WEFT_BENCH_ITERS (default 10M) operations, in thread CPU time:
//   trace_event          one recorded event (trace::Instant with tracing on)
//   trace_site_off       a recording site with tracing off
//   trace_tsc_read       the TSC read alone (rdtsc), the event's main cost on a VM
//   trace_sampler_skip   a blocking the sampler does not record (Sampler::Take)
// The trace is written to $TMPDIR (default /tmp) and removed.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "runtime/trace.h"
#include "runtime/trace_sampler.h"

namespace {

constexpr weft::trace::Kind kBenchKind{"bench", "event"};

int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Median over `reps` runs of loop(0, n) of ns per operation.
double Measure(int reps, long n, const std::function<void(long, long)>& loop) {
  std::vector<double> v;
  for (int r = 0; r < reps; ++r) {
    int64_t t0 = ThreadCpuNs();
    loop(0, n);
    v.push_back(double(ThreadCpuNs() - t0) / double(n));
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  const char* iters = std::getenv("WEFT_BENCH_ITERS");
  const long n = iters != nullptr ? std::atol(iters) : 10000000;
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/trace_event_bench." +
                           std::to_string(getpid()) + ".json";
  volatile uint64_t sink = 0;

  double off = Measure(reps, n, [](long b, long e) {
    for (long i = b; i < e; ++i) {
      weft::trace::Instant(kBenchKind, i);
      asm volatile("" ::: "memory");
    }
  });
  double tsc = Measure(reps, n, [&](long b, long e) {
    uint64_t s = 0;
    for (long i = b; i < e; ++i) s += __builtin_ia32_rdtsc();
    sink = s;
  });
  weft::trace::Start(path, weft::trace::kMaxSamplePeriod);
  double on = Measure(reps, n, [](long b, long e) {
    for (long i = b; i < e; ++i) weft::trace::Instant(kBenchKind, i);
  });
  weft::trace::Sampler sampler;
  double skip = Measure(reps, n, [&](long b, long e) {
    uint64_t s = 0;
    for (long i = b; i < e; ++i) {
      if (sampler.Take()) sampler.Recorded(i);
      asm volatile("" ::: "memory");
      ++s;
    }
    sink = s;
  });
  weft::trace::Stop();
  std::remove(path.c_str());
  (void)sink;
  std::printf("trace_event_bench: median of %d loops of %ld operations, thread CPU time\n", reps,
              n);
  std::printf("RESULT trace_event %.2f ns\n", on);
  std::printf("RESULT trace_site_off %.2f ns\n", off);
  std::printf("RESULT trace_tsc_read %.2f ns\n", tsc);
  std::printf("RESULT trace_sampler_skip %.2f ns\n", skip);
  return 0;
}
