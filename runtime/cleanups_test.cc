// Tests of AddCleanup ([runtime.cleanup], [heap.weak]): cleanups run exactly once,
// only for unreachable objects, after explicit and allocation-triggered collections,
// for objects that moved and were promoted, and under concurrent registration.
// Parameterised over 1, 2 and 4 workers.
#include <atomic>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/weft.h"

namespace weft {
namespace {

class CleanupsTest : public ::testing::TestWithParam<int> {
 protected:
  std::unique_ptr<Runtime> Make(Options o = {}) {
    o.workers = GetParam();
    o.control_socket = false;
    auto rt = Runtime::Create(o);
    EXPECT_TRUE(rt.ok()) << rt.status();
    return std::move(*rt);
  }
};

TEST_P(CleanupsTest, RunOnceForUnreachableObjectsOnly) {
  auto rt = Make();
  std::vector<int> runs(4, 0);
  auto r = rt->Run([&] {
    Scope scope("main");
    Local kept = MakeVector(3, Fixnum(1));
    AddCleanup(kept, [&] { ++runs[0]; });
    {
      Scope s("dropped");
      Local a = Cons(Fixnum(1), Local::Nil());
      AddCleanup(a, [&] { ++runs[1]; });
      AddCleanup(a, [&] { ++runs[2]; });  // several cleanups for one object
      Local b = MakeString("garbage");
      AddCleanup(b, [&] { ++runs[3]; });
    }
    EXPECT_EQ(GetStats().cleanups_registered, 4u);
    Collect(0);
    EXPECT_EQ(runs, (std::vector<int>{0, 1, 1, 1}));
    // The kept vector moves (young, then promoted) and stays registered.
    for (int i = 0; i < 4; ++i) Collect(0);
    Collect(-1);
    EXPECT_EQ(runs, (std::vector<int>{0, 1, 1, 1}));
    EXPECT_EQ(FixnumValue(VectorRef(kept, 2)), 1);
    Stats st = GetStats();
    EXPECT_EQ(st.cleanups_registered, 1u);
    EXPECT_EQ(st.cleanups_run, 3u);
    // Now old: a young collection does not condemn it, a full one does.
    kept.SetValue(Local::Nil().get());
    Collect(0);
    EXPECT_EQ(runs[0], 0);
    Collect(-1);
    EXPECT_EQ(runs[0], 1);
    Collect(-1);
    EXPECT_EQ(runs, (std::vector<int>{1, 1, 1, 1}));
    EXPECT_EQ(GetStats().cleanups_registered, 0u);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_P(CleanupsTest, ImmediatesAreRefused) {
  auto rt = Make();
  auto r = rt->Run([&] {
    Scope scope("main");
    EXPECT_THROW(AddCleanup(Fixnum(3), [] {}), TypeError);
    EXPECT_THROW(AddCleanup(Local::Nil(), [] {}), TypeError);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// Collections the allocation slow path starts run cleanups too.
TEST_P(CleanupsTest, AllocationTriggeredCollectionsRunCleanups) {
  Options o;
  o.nursery_bytes = 1 << 20;
  auto rt = Make(o);
  std::atomic<int> ran{0};
  auto r = rt->Run([&] {
    Scope scope("main");
    for (int i = 0; i < 100; ++i) {
      Scope s("obj");
      AddCleanup(Cons(Fixnum(i), Local::Nil()), [&] { ran.fetch_add(1); });
    }
    for (int i = 0; i < 200000 && ran.load() < 100; ++i) {
      Scope s("garbage");
      MakeVector(8, Local::Nil());
    }
    EXPECT_EQ(ran.load(), 100);
    EXPECT_GE(GetStats().collections[0], 1u);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
}

// Many threads register cleanups for objects they keep or drop while allocating and
// collecting (every 64 allocations): every dropped object's cleanup runs exactly
// once, no kept object's cleanup runs before it is dropped, and in the end all ran.
TEST_P(CleanupsTest, ConcurrentRegistrationUnderCollections) {
  Options o;
  o.nursery_bytes = 1 << 20;
  o.gc_stress_every = 64;
  auto rt = Make(o);
#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
  constexpr int kThreads = 4, kObjects = 300;
#else
  constexpr int kThreads = 8, kObjects = 2000;
#endif
  std::vector<std::atomic<int>> runs(kThreads * kObjects);
  std::vector<std::atomic<bool>> dropped(kThreads * kObjects);
  std::atomic<int> early{0};
  auto r = rt->Run([&] {
    Scope scope("main");
    std::vector<Thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.push_back(Spawn(
          [&, t]() -> Local {
            Scope s("registrar");
            std::mt19937 rng(t);
            Local keep = MakeVector(kObjects, Local::Nil());
            for (int i = 0; i < kObjects; ++i) {
              Scope step("step");
              int id = t * kObjects + i;
              Local obj = Cons(Fixnum(id), Local::Nil());
              AddCleanup(obj, [&, id] {
                if (!dropped[id].load()) early.fetch_add(1);
                runs[id].fetch_add(1);
              });
              if (rng() % 2 == 0) {
                VectorSet(keep, i, obj);
              } else {
                dropped[id].store(true);
              }
              if (rng() % 16 == 0) Yield();
            }
            for (int i = 0; i < kObjects; ++i) {
              Scope check("check");
              Local v = VectorRef(keep, i);
              if (!v.IsNil()) {
                EXPECT_EQ(FixnumValue(Car(v)), t * kObjects + i);
              }
            }
            // Drop the kept ones too.
            for (int i = 0; i < kObjects; ++i) {
              if (!VectorRef(keep, i).IsNil()) dropped[t * kObjects + i].store(true);
            }
            return s.Escape(s.Nil());  // a Local of s itself would end with s
          },
          {.name = "registrar"}));
    }
    for (Thread& t : ts) t.Join();
    Collect(-1);
    Collect(-1);
    return 0;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(early.load(), 0);
  int wrong = 0;
  for (auto& n : runs) wrong += n.load() != 1;
  EXPECT_EQ(wrong, 0);
}

INSTANTIATE_TEST_SUITE_P(Workers, CleanupsTest, ::testing::Values(1, 2, 4));

}  // namespace
}  // namespace weft
