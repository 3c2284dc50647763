// Bare Boost.Context (boost::context::fiber, no scheduler), Weft peer: the floor for
// the switching cases. Usage: context_threads MODE N
//   yield N      main and one fiber resume each other, 2N switches  -> ns per switch
//   pingpong N   main hands a value to a fiber that hands it back   -> ns per round trip
//   spawnjoin N  N times: create a fiber (default stack), run it to its end
//                                                                    -> ns per fiber
//   alive N      create N fibers and run each to a suspension point -> ms until all
//                are alive, resident bytes per suspended fiber
//   xwake N      (no fibers) two OS threads ping-pong through C++20 binary
//                semaphores (futex): the kernel's cost of a cross-thread wake
//                                                                    -> ns per wake
#include <boost/context/fiber.hpp>

#include <semaphore>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "figures.h"

namespace ctx = boost::context;
using weft_peer::now_ns;

namespace {

long long yield_mode(long n) {
  long long switches = 0;
  ctx::fiber other{[&](ctx::fiber&& back) {
    for (;;) {
      ++switches;
      back = std::move(back).resume();
    }
    return std::move(back);
  }};
  other = std::move(other).resume();  // warm up: first entry
  switches = 0;
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    other = std::move(other).resume();
    ++switches;
  }
  const double t1 = now_ns();
  weft_peer::result("yield", (t1 - t0) / (2.0 * double(n)), "ns/switch");
  return switches;  // other is unwound when it goes out of scope
}

long long pingpong_mode(long n) {
  long box = 0;
  long long echoed = 0;
  ctx::fiber peer{[&](ctx::fiber&& back) {
    for (;;) {
      long v = box;   // "receive"
      box = v;        // "send" it back
      back = std::move(back).resume();
    }
    return std::move(back);
  }};
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    box = i;
    peer = std::move(peer).resume();
    echoed += box;
  }
  const double t1 = now_ns();
  weft_peer::result("pingpong", (t1 - t0) / double(n), "ns/roundtrip");
  return echoed;
}

long long spawnjoin_mode(long n) {
  long long sum = 0;
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    ctx::fiber f{[&sum, i](ctx::fiber&& back) {
      sum += i;
      return std::move(back);
    }};
    f = std::move(f).resume();  // runs to its end: "joined"
  }
  const double t1 = now_ns();
  weft_peer::result("spawn_join", (t1 - t0) / double(n), "ns/thread");
  return sum;
}

long long alive_mode(long n) {
  long long started = 0;
  std::vector<ctx::fiber> all;
  all.reserve(n);
  const long rss0 = weft_peer::resident_kib();
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    all.emplace_back([&started](ctx::fiber&& back) {
      ++started;
      back = std::move(back).resume();  // "blocked" until resumed again
      return std::move(back);
    });
    all.back() = std::move(all.back()).resume();
  }
  const double t1 = now_ns();
  const long rss1 = weft_peer::resident_kib();
  weft_peer::result("spawn_all_alive", (t1 - t0) / 1e6, "ms");
  weft_peer::result("blocked_thread_bytes", double(rss1 - rss0) * 1024.0 / double(n), "B/thread");
  for (ctx::fiber& f : all) f = std::move(f).resume();
  return started;
}

long long xwake_mode(long n) {
  std::binary_semaphore to_peer{0}, to_main{0};
  long box = 0;
  long long echoed = 0;
  std::thread peer([&] {
    for (long i = 0; i < n; ++i) {
      to_peer.acquire();
      to_main.release();
    }
  });
  const double t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    box = i;
    to_peer.release();
    to_main.acquire();
    echoed += box;
  }
  const double t1 = now_ns();
  peer.join();
  weft_peer::result("cross_worker_wake", (t1 - t0) / (2.0 * double(n)), "ns/wake");
  return echoed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return weft_peer::usage(argv[0], "yield|pingpong|spawnjoin|alive|xwake");
  const std::string mode = argv[1];
  const long n = std::atol(argv[2]);
  if (mode == "yield") return weft_peer::finish(yield_mode(n));
  if (mode == "pingpong") return weft_peer::finish(pingpong_mode(n));
  if (mode == "spawnjoin") return weft_peer::finish(spawnjoin_mode(n));
  if (mode == "alive") return weft_peer::finish(alive_mode(n));
  if (mode == "xwake") return weft_peer::finish(xwake_mode(n));
  return weft_peer::usage(argv[0], "yield|pingpong|spawnjoin|alive|xwake");
}
