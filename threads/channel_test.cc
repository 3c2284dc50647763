// Tests for Channel and Select: delivery exactly once, FIFO, close, timeouts, the
// GC enumeration hooks, and a seeded stress network.
#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "threads/channel.h"
#include "threads/scheduler.h"
#include "threads/select.h"
#include "threads/test_util.h"
#include "threads/this_thread.h"
#include "threads/wait_group.h"

namespace weft::threads {
namespace {

using testing::kScaleDown;
using testing::SchedulerTest;

class ChannelTest : public SchedulerTest {};

TEST_P(ChannelTest, UnbufferedPingPong) {
  ASSERT_TRUE(RunMain([] {
    Channel<int64_t> ping, pong;
    const int n = 10000 / kScaleDown;
    Thread t = Spawn([&] {
      for (int i = 0; i < n; ++i) {
        auto v = ping.Receive();
        pong.Send(*v + 1);
      }
      return int64_t{0};
    });
    for (int i = 0; i < n; ++i) {
      ping.Send(i);
      EXPECT_EQ(*pong.Receive(), i + 1);
    }
    t.Join();
    return int64_t{0};
  }).ok());
}

TEST_P(ChannelTest, BufferedKeepsFifoAndCloseDrains) {
  ASSERT_TRUE(RunMain([] {
    Channel<int> c(8);
    for (int i = 0; i < 8; ++i) EXPECT_TRUE(c.Send(i));
    int extra = 99;
    EXPECT_FALSE(c.TrySend(extra));  // full
    EXPECT_EQ(c.size(), 8u);
    Thread blocked = Spawn([&] { return int64_t{c.Send(8)}; });  // blocks: full
    for (int i = 0; i < 9; ++i) EXPECT_EQ(*c.Receive(), i);
    EXPECT_EQ(blocked.Join().value, 1);
    c.Close();
    EXPECT_FALSE(c.Send(1));
    EXPECT_FALSE(c.Receive().has_value());
    return int64_t{0};
  }).ok());
}

TEST_P(ChannelTest, CloseWakesBlockedReceiversAndSenders) {
  ASSERT_TRUE(RunMain([] {
    Channel<int> r, s;
    std::vector<Thread> ts;
    for (int i = 0; i < 5; ++i) ts.push_back(Spawn([&] { return int64_t{r.Receive().has_value()}; }));
    for (int i = 0; i < 5; ++i) ts.push_back(Spawn([&] { return int64_t{s.Send(1)}; }));
    this_thread::SleepFor(absl::Milliseconds(5));
    r.Close();
    s.Close();
    int64_t sum = 0;
    for (auto& t : ts) sum += t.Join().value;
    EXPECT_EQ(sum, 0);
    return int64_t{0};
  }).ok());
}

TEST_P(ChannelTest, SelectReceivesFromWhicheverIsReady) {
  ASSERT_TRUE(RunMain([] {
    Channel<int> a, b;
    Thread t = Spawn([&] {
      b.Send(2);
      a.Send(1);
      return int64_t{0};
    });
    std::optional<int> va, vb;
    int got = 0;
    (void)0;
    for (int k = 0; k < 2; ++k) {
      SelectCase cases[] = {ReceiveCase(a, &va), ReceiveCase(b, &vb)};
      int i = Select(absl::MakeSpan(cases));
      if (i < 0) {
        ADD_FAILURE() << "select timed out";
        return int64_t{1};
      }
      EXPECT_TRUE(cases[i].ok);
      got += i == 0 ? *va : *vb;
    }
    EXPECT_EQ(got, 3);
    t.Join();
    return int64_t{0};
  }).ok());
}

TEST_P(ChannelTest, SelectSendAndTimeout) {
  ASSERT_TRUE(RunMain([] {
    Channel<int> a, b(1);
    std::optional<int> va;
    int out = 5;
    {
      SelectCase cases[] = {ReceiveCase(a, &va), SendCase(b, &out)};
      EXPECT_EQ(Select(absl::MakeSpan(cases)), 1);  // b has room
      EXPECT_EQ(*b.Receive(), 5);
    }
    {
      SelectCase cases[] = {ReceiveCase(a, &va)};
      // Measured on the monotonic clock the timeout uses (absl::Now intervals can read
      // shorter).
      auto t0 = std::chrono::steady_clock::now();
      EXPECT_EQ(Select(absl::MakeSpan(cases), absl::Milliseconds(10)), -1);
      EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(10));
      EXPECT_EQ(Select(absl::MakeSpan(cases), absl::ZeroDuration()), -1);  // poll
    }
    {
      a.Close();
      SelectCase cases[] = {ReceiveCase(a, &va)};
      EXPECT_EQ(Select(absl::MakeSpan(cases)), 0);
      EXPECT_FALSE(cases[0].ok);
      EXPECT_FALSE(va.has_value());
    }
    return int64_t{0};
  }).ok());
}

// A close that wakes a parked receiver (a select or a ReceiveInto) leaves its out
// empty, as a receive that finds the channel already closed does.
TEST_P(ChannelTest, CloseWakingAReceiverResetsItsOut) {
  ASSERT_TRUE(RunMain([&] {
    Channel<int> a, b;
    std::optional<int> va = 7, vb = 8, vi = 9;
    Thread selecting = Spawn([&] {
      SelectCase cases[] = {ReceiveCase(a, &va), ReceiveCase(b, &vb)};
      int i = Select(absl::MakeSpan(cases));
      return int64_t{i == 0 && !cases[0].ok};
    });
    Thread receiving = Spawn([&] { return int64_t{!a.ReceiveInto(&vi)}; });
    // Both park before the close (a close found first would also reset the outs).
    auto blocked = [&] {
      int count = 0;
      sched_->ForEachThread([&](const ThreadInfo& i) { count += i.state == ThreadState::kBlocked; });
      return count;
    };
    while (blocked() < 2) this_thread::Yield();
    a.Close();
    EXPECT_EQ(selecting.Join().value, 1);
    EXPECT_EQ(receiving.Join().value, 1);
    EXPECT_FALSE(va.has_value());
    EXPECT_FALSE(vi.has_value());
    EXPECT_EQ(vb, 8);  // the case that did not proceed is untouched
    return int64_t{0};
  }).ok());
}

// A value is delivered to exactly one select even when many selects wait on the
// same channels.
TEST_P(ChannelTest, SelectDeliversExactlyOnce) {
  uint64_t seed = testing::Seed();
  ASSERT_TRUE(RunMain([&] {
    const int kChans = 4, kReceivers = 16, kValues = 20000 / kScaleDown;
    std::vector<std::unique_ptr<Channel<int64_t>>> chans;
    for (int i = 0; i < kChans; ++i) chans.push_back(std::make_unique<Channel<int64_t>>(i % 2));
    Channel<int64_t> quit;
    std::vector<std::atomic<int>> seen(kValues);
    std::vector<Thread> rs;
    for (int r = 0; r < kReceivers; ++r) {
      rs.push_back(Spawn([&] {
        std::vector<std::optional<int64_t>> vals(kChans + 1);
        for (;;) {
          SelectCase cases[kChans + 1];
          for (int i = 0; i < kChans; ++i) cases[i] = ReceiveCase(*chans[i], &vals[i]);
          cases[kChans] = ReceiveCase(quit, &vals[kChans]);
          int i = Select(absl::MakeSpan(cases), absl::Milliseconds(50));
          if (i == kChans) break;
          if (i >= 0) seen[*vals[i]].fetch_add(1);
        }
        return int64_t{0};
      }));
    }
    std::vector<Thread> ss;
    for (int s = 0; s < 4; ++s) {
      ss.push_back(Spawn([&, s] {
        std::mt19937_64 rng(seed + s);
        for (int v = s; v < kValues; v += 4) chans[rng() % kChans]->Send(v);
        return int64_t{0};
      }));
    }
    for (auto& t : ss) t.Join();
    quit.Close();
    for (auto& t : rs) t.Join();
    for (int v = 0; v < kValues; ++v) EXPECT_EQ(seen[v].load(), 1) << "value " << v;
    return int64_t{0};
  }).ok());
}

// Seeded network: a pipeline of stages connected by channels of random capacities;
// each message passes every stage exactly once.
TEST_P(ChannelTest, StressNetworkSeeded) {
  uint64_t seed = testing::Seed();
  ASSERT_TRUE(RunMain([&] {
    std::mt19937_64 rng(seed);
    const int kStages = 16, kWidth = 8, kMessages = 20000 / kScaleDown;
    std::vector<std::unique_ptr<Channel<int64_t>>> links;
    for (int i = 0; i <= kStages; ++i) {
      links.push_back(std::make_unique<Channel<int64_t>>(rng() % 3 == 0 ? 0 : rng() % 16));
    }
    std::vector<Thread> workers;
    std::vector<std::unique_ptr<WaitGroup>> stage_done;
    for (int s = 0; s < kStages; ++s) {
      stage_done.push_back(std::make_unique<WaitGroup>(kWidth));
      for (int w = 0; w < kWidth; ++w) {
        workers.push_back(Spawn([&, s, w] {
          std::mt19937_64 r(seed * 31 + s * kWidth + w);
          while (auto v = links[s]->Receive()) {
            if (r() % 16 == 0) this_thread::Yield();
            links[s + 1]->Send(*v + (int64_t{1} << 32));
          }
          stage_done[s]->Done();
          if (w == 0) {
            stage_done[s]->Wait();
            links[s + 1]->Close();
          }
          return int64_t{0};
        }));
      }
    }
    Thread sink = Spawn([&] {
      std::vector<int> seen(kMessages);
      int64_t bad = 0;
      while (auto v = links[kStages]->Receive()) {
        if ((*v >> 32) != kStages) ++bad;
        ++seen[*v & 0xffffffff];
      }
      for (int c : seen) bad += c != 1;
      return bad;
    });
    for (int m = 0; m < kMessages; ++m) links[0]->Send(m);
    links[0]->Close();
    for (auto& t : workers) t.Join();
    EXPECT_EQ(sink.Join().value, 0);
    return int64_t{0};
  }).ok());
}

// The GC hooks: while the world is stopped every value a channel holds (buffer and
// blocked senders) can be enumerated and updated.
TEST_P(ChannelTest, ForEachValueSeesBufferAndBlockedSenders) {
  ASSERT_TRUE(RunMain([this] {
    Channel<uint64_t> c(2);
    c.Send(1);
    c.Send(2);
    std::vector<Thread> senders;
    for (uint64_t v = 3; v <= 5; ++v) senders.push_back(Spawn([&c, v] { return int64_t{c.Send(v)}; }));
    // Wait for the state, not for time: a sender shows as blocked only once its value
    // is queued under the channel's lock, so the stop below sees all three.
    auto blocked_senders = [&] {
      int n = 0;
      sched_->ForEachThread([&](const ThreadInfo& i) {
        n += i.state == ThreadState::kBlocked && i.wait_reason == WaitReason::kChannelSend;
      });
      return n;
    };
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (blocked_senders() < 3) {
      if (absl::Now() > give_up) {
        ADD_FAILURE() << "the 3 senders did not all block on the full channel within 60 s";
        break;
      }
      this_thread::Yield();
    }
    sched_->StopTheWorld();
    uint64_t sum = 0;
    int channels = 0;
    ForEachChannel([&](ChannelBase& base) {
      Channel<uint64_t>* typed = ChannelCast<uint64_t>(&base);
      if (typed != &c) return;
      ++channels;
      typed->ForEachValue([&](uint64_t& v) {
        sum += v;
        v += 100;  // "moved" objects
      });
    });
    sched_->ResumeTheWorld();
    EXPECT_EQ(channels, 1);
    EXPECT_EQ(sum, 15u);
    uint64_t after = 0;
    for (int i = 0; i < 5; ++i) after += *c.Receive();
    EXPECT_EQ(after, 515u);
    for (auto& t : senders) t.Join();
    return int64_t{0};
  }).ok());
}

TEST_P(ChannelTest, ChannelDeadlockIsReported) {
  // The channel outlives Run: threads blocked at a deadlock are abandoned without
  // unwinding, so objects on their stacks are never destroyed.
  Channel<int> c;
  absl::Status s = RunMain([&c] {
    Thread t = Spawn([&] { return int64_t{*c.Receive()}; }, SpawnOptions{"receiver"});
    return t.Join().value;
  });
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("'receiver' blocked on channel receive"), std::string::npos) << s;
}

INSTANTIATE_TEST_SUITE_P(Workers, ChannelTest, ::testing::Values(1, 2, 4), testing::WorkersName);

// [threads.inv.unshared-lock]: on one worker, unshared channels (Send and Receive take
// the lock with a plain store) mixed with selects and closes on the same channels
// (which exchange) deliver every message exactly once. Seeded.
class UnsharedChannelTest : public SchedulerTest {};

TEST_P(UnsharedChannelTest, EveryMessageOnceWithSelectsAndCloses) {
  const uint64_t seed = testing::Seed();
  ASSERT_TRUE(RunMain([&] {
    std::mt19937_64 rng(seed);
    const int kChans = 6, kSenders = 8, kPerSender = 4000 / kScaleDown;
    std::vector<std::unique_ptr<Channel<int64_t>>> chans;
    for (int i = 0; i < kChans; ++i) {
      chans.push_back(std::make_unique<Channel<int64_t>>(rng() % 3, /*unshared=*/true));
      EXPECT_TRUE(chans.back()->unshared());
    }
    std::vector<std::atomic<int>> seen(kSenders * kPerSender);
    WaitGroup senders;
    senders.Add(kSenders);
    std::vector<Thread> ts;
    for (int s = 0; s < kSenders; ++s) {
      const uint64_t sub = rng();
      ts.push_back(Spawn([&, s, sub] {
        std::mt19937_64 r(sub);
        for (int k = 0; k < kPerSender; ++k) {
          const int64_t v = s * kPerSender + k;
          if (r() % 4 == 0) {  // a send case of a select (exchanges the lock)
            int64_t out = v;
            SelectCase c[1] = {SendCase(*chans[r() % kChans], &out)};
            EXPECT_EQ(Select(absl::MakeSpan(c)), 0);
          } else {
            EXPECT_TRUE(chans[r() % kChans]->Send(v));
          }
          if (r() % 8 == 0) this_thread::Yield();
        }
        senders.Done();
        return int64_t{0};
      }));
    }
    // Receivers: plain receives on one channel each, and selects over all of them.
    for (int c = 0; c < kChans; ++c) {
      ts.push_back(Spawn([&, c] {
        while (std::optional<int64_t> v = chans[c]->Receive()) seen[*v].fetch_add(1);
        return int64_t{0};
      }));
    }
    for (int k = 0; k < 2; ++k) {
      ts.push_back(Spawn([&] {
        std::vector<std::optional<int64_t>> vals(kChans);
        int open = kChans;
        std::vector<bool> closed(kChans, false);
        while (open > 0) {
          std::vector<SelectCase> cases;
          std::vector<int> which;
          for (int c = 0; c < kChans; ++c) {
            if (closed[c]) continue;
            cases.push_back(ReceiveCase(*chans[c], &vals[c]));
            which.push_back(c);
          }
          int i = Select(absl::MakeSpan(cases));
          const int c = which[i];
          // ok, not the optional: a close that wakes a blocked select leaves the
          // case's out as it was (here, the value of an earlier round).
          if (!cases[i].ok) {
            closed[c] = true;
            --open;
          } else {
            seen[*vals[c]].fetch_add(1);
          }
        }
        return int64_t{0};
      }));
    }
    senders.Wait();
    for (auto& c : chans) c->Close();
    for (auto& t : ts) t.Join();
    for (size_t v = 0; v < seen.size(); ++v) EXPECT_EQ(seen[v].load(), 1) << "value " << v;
    return int64_t{0};
  }).ok());
}

INSTANTIATE_TEST_SUITE_P(OneWorker, UnsharedChannelTest, ::testing::Values(1), testing::WorkersName);

TEST(UnsharedLockDeathTest, FoundHeldIsFatal) {
  SpinLock l;
  l.LockUnshared();
  EXPECT_DEATH(l.LockUnshared(), "an unshared spin lock found held");
  l.Unlock();
  l.LockUnshared();  // free again after the unlock
  l.Unlock();
}

}  // namespace
}  // namespace weft::threads
