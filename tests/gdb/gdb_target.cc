// gdb_target: a program for gdb_test.sh. Green thread "gdb-waiter" blocks in
// WaitInGdbTarget on a channel receive; then main calls WeftGdbBreakHere, where the
// test's gdb stops, lists the green threads and unwinds the waiter.
#include <cstdlib>
#include <optional>

#include "runtime/weft.h"

namespace {
volatile bool sink = false;
}  // namespace

extern "C" __attribute__((noinline)) void WeftGdbBreakHere() { asm volatile("" ::: "memory"); }

__attribute__((noinline)) void WaitInGdbTarget(weft::Channel ch) {
  std::optional<weft::Local> v = ch.Recv();
  sink = v.has_value();  // keeps the call from being a tail call
}

int main() {
  weft::Options o;
  o.workers = 2;
  o.control_socket = false;
  auto rt = weft::Runtime::Create(o);
  if (!rt.ok()) return 2;
  absl::StatusOr<int> r = (*rt)->Run([] {
    weft::Scope scope("gdb-main");
    weft::Channel ch = weft::Channel::Make();
    weft::Thread t = weft::Spawn(
        [ch] {
          WaitInGdbTarget(ch);
          return weft::Local::Nil();
        },
        {.name = "gdb-waiter"});
    weft::SleepFor(absl::Milliseconds(50));
    if (std::getenv("GDB_TARGET_ABORT") != nullptr) std::abort();
    WeftGdbBreakHere();
    ch.Send(weft::Fixnum(1));
    t.Join();
    return 0;
  });
  return r.ok() ? *r : 1;
}
