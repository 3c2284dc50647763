// green_threads: Weft's process-level green-thread benchmark, through the public API
// only (runtime/weft.h). It is run.py's registered program for the switching cases
// and does per mode what the peers do (tools/bench/peers/cpp/fiber_threads.cpp,
// context_threads.cpp, go/threads), so each row of the side-by-side table is one
// process under /usr/bin/time -v like its peers' (tools/bench/README.md, "Contract").
//
//   green_threads MODE N
//     yield N      1 worker: two green threads each Yield N times     -> ns per yield
//     pingpong N   1 worker: N round trips of a fixnum over two unbuffered channels
//                  between main and an echo thread                    -> ns per round trip
//     spawnjoin N  1 worker: N times, spawn a thread that adds its index to a sum,
//                  join it                                            -> ns per thread
//     alive N      1 worker: N threads that all block on one channel  -> ms until all
//                  have run and blocked, resident bytes per blocked thread
//     xwake N      2 workers: N ping-pong round trips whose every hand-off wakes the
//                  other thread on the other worker                   -> ns per wake
//     idle S       2 workers, every green thread blocked, S seconds   -> % of a CPU
//
// Output: `RESULT <name> <value> <unit>` lines, then `checksum: X`, computed from the
// work itself (yields counted, values echoed, indices added, threads that started,
// blocked threads woken), which run.py compares with what it expects, so a run that
// skipped work shows FAILED rather than a figure.
//
// threads_bench (same package) measures the same figures in-process on the internal
// scheduler, with its own repetitions; this program is one measurement per process
// and the peers' numbers of iterations, so the rows compare like with like.
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/weft.h"
#include "tools/bench/peers/cpp/figures.h"

namespace {

struct Figure {
  std::string name;
  double value;
  std::string unit;
};

// Outcome: what a mode measured. Printed by main after Run returns, so nothing is
// written from a worker thread.
struct Outcome {
  std::vector<Figure> figures;
  std::vector<Figure> notes;  // extra `key: number` lines, recorded and not compared
  int64_t checksum = 0;
};

// Fail ends the process at once: it may be called on a worker, where returning
// through the runtime would report the failure as a figure-less success.
[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "green_threads: %s\n", what);
  std::fflush(stdout);
  std::_Exit(1);
}

Outcome YieldMode(long n) {
  weft::Scope scope("yield");
  std::atomic<int64_t> yields{0};
  auto body = [&yields, n] {
    int64_t mine = 0;
    for (long i = 0; i < n; ++i) {
      weft::Yield();
      ++mine;
    }
    yields.fetch_add(mine, std::memory_order_relaxed);
    return weft::Local::Nil();
  };
  // As the peers: the time includes starting the two threads (once, not per yield).
  const double t0 = weft_peer::now_ns();
  weft::Thread a = weft::Spawn(body, {.name = "yield-a"});
  weft::Thread b = weft::Spawn(body, {.name = "yield-b"});
  a.Join();
  b.Join();
  const double t1 = weft_peer::now_ns();
  Outcome out;
  out.figures.push_back({"yield", (t1 - t0) / (2.0 * double(n)), "ns/yield"});
  out.checksum = yields.load();
  return out;
}

Outcome PingPongMode(long n) {
  weft::Scope scope("pingpong");
  weft::Channel ping = weft::Channel::Make(), pong = weft::Channel::Make();
  weft::Thread echo = weft::Spawn(
      [ping, pong]() mutable {
        weft::Scope s("echo");
        for (;;) {
          weft::Scope message(s, "message");
          std::optional<weft::Local> v = ping.Recv();
          if (!v) return s.Escape(s.Nil());  // a Local of s would end with it
          pong.Send(*v);
        }
      },
      {.name = "echo"});
  int64_t echoed = 0;
  const double t0 = weft_peer::now_ns();
  for (long i = 0; i < n; ++i) {
    weft::Scope round(scope, "round");  // the round's two slots go with it
    ping.Send(round.Fixnum(i));
    std::optional<weft::Local> v = pong.Recv();
    if (!v) Fail("pingpong: pong closed");
    echoed += weft::FixnumValue(*v);
  }
  const double t1 = weft_peer::now_ns();
  ping.Close();
  echo.Join();
  Outcome out;
  out.figures.push_back({"pingpong", (t1 - t0) / double(n), "ns/roundtrip"});
  out.checksum = echoed;
  return out;
}

Outcome SpawnJoinMode(long n) {
  weft::Scope scope("spawnjoin");
  // One worker: the threads run one at a time, so a plain sum is race-free (the
  // peers do the same with one OS thread).
  int64_t sum = 0;
  const double t0 = weft_peer::now_ns();
  for (long i = 0; i < n; ++i) {
    weft::Scope iteration(scope, "spawn");  // Join's result Local goes with it
    weft::Thread t = weft::Spawn([&sum, i] {
      sum += i;
      return weft::Local::Nil();
    });
    t.Join();
  }
  const double t1 = weft_peer::now_ns();
  Outcome out;
  out.figures.push_back({"spawn_join", (t1 - t0) / double(n), "ns/thread"});
  out.checksum = sum;
  return out;
}

Outcome AliveMode(long n) {
  weft::Scope scope("alive");
  weft::Channel release = weft::Channel::Make();
  weft::WaitGroup done;
  done.Add(n);
  std::atomic<int64_t> started{0};
  const long rss0 = weft_peer::resident_kib();
  const double t0 = weft_peer::now_ns();
  for (long i = 0; i < n; ++i) {
    // Detached, as threads_bench's: the WaitGroup waits for them, and main keeps no
    // handle per thread (the peers keep one only where their API requires it).
    weft::Spawn([release, done, &started]() mutable {
      started.fetch_add(1, std::memory_order_relaxed);
      release.Recv();  // blocks until main closes the channel
      done.Done();
      return weft::Local::Nil();
    }).Detach();
  }
  // All alive: every thread has run up to its Recv. On one worker the last thread to
  // count itself has parked before main runs again; the extra Yield is for the case
  // where it has not (as threads_bench).
  while (started.load(std::memory_order_relaxed) < n) weft::Yield();
  weft::Yield();
  const double t1 = weft_peer::now_ns();
  const long rss1 = weft_peer::resident_kib();
  release.Close();
  done.Wait();
  Outcome out;
  out.figures.push_back({"spawn_all_alive", (t1 - t0) / 1e6, "ms"});
  out.figures.push_back(
      {"blocked_thread_bytes", double(rss1 - rss0) * 1024.0 / double(n), "B/thread"});
  out.checksum = started.load();
  return out;
}

// Cross-worker wake. Weft readies a woken thread into the waker's own run-next slot
// (threads/DESIGN.md section 3), so a plain ping-pong on 2 workers stays on one worker
// and measures no cross-worker wake at all, and the public API has no pinning. So
// after every channel operation each side spins, without switching, until the other
// side has finished the same operation: the thread it may have just woken cannot run
// on the spinning worker and is run by the other one (stolen from the run-next slot
// once it looks stuck, or after the waker woke that parked worker). Every hand-off but
// the first is then a wake of a thread on the other worker, as with the peers' two OS
// threads (Boost.Fiber) or LockOSThread goroutines (Go); the figure is the time from
// the hand-off to the woken thread running there, and half a round trip.
//
// The spin gives its CPU back to the host (sched_yield) once it has lasted
// kPoliteAfterNs: on an idle machine the other worker takes the thread within a few
// microseconds and this never happens, but when other processes keep every CPU busy
// the other worker's OS thread may be waiting for this very CPU, which a tight spin
// would hold for a whole host time slice (the peers' wakers block in the kernel and
// leave the CPU anyway). If the other worker has still not taken the woken thread
// after kSpinLimitNs (it may have parked and been missed by the wake hint), the side
// yields to Weft so its own worker runs it: that hand-off was not cross-worker, and
// the count is printed as `same-worker-handoffs`.
constexpr double kPoliteAfterNs = 20e3;
constexpr double kSpinLimitNs = 100e6;

struct alignas(64) Progress {
  std::atomic<int64_t> ops{0};
};

class Handoffs {
 public:
  // Settle: this side finished operation k; wait until the other side has too.
  void Settle(Progress& mine, const Progress& theirs, int64_t k) {
    mine.ops.store(k, std::memory_order_release);
    int spins = 0;
    double start = 0;
    while (theirs.ops.load(std::memory_order_acquire) < k) {
      if (++spins % 64 != 0) continue;
      const double now = weft_peer::now_ns();
      if (start == 0) {
        start = now;
      } else if (now - start > kSpinLimitNs) {
        same_worker_.fetch_add(1, std::memory_order_relaxed);
        weft::Yield();
        start = 0;
      } else if (now - start > kPoliteAfterNs) {
        sched_yield();
      }
    }
  }
  int64_t same_worker() const { return same_worker_.load(); }

 private:
  std::atomic<int64_t> same_worker_{0};
};

Outcome XWakeMode(long n) {
  weft::Scope scope("xwake");
  weft::Channel ping = weft::Channel::Make(), pong = weft::Channel::Make();
  Progress main_ops, echo_ops;
  Handoffs handoffs;
  weft::Thread echo = weft::Spawn(
      [ping, pong, &main_ops, &echo_ops, &handoffs]() mutable {
        weft::Scope s("echo");
        for (int64_t k = 0;;) {
          weft::Scope message(s, "message");
          std::optional<weft::Local> v = ping.Recv();
          if (!v) return s.Escape(message.Nil());  // a slot of s, not of message
          handoffs.Settle(echo_ops, main_ops, ++k);
          pong.Send(*v);
          handoffs.Settle(echo_ops, main_ops, ++k);
        }
      },
      {.name = "echo"});
  int64_t echoed = 0;
  int64_t k = 0;
  const double t0 = weft_peer::now_ns();
  for (long i = 0; i < n; ++i) {
    weft::Scope round(scope, "round");
    ping.Send(round.Fixnum(i));
    handoffs.Settle(main_ops, echo_ops, ++k);
    std::optional<weft::Local> v = pong.Recv();
    if (!v) Fail("xwake: pong closed");
    handoffs.Settle(main_ops, echo_ops, ++k);
    echoed += weft::FixnumValue(*v);
  }
  const double t1 = weft_peer::now_ns();
  ping.Close();
  echo.Join();
  Outcome out;
  out.figures.push_back({"cross_worker_wake", (t1 - t0) / (2.0 * double(n)), "ns/wake"});
  out.notes.push_back({"same-worker-handoffs", double(handoffs.same_worker()), ""});
  out.checksum = echoed;
  return out;
}

Outcome IdleMode(long seconds) {
  weft::Scope scope("idle");
  // Two threads blocked on a channel nobody sends on, and main asleep: every green
  // thread is blocked, as in the peers (one blocked fiber per OS thread; GOMAXPROCS
  // goroutines blocked on a channel while main sleeps).
  weft::Channel stop = weft::Channel::Make();
  std::atomic<int> woken{0};
  auto blocked = [stop, &woken]() mutable {
    if (!stop.Recv()) woken.fetch_add(1);  // nullopt: woken by the Close
    return weft::Local::Nil();
  };
  weft::Thread a = weft::Spawn(blocked, {.name = "blocked-a"});
  weft::Thread b = weft::Spawn(blocked, {.name = "blocked-b"});
  weft::SleepFor(absl::Milliseconds(100));  // as the peers: let the workers settle
  const double c0 = weft_peer::cpu_seconds(), t0 = weft_peer::now_ns();
  weft::SleepFor(absl::Seconds(seconds));
  const double c1 = weft_peer::cpu_seconds(), t1 = weft_peer::now_ns();
  stop.Close();
  a.Join();
  b.Join();
  Outcome out;
  out.figures.push_back({"idle_cpu", 100.0 * (c1 - c0) / ((t1 - t0) * 1e-9), "%"});
  out.checksum = woken.load() == 2 ? 1 : 0;
  return out;
}

struct Mode {
  const char* name;
  int workers;
  Outcome (*run)(long);
};

constexpr Mode kModes[] = {
    {"yield", 1, YieldMode},        {"pingpong", 1, PingPongMode}, {"spawnjoin", 1, SpawnJoinMode},
    {"alive", 1, AliveMode},        {"xwake", 2, XWakeMode},       {"idle", 2, IdleMode},
};

int Usage() {
  std::fprintf(stderr, "usage: green_threads yield|pingpong|spawnjoin|alive|xwake|idle N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const Mode* mode = nullptr;
  for (const Mode& m : kModes) {
    if (std::strcmp(argv[1], m.name) == 0) mode = &m;
  }
  const long n = std::atol(argv[2]);
  if (mode == nullptr || n <= 0) return Usage();

  weft::Options options;
  options.workers = mode->workers;
  absl::StatusOr<std::unique_ptr<weft::Runtime>> runtime = weft::Runtime::Create(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "green_threads: %s\n", runtime.status().ToString().c_str());
    return 1;
  }
  Outcome out;
  absl::StatusOr<int> code = (*runtime)->Run([&] {
    out = mode->run(n);
    return 0;
  });
  if (!code.ok()) {
    std::fprintf(stderr, "green_threads: %s\n", code.status().ToString().c_str());
    return 1;
  }
  for (const Figure& f : out.figures) weft_peer::result(f.name.c_str(), f.value, f.unit.c_str());
  for (const Figure& f : out.notes) std::printf("%s: %.0f\n", f.name.c_str(), f.value);
  std::printf("checksum: %lld\n", static_cast<long long>(out.checksum));
  return *code;
}
