#include "heap/gc_workers.h"

#include <atomic>
#include <vector>

#include <gtest/gtest.h>

namespace weft::heap {
namespace {

TEST(GcWorkersTest, EveryIndexRunsOncePerPhaseAndTheCallerIsIndexZero) {
  GcWorkers workers(4);
  EXPECT_EQ(workers.threads(), 4);
  const std::thread::id caller = std::this_thread::get_id();
  for (int phase = 0; phase < 50; ++phase) {
    std::vector<std::atomic<int>> runs(4);
    std::atomic<bool> zero_on_caller{false};
    workers.Run([&](int i) {
      runs[i].fetch_add(1);
      if (i == 0) zero_on_caller = std::this_thread::get_id() == caller;
    });
    // Run returned: every call has finished.
    for (int i = 0; i < 4; ++i) EXPECT_EQ(runs[i].load(), 1) << "phase " << phase << " index " << i;
    EXPECT_TRUE(zero_on_caller.load());
  }
}

TEST(GcWorkersTest, APhaseWaitsForItsSlowestHelper) {
  GcWorkers workers(3);
  std::atomic<int> finished{0};
  workers.Run([&](int i) {
    if (i == 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    finished.fetch_add(1);
  });
  EXPECT_EQ(finished.load(), 3);
}

TEST(GcWorkersTest, DestroyedBeforeAndAfterItsFirstPhase) {
  { GcWorkers never_ran(2); }  // no helper started: nothing to join
  GcWorkers workers(2);
  int sum = 0;
  std::atomic<int> other{0};
  workers.Run([&](int i) {
    if (i == 0) sum = 1;
    else other = 1;
  });
  EXPECT_EQ(sum + other.load(), 2);
}  // ~GcWorkers stops and joins the parked helper

TEST(GcWorkersTest, HelpersThatFailToStartLeaveTheOthersToRunEveryPhase) {
  GcWorkers::FailThreadStartAfterForTesting(1);  // the first helper starts, no more
  GcWorkers some(4);
  EXPECT_EQ(some.Start(), 2);
  EXPECT_EQ(some.Start(), 2);  // started once: no second attempt
  for (int phase = 0; phase < 10; ++phase) {
    std::vector<std::atomic<int>> runs(4);
    some.Run([&](int i) { runs[i].fetch_add(1); });
    EXPECT_EQ(runs[0].load(), 1);
    EXPECT_EQ(runs[1].load(), 1);
    EXPECT_EQ(runs[2].load() + runs[3].load(), 0) << "phase " << phase;
  }

  GcWorkers::FailThreadStartAfterForTesting(0);  // no helper starts
  GcWorkers none(3);
  const std::thread::id caller = std::this_thread::get_id();
  int calls = 0;
  bool on_caller = false;
  none.Run([&](int i) {
    ++calls;
    on_caller = i == 0 && std::this_thread::get_id() == caller;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(on_caller);
  EXPECT_EQ(none.Start(), 1);

  GcWorkers all(3);  // the injection was used up: every helper starts
  EXPECT_EQ(all.Start(), 3);
}

}  // namespace
}  // namespace weft::heap
