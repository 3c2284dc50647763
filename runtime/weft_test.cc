// weft_test.cc: promises runtime/weft.h makes that no test of a single source checks
// (found by an audit of weft.h against the tests, 2026-12-03). Each test quotes the
// sentence of weft.h it checks. Deterministic: only "at least" bounds on sleeps and
// timeouts; a generous deadline (kEscape) only ends a wait that would otherwise hang.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/options.h"
#include "runtime/weft.h"

namespace weft {
namespace {

constexpr absl::Duration kEscape = absl::Seconds(5);

std::unique_ptr<Runtime> MakeRt(int workers) {
  Options o;
  o.workers = workers;
  o.control_socket = false;
  auto rt = Runtime::Create(o);
  EXPECT_TRUE(rt.ok()) << rt.status();
  return std::move(*rt);
}

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------------
// Options: "native_stack_bytes ... per green thread; 32 KiB..64 MiB" and the other
// documented inclusive ranges: each end is accepted, one step past it is refused with
// InvalidArgument naming the option.

TEST(WeftOptionsTest, DocumentedBoundsAreAcceptedAndOneStepPastRefused) {
  struct Case {
    const char* name;
    std::function<void(Options&)> at;
    std::function<void(Options&)> past;
  };
  const size_t KiB = 1024, MiB = KiB * KiB, GiB = MiB * KiB;
  std::vector<Case> cases = {
      {"workers", [](Options& o) { o.workers = 1; }, [](Options& o) { o.workers = -1; }},
      {"workers", [](Options& o) { o.workers = 256; }, [](Options& o) { o.workers = 257; }},
      {"native_stack_bytes", [&](Options& o) { o.native_stack_bytes = 32 * KiB; },
       [&](Options& o) { o.native_stack_bytes = 32 * KiB - 1; }},
      {"native_stack_bytes", [&](Options& o) { o.native_stack_bytes = 64 * MiB; },
       [&](Options& o) { o.native_stack_bytes = 64 * MiB + 1; }},
      {"managed_stack_max_bytes", [&](Options& o) { o.managed_stack_max_bytes = 4 * KiB; },
       [&](Options& o) { o.managed_stack_max_bytes = 4 * KiB - 1; }},
      {"managed_stack_max_bytes", [&](Options& o) { o.managed_stack_max_bytes = GiB; },
       [&](Options& o) { o.managed_stack_max_bytes = GiB + 1; }},
      {"nursery_bytes", [&](Options& o) { o.nursery_bytes = 256 * KiB; },
       [&](Options& o) { o.nursery_bytes = 256 * KiB - 1; }},
      {"max_nursery_bytes", [&](Options& o) { o.max_nursery_bytes = GiB; },
       [&](Options& o) { o.max_nursery_bytes = GiB + 1; }},
      {"young_pause_target", [](Options& o) { o.young_pause_target = absl::Microseconds(100); },
       [](Options& o) { o.young_pause_target = absl::Microseconds(99); }},
      {"young_pause_target", [](Options& o) { o.young_pause_target = absl::Seconds(10); },
       [](Options& o) { o.young_pause_target = absl::Seconds(10) + absl::Nanoseconds(1); }},
      {"generations", [](Options& o) { o.generations = 1; }, [](Options& o) { o.generations = 0; }},
      {"generations", [](Options& o) { o.generations = 6; }, [](Options& o) { o.generations = 7; }},
      {"promotion_age", [](Options& o) { o.promotion_age = 1; },
       [](Options& o) { o.promotion_age = 0; }},
      {"promotion_age", [](Options& o) { o.promotion_age = 7; },
       [](Options& o) { o.promotion_age = 8; }},
      {"promote_in_place_percent", [](Options& o) { o.promote_in_place_percent = 0; },
       [](Options& o) { o.promote_in_place_percent = -1; }},
      {"gc_threads", [](Options& o) { o.gc_threads = 64; }, [](Options& o) { o.gc_threads = 65; }},
      {"gc_threads", [](Options& o) { o.gc_threads = 0; }, [](Options& o) { o.gc_threads = -1; }},
      {"old_generation_growth_percent", [](Options& o) { o.old_generation_growth_percent = 10; },
       [](Options& o) { o.old_generation_growth_percent = 9; }},
      {"old_generation_growth_percent",
       [](Options& o) { o.old_generation_growth_percent = 1000; },
       [](Options& o) { o.old_generation_growth_percent = 1001; }},
      {"core_timeout", [](Options& o) { o.core_timeout = absl::Hours(1); },
       [](Options& o) { o.core_timeout = absl::Hours(1) + absl::Nanoseconds(1); }},
  };
  for (const Case& c : cases) {
    Options at;
    c.at(at);
    absl::Status s = ValidateOptions(at);
    EXPECT_TRUE(s.ok()) << c.name << " at its documented bound was refused: " << s;
    Options past;
    c.past(past);
    s = ValidateOptions(past);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(s.message().find(c.name), std::string::npos) << s;
  }
}

// The documented minimum native stack makes a runtime that runs threads.
TEST(WeftOptionsTest, SmallestNativeStacksRun) {
  Options o;
  o.workers = 1;
  o.control_socket = false;
  o.native_stack_bytes = 32 << 10;
  auto rt = Runtime::Create(o);
  ASSERT_TRUE(rt.ok()) << rt.status();
  auto r = (*rt)->Run([] { return Spawn([] { return Fixnum(3); }).Join().IsFixnum() ? 0 : 1; });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
}

// ---------------------------------------------------------------------------------
// "SleepFor parks the green thread (its worker runs others) and returns no earlier
// than `d` after the call as measured on CLOCK_MONOTONIC". Only SleepUntil had a
// parks-only-its-thread test; weft::SleepFor had none at this level.

// One worker: the sleeper parks, so main (queued behind it) runs before the sleep ends.
// Had SleepFor slept the worker's OS thread, main could run only after it woke.
TEST(WeftSleepTest, SleepForParksOnlyItsThread) {
  auto rt = MakeRt(1);
  std::atomic<bool> started{false}, main_resumed{false};
  bool main_ran_during_sleep = false;
  int64_t sleep_start = 0, woke = 0;
  const absl::Duration d = absl::Milliseconds(50);
  auto r = rt->Run([&] {
    Thread t = Spawn([&] {
      started = true;
      sleep_start = SteadyNs();
      weft::SleepFor(d);
      woke = SteadyNs();
      main_ran_during_sleep = main_resumed.load();
      return Local();
    });
    while (!started) Yield();
    main_resumed = true;
    t.Join();
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(main_ran_during_sleep) << "main ran only after the sleep: SleepFor blocked the worker";
  EXPECT_GE(woke - sleep_start, absl::ToInt64Nanoseconds(d));
}

TEST(WeftSleepTest, SleepForTakesAtLeastItsTimeOnTheMonotonicClock) {
  auto rt = MakeRt(2);
  auto r = rt->Run([] {
    for (int i = 0; i < 50; ++i) {
      const absl::Duration d = absl::Microseconds(100 + 37 * i);
      int64_t t0 = SteadyNs();
      weft::SleepFor(d);
      EXPECT_GE(SteadyNs() - t0, absl::ToInt64Nanoseconds(d)) << i;
    }
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// ---------------------------------------------------------------------------------
// "WaitReadable/WaitWritable: block this green thread (not the worker) until fd is
// readable or writable, or the deadline passes (returns false)". weft.h sets no limit
// of one waiter per fd (threads/poller.h did, internally, until 2026-12-03: a second
// waiter's registration replaced the first's, which then never woke).

class WeftFdTest : public ::testing::TestWithParam<int> {};

// The usual full-duplex socket: one thread waits to read while another waits to write
// on the same fd.
TEST_P(WeftFdTest, ReaderAndWriterOnOneSocket) {
  auto rt = MakeRt(GetParam());
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  std::atomic<bool> started{false};
  std::optional<bool> reader_saw;
  auto r = rt->Run([&] {
    Thread reader = Spawn([&] {
      started = true;
      reader_saw = WaitReadable(sv[0], absl::Now() + kEscape);
      return Local();
    });
    while (!started) Yield();
    weft::SleepFor(absl::Milliseconds(20));  // the reader is parked with its registration
    EXPECT_TRUE(WaitWritable(sv[0], absl::Now() + kEscape));
    EXPECT_EQ(write(sv[1], "x", 1), 1);  // sv[0] is readable from now on
    reader.Join();
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(reader_saw.has_value());
  EXPECT_TRUE(*reader_saw) << "WaitReadable timed out although its fd was readable: "
                              "the WaitWritable on the same fd replaced its registration";
  close(sv[0]);
  close(sv[1]);
}

TEST_P(WeftFdTest, TwoReadersOfOneFd) {
  auto rt = MakeRt(GetParam());
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
  std::atomic<int> started{0};
  std::optional<bool> saw[2];
  auto r = rt->Run([&] {
    std::vector<Thread> readers;
    for (int i = 0; i < 2; ++i) {
      readers.push_back(Spawn([&, i] {
        started.fetch_add(1);
        saw[i] = WaitReadable(p[0], absl::Now() + kEscape);
        return Local();
      }));
    }
    while (started.load() < 2) Yield();
    weft::SleepFor(absl::Milliseconds(20));
    EXPECT_EQ(write(p[1], "x", 1), 1);  // never read: p[0] stays readable
    for (Thread& t : readers) t.Join();
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(saw[i].has_value());
    EXPECT_TRUE(*saw[i]) << "reader " << i << " timed out on a readable fd";
  }
  close(p[0]);
  close(p[1]);
}

TEST_P(WeftFdTest, TimeoutReturnsFalseNoEarlierThanTheDeadline) {
  auto rt = MakeRt(GetParam());
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
  auto r = rt->Run([&] {
    const absl::Duration d = absl::Milliseconds(30);
    int64_t t0 = SteadyNs();
    EXPECT_FALSE(WaitReadable(p[0], absl::Now() + d));
    EXPECT_GE(SteadyNs() - t0, absl::ToInt64Nanoseconds(d) - 100'000);  // absl::Now slew
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  close(p[0]);
  close(p[1]);
}

// "An fd epoll refuses (a regular file, a descriptor not open) is ready at once": no
// deadline, so a wait that parked for good would hang (Run's deadlock report).
TEST_P(WeftFdTest, RefusedFdsAreReadyAtOnce) {
  auto rt = MakeRt(GetParam());
  char path[] = "/tmp/weft_test_XXXXXX";
  int file = mkstemp(path);
  ASSERT_GE(file, 0);
  unlink(path);
  auto r = rt->Run([&] {
    EXPECT_TRUE(WaitReadable(-1));
    EXPECT_TRUE(WaitWritable(-1));
    EXPECT_TRUE(WaitReadable(file));
    EXPECT_TRUE(WaitWritable(file));
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  close(file);
}

INSTANTIATE_TEST_SUITE_P(Workers, WeftFdTest, ::testing::Values(1, 2));

// ---------------------------------------------------------------------------------
// Channels: "Send blocks; throws ChannelClosed" for a sender already blocked when the
// channel closes; Select with a zero timeout; Select's timeout takes at least its time.

TEST(WeftChannelTest, BlockedSendThrowsChannelClosedOnClose) {
  auto rt = MakeRt(1);
  std::atomic<int> outcome{0};  // 1: returned, 2: ChannelClosed
  auto r = rt->Run([&] {
    Scope scope("main");
    Channel c = Channel::Make();
    Thread t = Spawn([&] {
      Scope s("sender");
      try {
        c.Send(s.Fixnum(1));
        outcome = 1;
      } catch (const ChannelClosed&) {
        outcome = 2;
      }
      return Local();
    });
    Yield();  // one worker: the sender runs until it blocks
    Yield();
    c.Close();
    t.Join();
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(outcome.load(), 2);
}

TEST(WeftChannelTest, SelectTimeouts) {
  auto rt = MakeRt(2);
  auto r = rt->Run([] {
    Scope scope("main");
    Channel a = Channel::Make();
    SelectCase cases[] = {{SelectCase::kRecv, a, {}}};
    std::optional<Local> got;
    EXPECT_EQ(Select(cases, &got, absl::ZeroDuration()), -1);
    EXPECT_EQ(Select(cases, &got, absl::Milliseconds(-5)), -1);
    for (int i = 0; i < 20; ++i) {
      const absl::Duration d = absl::Microseconds(200 + 91 * i);
      int64_t t0 = SteadyNs();
      EXPECT_EQ(Select(cases, &got, d), -1);
      EXPECT_GE(SteadyNs() - t0, absl::ToInt64Nanoseconds(d)) << i;
    }
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// ---------------------------------------------------------------------------------
// AddCleanup: "Cleanups still pending when the runtime is destroyed are dropped without
// running"; "The cleanup runs on the green thread whose allocation or Collect ran that
// collection".

TEST(WeftCleanupTest, PendingCleanupsAreDroppedAtDestruction) {
  std::atomic<int> runs{0};
  {
    auto rt = MakeRt(1);
    auto r = rt->Run([&] {
      Scope scope("main");
      {
        Scope inner("garbage");
        AddCleanup(MakeString("unreachable soon"), [&] { runs.fetch_add(1); });
      }
      return 0;  // no collection after the object became unreachable
    });
    ASSERT_TRUE(r.ok()) << r.status();
  }
  EXPECT_EQ(runs.load(), 0);
}

TEST(WeftCleanupTest, RunsOnTheCollectingThread) {
  auto rt = MakeRt(2);
  std::atomic<int64_t> ran_on{-1};
  int64_t registrar = -2, collector = -3;
  auto r = rt->Run([&] {
    Scope scope("main");
    Thread t = Spawn([&] {
      Scope s("registrar");
      registrar = CurrentThreadId();
      AddCleanup(MakeString("garbage"), [&] { ran_on = CurrentThreadId(); });
      return Local();
    });
    t.Join();
    collector = CurrentThreadId();
    Collect(-1);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ran_on.load(), collector);
  EXPECT_NE(ran_on.load(), registrar);
}

// ---------------------------------------------------------------------------------
// Global: moves keep the root (destruction after Run returns:
// RuntimeGlobalTest.GlobalDestroyedOrMovedOverAfterRunReturns in runtime_test.cc).

TEST(WeftGlobalTest, MovedGlobalsStayRoots) {
  auto rt = MakeRt(2);
  auto r = rt->Run([&] {
    Scope scope("main");
    std::optional<Global> keep;
    {
      Scope s("make");
      Global a(MakeString("kept"));
      Global b(std::move(a));
      Global c;
      c = std::move(b);
      keep.emplace(std::move(c));
    }
    Collect(-1);
    Collect(0);
    EXPECT_EQ(StringView(keep->Get()), "kept");
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// ---------------------------------------------------------------------------------
// SpawnOptions::managed_stack_max_bytes: per green thread (StackOverflow at it).

TEST(WeftSpawnTest, PerThreadManagedStackMax) {
  auto rt = MakeRt(1);
  std::atomic<int64_t> pushed{-1};
  std::string what;
  auto r = rt->Run([&] {
    Thread t = Spawn(
        [&] {
          Scope s("deep");
          int64_t n = 0;
          try {
            for (; n < 1'000'000; ++n) s.New(Value{2});
          } catch (const StackOverflow& e) {
            what = e.what();
          }
          pushed = n;
          return Local();
        },
        {.name = "small", .managed_stack_max_bytes = 8 << 10});
    t.Join();
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(pushed.load(), 0);
  EXPECT_LE(pushed.load(), (8 << 10) / 8) << what;
  EXPECT_NE(what.find("8192"), std::string::npos) << what;
}

// ---------------------------------------------------------------------------------
// DumpStacks: "It allocates nothing in the managed heap".

TEST(WeftDumpTest, DumpStacksAllocatesNothing) {
  auto rt = MakeRt(1);
  auto r = rt->Run([] {
    Scope scope("main");
    Local keep = MakeString("something to dump");
    Collect(-1);
    uint64_t before = GetStats().bytes_allocated;
    DumpOptions o;
    o.roots = true;
    std::string text = DumpStacks(o);
    o.json = true;
    std::string json = DumpStacks(o);
    // bytes_allocated counts a region's small objects when the region closes: a
    // collection closes every region, so it sees anything the dumps allocated.
    Collect(-1);
    EXPECT_EQ(GetStats().bytes_allocated, before);
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(StringView(keep), "something to dump");
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

}  // namespace
}  // namespace weft
