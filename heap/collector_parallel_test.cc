// [heap.collect.parallel]: a collection that promotes the nursery in place, traced by
// several threads, with old blocks evacuated by the collecting thread after them.
#include <gtest/gtest.h>

#include "heap/gc_workers.h"
#include "heap/heap.h"
#include "heap/heap_testing.h"
#include "runtime/check.h"

namespace weft::heap {
namespace {

using testing::TestHeap;
using testing::V;
using testing::VectorRoots;

HeapOptions ParallelOptions() {
  HeapOptions o = testing::SmallHeapOptions();
  o.nursery_bytes = size_t{1} << 20;
  o.promotion_age.fill(1);
  o.promote_in_place_percent = 10;
  o.gc_threads = 2;
  o.parallel_min_bytes = 0;
  return o;
}

class ParallelTraceTest : public testing::NonMovingNurseryTest {
 protected:
  ParallelTraceTest() : NonMovingNurseryTest(ParallelOptions()) {}
  // A complete tree of pairs of `depth` whose leaves' cars are leaf(i), i counting
  // leaves from the left, built in roots_.roots[slot].
  template <typename Leaf>
  void BuildTree(size_t slot, int depth, Leaf leaf) {
    std::vector<Value>& r = roots_.roots;
    r[slot] = Value::Nil();
    // Bottom up, level by level, in a managed vector (the roots vector may grow).
    size_t leaves = size_t{1} << depth;
    Object* level = m_->AllocateVector(leaves, Value::Nil());
    r.push_back(V(level));
    const size_t at = r.size() - 1;
    for (size_t i = 0; i < leaves; ++i) {
      Value car = leaf(i);
      Object* p = m_->AllocatePair(car, Value::Nil());
      r[at].AsObject()->at(i) = V(p);
    }
    for (size_t width = leaves / 2; width >= 1; width /= 2) {
      for (size_t i = 0; i < width; ++i) {
        Object* lv = r[at].AsObject();
        Object* p = m_->AllocatePair(lv->at(2 * i), lv->at(2 * i + 1));
        r[at].AsObject()->at(i) = V(p);
      }
    }
    r[slot] = r[at].AsObject()->at(0);
    r.pop_back();
  }
  // Walks the tree, calling check(i, car) at leaf i; returns the number of nodes.
  template <typename Check>
  size_t WalkTree(Value tree, int depth, Check check) {
    size_t nodes = 0, leaf = 0;
    std::vector<std::pair<Value, int>> stack = {{tree, depth}};
    while (!stack.empty()) {
      auto [v, d] = stack.back();
      stack.pop_back();
      ++nodes;
      Object* p = v.AsObject();
      EXPECT_EQ(p->kind(), ObjectKind::kPair);
      if (d == 0) {
        check(leaf++, p->car());
        continue;
      }
      stack.push_back({p->cdr(), d - 1});
      stack.push_back({p->car(), d - 1});
    }
    return nodes;
  }
};

TEST_F(ParallelTraceTest, TreesSurviveAndStayWhereTheyWere) {
  constexpr int kDepth = 13;  // 16k pairs, about 400 KiB
  roots_.roots.resize(2);
  BuildTree(0, kDepth, [](size_t i) { return Value::Fixnum(static_cast<int64_t>(i)); });
  Collect(0);  // dense; copied (no history yet)
  BuildTree(1, kDepth, [](size_t i) { return Value::Fixnum(static_cast<int64_t>(i) * 3); });
  Object* root = roots_.roots[1].AsObject();
  Collect(0);
  HeapStats s = t_.heap->Stats();
  EXPECT_EQ(s.parallel_collections, 1u);
  EXPECT_EQ(s.in_place_collections, 1u);
  EXPECT_EQ(roots_.roots[1].AsObject(), root);
  EXPECT_EQ(s.promoted_in_place_bytes, ((size_t{2} << kDepth) - 1) * PairBytes());
  for (int slot = 0; slot < 2; ++slot) {
    const int64_t scale = slot == 0 ? 1 : 3;
    EXPECT_EQ(WalkTree(roots_.roots[slot], kDepth,
                       [&](size_t i, Value car) {
                         ASSERT_EQ(car.FixnumValue(), static_cast<int64_t>(i) * scale);
                       }),
              (size_t{2} << kDepth) - 1);
  }
  roots_.roots.clear();
  Collect(1);
  EXPECT_EQ(t_.heap->TakeCensus().total_objects(), 0u);
}

TEST_F(ParallelTraceTest, ObjectsInOtherTracersBlocksAreSentToTheirOwners) {
  // Up to four tracers own the blocks in turn; 30000 pairs spread over some 15 blocks
  // share 1500 three-slot vectors, so most references cross from one tracer's
  // block to another's and each vector is reached from 20 pairs.
  for (int threads : {2, 3, 4}) {
    HeapOptions o = ParallelOptions();
    o.gc_threads = threads;
    TestHeap t(o);
    Mutator* m = t.heap->CreateMutator();
    VectorRoots roots;
    constexpr size_t kShared = 1500, kPairs = 30000;
    roots.roots.assign(2, Value::Nil());
    auto round = [&](int64_t tag) {
      roots.roots[0] = V(m->AllocateVector(kShared, Value::Nil()));
      for (size_t i = 0; i < kShared; ++i) {
        Object* v = m->AllocateVector(3, Value::Fixnum(tag + static_cast<int64_t>(i)));
        Object* table = roots.roots[0].AsObject();
        table->at(i) = V(v);
      }
      // The pairs refer to the vectors in an order unrelated to the blocks.
      roots.roots[1] = Value::Nil();
      for (size_t i = 0; i < kPairs; ++i) {
        Value shared = roots.roots[0].AsObject()->at((i * 7919) % kShared);
        roots.roots[1] = V(m->AllocatePair(shared, roots.roots[1]));
      }
      roots.roots[0] = Value::Nil();  // the pairs alone keep the vectors alive
    };
    round(0);
    t.heap->Collect(0, roots);  // dense; copied (no history yet)
    t.heap->Verify(&roots);
    round(1000000);
    const HeapStats before = t.heap->Stats();
    t.heap->Collect(0, roots);
    t.heap->Verify(&roots);
    const HeapStats s = t.heap->Stats();
    ASSERT_EQ(s.parallel_collections, before.parallel_collections + 1) << threads;
    // Exactly the live bytes promoted (the vectors' table died before the
    // collection); losing a sent object fails Verify.
    EXPECT_EQ(s.promoted_in_place_bytes - before.promoted_in_place_bytes,
              kPairs * PairBytes() + kShared * 4 * kWordSize)
        << threads;
    size_t n = kPairs;
    for (Value v = roots.roots[1]; !v.IsNil(); v = v.AsObject()->cdr()) {
      --n;
      Object* shared = v.AsObject()->car().AsObject();
      ASSERT_EQ(shared->at(0).FixnumValue(), 1000000 + static_cast<int64_t>((n * 7919) % kShared))
          << threads;
    }
    EXPECT_EQ(n, 0u);
    t.heap->DestroyMutator(m);
  }
}

TEST_F(ParallelTraceTest, ACollectionWhoseHelpersFailToStartTracesWithTheRest) {
  // The helpers start at this heap's first parallel phase, inside the collection:
  // the OS refusing the thread must not throw out of it (it left the heap mid-
  // collection and the world stopped).
  for (int started : {0, 1}) {
    HeapOptions o = ParallelOptions();
    o.gc_threads = 3;
    TestHeap t(o);
    Mutator* m = t.heap->CreateMutator();
    VectorRoots roots;
    GcWorkers::FailThreadStartAfterForTesting(started);
    constexpr size_t kPairs = 20000;
    for (int round = 0; round < 4; ++round) {
      roots.roots.assign(1, Value::Nil());
      for (size_t i = 0; i < kPairs; ++i) {
        roots.roots[0] = V(m->AllocatePair(Value::Fixnum(static_cast<int64_t>(i)), roots.roots[0]));
      }
      t.heap->Collect(0, roots);
      t.heap->Verify(&roots);
      size_t n = kPairs;
      for (Value v = roots.roots[0]; !v.IsNil(); v = v.AsObject()->cdr()) {
        ASSERT_EQ(v.AsObject()->car().FixnumValue(), static_cast<int64_t>(--n)) << started;
      }
      EXPECT_EQ(n, 0u);
    }
    EXPECT_GE(t.heap->Stats().parallel_collections, 1u) << started;
    t.heap->DestroyMutator(m);
  }
}

TEST_F(ParallelTraceTest, SlotsIntoEvacuatedBlocksAreUpdatedAfterTheTracers) {
  // Sparse old blocks: 20000 one-slot vectors, promoted, then all but every 100th
  // dropped; the next full collection evacuates their blocks.
  constexpr size_t kCells = 20000, kEvery = 100;
  Object* big = m_->AllocateVector(kCells, Value::Nil());  // a large object
  roots_.roots.push_back(V(big));
  for (size_t i = 0; i < kCells; ++i) {
    Object* cell = m_->AllocateVector(1, Value::Fixnum(static_cast<int64_t>(i)));
    big->at(i) = V(cell);
  }
  Collect(0);
  for (size_t i = 0; i < kCells; ++i) {
    if (i % kEvery != 0) t_.heap->WriteBarrier(big, &big->at(i), Value::Nil());
  }
  Collect(1);  // sweeps the cells' blocks (under a quarter full now), moved up to 2
  // A tree in the nursery whose leaves refer to the surviving cells.
  constexpr int kDepth = 11;
  roots_.roots.push_back(Value::Nil());
  BuildTree(1, kDepth, [&](size_t i) { return big->at((i * kEvery) % kCells); });
  const uint64_t evacuated_before = t_.heap->Stats().evacuated_bytes;
  const uint64_t parallel_before = t_.heap->Stats().parallel_collections;
  Collect(2);
  HeapStats s = t_.heap->Stats();
  EXPECT_EQ(s.parallel_collections, parallel_before + 1);
  EXPECT_GT(s.evacuated_bytes, evacuated_before);
  // Every leaf still names the same cell as the large vector, and the cells hold
  // their numbers.
  WalkTree(roots_.roots[1], kDepth, [&](size_t i, Value car) {
    const size_t cell = (i * kEvery) % kCells;
    ASSERT_EQ(car, big->at(cell));
    ASSERT_EQ(car.AsObject()->at(0).FixnumValue(), static_cast<int64_t>(cell));
  });
}

}  // namespace
}  // namespace weft::heap
