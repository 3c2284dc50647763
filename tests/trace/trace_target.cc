// trace_target: a small program for trace_test.sh. Run with WEFT_TRACE=FILE, it
// spawns threads, blocks and wakes them on channels, lets the workers park, and
// collects while another worker runs a green thread (so that worker stops at a
// safepoint); the runtime writes FILE when Run returns.
#include <atomic>
#include <cstdio>
#include <vector>

#include "runtime/weft.h"

int main() {
  weft::Options o;
  o.workers = 2;
  o.control_socket = false;
  auto rt = weft::Runtime::Create(o);
  if (!rt.ok()) return 2;
  absl::StatusOr<int> r = (*rt)->Run([] {
    weft::Scope scope("trace-main");
    weft::Channel ping = weft::Channel::Make();
    weft::Channel pong = weft::Channel::Make();
    weft::Thread echo = weft::Spawn(
        [ping, pong]() mutable {
          while (std::optional<weft::Local> v = ping.Recv()) pong.Send(*v);
          return weft::Local::Nil();
        },
        {.name = "echo"});
    for (int i = 0; i < 100; ++i) {
      weft::Scope step("round");
      ping.Send(weft::Fixnum(i));
      pong.Recv();
    }
    ping.Close();
    echo.Join();
    weft::SleepFor(absl::Milliseconds(20));  // every worker parks
    // A busy thread keeps the other worker running so that it stops at a safepoint
    // for each collection. It spins without a switch until main runs again: main's
    // sleep timer can then only be fired by the other worker, so main resumes there.
    // Then it yields every 100 us (a safepoint) until main is done collecting.
    std::atomic<bool> stop{false}, started{false}, main_moved{false};
    weft::Thread busy = weft::Spawn(
        [&] {
          started.store(true);
          while (!main_moved.load()) {
          }
          while (!stop.load()) {
            absl::Time until = absl::Now() + absl::Microseconds(100);
            while (absl::Now() < until) {
            }
            weft::Yield();
          }
          return weft::Local::Nil();
        },
        {.name = "busy"});
    while (!started.load()) weft::SleepFor(absl::Milliseconds(1));
    main_moved.store(true);
    for (int i = 0; i < 20; ++i) weft::Collect(0);
    stop.store(true);
    busy.Join();
    return 0;
  });
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    return 1;
  }
  return *r;
}
