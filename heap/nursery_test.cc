// nursery_test.cc: the adaptive nursery ([heap.nursery.adaptive]) grows while young
// collections find much of it alive and shrinks back when little survives, and its
// blocks stay committed between collections ([heap.nursery.spare]).
#include <algorithm>

#include <gtest/gtest.h>

#include "heap/heap.h"
#include "heap/heap_testing.h"

namespace weft::heap {
namespace {

using testing::SmallHeapOptions;
using testing::TestArenaOptions;
using testing::TestHeap;
using testing::TestHost;
using testing::V;
using testing::VectorRoots;

constexpr size_t kMin = size_t{256} << 10;  // SmallHeapOptions().nursery_bytes
constexpr size_t kMax = size_t{2} << 20;

// Growth by survival only: no pause cap, so that a slow build (sanitizers, a loaded
// machine) cannot hold the nursery back.
HeapOptions AdaptiveOptions() {
  HeapOptions o = SmallHeapOptions();
  o.max_nursery_bytes = kMax;
  o.young_pause_target_ms = 0;
  return o;
}

// KeepVectors allocates `n` 1 KiB vectors chained from roots[0]: all of them survive.
void KeepVectors(Mutator* m, VectorRoots& roots, int n) {
  for (int i = 0; i < n; ++i) {
    Object* v = m->AllocateVector(127, Value::Fixnum(i));
    ASSERT_NE(v, nullptr);
    v->at(0) = roots.roots[0];
    roots.roots[0] = V(v);
  }
}

// DropPairs allocates `n` pairs that die at once.
void DropPairs(Mutator* m, int n) {
  for (int i = 0; i < n; ++i) {
    ASSERT_NE(m->AllocatePair(Value::Fixnum(i), Value::Nil()), nullptr);
  }
}

// A heap with one root (roots.roots[0], nil at first), its host and one mutator;
// verified and torn down at the end of every test.
struct NurseryHeap {
  explicit NurseryHeap(const HeapOptions& options,
                       const ArenaOptions& arena_options = TestArenaOptions())
      : t(options, arena_options), host(t.heap.get(), &roots) {
    roots.roots.push_back(Value::Nil());
    t.heap->SetHost(&host);
    m = t.heap->CreateMutator();
  }
  ~NurseryHeap() {
    t.heap->Verify(&roots);
    t.heap->DestroyMutator(m);
  }
  HeapStats Stats() { return t.heap->Stats(); }

  TestHeap t;
  VectorRoots roots;
  TestHost host;
  Mutator* m = nullptr;
};

TEST(NurseryTest, GrowsWhenSurvivalIsHighAndShrinksBack) {
  NurseryHeap h(AdaptiveOptions());
  EXPECT_EQ(h.Stats().nursery_bytes, kMin);

  KeepVectors(h.m, h.roots, 8 << 10);  // 8 MiB, all live: survival near 100%
  HeapStats grown = h.Stats();
  EXPECT_EQ(grown.nursery_bytes, kMax);
  EXPECT_GE(grown.nursery_resizes, 3u);  // 256 KiB -> 512 KiB -> 1 MiB -> 2 MiB

  h.roots.roots[0] = Value::Nil();
  DropPairs(h.m, 3 << 19);  // 24 MiB of garbage: survival near 0
  HeapStats shrunk = h.Stats();
  EXPECT_EQ(shrunk.nursery_bytes, kMin);
  EXPECT_GE(shrunk.nursery_resizes, grown.nursery_resizes + 3);
  EXPECT_LE(shrunk.nursery_spare_blocks * kBlockSize, kMin);
}

// The pause cap: a nursery of kMax (2 MiB) fully alive would be within a 0.1 ms
// pause only at a copy rate of 20 MiB per ms (20 GiB/s), far beyond any collector
// here, so the measured rate must hold the nursery below kMax however fast or slow
// the machine is; without the cap the same program grows it to kMax (above).
TEST(NurseryTest, PauseTargetStopsGrowth) {
  HeapOptions o = AdaptiveOptions();
  o.young_pause_target_ms = 0.1;
  NurseryHeap h(o);
  KeepVectors(h.m, h.roots, 8 << 10);  // 8 MiB, all live
  HeapStats s = h.Stats();
  EXPECT_GT(s.young_copy_bytes_per_ms, 0);
  EXPECT_LT(s.nursery_bytes, kMax);
  EXPECT_LE(static_cast<double>(s.nursery_bytes),
            std::max(0.1 * s.young_copy_bytes_per_ms, static_cast<double>(kMin)));
  EXPECT_GE(s.collections[0], 4u);
}

TEST(NurseryTest, FixedWithoutMaxNurseryBytes) {
  NurseryHeap h(SmallHeapOptions());
  KeepVectors(h.m, h.roots, 4 << 10);
  EXPECT_EQ(h.Stats().nursery_bytes, kMin);
  EXPECT_EQ(h.Stats().nursery_resizes, 0u);
}

TEST(NurseryTest, LoweringTheSoftLimitShrinksTheNursery) {
  NurseryHeap h(AdaptiveOptions());
  KeepVectors(h.m, h.roots, 8 << 10);
  ASSERT_EQ(h.Stats().nursery_bytes, kMax);
  size_t heap_bytes = h.Stats().heap_bytes;
  h.t.heap->SetSoftLimit(heap_bytes + kMax);  // room for half the grown nursery
  HeapStats s = h.Stats();
  EXPECT_LE(s.nursery_bytes, kMax / 2);
  EXPECT_LE(s.nursery_spare_blocks * kBlockSize, s.nursery_bytes);
}

// [heap.nursery.spare]: with an arena that caches no free blocks at all, a heap that
// returned its emptied nursery to the arena would have it decommitted at every young
// collection (and re-faulted by the next allocations); the heap keeps it instead.
TEST(NurseryTest, BlocksAreNotDecommittedBetweenCollections) {
  ArenaOptions ao = TestArenaOptions();
  ao.cached_free_bytes = 0;
  NurseryHeap h(SmallHeapOptions(), ao);
  // 23.25 nurseries of garbage through a 256 KiB nursery (16-byte pairs), ending a
  // quarter of the way into one, so most of the last emptied nursery is still spare.
  DropPairs(h.m, 93 << 12);
  HeapStats s = h.Stats();
  EXPECT_GE(s.collections[0], 20u);
  // The emptied nursery is kept as spare blocks (less the ones allocation has
  // taken back since the last collection).
  EXPECT_GE(s.nursery_spare_blocks, kMin / kBlockSize / 2);
  EXPECT_LE(s.nursery_spare_blocks, kMin / kBlockSize);
  ArenaStats a = h.t.arena->Stats();
  EXPECT_EQ(a.decommitted_blocks, 0u) << "nursery blocks were returned to the OS";
  // Nor kept by the arena for reuse ([heap.arena.retain] would hide a heap that
  // freed its emptied nursery blocks to the arena).
  EXPECT_EQ(a.free_committed_blocks, 0u) << "nursery blocks were freed to the arena";
  // Every nursery block ever used is one of the nursery's own: the working set does
  // not wander through the arena.
  EXPECT_LE(a.blocks_by_type[static_cast<int>(BlockType::kYoung)] * kBlockSize, 2 * kMin);
}

}  // namespace
}  // namespace weft::heap
