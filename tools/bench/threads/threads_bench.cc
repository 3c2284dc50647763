// threads_bench: figures for the green-thread runtime (issue 4 goals in brackets).
//
// Each figure is measured `reps` times (argv[1], default 5), each time in a fresh
// Scheduler, and the median and range are printed:
//   yield between two green threads on one worker      [<= 20 ns]
//   unbuffered channel ping-pong round trip            [<= 100 ns]
//   spawn+join, warm (pooled stacks)                   [<= 150 ns]
//   100k threads spawned and all alive (blocked)       [<= 40 ms]
//   resident memory per blocked green thread           [<= 5 KiB]
//   cross-worker wake                                  [<= 2 us]
//   idle CPU over 5 s with 2 workers                   [< 1 %]
// and, only as `threads_bench PAIRS traceoverhead [--cpu]`, the cost of WEFT_TRACE on the
// ping-pong (segments alternating tracing off and on in one process; [runtime.trace]).
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "heap/arena.h"
#include "runtime/trace.h"
#include "threads/channel.h"
#include "threads/scheduler.h"
#include "threads/semaphore.h"
#include "threads/this_thread.h"
#include "threads/wait_group.h"

namespace weft::threads {
namespace {

// The clock for per-operation figures: wall time, or with --cpu the process's CPU
// time (on a shared, overloaded machine wall time counts time spent descheduled;
// every per-operation benchmark here runs on one busy worker, so CPU time is the
// work done).
bool use_cpu_clock = false;

int64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

int64_t NowNs() {
  if (!use_cpu_clock) return WallNs();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Iterations of the per-operation loops: `dflt`, or WEFT_BENCH_ITERS (for callgrind:
// run with two counts and divide the difference in instructions by the difference
// in operations).
int Iters(int dflt) {
  const char* e = std::getenv("WEFT_BENCH_ITERS");
  return e != nullptr ? std::atoi(e) : dflt;
}

long RssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

heap::Arena* TheArena() {
  static heap::Arena* arena = [] {
    heap::ArenaOptions o;
    o.cached_free_bytes = size_t{8} << 30;  // keep freed stacks resident (warm runs)
    return *heap::Arena::Create(o);
  }();
  return arena;
}

// Runs body as main of a fresh scheduler; returns what body returns (a figure).
double InScheduler(int workers, std::function<double()> body, SchedulerOptions o = {},
                   heap::Arena* arena = nullptr) {
  o.workers = workers;
  auto s = Scheduler::Create(arena != nullptr ? arena : TheArena(), o);
  double out = 0;
  absl::Status st = (*s)->Run([&] {
    out = body();
    return int64_t{0};
  });
  if (!st.ok()) {
    std::fprintf(stderr, "run failed: %s\n", std::string(st.message()).c_str());
    std::exit(1);
  }
  return out;
}

double Yield2() {
  return InScheduler(1, [] {
    const int n = Iters(5000000);
    auto body = [&] {
      for (int i = 0; i < n; ++i) this_thread::Yield();
      return int64_t{0};
    };
    Thread a = Spawn(body), b = Spawn(body);
    int64_t t0 = NowNs();
    a.Join();
    b.Join();
    return double(NowNs() - t0) / (2.0 * n);
  });
}

double PingPong(int workers) {
  return InScheduler(workers, [] {
    const int n = Iters(2000000);
    Channel<int64_t> ping, pong;
    Thread t = Spawn([&] {
      for (int i = 0; i < n; ++i) pong.Send(*ping.Receive());
      return int64_t{0};
    });
    int64_t t0 = NowNs();
    for (int i = 0; i < n; ++i) {
      ping.Send(i);
      pong.Receive();
    }
    double r = double(NowNs() - t0) / n;
    t.Join();
    return r;
  });
}

double SpawnJoinWarm() {
  return InScheduler(1, [] {
    const int n = Iters(2000000);
    for (int i = 0; i < 1000; ++i) Spawn([] { return int64_t{0}; }).Join();  // warm the pool
    int64_t t0 = NowNs();
    for (int i = 0; i < n; ++i) Spawn([] { return int64_t{1}; }).Join();
    return double(NowNs() - t0) / n;
  });
}

// Spawns n threads that all block on one channel; returns ms until all are parked,
// and the RSS delta per thread in *bytes_per_thread.
double SpawnAllAlive(int workers, int n, double* bytes_per_thread, int rounds,
                     int pool_global = SchedulerOptions().stack_pool_global) {
  double ms = 0;
  // Cold (rounds == 1): a fresh arena, so every stack is new memory.
  std::unique_ptr<heap::Arena> fresh;
  if (rounds == 1) fresh.reset(*heap::Arena::Create({}));
  InScheduler(workers, [&] {
    for (int round = 0; round < rounds; ++round) {
      Channel<int64_t> ch;
      WaitGroup wg;
      wg.Add(n);
      std::atomic<int> parked{0};
      long rss0 = RssKiB();
      int64_t t0 = NowNs();
      for (int i = 0; i < n; ++i) {
        Spawn([&] {
          parked.fetch_add(1, std::memory_order_relaxed);
          ch.Receive();
          wg.Done();
          return int64_t{0};
        }).Detach();
      }
      // All alive: every thread has run up to its Receive (and is parked there).
      while (parked.load() < n) this_thread::Yield();
      this_thread::Yield();
      ms = double(NowNs() - t0) / 1e6;
      long rss1 = RssKiB();
      if (bytes_per_thread) *bytes_per_thread = (rss1 - rss0) * 1024.0 / n;
      ch.Close();
      wg.Wait();
    }
    return 0.0;
  }, [&] {
    SchedulerOptions o;
    o.stack_pool_global = pool_global;
    return o;
  }(), fresh.get());
  return ms;
}

double CrossWorkerWake(bool let_park) {
  return InScheduler(2, [&] {
    const int n = let_park ? 200 : 5000;
    std::vector<double> samples;
    Semaphore sem(0);
    std::atomic<int64_t> woke_at{0};
    std::atomic<int> woke_worker{-1};
    Thread waiter = Spawn([&] {
      for (int i = 0; i < n; ++i) {
        sem.Acquire();
        woke_at.store(WallNs());
        woke_worker.store(this_thread::WorkerIndex());
      }
      return int64_t{0};
    });
    for (int i = 0; i < n; ++i) {
      if (let_park) this_thread::SleepFor(absl::Milliseconds(2));  // other worker parks
      else this_thread::Yield();
      woke_at.store(0);
      int64_t t0 = WallNs();
      sem.Release();
      // Stay busy on this worker: the waiter must run on the other one.
      while (woke_at.load() == 0) {
      }
      if (woke_worker.load() != this_thread::WorkerIndex()) samples.push_back(woke_at.load() - t0);
    }
    waiter.Join();
    if (samples.empty()) return -1.0;
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
  });
}

double IdleCpu() {
  return InScheduler(2, [] {
    rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    int64_t t0 = WallNs();
    this_thread::SleepFor(absl::Seconds(5));
    getrusage(RUSAGE_SELF, &r1);
    auto cpu = [](const rusage& r) {
      return r.ru_utime.tv_sec * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_sec * 1e6 +
             r.ru_stime.tv_usec;
    };
    double wall_us = (WallNs() - t0) / 1e3;
    return 100.0 * (cpu(r1) - cpu(r0)) / wall_us;
  });
}

// Tracing overhead ([runtime.trace.overhead]): `pairs` pairs of ping-pong segments
// (`n` round trips each, 1 worker, one scheduler), one with tracing off and one with it
// on (WEFT_TRACE_SAMPLE as in the environment; which goes first alternates), so the two
// segments of a pair run within milliseconds of each other on the same OS thread. Prints
// the median ns per round trip off and on and the median of the pairs' ratios.
void TraceOverhead(int pairs) {
  if (std::getenv("WEFT_TRACE") == nullptr) {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/threads_bench_trace." +
                       std::to_string(getpid()) + ".json";
    setenv("WEFT_TRACE", path.c_str(), 1);
  }
  const char* sample = std::getenv("WEFT_TRACE_SAMPLE");
  std::vector<double> off, on, ratio;
  InScheduler(1, [&] {
    const int n = Iters(200000);
    Channel<int64_t> ping, pong;
    Thread t = Spawn([&] {
      while (std::optional<int64_t> v = ping.Receive()) pong.Send(*v);
      return int64_t{0};
    });
    auto segment = [&](bool traced) {
      if (traced) weft::trace::StartFromEnvironment();
      int64_t t0 = NowNs();
      for (int i = 0; i < n; ++i) {
        ping.Send(i);
        pong.Receive();
      }
      double r = double(NowNs() - t0) / n;
      if (traced) weft::trace::Stop();  // writes the file, outside the timed loop
      return r;
    };
    segment(false);  // warm up
    for (int p = 0; p < pairs; ++p) {
      double a, b;
      if (p % 2 == 0) {
        a = segment(false);
        b = segment(true);
      } else {
        b = segment(true);
        a = segment(false);
      }
      off.push_back(a);
      on.push_back(b);
      ratio.push_back(b / a);
    }
    ping.Close();
    t.Join();
    return 0.0;
  });
  std::remove(std::getenv("WEFT_TRACE"));
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("tracing off vs on (WEFT_TRACE_SAMPLE=%s), %zu pairs of ping-pong segments, "
              "1 worker:\n", sample != nullptr ? sample : "auto", ratio.size());
  std::printf("  off %.1f ns, on %.1f ns per round trip (medians); on/off x%.3f (%+.1f %%) "
              "[%.3f - %.3f]\n",
              median(off), median(on), median(ratio), 100.0 * (median(ratio) - 1.0),
              *std::min_element(ratio.begin(), ratio.end()),
              *std::max_element(ratio.begin(), ratio.end()));
  std::fflush(stdout);
}

void Report(const char* name, const char* unit, const char* goal, int reps,
            const std::function<double()>& f) {
  std::vector<double> v;
  for (int i = 0; i < reps; ++i) v.push_back(f());
  std::sort(v.begin(), v.end());
  std::printf("%-58s %10.2f %-6s [%.2f - %.2f]  goal %s\n", name, v[v.size() / 2], unit, v.front(),
              v.back(), goal);
  std::fflush(stdout);
}

}  // namespace
}  // namespace weft::threads

int main(int argc, char** argv) {
  using namespace weft::threads;
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  std::string only = argc > 2 ? argv[2] : "";
  use_cpu_clock = argc > 3 && std::string(argv[3]) == "--cpu";
  auto want = [&](const char* k) { return only.empty() || only.find(k) != std::string::npos; };
  // "traceoverhead" (only when asked for): tracing off vs on in alternating segments.
  if (only == "traceoverhead") {
    TraceOverhead(std::max(reps, 1));
    return 0;
  }
  // WEFT_TRACE=file.json records the scheduler's events (runtime/DESIGN.md, tracing
  // overhead); the runtime does this in Run, this benchmark has no runtime.
  weft::trace::StartFromEnvironment();
  std::printf("threads_bench: median of %d runs [min - max], %s clock\n", reps,
              use_cpu_clock ? "process CPU" : "wall");
  if (want("yield")) Report("yield between two green threads, 1 worker", "ns", "<= 20 ns", reps, Yield2);
  // "pingpong" runs both; "pp1" / "pp2" one of them.
  if (want("pingpong") || want("pp1")) {
    Report("unbuffered channel ping-pong round trip, 1 worker", "ns", "<= 100 ns", reps,
           [] { return PingPong(1); });
  }
  if (want("pingpong") || want("pp2")) {
    Report("unbuffered channel ping-pong round trip, 2 workers", "ns", "<= 100 ns", reps,
           [] { return PingPong(2); });
  }
  if (want("spawn")) Report("spawn+join warm, 1 worker", "ns", "<= 150 ns", reps, SpawnJoinWarm);
  if (want("alive")) {
    double bpt = 0;
    Report("100k threads spawned, all alive (cold: fresh stacks), 1 worker", "ms", "<= 40 ms", reps,
           [&] { return SpawnAllAlive(1, 100000, &bpt, 1); });
    Report("100k threads spawned, all alive (warm: 2nd round), 1 worker", "ms", "<= 40 ms", reps,
           [&] { return SpawnAllAlive(1, 100000, nullptr, 2); });
    Report("100k threads spawned, all alive (warm: 2nd round), 2 workers", "ms", "<= 40 ms", reps,
           [&] { return SpawnAllAlive(2, 100000, nullptr, 2); });
    Report("100k all alive, warm, stack_pool_global=262144, 1 worker", "ms", "<= 40 ms", reps,
           [&] { return SpawnAllAlive(1, 100000, nullptr, 2, 1 << 18); });
    Report("100k all alive, warm, stack_pool_global=262144, 2 workers", "ms", "<= 40 ms", reps,
           [&] { return SpawnAllAlive(2, 100000, nullptr, 2, 1 << 18); });
    Report("resident memory per blocked green thread (100k, cold)", "bytes", "<= 5120 B", reps, [&] {
      double b = 0;
      SpawnAllAlive(1, 100000, &b, 1);
      return b;
    });
  }
  if (want("wake")) {
    Report("cross-worker wake, other worker spinning", "ns", "<= 2000 ns", reps,
           [] { return CrossWorkerWake(false); });
    Report("cross-worker wake, other worker parked", "ns", "<= 2000 ns", reps,
           [] { return CrossWorkerWake(true); });
  }
  if (want("idle")) Report("idle CPU over 5 s, 2 workers", "%", "< 1 %", std::min(reps, 3), IdleCpu);
  if (weft::trace::Enabled()) weft::trace::Stop();
  return 0;
}
