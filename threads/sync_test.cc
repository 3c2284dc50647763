// Tests for Mutex, CondVar, Semaphore and WaitGroup: each blocks the green thread,
// never the worker, and survives seeded contention.
#include <atomic>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "threads/cond_var.h"
#include "threads/mutex.h"
#include "threads/scheduler.h"
#include "threads/semaphore.h"
#include "threads/test_util.h"
#include "threads/this_thread.h"
#include "threads/wait_group.h"

namespace weft::threads {
namespace {

using testing::kScaleDown;
using testing::SchedulerTest;

class SyncTest : public SchedulerTest {};

TEST_P(SyncTest, MutexContentionSeeded) {
  uint64_t seed = testing::Seed();
  Mutex mu;
  int64_t counter = 0;  // guarded by mu; a plain int so TSan checks the mutex
  const int kThreads = 64, kIters = 2000 / kScaleDown;
  ASSERT_TRUE(RunMain([&] {
    std::vector<Thread> ts;
    for (int i = 0; i < kThreads; ++i) {
      ts.push_back(Spawn([&, i] {
        std::mt19937_64 rng(seed + i);
        for (int k = 0; k < kIters; ++k) {
          MutexLock l(&mu);
          int64_t v = counter;
          if (rng() % 8 == 0) this_thread::Yield();  // hold across a switch
          counter = v + 1;
        }
        return int64_t{0};
      }));
    }
    for (auto& t : ts) t.Join();
    return int64_t{0};
  }).ok());
  EXPECT_EQ(counter, int64_t{kThreads} * kIters);
}

TEST_P(SyncTest, BlockedMutexDoesNotBlockWorker) {
  ASSERT_TRUE(RunMain([] {
    Mutex mu;
    mu.Lock();
    std::atomic<bool> got{false};
    Thread waiter = Spawn([&] {
      mu.Lock();
      got.store(true);
      mu.Unlock();
      return int64_t{0};
    });
    // With one worker, this only progresses if the waiter parked.
    for (int i = 0; i < 100; ++i) this_thread::Yield();
    EXPECT_FALSE(got.load());
    EXPECT_FALSE(mu.TryLock());
    mu.Unlock();
    waiter.Join();
    EXPECT_TRUE(got.load());
    return int64_t{0};
  }).ok());
}

TEST_P(SyncTest, CondVarProducerConsumer) {
  ASSERT_TRUE(RunMain([] {
    Mutex mu;
    CondVar cv;
    std::vector<int> queue;
    bool done = false;
    const int kItems = 5000 / kScaleDown;
    int64_t sum = 0;
    std::vector<Thread> consumers;
    for (int c = 0; c < 4; ++c) {
      consumers.push_back(Spawn([&] {
        int64_t local = 0;
        MutexLock l(&mu);
        for (;;) {
          while (queue.empty() && !done) cv.Wait(&mu);
          if (queue.empty()) break;
          local += queue.back();
          queue.pop_back();
        }
        sum += local;
        return int64_t{0};
      }));
    }
    for (int i = 1; i <= kItems; ++i) {
      MutexLock l(&mu);
      queue.push_back(i);
      cv.Signal();
      if (i % 16 == 0) {
        mu.Unlock();
        this_thread::Yield();
        mu.Lock();
      }
    }
    {
      MutexLock l(&mu);
      done = true;
      cv.SignalAll();
    }
    for (auto& t : consumers) t.Join();
    EXPECT_EQ(sum, int64_t{kItems} * (kItems + 1) / 2);
    return int64_t{0};
  }).ok());
}

TEST_P(SyncTest, CondVarTimeout) {
  ASSERT_TRUE(RunMain([] {
    Mutex mu;
    CondVar cv;
    MutexLock l(&mu);
    absl::Time t0 = absl::Now();
    EXPECT_FALSE(cv.WaitWithTimeout(&mu, absl::Milliseconds(20)));
    EXPECT_GE(absl::Now() - t0, absl::Milliseconds(20));
    // Signalled before the timeout: returns true.
    Thread s = Spawn([&] {
      this_thread::SleepFor(absl::Milliseconds(2));
      MutexLock l2(&mu);
      cv.Signal();
      return int64_t{0};
    });
    EXPECT_TRUE(cv.WaitWithDeadline(&mu, absl::Now() + absl::Seconds(30)));
    mu.Unlock();
    s.Join();
    mu.Lock();
    return int64_t{0};
  }).ok());
}

TEST_P(SyncTest, SemaphoreBoundsConcurrency) {
  ASSERT_TRUE(RunMain([] {
    Semaphore sem(3);
    std::atomic<int> inside{0}, max_inside{0};
    std::vector<Thread> ts;
    for (int i = 0; i < 32; ++i) {
      ts.push_back(Spawn([&] {
        for (int k = 0; k < 20; ++k) {
          sem.Acquire();
          int now = inside.fetch_add(1) + 1;
          int m = max_inside.load();
          while (now > m && !max_inside.compare_exchange_weak(m, now)) {
          }
          this_thread::Yield();
          inside.fetch_sub(1);
          sem.Release();
        }
        return int64_t{0};
      }));
    }
    for (auto& t : ts) t.Join();
    EXPECT_LE(max_inside.load(), 3);
    EXPECT_EQ(sem.permits(), 3);
    Semaphore empty(0);
    EXPECT_FALSE(empty.TryAcquire());
    EXPECT_FALSE(empty.AcquireWithTimeout(absl::Milliseconds(5)));
    return int64_t{0};
  }).ok());
}

TEST_P(SyncTest, WaitGroupWaitsForAll) {
  ASSERT_TRUE(RunMain([] {
    WaitGroup wg;
    std::atomic<int> done{0};
    const int n = 500 / kScaleDown + 10;
    wg.Add(n);
    for (int i = 0; i < n; ++i) {
      Spawn([&, i] {
        if (i % 3 == 0) this_thread::SleepFor(absl::Microseconds(100));
        done.fetch_add(1);
        wg.Done();
        return int64_t{0};
      }).Detach();
    }
    wg.Wait();
    EXPECT_EQ(done.load(), n);
    return int64_t{0};
  }).ok());
}

// Misuse is refused, not fatal, and changes nothing: Unlock of an unlocked mutex, a
// wait group's count going below zero or overflowing (weft::Mutex and weft::WaitGroup
// turn the refusals into TypeError).
TEST_P(SyncTest, MisusesAreRefusedAndChangeNothing) {
  ASSERT_TRUE(RunMain([] {
    Mutex mu;
    EXPECT_FALSE(mu.Unlock());
    EXPECT_TRUE(mu.TryLock());
    EXPECT_TRUE(mu.Unlock());
    EXPECT_FALSE(mu.Unlock());

    WaitGroup wg;
    EXPECT_FALSE(wg.Done());
    EXPECT_TRUE(wg.Add(1));
    EXPECT_FALSE(wg.Add(-2));
    EXPECT_FALSE(wg.Add(std::numeric_limits<int64_t>::max()));
    bool waited = false;
    Thread t = Spawn([&] {
      wg.Wait();  // the count is still 1: blocks until the Done below
      waited = true;
      return int64_t{0};
    });
    this_thread::Yield();
    EXPECT_TRUE(wg.Done());
    t.Join();
    EXPECT_TRUE(waited);
    return int64_t{0};
  }).ok());
}

TEST_P(SyncTest, MutexDeadlockIsReported) {
  Mutex a, b;  // outlive Run (see ChannelDeadlockIsReported)
  WaitGroup ready;
  // t2's handle is still joinable when main is abandoned in t1.Join(), so it outlives
  // Run too: Run leaves t2's block to it ([threads.inv.orphans]). On main's stack it
  // would never be destroyed, and the block would leak.
  std::optional<Thread> t2;
  absl::Status s = RunMain([&] {
    ready.Add(2);
    Thread t1 = Spawn([&] {
      a.Lock();
      ready.Done();
      ready.Wait();
      b.Lock();
      return int64_t{0};
    }, SpawnOptions{"t1"});
    t2.emplace(Spawn([&] {
      b.Lock();
      ready.Done();
      ready.Wait();
      a.Lock();
      return int64_t{0};
    }, SpawnOptions{"t2"}));
    t1.Join();
    t2->Join();
    return int64_t{0};
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("'t1' blocked on mutex"), std::string::npos) << s;
  EXPECT_NE(s.message().find("'t2' blocked on mutex"), std::string::npos) << s;
  EXPECT_TRUE(t2->orphaned());
  if (t2->joinable()) t2->Detach();  // frees the orphan
}

INSTANTIATE_TEST_SUITE_P(Workers, SyncTest, ::testing::Values(1, 2, 4), testing::WorkersName);

}  // namespace
}  // namespace weft::threads
