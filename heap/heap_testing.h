// heap_testing.h: helpers for heap tests.
//
// VectorRoots holds the test's roots in a std::vector<Value>; TestHost runs
// collections (followed by Verify) when the heap's slow path asks; TestSeed picks a
// random seed, or takes --seed=N from the command line or WEFT_SEED from the
// environment, and prints it.
#ifndef WEFT_HEAP_HEAP_TESTING_H_
#define WEFT_HEAP_HEAP_TESTING_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "heap/arena.h"
#include "heap/heap.h"
#include "runtime/check.h"

namespace weft::heap::testing {

// VectorRoots: strong roots in `roots`; weak slots in `weak` (a dead one becomes
// #f and counts in `weak_died`).
class VectorRoots final : public RootSource {
 public:
  std::vector<Value> roots;
  std::vector<Value> weak;
  int weak_died = 0;
  void VisitRoots(RootVisitor& v) override {
    if (!roots.empty()) v.VisitRange(roots.data(), roots.data() + roots.size());
  }
  void VisitWeakRoots(WeakRootVisitor& v) override {
    for (Value& w : weak) {
      if (!v.Visit(&w)) {
        w = Value::False();
        ++weak_died;
      }
    }
  }
};

class TestHost final : public CollectionHost {
 public:
  TestHost(Heap* heap, RootSource* roots) : heap_(heap), roots_(roots) {}
  void RequestCollection(int generation) override {
    ++requests[generation];
    heap_->Collect(generation, *roots_);
    heap_->Verify(roots_);
  }
  // [heap.poll]: counts polls; with young_every_nth_poll > 0, every nth poll runs a
  // young collection there, as the runtime's would for another thread's request.
  void Poll() override {
    ++polls;
    if (young_every_nth_poll > 0 && polls % young_every_nth_poll == 0) {
      heap_->Collect(0, *roots_);
      heap_->Verify(roots_);
      ++collected_at_poll;
    }
  }
  int requests[kMaxGenerations] = {};
  int young_every_nth_poll = 0;
  int polls = 0;
  int collected_at_poll = 0;

 private:
  Heap* heap_;
  RootSource* roots_;
};

// Sanitizer builds run the long tests with fewer steps.
#if defined(WEFT_TSAN)
inline constexpr int kSanitizerSlowdown = 4;
#elif defined(WEFT_ASAN)
inline constexpr int kSanitizerSlowdown = 3;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

inline uint32_t TestSeed() {
  uint32_t seed = std::random_device{}();
  if (const char* env = std::getenv("WEFT_SEED"); env != nullptr && *env != '\0') {
    seed = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
  }
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(cmdline, arg, '\0')) {
    if (arg.rfind("--seed=", 0) == 0) seed = static_cast<uint32_t>(std::stoul(arg.substr(7)));
  }
  std::printf("seed %u (replay with --seed=%u or WEFT_SEED=%u)\n", seed, seed, seed);
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

inline ArenaOptions TestArenaOptions() {
  ArenaOptions o;
  o.reserve_bytes = size_t{1} << 30;
  o.cached_free_bytes = size_t{4} << 20;
  return o;
}

inline HeapOptions SmallHeapOptions() {
  HeapOptions o;
  o.nursery_bytes = size_t{256} << 10;
  o.generations = 2;
  o.initial_bytes = size_t{1} << 20;
  o.soft_limit_bytes = size_t{256} << 20;
  o.hard_limit_bytes = size_t{512} << 20;
  return o;
}

// TestHeap: an arena and a heap over it, destroyed in order.
struct TestHeap {
  explicit TestHeap(const HeapOptions& options = SmallHeapOptions(),
                    const ArenaOptions& arena_options = TestArenaOptions()) {
    auto a = Arena::Create(arena_options);
    EXPECT_TRUE(a.ok()) << a.status();
    arena.reset(*a);
    auto h = Heap::Create(options, arena.get());
    EXPECT_TRUE(h.ok()) << h.status();
    heap = std::move(*h);
  }
  ~TestHeap() {
    heap.reset();
    arena->Verify();
    EXPECT_EQ(arena->Stats().blocks_in_use, 0u) << "the heap leaked blocks";
  }
  std::unique_ptr<Arena> arena;
  std::unique_ptr<Heap> heap;
};

inline Value V(Object* o) { return Value::FromObject(o); }

// NonMovingNurseryTest: a fixture with a TestHeap made with `options`, one mutator and
// a VectorRoots, whose Collect verifies the heap after the collection. Skipped in
// checked builds, which move every nursery object at each collection: its tests are
// about objects that stay where they are (promotion in place, the parallel trace).
class NonMovingNurseryTest : public ::testing::Test {
 protected:
  explicit NonMovingNurseryTest(const HeapOptions& options) : t_(options) {}
  void SetUp() override {
    if (WEFT_CHECKED_BUILD) GTEST_SKIP() << "checked builds move every nursery object";
    m_ = t_.heap->CreateMutator();
  }
  void TearDown() override {
    if (m_ != nullptr) t_.heap->DestroyMutator(m_);
  }
  void Collect(int gen) {
    t_.heap->Collect(gen, roots_);
    t_.heap->Verify(&roots_);
  }
  TestHeap t_;
  VectorRoots roots_;
  Mutator* m_ = nullptr;
};

}  // namespace weft::heap::testing

#endif  // WEFT_HEAP_HEAP_TESTING_H_
