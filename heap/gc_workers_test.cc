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

}  // namespace
}  // namespace weft::heap
