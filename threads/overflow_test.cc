// Death tests: a native stack overflow ends the process with a message naming the
// green thread and its stack size, with each of the three guards: a kernel guard
// region, a PROT_NONE page, and beyond the guard budget a canary checked at the switch.
#include <signal.h>

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "heap/arena.h"
#include "heap/os_memory.h"
#include "threads/overflow.h"
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

// [threads.overflow.altstack]: a worker's alternate signal stack goes, and the one the
// OS thread had before (ASan's, an embedder's) comes back, not SS_DISABLE: ASan
// unmaps what sigaltstack reports at thread exit.
TEST(AltStackTest, RemovingPutsBackThePreviousStack) {
  std::thread t([] {
    std::vector<char> mine(64 << 10);
    stack_t ss{};
    ss.ss_sp = mine.data();
    ss.ss_size = mine.size();
    stack_t before{};
    ASSERT_EQ(sigaltstack(&ss, &before), 0);
    AltStack a = InstallAltStack();
    ASSERT_NE(a.memory, nullptr);
    stack_t now{};
    ASSERT_EQ(sigaltstack(nullptr, &now), 0);
    EXPECT_EQ(now.ss_sp, a.memory);
    EXPECT_EQ(a.previous.ss_sp, mine.data());
    RemoveAltStack(a);
    EXPECT_EQ(a.memory, nullptr);
    ASSERT_EQ(sigaltstack(nullptr, &now), 0);
    EXPECT_EQ(now.ss_sp, mine.data()) << "the thread's own alternate stack was not put back";
    EXPECT_EQ(now.ss_size, mine.size());
    EXPECT_EQ(now.ss_flags & SS_DISABLE, 0);
    ASSERT_EQ(sigaltstack(&before, nullptr), 0);  // the thread's (ASan's) again
  });
  t.join();
  std::thread none([] {
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    stack_t before{};
    ASSERT_EQ(sigaltstack(&off, &before), 0);
    AltStack a = InstallAltStack();
    RemoveAltStack(a);
    stack_t now{};
    ASSERT_EQ(sigaltstack(nullptr, &now), 0);
    EXPECT_NE(now.ss_flags & SS_DISABLE, 0) << "a thread without one is left without one";
    ASSERT_EQ(sigaltstack(&before, nullptr), 0);
  });
  none.join();
}

void RunOverflow(bool guard_regions, long guard_budget) {
  auto arena = heap::Arena::Create({});
  SchedulerOptions o;
  o.workers = 1;
  o.guard_regions = guard_regions;
  o.guard_page_budget = guard_budget;
  auto sched = Scheduler::Create(*arena, o);
  (void)(*sched)->Run([] {
    SpawnOptions so;
    so.name = "deep";
    Thread t = Spawn([] { return Recurse(1 << 20); }, so);
    return t.Join().value;
  });
}

TEST(OverflowDeathTest, GuardRegionNamesThread) {
  if (!heap::OsGuardsSupported()) GTEST_SKIP() << "kernel without MADV_GUARD_INSTALL";
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  // Budget 0: were the region refused, the canary's check would catch this too, but
  // the recursion never switches, so only a guard can.
  EXPECT_DEATH(RunOverflow(true, 0),
               "weft: green thread 'deep' \\(id 2\\) overflowed its native stack of 65536 bytes");
}

TEST(OverflowDeathTest, GuardPageNamesThread) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(RunOverflow(false, 1 << 20),
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
    o.guard_regions = false;
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
