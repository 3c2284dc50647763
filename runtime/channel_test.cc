// Tests of channels of managed values ([runtime.channels.in-flight]): a value in
// flight stays a root the collector updates in every place it can be: buffered, held
// by a blocked sender (Send or a Select send case), or handed to a receiver (Recv or a
// Select receive case) that has been readied and has not run yet. Under
// --config=checked every collection moves every young object and poisons the old
// copy, so a value left behind reads as garbage.
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/weft.h"

namespace weft {
namespace {

constexpr int kLength = 200;
constexpr int64_t kSum = int64_t{kLength} * (kLength - 1) / 2;

// A fresh (young) list (kLength-1 ... 0), built in the caller's scope.
Local FreshList(const Scope& parent) {
  Scope scope(parent, "FreshList");
  Local list = scope.Nil();
  for (int i = 0; i < kLength; ++i) list.Set(Cons(Fixnum(i), list));
  return scope.Escape(list);
}

// The list's sum, or -1 when it is not a proper list of fixnums.
int64_t Sum(Local list) {
  Scope scope("Sum");
  int64_t sum = 0;
  Local p = Local::New(list.get());
  for (int n = 0; n <= kLength; ++n) {
    if (p.IsNil()) return sum;
    if (!p.IsPair()) return -1;
    Local head = Car(p);
    if (!head.IsFixnum()) return -1;
    sum += FixnumValue(head);
    p.Set(Cdr(p));
  }
  return -1;
}

std::unique_ptr<Runtime> Make(int workers) {
  Options o;
  o.workers = workers;
  auto rt = Runtime::Create(o);
  EXPECT_TRUE(rt.ok()) << rt.status();
  return std::move(*rt);
}

// With one worker the receiver, readied by Send into the run-next slot, cannot run
// before the sender's collections: the value is only in its destination slot.
TEST(ChannelTest, ValueHandedToAReceiverThatHasNotRunMovesWithCollections) {
  auto rt = Make(1);
  auto r = rt->Run([] {
    Scope scope("main");
    Channel c = Channel::Make();
    Thread receiver = Spawn([c]() mutable {
      Scope s("receiver");
      std::optional<Local> v = c.Recv();
      return s.Escape(s.Fixnum(v ? Sum(*v) : -2));
    });
    Yield();  // the receiver blocks in Recv
    c.Send(FreshList(scope));
    Collect(0);
    Collect();
    return static_cast<int>(FixnumValue(receiver.Join()) == kSum ? 0 : 1);
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
}

TEST(ChannelTest, ValueHandedToASelectReceiveCaseThatHasNotRunMovesWithCollections) {
  auto rt = Make(1);
  auto r = rt->Run([] {
    Scope scope("main");
    Channel a = Channel::Make(), b = Channel::Make();
    Thread receiver = Spawn([a, b]() mutable {
      Scope s("receiver");
      SelectCase cases[] = {{SelectCase::kRecv, a, Local()}, {SelectCase::kRecv, b, Local()}};
      std::optional<Local> got;
      int i = Select(cases, &got);
      return s.Escape(s.Fixnum(i == 1 && got ? Sum(*got) : -2));
    });
    Yield();  // the receiver blocks in Select
    b.Send(FreshList(scope));
    Collect(0);
    Collect();
    return static_cast<int>(FixnumValue(receiver.Join()) == kSum ? 0 : 1);
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
}

// A Run's main: makes *kept and leaves a detached thread blocked sending a list on
// it, which nobody receives (abandoned as Run ends, its stack freed).
int LeaveASenderBlocked(Channel* kept) {
  Scope scope("main");
  *kept = Channel::Make();
  Spawn([c = *kept]() mutable {
    Scope s("stuck");
    c.Send(FreshList(s));
    return s.Escape(s.Nil());
  }).Detach();
  Yield();
  return 0;
}

// A channel that outlives its runtime, with a sender abandoned in it at shutdown (its
// wait node on a stack that is freed), is no root of the runtimes that follow, which
// are likely to sit at the same address; using it there is an error.
TEST(ChannelTest, ChannelsOfAnEndedRuntimeAreNotRootsOfTheNext) {
  Channel kept;
  {
    auto a = Make(1);
    auto r = a->Run([&kept] { return LeaveASenderBlocked(&kept); });
    ASSERT_TRUE(r.ok()) << r.status();
  }
  for (int i = 0; i < 3; ++i) {
    auto b = Make(1);
    auto r = b->Run([&kept] {
      try {
        kept.Send(Local::Nil());
        return 2;
      } catch (const TypeError& e) {
        EXPECT_STREQ(e.what(), "weft: use of a weft::Channel outside the run of the runtime that made it");
      }
      Scope scope("next");
      Local keep = FreshList(scope);
      Collect(0);
      Collect();
      return Sum(keep) == kSum ? 0 : 1;
    });
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, 0);
  }
}

// A detached thread blocked in a channel when Run ends is abandoned and its stack
// freed; a second Run of the same runtime collects and uses the channel without
// reading its wait node.
TEST(ChannelTest, AbandonedWaitersAreForgottenWhenRunEnds) {
  auto rt = Make(1);
  Channel kept;
  auto first = rt->Run([&kept] { return LeaveASenderBlocked(&kept); });
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = rt->Run([&kept] {
    Scope scope("again");
    Local keep = FreshList(scope);
    Collect(0);
    Collect();
    kept.Close();  // wakes nobody: the abandoned sender is forgotten
    if (kept.Recv().has_value()) return 2;
    return Sum(keep) == kSum ? 0 : 1;
  });
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 0);
}

class ChannelWorkersTest : public ::testing::TestWithParam<int> {};

// A blocked sender's value (Send, then a Select send case) is visited through the
// channel and arrives intact after collections that moved it.
TEST_P(ChannelWorkersTest, BlockedSendersValuesMoveWithCollections) {
  auto rt = Make(GetParam());
  auto r = rt->Run([] {
    Scope scope("main");
    Channel c = Channel::Make();
    Thread sender = Spawn([c]() mutable {
      Scope s("sender");
      c.Send(FreshList(s));
      Local list = FreshList(s);
      SelectCase cases[] = {{SelectCase::kSend, c, list}};
      int i = Select(cases, nullptr);
      return s.Escape(s.Fixnum(i));
    });
    int failures = 0;
    for (int round = 0; round < 2; ++round) {
      weft::SleepFor(absl::Milliseconds(20));  // the sender blocks
      Collect(0);
      Collect();
      Scope each(scope, "round");
      std::optional<Local> v = c.Recv();
      if (!v || Sum(*v) != kSum) ++failures;
    }
    if (FixnumValue(sender.Join()) != 0) ++failures;
    return failures;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
}

// Buffered values are visited through the channel: many lists, several collections
// of both generations between the sends and the receives, every one intact.
TEST_P(ChannelWorkersTest, BufferedValuesMoveWithCollections) {
  auto rt = Make(GetParam());
  auto r = rt->Run([] {
    Scope scope("main");
    constexpr int kBuffered = 64;
    Channel c = Channel::Make(kBuffered);
    for (int i = 0; i < kBuffered; ++i) {
      Scope each(scope, "send");
      c.Send(FreshList(each));
      if (i % 16 == 0) Collect(0);
    }
    Collect(0);
    Collect();
    int failures = 0;
    for (int i = 0; i < kBuffered; ++i) {
      Scope each(scope, "recv");
      std::optional<Local> v = c.Recv();
      if (!v || Sum(*v) != kSum) ++failures;
    }
    return failures;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
}

// Receives on a closed and drained channel, by Recv and by Select, return nothing.
TEST_P(ChannelWorkersTest, ClosedChannelReceivesReturnNothing) {
  auto rt = Make(GetParam());
  auto r = rt->Run([] {
    Scope scope("main");
    Channel c = Channel::Make(4);
    c.Send(scope.Fixnum(5));
    c.Close();
    std::optional<Local> first = c.Recv();
    if (!first || FixnumValue(*first) != 5) return 1;
    if (c.Recv().has_value()) return 2;
    SelectCase cases[] = {{SelectCase::kRecv, c, Local()}};
    std::optional<Local> got = scope.Fixnum(1);
    if (Select(cases, &got) != 0 || got.has_value()) return 3;
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
}

INSTANTIATE_TEST_SUITE_P(Workers, ChannelWorkersTest, ::testing::Values(1, 2, 4));

// weft.h allows channel operations only on green threads; with one worker a
// channel's lock is unshared ([threads.inv.unshared-lock]), so another OS thread's
// use would race with the worker. Checked builds catch it (a thread lookup per
// operation is too dear for the others).
TEST(ChannelTest, UseFromAnotherOsThreadIsATypeErrorInCheckedBuilds) {
#ifndef WEFT_CHECKED
  GTEST_SKIP() << "only checked builds look for the green thread";
#else
  auto rt = Make(1);
  auto r = rt->Run([] {
    Channel c = Channel::Make(1);
    std::string what;
    std::thread other([&] {
      try {
        c.Close();
      } catch (const TypeError& e) {
        what = e.what();
      }
    });
    other.join();
    c.Close();  // still open: the other thread's Close was refused
    return what.find("outside a green thread") != std::string::npos ? 0 : 1;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
#endif
}

}  // namespace
}  // namespace weft
