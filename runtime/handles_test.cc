// Tests of the fast handle API ([runtime.handles.fast]): Scope::New and friends,
// Scope(parent, name), ConsInto / CarInto / CdrInto, across collections (every young
// object moves under --config=checked), segment boundaries of the managed stack,
// overflow, migration between workers. Parameterised over 1, 2 and 4 workers.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/weft.h"

namespace weft {
namespace {

class HandlesTest : public ::testing::TestWithParam<int> {
 protected:
  std::unique_ptr<Runtime> Make(Options o = {}) {
    o.workers = GetParam();
    auto rt = Runtime::Create(o);
    EXPECT_TRUE(rt.ok()) << rt.status();
    return std::move(*rt);
  }
};

// The list (n-1 ... 0) built with ConsInto into one Local: no slot per step.
void BuildListInto(int n, Local out) {
  Scope scope("build");
  Local tmp = scope.Nil();
  out.SetValue(tmp.get());
  for (int i = 0; i < n; ++i) {
    tmp.SetValue(FixnumBits(i));
    ConsInto(tmp, out, out);  // out may name an argument's slot
  }
}

int64_t SumListWithCarInto(Local list) {
  Scope scope("sum");
  Local p = scope.New(list.get());
  Local x = scope.Nil();
  int64_t sum = 0;
  while (!p.IsNil()) {
    CarInto(p, x);
    sum += FixnumValue(x);
    CdrInto(p, p);
  }
  return sum;
}

// The inline pair test reads the first word of the object: a pair's car (any Value)
// passes; a header (0b111) or a moved object's forwarding word (0b101) does not.
TEST(InlinePairTest, TheFirstWordsTagTellsAPairFromEverythingElse) {
  alignas(8) uint64_t words[2] = {0, 0};
  const Value ref{reinterpret_cast<uint64_t>(words) + internal::kPointerTag};
  for (uint64_t car : {uint64_t{0}, uint64_t{2} << 1, internal::kNilRaw, internal::kFalseRaw,
                       internal::kUnboundRaw, reinterpret_cast<uint64_t>(words) + 1}) {
    words[0] = car;
    EXPECT_TRUE(internal::IsPair(ref)) << car;
    words[1] = 0x1234 << 1;
    EXPECT_EQ(internal::PairField(ref, 0).raw, car);
    EXPECT_EQ(internal::PairField(ref, 1).raw, uint64_t{0x1234} << 1);
  }
  words[0] = (uint64_t{3} << 32) | (3 << 3) | 7;  // a vector's header
  EXPECT_FALSE(internal::IsPair(ref));
  words[0] = reinterpret_cast<uint64_t>(words) | 5;  // forwarded: the pair moved
  EXPECT_FALSE(internal::IsPair(ref));
  EXPECT_FALSE(internal::IsPair(Value{internal::kNilRaw}));
}

TEST_P(HandlesTest, ScopeMembersMatchTheFreeFunctions) {
  auto rt = Make();
  auto r = rt->Run([] {
    Scope scope("main");
    Local nil = scope.Nil();
    EXPECT_TRUE(nil.IsNil());
    EXPECT_TRUE(nil.Eq(Local::Nil()));
    Local seven = scope.Fixnum(7);
    EXPECT_EQ(FixnumValue(seven), 7);
    EXPECT_EQ(scope.Fixnum(kFixnumMin).get().raw, Fixnum(kFixnumMin).get().raw);
    Local pair = scope.Cons(seven, nil);
    EXPECT_TRUE(pair.IsPair());
    EXPECT_FALSE(seven.IsPair());
    EXPECT_FALSE(nil.IsPair());
    EXPECT_TRUE(pair.Is(Kind::kPair));
    EXPECT_EQ(FixnumValue(scope.Car(pair)), 7);
    EXPECT_TRUE(scope.Cdr(pair).IsNil());
    EXPECT_TRUE(scope.New(pair.get()).Eq(pair));
    EXPECT_TRUE(Boolean(true).IsTrue());
    EXPECT_FALSE(Boolean(false).IsTrue());
    EXPECT_TRUE(nil.IsTrue());
    // Everything above stays valid across collections: the slots are roots.
    Collect(0);
    Collect(-1);
    EXPECT_EQ(FixnumValue(Car(pair)), 7);
    EXPECT_TRUE(Cdr(pair).IsNil());
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_P(HandlesTest, IntoFunctionsSurviveCollections) {
  Options o;
  o.gc_stress_every = 7;  // a collection every 7 allocations: each moves the list
  auto rt = Make(o);
  auto r = rt->Run([] {
    Scope scope("main");
    Local list = scope.Nil();
    BuildListInto(2000, list);
    EXPECT_EQ(SumListWithCarInto(list), 2000LL * 1999 / 2);
    Collect(-1);
    EXPECT_EQ(SumListWithCarInto(list), 2000LL * 1999 / 2);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_P(HandlesTest, TypeErrorsOfTheInlinePathsNameTheFunction) {
  auto rt = Make();
  auto r = rt->Run([] {
    Scope scope("main");
    Local three = scope.Fixnum(3);
    Local out = scope.Nil();
    auto expect_error = [](auto fn, const char* message) {
      try {
        fn();
        ADD_FAILURE() << "no TypeError: " << message;
      } catch (const TypeError& e) {
        EXPECT_STREQ(e.what(), message);
      }
    };
    expect_error([&] { CarInto(three, out); }, "weft: car: expected a pair, got a fixnum");
    expect_error([&] { CdrInto(out, out); }, "weft: cdr: expected a pair, got a nil");
    expect_error([&] { scope.Car(MakeString("s")); },
                 "weft: car: expected a pair, got a string");
    expect_error([&] { scope.Cdr(MakeVector(1, out)); },
                 "weft: cdr: expected a pair, got a vector");
    EXPECT_THROW(scope.Fixnum(kFixnumMax + 1), TypeError);
    EXPECT_THROW(FixnumBits(kFixnumMin - 1), TypeError);
    EXPECT_TRUE(out.IsNil());  // a failed Into leaves `out` alone
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// Frames at every offset around the managed stack's segment boundaries (the first
// segment is 512 bytes, later ones a block), escaping or not: the stack must come
// back exactly, and escaped values must be intact after a collection.
TEST_P(HandlesTest, ScopesAcrossSegmentBoundaries) {
  auto rt = Make();
  auto r = rt->Run([] {
    Scope scope("main");
    Local marker = scope.Fixnum(-1);
    for (int pad = 0; pad < 200; ++pad) {
      Scope outer(scope, "outer");
      std::vector<Local> padding;
      for (int i = 0; i < pad; ++i) padding.push_back(outer.Fixnum(i));
      Local escaped;
      Local again;
      {
        Scope inner(outer, "inner");
        Local l = inner.Cons(inner.Fixnum(pad), inner.Nil());
        // Many locals: the frame's own slots cross into the next segment.
        for (int i = 0; i < 5000; ++i) inner.Fixnum(i);
        escaped = inner.Escape(l);
      }
      {
        Scope inner(outer, "inner-no-escape");
        Local l = inner.Fixnum(pad);
        EXPECT_EQ(FixnumValue(l), pad);
      }
      again = outer.Fixnum(pad + 1);  // takes the slot the second scope left
      Collect(0);
      EXPECT_EQ(FixnumValue(Car(escaped)), pad);
      EXPECT_EQ(FixnumValue(again), pad + 1);
      for (int i = 0; i < pad; ++i) EXPECT_EQ(FixnumValue(padding[i]), i);
    }
    EXPECT_EQ(FixnumValue(marker), -1);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// A loop of scopes runs in constant stack: a million scopes with locals (more than the
// maximum stack could hold if any leaked) and no overflow.
TEST_P(HandlesTest, ScopesPopExactly) {
  Options o;
  o.managed_stack_max_bytes = 64 << 10;
  auto rt = Make(o);
  auto r = rt->Run([] {
    Scope scope("main");
    for (int i = 0; i < 1000000; ++i) {
      Scope step(scope, "step");
      step.Fixnum(i);
      Scope esc(step, "escaping");
      esc.Escape(esc.Fixnum(i));
    }
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_P(HandlesTest, OverflowThroughTheFastPathsIsRecoverable) {
  Options o;
  o.managed_stack_max_bytes = 64 << 10;
  auto rt = Make(o);
  auto r = rt->Run([] {
    Scope scope("main");
    int caught = 0;
    try {
      Scope deep(scope, "deep");
      for (int i = 0; i < 1000000; ++i) deep.Fixnum(i);
    } catch (const StackOverflow&) {
      ++caught;
    }
    {
      // Nested scopes, each from its parent, until the stack is full; popped in order.
      std::vector<std::unique_ptr<Scope>> scopes;
      try {
        for (;;) {
          const Scope& parent = scopes.empty() ? scope : *scopes.back();
          scopes.push_back(std::make_unique<Scope>(parent, "level"));
          scopes.back()->Nil();
        }
      } catch (const StackOverflow&) {
        ++caught;
      }
      EXPECT_GT(scopes.size(), 100u);
      while (!scopes.empty()) scopes.pop_back();
    }
    EXPECT_EQ(caught, 2);
    Local list = scope.Nil();
    BuildListInto(100, list);
    EXPECT_EQ(SumListWithCarInto(list), 4950);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// A Scope may be used after its thread migrated to another worker (it holds the
// thread's stack, not the worker's): allocate, yield, allocate, on many threads.
TEST_P(HandlesTest, ScopesFollowTheirThreadAcrossWorkers) {
  Options o;
  o.gc_stress_every = 101;
  auto rt = Make(o);
  auto r = rt->Run([] {
    Scope scope("main");
    std::vector<Thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.push_back(Spawn([t] {
        Scope s("worker");
        Local list = s.Nil();
        Local x = s.Nil();
        for (int i = 0; i < 3000; ++i) {
          x.SetValue(FixnumBits(i + t));
          ConsInto(x, list, list);
          if (i % 100 == 0) Yield();
        }
        return s.Escape(s.Fixnum(SumListWithCarInto(list)));
      }, {.name = absl::StrCat("t", t)}));
    }
    for (int t = 0; t < 8; ++t) {
      EXPECT_EQ(FixnumValue(threads[t].Join()), 3000LL * 2999 / 2 + 3000LL * t);
    }
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_P(HandlesTest, FastScopesAppearInTheDump) {
  auto rt = Make();
  auto r = rt->Run([] {
    Scope scope("main");
    Scope inner(scope, "fast-inner");
    inner.SetInfo(42);
    inner.Fixnum(12345);
    DumpOptions options;
    options.native_backtraces = false;
    std::string dump = DumpStacks(options);
    EXPECT_NE(dump.find("fast-inner"), std::string::npos) << dump;
    EXPECT_NE(dump.find("12345"), std::string::npos) << dump;
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// [runtime.handles.raw]: raw reads see what the handle reads see, refuse non-pairs
// with TypeError, and leave the thread free to switch once the scope ends.
TEST_P(HandlesTest, RawReadsInANoSafepointScopeAgreeWithHandleReads) {
  auto rt = Make();
  auto r = rt->Run([] {
    Scope scope("main");
    Local list = scope.Nil();
    BuildListInto(1000, list);
    int64_t sum = 0;
    int n = 0;
    {
      NoSafepointScope no_safepoint;
      for (Value v = list.get(); !raw::IsNil(v); v = raw::Cdr(v)) {
        EXPECT_TRUE(raw::IsPair(v));
        const Value x = raw::Car(v);
        EXPECT_TRUE(raw::IsFixnum(x));
        sum += static_cast<int64_t>(x.raw) >> 1;
        ++n;
      }
      NoSafepointScope nested;  // scopes nest
      EXPECT_THROW(raw::Car(Value{internal::kNilRaw}), TypeError);
      EXPECT_THROW(raw::Cdr(FixnumBits(3)), TypeError);
      EXPECT_FALSE(raw::IsPair(FixnumBits(3)));
    }
    EXPECT_EQ(n, 1000);
    EXPECT_EQ(sum, SumListWithCarInto(list));
    Local vec = MakeVector(5, scope.Fixnum(9));
    VectorSet(vec, 4, list);
    {
      NoSafepointScope no_safepoint;
      const Value v = vec.get();
      EXPECT_TRUE(raw::IsVector(v));
      EXPECT_FALSE(raw::IsVector(list.get()));
      EXPECT_FALSE(raw::IsVector(FixnumBits(1)));
      EXPECT_FALSE(raw::IsPair(v));
      EXPECT_EQ(raw::VectorLength(v), 5u);
      EXPECT_EQ(raw::VectorRef(v, 0).raw, FixnumBits(9).raw);
      EXPECT_EQ(raw::VectorRef(v, 4).raw, list.get().raw);
      EXPECT_THROW(raw::VectorRef(v, 5), TypeError);
      EXPECT_THROW(raw::VectorLength(list.get()), TypeError);
      EXPECT_THROW(raw::Car(v), TypeError);
    }
    Yield();  // the scopes are over: switching is allowed again
    Collect(0);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// A collection that a thread on another worker asks for waits until the raw stretch
// ends: the raw Value of a young pair stays readable for the whole scope, though a
// young collection moves (or, under --config=checked, moves and poisons) the pair.
// The holder leaves its scope only once the stop is requested (it reads the
// process-wide request count, what the inline Safepoint reads), so the collection
// is pending during the reads; a scope that let it through would make the reads
// after it fail (raw::Car throws for a moved pair).
TEST(NoSafepointScopeTest, ACollectionWaitsForTheScopeToEnd) {
  Options o;
  o.workers = 2;
  o.control_socket = false;
  auto rt = Runtime::Create(o);
  ASSERT_TRUE(rt.ok()) << rt.status();
  std::atomic<bool> holding{false}, collected{false}, timed_out{false};
  std::atomic<int64_t> car_in_scope{-1};
  uint64_t young_before = 0, young_after = 0;
  auto r = (*rt)->Run([&] {
    Scope scope("main");
    Thread holder = Spawn(
        [&]() -> Local {
          Scope s("holder");
          Local young = s.Cons(s.Fixnum(7), s.Nil());
          {
            NoSafepointScope no_safepoint;
            const Value v = young.get();
            holding.store(true);
            const absl::Time deadline = absl::Now() + absl::Seconds(20);
            while (internal::weft_stop_requests_in_process.load() == 0) {
              if (absl::Now() > deadline) {
                timed_out.store(true);
                break;
              }
            }
            for (int i = 0; i < 1000; ++i) {
              EXPECT_FALSE(collected.load());
              car_in_scope.store(static_cast<int64_t>(raw::Car(v).raw) >> 1);
            }
          }
          Safepoint();  // the collection runs here
          EXPECT_EQ(FixnumValue(s.Car(young)), 7);
          return s.Nil();
        },
        {.name = "holder"});
    // The holder keeps its worker (it spins without a safepoint) from the time it
    // runs, so if it took this one, the other worker steals this thread.
    while (!holding.load()) Yield();
    young_before = GetStats().collections[0];
    Collect(0);
    young_after = GetStats().collections[0];
    collected.store(true);
    holder.Join();
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(timed_out.load()) << "the collection was never requested";
  EXPECT_EQ(car_in_scope.load(), 7);
  EXPECT_EQ(young_after, young_before + 1);
}

// Every way of leaving the CPU inside a NoSafepointScope aborts with one message
// ([threads.inv.no-switch]); allocation does under --config=checked.
void RunOnOneWorker(void (*body)()) {
  Options o;
  o.workers = 1;
  o.control_socket = false;
  auto rt = Runtime::Create(o);
  if (!rt.ok()) return;
  auto r = (*rt)->Run([body] {
    Scope scope("main");
    body();
    return 0;
  });
  (void)r;
}

constexpr char kSwitchInScope[] =
    "a green thread blocked, yielded or stopped inside a NoSafepointScope";

TEST(NoSafepointScopeDeathTest, YieldSleepAndCollectInsideAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(RunOnOneWorker([] {
                 NoSafepointScope no_safepoint;
                 Yield();
               }),
               kSwitchInScope);
  EXPECT_DEATH(RunOnOneWorker([] {
                 NoSafepointScope no_safepoint;
                 weft::SleepFor(absl::Milliseconds(1));
               }),
               kSwitchInScope);
  EXPECT_DEATH(RunOnOneWorker([] {
                 NoSafepointScope no_safepoint;
                 Collect(0);
               }),
               kSwitchInScope);
}

TEST(NoSafepointScopeDeathTest, AllocationInsideAbortsInCheckedBuilds) {
#ifndef WEFT_CHECKED
  GTEST_SKIP() << "checked builds only: elsewhere an allocation that collects aborts";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(RunOnOneWorker([] {
                 Local nil = Local::Nil();
                 NoSafepointScope no_safepoint;
                 Cons(nil, nil);
               }),
               "allocation inside a NoSafepointScope");
  EXPECT_DEATH(RunOnOneWorker([] {
                 Local nil = Local::Nil();
                 NoSafepointScope no_safepoint;
                 ConsInto(nil, nil, nil);
               }),
               "allocation inside a NoSafepointScope");
  EXPECT_DEATH(RunOnOneWorker([] {
                 NoSafepointScope no_safepoint;
                 MakeString("x");
               }),
               "allocation inside a NoSafepointScope");
}

INSTANTIATE_TEST_SUITE_P(Workers, HandlesTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return absl::StrCat(info.param, "w"); });

}  // namespace
}  // namespace weft
