// Boost.Fiber (round_robin scheduler, default 128 KiB stacks), Weft peer.
// Usage: fiber_threads MODE N
//   yield N      two fibers each call this_fiber::yield N times    -> ns per yield
//   pingpong N   unbuffered_channel ping-pong between two fibers    -> ns per round trip
//   spawnjoin N  N times: launch a fiber, join it                   -> ns per fiber
//   alive N      N fibers that all block on a fiber condition_variable
//                -> ms until all are alive, resident bytes per blocked fiber
//   xwake N      unbuffered_channel ping-pong between fibers on two OS threads
//                -> ns per wake (half a round trip)
//   idle S       two OS threads, each with a scheduler whose only fiber is blocked,
//                for S seconds -> CPU % of the process
#include <boost/fiber/all.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "figures.h"

namespace bf = boost::fibers;
using weft_peer::now_ns;

namespace {

long long yield_mode(long n) {
  std::atomic<long long> yields{0};
  auto body = [&] {
    long long mine = 0;
    for (long i = 0; i < n; ++i) {
      boost::this_fiber::yield();
      ++mine;
    }
    yields += mine;
  };
  const double t0 = now_ns();
  bf::fiber a(body), b(body);
  a.join();
  b.join();
  const double t1 = now_ns();
  weft_peer::result("yield", (t1 - t0) / (2.0 * double(n)), "ns/yield");
  return yields;
}

long long chan_pingpong(long n) {
  bf::unbuffered_channel<long> ping, pong;
  long long echoed = 0;
  bf::fiber echo([&] {
    long v;
    while (ping.pop(v) == bf::channel_op_status::success) pong.push(v);
  });
  bf::fiber driver([&] {
    for (long i = 0; i < n; ++i) {
      ping.push(i);
      long v;
      pong.pop(v);
      echoed += v;
    }
    ping.close();
  });
  driver.join();
  echo.join();
  return echoed;
}

long long pingpong_mode(long n) {
  const double t0 = now_ns();
  long long echoed = chan_pingpong(n);
  const double t1 = now_ns();
  weft_peer::result("pingpong", (t1 - t0) / double(n), "ns/roundtrip");
  return echoed;
}

long long spawnjoin_mode(long n) {
  long long sum = 0;
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) bf::fiber([&sum, i] { sum += i; }).join();
  const double t1 = now_ns();
  weft_peer::result("spawn_join", (t1 - t0) / double(n), "ns/thread");
  return sum;
}

long long alive_mode(long n) {
  bf::mutex m;
  bf::condition_variable cv;
  bool release = false;
  long long started = 0;
  std::vector<bf::fiber> all;
  all.reserve(n);
  const long rss0 = weft_peer::resident_kib();
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    all.emplace_back([&] {
      std::unique_lock<bf::mutex> lk(m);
      ++started;
      cv.wait(lk, [&] { return release; });
    });
  }
  while (started < n) boost::this_fiber::yield();  // every fiber has run and blocked
  const double t1 = now_ns();
  const long rss1 = weft_peer::resident_kib();
  weft_peer::result("spawn_all_alive", (t1 - t0) / 1e6, "ms");
  weft_peer::result("blocked_thread_bytes", double(rss1 - rss0) * 1024.0 / double(n), "B/thread");
  {
    std::unique_lock<bf::mutex> lk(m);
    release = true;
  }
  cv.notify_all();
  for (bf::fiber& f : all) f.join();
  return started;
}

long long xwake_mode(long n) {
  bf::unbuffered_channel<long> ping, pong;
  long long echoed = 0;
  std::thread other([&] {
    bf::fiber([&] {
      long v;
      while (ping.pop(v) == bf::channel_op_status::success) pong.push(v);
    }).join();
  });
  const double t0 = now_ns();
  bf::fiber([&] {
    for (long i = 0; i < n; ++i) {
      ping.push(i);
      long v;
      pong.pop(v);
      echoed += v;
    }
  }).join();
  const double t1 = now_ns();
  ping.close();
  other.join();
  weft_peer::result("cross_worker_wake", (t1 - t0) / (2.0 * double(n)), "ns/wake");
  return echoed;
}

long long idle_mode(long seconds) {
  bf::unbuffered_channel<int> stop_a, stop_b;
  auto worker = [](bf::unbuffered_channel<int>& stop) {
    bf::fiber([&] {
      int v;
      stop.pop(v);
    }).join();
  };
  std::thread a(worker, std::ref(stop_a)), b(worker, std::ref(stop_b));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double c0 = weft_peer::cpu_seconds(), t0 = now_ns();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double c1 = weft_peer::cpu_seconds(), t1 = now_ns();
  stop_a.close();
  stop_b.close();
  a.join();
  b.join();
  weft_peer::result("idle_cpu", 100.0 * (c1 - c0) / ((t1 - t0) * 1e-9), "%");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* modes = "yield|pingpong|spawnjoin|alive|xwake|idle";
  if (argc < 3) return weft_peer::usage(argv[0], modes);
  const std::string mode = argv[1];
  const long n = std::atol(argv[2]);
  if (mode == "yield") return weft_peer::finish(yield_mode(n));
  if (mode == "pingpong") return weft_peer::finish(pingpong_mode(n));
  if (mode == "spawnjoin") return weft_peer::finish(spawnjoin_mode(n));
  if (mode == "alive") return weft_peer::finish(alive_mode(n));
  if (mode == "xwake") return weft_peer::finish(xwake_mode(n));
  if (mode == "idle") return weft_peer::finish(idle_mode(n));
  return weft_peer::usage(argv[0], modes);
}
