// test_util.h: shared fixtures for threads/ tests.
//
// SchedulerTest is parameterised over the worker count; it owns an arena and checks
// in TearDown that every native and managed stack went back (a leak test for every
// test). Seed() prints the seed of a stress test and honours WEFT_SEED.
#ifndef WEFT_THREADS_TEST_UTIL_H_
#define WEFT_THREADS_TEST_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <gtest/gtest.h>

#include "heap/arena.h"
#include "threads/scheduler.h"

namespace weft::threads::testing {

#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#if defined(WEFT_TSAN)
inline constexpr int kScaleDown = 20;
#elif defined(WEFT_ASAN)
inline constexpr int kScaleDown = 5;
#else
inline constexpr int kScaleDown = 1;
#endif

inline uint64_t Seed() {
  uint64_t seed = 0;
  if (const char* s = std::getenv("WEFT_SEED")) {
    seed = std::strtoull(s, nullptr, 0);
  } else {
    seed = static_cast<uint64_t>(::testing::UnitTest::GetInstance()->random_seed()) * 2654435761u +
           static_cast<uint64_t>(std::time(nullptr));
  }
  std::printf("seed: WEFT_SEED=%llu\n", static_cast<unsigned long long>(seed));
  return seed;
}

class SchedulerTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    heap::ArenaOptions ao;
    ao.reserve_bytes = size_t{64} << 30;
    auto a = heap::Arena::Create(ao);
    ASSERT_TRUE(a.ok()) << a.status();
    arena_.reset(*a);
  }
  void TearDown() override {
    sched_.reset();
    if (arena_) {
      heap::ArenaStats s = arena_->Stats();
      EXPECT_EQ(s.blocks_by_type[static_cast<int>(heap::BlockType::kNativeStack)], 0u)
          << "native stacks leaked";
      EXPECT_EQ(s.blocks_by_type[static_cast<int>(heap::BlockType::kManagedStack)], 0u)
          << "managed stacks leaked";
      arena_->Verify();
    }
  }
  Scheduler& Make(SchedulerOptions o = {}) {
    o.workers = GetParam();
    auto s = Scheduler::Create(arena_.get(), o);
    EXPECT_TRUE(s.ok()) << s.status();
    sched_ = std::move(*s);
    return *sched_;
  }
  absl::Status RunMain(std::function<int64_t()> main, SchedulerOptions o = {}) {
    return Make(o).Run(std::move(main));
  }

  std::unique_ptr<heap::Arena> arena_;
  std::unique_ptr<Scheduler> sched_;
};

inline std::string WorkersName(const ::testing::TestParamInfo<int>& info) {
  return "workers" + std::to_string(info.param);
}

}  // namespace weft::threads::testing

#endif  // WEFT_THREADS_TEST_UTIL_H_
