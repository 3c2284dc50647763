// Death tests: a native stack overflow ends the process with a message naming the
// green thread and its stack size, with a guard page and beyond the guard budget
// (canary checked at the switch).
#include <gtest/gtest.h>

#include "heap/arena.h"
#include "threads/scheduler.h"
#include "threads/this_thread.h"

namespace weft::threads {
namespace {

// Recurses with a frame the compiler cannot elide.
__attribute__((noinline)) int64_t Recurse(int64_t n) {
  volatile char pad[512];
  pad[0] = static_cast<char>(n);
  if (n == 0) return pad[0];
  return Recurse(n - 1) + pad[0];
}

void RunOverflow(long guard_budget) {
  auto arena = heap::Arena::Create({});
  SchedulerOptions o;
  o.workers = 1;
  o.guard_page_budget = guard_budget;
  auto sched = Scheduler::Create(*arena, o);
  (void)(*sched)->Run([] {
    SpawnOptions so;
    so.name = "deep";
    Thread t = Spawn([] { return Recurse(1 << 20); }, so);
    return t.Join().value;
  });
}

TEST(OverflowDeathTest, GuardPageNamesThread) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(RunOverflow(1 << 20),
               "weft: green thread 'deep' \\(id 2\\) overflowed its native stack of 65536 bytes");
}

TEST(OverflowDeathTest, CanaryBeyondGuardBudget) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  // No guard pages: the recursion runs into the memory below the stack (another
  // arena block) and the canary check at the next switch, or the fault in an
  // unmapped/protected page, reports it. Use a recursion that switches as it goes.
  auto run = [] {
    auto arena = heap::Arena::Create({});
    SchedulerOptions o;
    o.workers = 1;
    o.guard_page_budget = 0;
    auto sched = Scheduler::Create(*arena, o);
    (void)(*sched)->Run([] {
      SpawnOptions so;
      so.name = "canary";
      Thread t = Spawn(
          [] {
            // Step down 4 KiB at a time, yielding at each step, until past the end.
            struct Step {
              static int64_t Go(int depth) {
                volatile char pad[4096];
                pad[0] = 1;
                this_thread::Yield();
                return depth > 100 ? pad[0] : Go(depth + 1) + pad[0];
              }
            };
            return Step::Go(0);
          },
          so);
      return t.Join().value;
    });
  };
  EXPECT_DEATH(run(), "weft: green thread 'canary' \\(id 2\\) overflowed its native stack of 65536 bytes");
}

}  // namespace
}  // namespace weft::threads
