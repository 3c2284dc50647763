// 1,000,000 green threads blocked on one channel at once (100k under ASan and in the
// checked build, 5k under TSan), then each receives exactly one value. Prints the resident memory per
// blocked thread.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "heap/arena.h"
#include "threads/channel.h"
#include "threads/scheduler.h"
#include "threads/this_thread.h"
#include "threads/wait_group.h"

namespace weft::threads {
namespace {

#if defined(WEFT_TSAN)
constexpr int kThreads = 5000;  // TSan allows 8128 threads, fibers included
#elif defined(WEFT_ASAN) || defined(WEFT_CHECKED)
constexpr int kThreads = 100000;
#else
constexpr int kThreads = 1000000;
#endif

long RssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

class MillionTest : public ::testing::TestWithParam<int> {};

TEST_P(MillionTest, AllBlockedOnChannelsAtOnce) {
  auto arena = heap::Arena::Create({});
  ASSERT_TRUE(arena.ok());
  std::unique_ptr<heap::Arena> owned(*arena);
  SchedulerOptions o;
  o.workers = GetParam();
  o.native_stack_bytes = 32 << 10;
  auto sched = Scheduler::Create(owned.get(), o);
  ASSERT_TRUE(sched.ok());
  std::atomic<int64_t> received{0};
  std::vector<std::atomic<uint8_t>> seen(kThreads);
  absl::Status s = (*sched)->Run([&] {
    Channel<int64_t> ch;
    WaitGroup arrived_wg, done_wg;
    done_wg.Add(kThreads);
    arrived_wg.Add(kThreads);
    long rss0 = RssKiB();
    absl::Time t0 = absl::Now();
    for (int i = 0; i < kThreads; ++i) {
      Spawn([&] {
        arrived_wg.Done();
        auto v = ch.Receive();
        if (v) {
          seen[*v].fetch_add(1);
          received.fetch_add(1);
        }
        done_wg.Done();
        return int64_t{0};
      }).Detach();
    }
    arrived_wg.Wait();
    // Every thread has reached its Receive; let the last ones park, then check.
    int64_t parked = 0;
    for (int tries = 0; tries < 1000 && parked != kThreads; ++tries) {
      this_thread::SleepFor(absl::Milliseconds(1));
      parked = 0;
      (*sched)->ForEachThread([&](const ThreadInfo& info) {
        parked += info.wait_reason == WaitReason::kChannelReceive;
      });
    }
    EXPECT_EQ(parked, kThreads);
    absl::Duration spawn_time = absl::Now() - t0;
    long rss1 = RssKiB();
    std::printf("%d threads blocked at once (workers=%d): spawn+park %.1f ms, "
                "RSS delta %.0f bytes/thread\n",
                kThreads, GetParam(), absl::ToDoubleMilliseconds(spawn_time),
                (rss1 - rss0) * 1024.0 / kThreads);
    for (int i = 0; i < kThreads; ++i) ch.Send(i);
    done_wg.Wait();
    return int64_t{0};
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(received.load(), kThreads);
  for (int i = 0; i < kThreads; ++i) ASSERT_EQ(seen[i].load(), 1) << i;
  sched->reset();
}

INSTANTIATE_TEST_SUITE_P(Workers, MillionTest, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return "workers" + std::to_string(i.param);
                         });

}  // namespace
}  // namespace weft::threads
