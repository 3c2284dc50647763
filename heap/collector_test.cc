#include "heap/collector.h"

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "heap/collection_phase.h"
#include "heap/filler.h"
#include "heap/heap.h"
#include "heap/heap_testing.h"
#include "runtime/log_capture.h"

namespace weft::heap {
namespace {

using testing::TestHeap;
using testing::TestHost;
using testing::V;
using testing::VectorRoots;

// A list of n pairs (i . rest), built from n-1 down to 0.
Value MakeList(Mutator* m, VectorRoots& roots, int n) {
  roots.roots.push_back(Value::Nil());
  size_t slot = roots.roots.size() - 1;
  for (int i = n - 1; i >= 0; --i) {
    Object* p = m->AllocatePair(Value::Fixnum(i), roots.roots[slot]);
    EXPECT_NE(p, nullptr);
    roots.roots[slot] = V(p);
  }
  Value list = roots.roots[slot];
  roots.roots.pop_back();
  return list;
}

void ExpectList(Value list, int n) {
  int i = 0;
  for (Value v = list; !v.IsNil(); v = v.AsObject()->cdr(), ++i) {
    ASSERT_EQ(v.AsObject()->kind(), ObjectKind::kPair);
    ASSERT_EQ(v.AsObject()->car().FixnumValue(), i);
  }
  EXPECT_EQ(i, n);
}

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override { m_ = t_.heap->CreateMutator(); }
  void TearDown() override { t_.heap->DestroyMutator(m_); }
  void Collect(int gen, bool compact = false) {
    t_.heap->Collect(gen, roots_, compact);
    t_.heap->Verify(&roots_);
  }
  TestHeap t_;
  VectorRoots roots_;
  Mutator* m_ = nullptr;
};

TEST_F(CollectorTest, YoungCollectionKeepsReachableAndFreesTheRest) {
  roots_.roots.push_back(MakeList(m_, roots_, 1000));
  MakeList(m_, roots_, 5000);  // garbage
  EXPECT_EQ(t_.heap->TakeCensus().total_objects(), 6000u);
  Collect(0);
  ExpectList(roots_.roots[0], 1000);
  EXPECT_EQ(t_.heap->TakeCensus().total_objects(), 1000u);
  EXPECT_EQ(t_.heap->Stats().collections[0], 1u);
}

// [heap.collect.young-drain]: every kind of object, small ones (the drain's inline
// copy) and ones above its 64-byte limit (the general copy), large and pinned
// referents (marked, not copied), survivors of mixed ages so that some are promoted
// while what they refer to stays young (their cards must be dirty: Verify checks).
TEST_F(CollectorTest, YoungCollectionCopiesEveryKindAtEveryAge) {
  const RecordLayout* layout = *t_.heap->layouts().RegisterLayout("cell", 1, 12);
  auto build = [&](int tag) {
    // hub: vector[7] of pair, string, bytes, record, wide vector, large, pinned.
    Object* hub = m_->AllocateVector(7, Value::Nil());
    roots_.roots.push_back(V(hub));
    size_t at = roots_.roots.size() - 1;
    auto put = [&](int i, Object* o) { roots_.roots[at].AsObject()->at(i) = V(o); };
    put(0, m_->AllocatePair(Value::Fixnum(tag), Value::Fixnum(-tag)));
    put(1, m_->AllocateString("young-" + std::to_string(tag)));
    Object* bytes = m_->AllocateBytes(3);
    std::memcpy(bytes->bytes(), "\x01\x02\x03", 3);
    put(2, bytes);
    Object* rec = m_->AllocateRecord(*layout);
    std::memcpy(rec->record_raw(), "raw-bytes-12", 12);
    put(3, rec);
    rec->slots()[0] = roots_.roots[at];  // a cycle through the hub
    put(4, m_->AllocateVector(20, Value::Fixnum(tag)));  // 168 bytes: the general copy
    put(5, m_->AllocateVector(5000, Value::Fixnum(tag)));  // large
    Object* pinned = m_->AllocatePinnedBytes(8);
    std::memcpy(pinned->bytes(), "pinned!", 8);
    put(6, pinned);
  };
  auto check = [&](size_t at, int tag) {
    Object* hub = roots_.roots[at].AsObject();
    ASSERT_EQ(hub->at(0).AsObject()->car().FixnumValue(), tag);
    ASSERT_EQ(hub->at(0).AsObject()->cdr().FixnumValue(), -tag);
    ASSERT_EQ(hub->at(1).AsObject()->string_view(), "young-" + std::to_string(tag));
    ASSERT_EQ(std::memcmp(hub->at(2).AsObject()->bytes(), "\x01\x02\x03", 3), 0);
    Object* rec = hub->at(3).AsObject();
    ASSERT_EQ(rec->slots()[0].AsObject(), hub);
    ASSERT_EQ(std::memcmp(rec->record_raw(), "raw-bytes-12", 12), 0);
    ASSERT_EQ(hub->at(4).AsObject()->length(), 20u);
    ASSERT_EQ(hub->at(4).AsObject()->at(19).FixnumValue(), tag);
    ASSERT_EQ(hub->at(5).AsObject()->at(4999).FixnumValue(), tag);
    ASSERT_STREQ(reinterpret_cast<const char*>(hub->at(6).AsObject()->bytes()), "pinned!");
  };
  build(1);
  Object* large = roots_.roots[0].AsObject()->at(5).AsObject();
  Object* pinned = roots_.roots[0].AsObject()->at(6).AsObject();
  Collect(0);  // hub 1 is one collection old
  build(2);
  // Hub 1 (about to be promoted: promotion_age[0] = 2) takes a reference to a pair
  // that is allocated now and stays young.
  Object* pair = m_->AllocatePair(Value::Fixnum(99), Value::Nil());
  roots_.roots[0].AsObject()->at(0).AsObject()->cdr() = V(pair);
  Collect(0);
  EXPECT_EQ(t_.heap->GenerationOf(roots_.roots[0].AsObject()), 1);
  EXPECT_EQ(t_.heap->GenerationOf(roots_.roots[1].AsObject()), 0);
  Object* young_pair = roots_.roots[0].AsObject()->at(0).AsObject()->cdr().AsObject();
  EXPECT_EQ(t_.heap->GenerationOf(young_pair), 0);
  EXPECT_EQ(young_pair->car().FixnumValue(), 99);
  roots_.roots[0].AsObject()->at(0).AsObject()->cdr() = Value::Fixnum(-1);
  EXPECT_EQ(roots_.roots[0].AsObject()->at(5).AsObject(), large);  // never moved
  EXPECT_EQ(roots_.roots[0].AsObject()->at(6).AsObject(), pinned);
  check(0, 1);
  check(1, 2);
  Collect(0);
  check(0, 1);
  check(1, 2);
}

TEST_F(CollectorTest, SharedStructureAndCyclesKeepIdentity) {
  Object* a = m_->AllocateVector(2, Value::Nil());
  roots_.roots.push_back(V(a));
  Object* b = m_->AllocateVector(2, Value::Nil());
  a = roots_.roots[0].AsObject();
  a->at(0) = V(b);
  b->at(0) = V(a);  // cycle
  b->at(1) = V(b);  // self loop
  roots_.roots.push_back(V(b));
  for (int i = 0; i < 4; ++i) Collect(i % 3);
  Object* a2 = roots_.roots[0].AsObject();
  Object* b2 = roots_.roots[1].AsObject();
  EXPECT_EQ(a2->at(0).AsObject(), b2);
  EXPECT_EQ(b2->at(0).AsObject(), a2);
  EXPECT_EQ(b2->at(1).AsObject(), b2);
  EXPECT_TRUE(a2->at(1).IsNil());
}

TEST_F(CollectorTest, ObjectsArePromotedAfterTheirAgeAndBlocksAfterTheirs) {
  roots_.roots.push_back(MakeList(m_, roots_, 100));
  Collect(0);
  EXPECT_EQ(t_.heap->GenerationOf(roots_.roots[0].AsObject()), 0);
  Collect(0);  // promotion_age[0] = 2
  EXPECT_EQ(t_.heap->GenerationOf(roots_.roots[0].AsObject()), 1);
  Collect(1);
  EXPECT_EQ(t_.heap->GenerationOf(roots_.roots[0].AsObject()), 1);
  Collect(1);  // promotion_age[1] = 2: the block moves to generation 2
  EXPECT_EQ(t_.heap->GenerationOf(roots_.roots[0].AsObject()), 2);
  Collect(2);
  Collect(2);
  EXPECT_EQ(t_.heap->GenerationOf(roots_.roots[0].AsObject()), 2);  // the oldest
  ExpectList(roots_.roots[0], 100);
  HeapStats s = t_.heap->Stats();
  EXPECT_EQ(s.promoted_bytes, 100u * PairBytes());
  EXPECT_EQ(s.generation_bytes[2], 100u * PairBytes());
  EXPECT_EQ(s.collections[1], 2u);
}

// [heap.nursery.block-age]: survivors of different ages never share a block, so each
// is promoted after exactly promotion_age[0] young collections, whatever was copied
// beside it.
TEST(NurseryAgeTest, EachSurvivorIsPromotedAfterItsOwnAge) {
  HeapOptions o = testing::SmallHeapOptions();
  o.promotion_age[0] = 3;
  TestHeap t(o);
  VectorRoots roots;
  Mutator* m = t.heap->CreateMutator();
  auto collect = [&] {
    t.heap->Collect(0, roots);
    t.heap->Verify(&roots);
  };
  auto generations = [&] {
    std::vector<int> g;
    for (Value v : roots.roots) g.push_back(t.heap->GenerationOf(v.AsObject()));
    return g;
  };
  // One list per young collection, each with a string (unboxed) beside it; after
  // the collections a list is 3, 2 and 1 collections old.
  for (int i = 0; i < 3; ++i) {
    roots.roots.push_back(MakeList(m, roots, 50 + i));
    roots.roots.push_back(V(m->AllocateString("age")));
    collect();
  }
  EXPECT_EQ(generations(), (std::vector<int>{1, 1, 0, 0, 0, 0}));
  collect();
  EXPECT_EQ(generations(), (std::vector<int>{1, 1, 1, 1, 0, 0}));
  collect();
  EXPECT_EQ(generations(), (std::vector<int>{1, 1, 1, 1, 1, 1}));
  for (int i = 0; i < 3; ++i) {
    ExpectList(roots.roots[2 * i], 50 + i);
    EXPECT_EQ(roots.roots[2 * i + 1].AsObject()->string_view(), "age");
  }
  t.heap->DestroyMutator(m);
}

TEST_F(CollectorTest, OldToYoungStoresSurviveMinorCollections) {
  roots_.roots.push_back(V(m_->AllocateVector(300, Value::Nil())));
  Collect(0);
  Collect(0);
  Object* old = roots_.roots[0].AsObject();
  ASSERT_EQ(t_.heap->GenerationOf(old), 1);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 300; i += 37) {
      Object* s = m_->AllocateString(std::to_string(round * 1000 + i));
      old = roots_.roots[0].AsObject();
      t_.heap->WriteBarrier(old, &old->at(i), V(s));
    }
    Collect(0);
  }
  old = roots_.roots[0].AsObject();
  for (int i = 0; i < 300; i += 37) {
    EXPECT_EQ(old->at(i).AsObject()->string_view(), std::to_string(4000 + i));
  }
  // Survivors promoted to generation 1 no longer need their cards; the next minor
  // collection cleans them.
  Collect(0);
  Collect(0);
  BlockInfo& info = t_.arena->InfoFor(old);
  int dirty = 0;
  for (uint8_t c : info.cards) dirty += c != 0;
  EXPECT_EQ(dirty, 0);
}

TEST_F(CollectorTest, VerifyCatchesAMissingWriteBarrier) {
  roots_.roots.push_back(V(m_->AllocateVector(4, Value::Nil())));
  Collect(0);
  Collect(0);
  Object* young = m_->AllocatePair(Value::Nil(), Value::Nil());
  roots_.roots[0].AsObject()->at(2) = V(young);  // no barrier
  EXPECT_DEATH(t_.heap->Verify(&roots_), "weft: heap verify: old-to-young reference in a clean card");
  roots_.roots[0].AsObject()->at(2) = Value::Nil();
}

TEST_F(CollectorTest, VerifyCatchesAnInteriorRoot) {
  Object* v = m_->AllocateVector(4, Value::Nil());
  roots_.roots.push_back(Value::FromRaw(V(v).raw + 8));
  EXPECT_DEATH(t_.heap->Verify(&roots_),
               "weft: heap verify: reference to something that is not a live object");
  roots_.roots.clear();
}

// [heap.inv.collect-nothrow]: a collection that fails part-way ends the process with
// its cause; it does not unwind into code that would use the half-collected heap.
TEST_F(CollectorTest, ACollectionThatFailsPartWayEndsTheProcessWithItsCause) {
  class ThrowingRoots final : public RootSource {
   public:
    void VisitRoots(RootVisitor&) override {
      // Checked builds verify the heap (visiting the roots) before collecting.
      if (++calls_ == (WEFT_CHECKED_BUILD ? 2 : 1)) throw std::runtime_error("roots unreadable");
    }

   private:
    int calls_ = 0;
  };
  m_->AllocatePair(Value::Nil(), Value::Nil());
  EXPECT_DEATH(
      {
        ThrowingRoots roots;
        t_.heap->Collect(0, roots);
      },
      "failed part-way: roots unreadable(.|\n)*a collection failed part-way; the heap is "
      "inconsistent");
}

TEST_F(CollectorTest, LargeAndPinnedObjectsNeverMoveAndAreFreedWhenDead) {
  Object* big = m_->AllocateVector(3000, Value::Fixnum(1));
  roots_.roots.push_back(V(big));
  Object* pinned = m_->AllocatePinnedBytes(64);
  std::memcpy(pinned->bytes(), "native buffer", 14);
  roots_.roots.push_back(V(pinned));
  Object* big_bytes = m_->AllocatePinnedBytes(50000);
  roots_.roots.push_back(V(big_bytes));
  m_->AllocateVector(2000, Value::Nil());  // large garbage
  m_->AllocatePinnedBytes(10);             // pinned garbage
  Object* s = m_->AllocateString("child");
  big = roots_.roots[0].AsObject();
  t_.heap->WriteBarrier(big, &big->at(2999), V(s));
  size_t before = t_.heap->Stats().heap_bytes;
  for (int i = 0; i < 6; ++i) {
    Collect(i % 3, i == 5);
    EXPECT_EQ(roots_.roots[0].AsObject(), big);
    EXPECT_EQ(roots_.roots[1].AsObject(), pinned);
    EXPECT_EQ(roots_.roots[2].AsObject(), big_bytes);
  }
  EXPECT_STREQ(pinned->bytes(), "native buffer");
  EXPECT_EQ(big->at(2999).AsObject()->string_view(), "child");
  EXPECT_EQ(t_.heap->GenerationOf(big), 2);
  EXPECT_LT(t_.heap->Stats().heap_bytes, before);
  // Old large object to young: the card of the slot in the run's second block.
  s = m_->AllocateString("late");
  t_.heap->WriteBarrier(big, &big->at(2000), V(s));
  Collect(0);
  EXPECT_EQ(big->at(2000).AsObject()->string_view(), "late");
  roots_.roots.clear();
  Collect(2);
  EXPECT_EQ(t_.heap->TakeCensus().total_objects(), 0u);
  EXPECT_EQ(t_.heap->Stats().heap_bytes, 0u);
}

TEST_F(CollectorTest, PinnedAllocationReusesFreedLines) {
  // Fill one pinned block with 120-byte buffers, keep every fourth, collect.
  std::vector<Object*> kept;
  for (int i = 0; i < 250; ++i) {
    Object* b = m_->AllocatePinnedBytes(112);
    ASSERT_NE(b, nullptr);
    std::memcpy(b->bytes(), &i, sizeof(i));
    if (i % 4 == 0) {
      roots_.roots.push_back(V(b));
      kept.push_back(b);
    }
  }
  size_t blocks = t_.arena->Stats().blocks_by_type[static_cast<int>(BlockType::kPinned)];
  Collect(0);
  // New buffers go into the freed lines: no new pinned block.
  for (int i = 0; i < 100; ++i) {
    Object* b = m_->AllocatePinnedBytes(112);
    ASSERT_NE(b, nullptr);
    roots_.roots.push_back(V(b));
  }
  t_.heap->Verify(&roots_);
  EXPECT_EQ(t_.arena->Stats().blocks_by_type[static_cast<int>(BlockType::kPinned)], blocks);
  Collect(0);
  for (size_t k = 0; k < kept.size(); ++k) {
    EXPECT_EQ(roots_.roots[k].AsObject(), kept[k]);
    int v;
    std::memcpy(&v, kept[k]->bytes(), sizeof(v));
    EXPECT_EQ(v, static_cast<int>(4 * k));
  }
}

TEST_F(CollectorTest, RecordsKeepRawBytesAndUpdateReferences) {
  const RecordLayout* layout = *t_.heap->layouts().RegisterLayout("node", 2, 20);
  Object* r = m_->AllocateRecord(*layout);
  roots_.roots.push_back(V(r));
  std::memcpy(r->record_raw(), "0123456789abcdefghi", 20);
  Object* s = m_->AllocateString("ref");
  r = roots_.roots[0].AsObject();
  r->slots()[1] = V(s);
  for (int i = 0; i < 5; ++i) Collect(i % 3);
  r = roots_.roots[0].AsObject();
  EXPECT_EQ(r->aux(), layout->id);
  EXPECT_STREQ(r->record_raw(), "0123456789abcdefghi");
  EXPECT_TRUE(r->slots()[0].IsNil());
  EXPECT_EQ(r->slots()[1].AsObject()->string_view(), "ref");
}

TEST_F(CollectorTest, DeepListsAreCollectedWithoutRecursion) {
  const int n = 300000 / testing::kSanitizerSlowdown;
  roots_.roots.push_back(MakeList(m_, roots_, n));
  Collect(0);
  Collect(0);
  Collect(2, true);
  ExpectList(roots_.roots[0], n);
}

// A complete tree of `depth`: a node is (left . right), a leaf (() . ()); built
// children first, as a program builds it, with the left subtree held in `roots`.
Value MakeTree(Mutator* m, VectorRoots& roots, int depth) {
  Value left = Value::Nil(), right = Value::Nil();
  if (depth > 0) {
    roots.roots.push_back(MakeTree(m, roots, depth - 1));
    right = MakeTree(m, roots, depth - 1);
    left = roots.roots.back();
    roots.roots.pop_back();
  }
  Object* node = m->AllocatePair(left, right);
  EXPECT_NE(node, nullptr);
  return V(node);
}

// [heap.collect.copy-order] A tree that a young collection copies is laid out for a
// walk that goes left first: each node's children side by side, and the nodes the walk
// reaches by going left (every node but right children) in ascending addresses. With
// the first child's subtree copied last (the order before), the walk jumped back to
// lower addresses at the left child of every right subtree.
TEST_F(CollectorTest, ACopiedTreeIsLaidOutInTheOrderOfAWalk) {
  const int depth = 11;  // 4,095 pairs: 96 KiB, within the 256 KiB nursery
  roots_.roots.push_back(MakeTree(m_, roots_, depth));
  const Object* before = roots_.roots[0].AsObject();
  Collect(0);
  ASSERT_NE(roots_.roots[0].AsObject(), before) << "the tree was not copied";

  std::vector<Object*> stack = {roots_.roots[0].AsObject()};
  uintptr_t last_left = 0;
  size_t nodes = 0, adjacent = 0;
  while (!stack.empty()) {
    Object* node = stack.back();
    stack.pop_back();
    ++nodes;
    const Value left = node->car(), right = node->cdr();
    if (left.IsNil()) continue;
    const uintptr_t l = reinterpret_cast<uintptr_t>(left.AsObject());
    const uintptr_t r = reinterpret_cast<uintptr_t>(right.AsObject());
    // Side by side, unless the copy region ended between them.
    if (r == l + PairBytes()) ++adjacent;
    ASSERT_GT(r, l) << "a right child below its left sibling";
    ASSERT_GT(l, last_left) << "a left child below the one the walk saw before it";
    last_left = l;
    stack.push_back(right.AsObject());
    stack.push_back(left.AsObject());
  }
  EXPECT_EQ(nodes, (size_t{1} << (depth + 1)) - 1);
  const size_t inner = (size_t{1} << depth) - 1;
  EXPECT_GE(adjacent, inner - inner / 100) << "of " << inner << " pairs of children";
}

// [heap.weak]
TEST_F(CollectorTest, WeakSlotsFollowMovesAndReportDeathsPerGeneration) {
  // weak[0]: a nursery pair also held strongly; weak[1]: a nursery pair held only
  // weakly; weak[2]: an old vector that dies later; weak[3]: a large byte array;
  // weak[4]: a fixnum (no reference).
  roots_.roots.push_back(V(m_->AllocatePair(Value::Fixnum(1), Value::Nil())));
  roots_.weak.push_back(roots_.roots[0]);
  roots_.weak.push_back(V(m_->AllocatePair(Value::Fixnum(2), Value::Nil())));
  roots_.roots.push_back(V(m_->AllocateVector(3, Value::Fixnum(3))));
  roots_.weak.push_back(roots_.roots[1]);
  roots_.roots.push_back(V(m_->AllocateBytes(256 << 10)));
  roots_.weak.push_back(roots_.roots[2]);
  roots_.weak.push_back(Value::Fixnum(42));
  Value young_before = roots_.roots[0];

  Collect(0);  // every nursery survivor moves
  EXPECT_EQ(roots_.weak_died, 1);
  EXPECT_EQ(roots_.weak[1], Value::False());
  EXPECT_NE(roots_.roots[0], young_before);
  EXPECT_EQ(roots_.weak[0], roots_.roots[0]);  // followed the move
  EXPECT_EQ(roots_.weak[2], roots_.roots[1]);
  EXPECT_EQ(roots_.weak[3], roots_.roots[2]);
  EXPECT_EQ(roots_.weak[4], Value::Fixnum(42));

  // Promote everything, then drop the strong references to the vector and the
  // large array: a young collection does not condemn them, a full one does.
  for (int i = 0; i < 4; ++i) Collect(0);
  Collect(t_.heap->oldest_generation());
  EXPECT_EQ(roots_.weak[2], roots_.roots[1]);
  roots_.roots[1] = Value::Nil();
  roots_.roots[2] = Value::Nil();
  Collect(0);
  EXPECT_EQ(roots_.weak_died, 1);
  Collect(t_.heap->oldest_generation(), /*compact=*/true);
  EXPECT_EQ(roots_.weak_died, 3);
  EXPECT_EQ(roots_.weak[2], Value::False());
  EXPECT_EQ(roots_.weak[3], Value::False());
  EXPECT_EQ(roots_.weak[0], roots_.roots[0]);  // moved by the compaction, followed
  EXPECT_EQ(roots_.weak[0].AsObject()->car().FixnumValue(), 1);
}

TEST_F(CollectorTest, CompactingFullCollectionMovesAndPacksOldObjects) {
  // Promote 2000 small vectors, then keep every 10th.
  roots_.roots.push_back(V(m_->AllocateVector(2000, Value::Nil())));
  for (int i = 0; i < 2000; ++i) {
    Object* v = m_->AllocateVector(3, Value::Fixnum(i));
    Object* holder = roots_.roots[0].AsObject();
    holder->at(i) = V(v);
  }
  Collect(0);
  Collect(0);
  Object* holder = roots_.roots[0].AsObject();
  for (int i = 0; i < 2000; ++i) {
    if (i % 10 != 0) {
      t_.heap->WriteBarrier(holder, &holder->at(i), Value::Nil());
    }
  }
  size_t blocks_before = t_.heap->Stats().generation_blocks[1];
  Object* first = holder->at(0).AsObject();
  Collect(2, /*compact=*/true);
  holder = roots_.roots[0].AsObject();
  EXPECT_NE(holder->at(0).AsObject(), first);  // moved
  for (int i = 0; i < 2000; i += 10) EXPECT_EQ(holder->at(i).AsObject()->at(2).FixnumValue(), i);
  HeapStats s = t_.heap->Stats();
  EXPECT_GT(s.evacuated_bytes, 0u);
  EXPECT_LT(s.generation_blocks[1], blocks_before);
}

TEST_F(CollectorTest, SparseBlocksAreEvacuatedAndHolesReused) {
  roots_.roots.push_back(V(m_->AllocateVector(4000, Value::Nil())));
  for (int i = 0; i < 4000; ++i) {
    Object* v = m_->AllocateVector(2, Value::Fixnum(i));
    Object* holder = roots_.roots[0].AsObject();
    holder->at(i) = V(v);
  }
  Collect(0);
  Collect(0);  // all in generation 1: 4000 x 24 B = 3 blocks
  Object* holder = roots_.roots[0].AsObject();
  // Keep one object in 64: blocks fall below a quarter full and are evacuated.
  for (int i = 0; i < 4000; ++i) {
    if (i % 64 != 0) {
      t_.heap->WriteBarrier(holder, &holder->at(i), Value::Nil());
    }
  }
  Collect(1);  // sweeps: the blocks are now known to be sparse
  EXPECT_EQ(t_.heap->Stats().evacuated_bytes, 0u);
  Collect(1);  // evacuates them
  HeapStats s = t_.heap->Stats();
  EXPECT_GT(s.evacuated_bytes, 0u);
  holder = roots_.roots[0].AsObject();
  for (int i = 0; i < 4000; i += 64) EXPECT_EQ(holder->at(i).AsObject()->at(1).FixnumValue(), i);
  // Keep one object in 4, in runs, so lines free up but blocks stay over a quarter
  // full: the next promotions fill the holes instead of taking new blocks.
  Collect(2, true);
  roots_.roots.push_back(V(m_->AllocateVector(4000, Value::Nil())));
  for (int i = 0; i < 4000; ++i) {
    Object* v = m_->AllocateVector(2, Value::Fixnum(i));
    Object* h = roots_.roots[1].AsObject();
    h->at(i) = V(v);
  }
  Collect(0);
  Collect(0);
  Object* h = roots_.roots[1].AsObject();
  for (int i = 0; i < 4000; ++i) {
    if ((i / 32) % 2 == 1) {
      t_.heap->WriteBarrier(h, &h->at(i), Value::Nil());
    }
  }
  Collect(1);
  size_t blocks = t_.heap->Stats().generation_blocks[1] + t_.heap->Stats().generation_blocks[2];
  roots_.roots.push_back(MakeList(m_, roots_, 1500));  // 36 KiB of pairs
  Collect(0);
  Collect(0);
  size_t after = t_.heap->Stats().generation_blocks[1] + t_.heap->Stats().generation_blocks[2];
  EXPECT_LE(after, blocks + 1);  // mostly into holes
  ExpectList(roots_.roots[2], 1500);
  for (int i = 0; i < 4000; ++i) {
    if ((i / 32) % 2 == 0) {
      EXPECT_EQ(h->at(i).AsObject()->at(1).FixnumValue(), i);
    }
  }
}

TEST_F(CollectorTest, OlderGenerationsAreCollectedWhenTheyGrow) {
  TestHost host(t_.heap.get(), &roots_);
  t_.heap->SetHost(&host);
  roots_.roots.push_back(Value::Nil());
  for (int i = 0; i < 2000000 && host.requests[1] + host.requests[2] == 0; ++i) {
    Object* v = m_->AllocateVector(4, Value::Fixnum(i));
    ASSERT_NE(v, nullptr);
    if (i % 20000 == 0) roots_.roots[0] = Value::Nil();
    v->at(0) = roots_.roots[0];
    roots_.roots[0] = V(v);
  }
  EXPECT_GT(host.requests[0], 3);
  EXPECT_GT(host.requests[1] + host.requests[2], 0);
  t_.heap->SetHost(nullptr);
}

// [heap.trigger.batch], [heap.trigger.growth]: with promotion at the first survival, a
// collection of generation g moves all of g's live data up at once. A batch bigger
// than g + 1's trigger used to set off a collection of g + 1 at the next nursery
// fill, which traced the same data again; now g + 1 is collected once it grows
// old_growth_percent past the batch. KeepBatchesUntilCollected adds 2 MiB batches to
// generation 3 until the next nursery fill collects it, and returns how many.
int KeepBatchesUntilCollected(int old_growth_percent) {
  HeapOptions o = testing::SmallHeapOptions();
  o.generations = 3;
  o.promotion_age.fill(1);
  o.initial_bytes = size_t{1} << 20;
  o.old_growth_percent = old_growth_percent;
  TestHeap t(o);
  VectorRoots roots;
  roots.roots.push_back(Value::Nil());
  Mutator* m = t.heap->CreateMutator();
  constexpr int kVectors = 2048;  // 1 KiB each: a 2 MiB batch, twice initial_bytes
  auto keep_batch = [&] {
    for (int i = 0; i < kVectors; ++i) {
      Object* v = m->AllocateVector(127, Value::Fixnum(i));
      EXPECT_NE(v, nullptr);
      v->at(0) = roots.roots[0];
      roots.roots[0] = V(v);
    }
    // Up the generations, each collection tracing and promoting the whole batch.
    for (int g = 0; g <= 2; ++g) {
      t.heap->Collect(g, roots);
      t.heap->Verify(&roots);
    }
  };
  // The generation the next nursery fill collects.
  auto next_collection = [&]() -> int {
    TestHost host(t.heap.get(), &roots);
    t.heap->SetHost(&host);
    int gen = -1;
    for (int i = 0; i < 1 << 20 && gen < 0; ++i) {
      EXPECT_NE(m->AllocatePair(Value::Nil(), Value::Nil()), nullptr);
      for (int g = 0; g < kMaxGenerations; ++g) {
        if (host.requests[g] > 0) gen = g;
      }
    }
    t.heap->SetHost(nullptr);
    return gen;
  };
  int batches = 0;
  for (;;) {
    keep_batch();
    ++batches;
    EXPECT_EQ(t.heap->Stats().generation_bytes[3], size_t{kVectors} * batches << 10);
    int next = next_collection();
    if (next == 3 || batches == 10) break;
    EXPECT_EQ(next, 0) << "after batch " << batches;
  }
  t.heap->DestroyMutator(m);
  return batches;
}

TEST(CollectorTriggerTest, APromotedBatchDoesNotTriggerItsNewGenerationAtOnce) {
  // 100%: the first batch (2 MiB, trigger 1 MiB) raises the trigger to 4 MiB; the
  // second makes 4 MiB, not past it; the third 6 MiB.
  EXPECT_EQ(KeepBatchesUntilCollected(100), 3);
  // 50% (the default): the trigger is 3 MiB; the second batch passes it.
  EXPECT_EQ(KeepBatchesUntilCollected(50), 2);
  // 300%: 8 MiB; the fifth batch (10 MiB) passes it.
  EXPECT_EQ(KeepBatchesUntilCollected(300), 5);
}

// [heap.nursery.in-place]
HeapOptions InPlaceOptions() {
  HeapOptions o = testing::SmallHeapOptions();
  o.promotion_age.fill(1);
  o.promote_in_place_percent = 50;
  return o;
}

class InPlaceTest : public testing::NonMovingNurseryTest {
 protected:
  InPlaceTest() : NonMovingNurseryTest(InPlaceOptions()) {}
  const BlockInfo& InfoOf(Value v) { return t_.arena->InfoFor(v.AsObject()); }
};

TEST_F(InPlaceTest, ANurseryAfterADenseOneIsPromotedWithoutMoving) {
  roots_.roots.push_back(MakeList(m_, roots_, 2000));  // all of it survives
  Collect(0);
  EXPECT_EQ(t_.heap->Stats().in_place_collections, 0u);  // no history yet: copied
  EXPECT_EQ(InfoOf(roots_.roots[0]).generation, 1);

  roots_.roots.push_back(MakeList(m_, roots_, 2000));
  MakeList(m_, roots_, 3000);  // garbage, in blocks of its own
  roots_.roots.push_back(MakeList(m_, roots_, 10));
  Object* first = roots_.roots[1].AsObject();
  Object* last = roots_.roots[2].AsObject();
  ASSERT_EQ(t_.arena->InfoFor(first).type, BlockType::kYoung);
  const uint64_t promoted_before = t_.heap->Stats().promoted_bytes;
  Collect(0);
  HeapStats s = t_.heap->Stats();
  EXPECT_EQ(s.in_place_collections, 1u);
  EXPECT_EQ(s.promoted_in_place_bytes, 2010u * PairBytes());
  EXPECT_EQ(s.promoted_bytes - promoted_before, s.promoted_in_place_bytes);
  // Nothing moved; the survivors' blocks are generation-1 old blocks now.
  EXPECT_EQ(roots_.roots[1].AsObject(), first);
  EXPECT_EQ(roots_.roots[2].AsObject(), last);
  EXPECT_EQ(InfoOf(roots_.roots[1]).type, BlockType::kOld);
  EXPECT_EQ(InfoOf(roots_.roots[1]).generation, 1);
  EXPECT_EQ(InfoOf(roots_.roots[2]).generation, 1);
  ExpectList(roots_.roots[0], 2000);
  ExpectList(roots_.roots[1], 2000);
  ExpectList(roots_.roots[2], 10);
  // The garbage is gone: swept into fillers, or its blocks back in the nursery.
  EXPECT_EQ(t_.heap->TakeCensus().total_objects(), 4010u);
  // The promoted blocks' free lines are holes the next promotions can fill.
  roots_.roots.clear();
  Collect(1);
  EXPECT_EQ(t_.heap->TakeCensus().total_objects(), 0u);
}

TEST_F(InPlaceTest, AfterSparseCollectionsTheNurseryIsCopiedAgain) {
  roots_.roots.push_back(MakeList(m_, roots_, 2000));
  Collect(0);  // dense
  for (int i = 0; i < Heap::kDenseWindow; ++i) {
    MakeList(m_, roots_, 5000);  // all garbage
    Collect(0);
  }
  EXPECT_EQ(t_.heap->Stats().in_place_collections, static_cast<uint64_t>(Heap::kDenseWindow));
  roots_.roots.push_back(MakeList(m_, roots_, 100));
  Object* young = roots_.roots[1].AsObject();
  Collect(0);
  EXPECT_EQ(t_.heap->Stats().in_place_collections, static_cast<uint64_t>(Heap::kDenseWindow));
  EXPECT_NE(roots_.roots[1].AsObject(), young);  // copied out
  ExpectList(roots_.roots[0], 2000);
  ExpectList(roots_.roots[1], 100);
}

// An object promoted in place that refers to a younger one keeps its card dirty, in
// a young collection (a store after the promotion) and in an older one, where the
// promoted blocks move up twice (to generation 2) and a pinned referent once.
TEST_F(InPlaceTest, PromotedBlocksKeepTheirOldToYoungCards) {
  roots_.roots.push_back(MakeList(m_, roots_, 2000));
  Collect(0);  // dense
  Object* holder = m_->AllocateVector(4, Value::Nil());
  roots_.roots.push_back(V(holder));
  Object* pinned = m_->AllocatePinnedBytes(100);
  ASSERT_NE(pinned, nullptr);
  t_.heap->WriteBarrier(holder, &holder->slots()[0], V(pinned));
  Collect(1);  // in place: the vector's block ends in generation 2, the pinned block in 1
  ASSERT_EQ(t_.heap->Stats().in_place_collections, 1u);
  ASSERT_EQ(roots_.roots[1].AsObject(), holder);
  EXPECT_EQ(InfoOf(roots_.roots[1]).generation, 2);
  EXPECT_EQ(t_.arena->InfoFor(pinned).generation, 1);
  // Verify (in Collect) checked the card; a collection of generation 1 must keep the
  // pinned object alive through it.
  Collect(1);
  EXPECT_EQ(holder->slots()[0].AsObject(), pinned);
  EXPECT_EQ(t_.arena->InfoFor(pinned).type, BlockType::kPinned);

  // A store into a promoted block after the collection goes through the barrier.
  MakeList(m_, roots_, 10);
  Object* young = m_->AllocatePair(Value::Fixnum(7), Value::Nil());
  t_.heap->WriteBarrier(holder, &holder->slots()[1], V(young));
  Collect(0);
  ASSERT_EQ(holder->slots()[1].AsObject()->car().FixnumValue(), 7);
}

TEST(InPlaceOptionsTest, NeedsPromotionAtFirstSurvivalAndAPercentage) {
  HeapOptions o = InPlaceOptions();
  EXPECT_TRUE(o.Validate().ok());
  o.promote_in_place_percent = 101;
  EXPECT_EQ(o.Validate().message(),
            "HeapOptions.promote_in_place_percent = 101 is out of range [0, 100]");
  o.promote_in_place_percent = 50;
  o.promotion_age[0] = 2;
  EXPECT_NE(o.Validate().message().find("needs promotion_age[0] = 1"), std::string::npos);
  o.promote_in_place_percent = 0;
  EXPECT_TRUE(o.Validate().ok());
}

TEST_F(CollectorTest, CheckedBuildsPoisonEvacuatedSpace) {
  if (!WEFT_CHECKED_BUILD) GTEST_SKIP() << "poisoning is a --config=checked feature";
  Object* o = m_->AllocateVector(3, Value::Fixnum(5));
  roots_.roots.push_back(V(o));
  Object* stale = o;  // a raw pointer the collector does not know about
  Collect(0);
  EXPECT_NE(roots_.roots[0].AsObject(), stale);
  EXPECT_EQ(stale->header, kPoisonWord);
  EXPECT_EQ(stale->slots()[0].raw, kPoisonWord);
}

// [heap.collect.phases]: the observer hears every phase of every collection, begun and
// ended in order, each with the collected generation; a collection after the observer
// is removed is not heard.
TEST_F(CollectorTest, TheObserverHearsEveryPhaseInOrder) {
  struct Recorder final : CollectionObserver {
    std::vector<std::string> events;
    void PhaseBegin(CollectionPhase p, int generation) override {
      events.push_back(absl::StrCat("+", CollectionPhaseName(p), generation));
    }
    void PhaseEnd(CollectionPhase p, int generation) override {
      events.push_back(absl::StrCat("-", CollectionPhaseName(p), generation));
    }
  } recorder;
  t_.heap->SetCollectionObserver(&recorder);
  roots_.roots.push_back(MakeList(m_, roots_, 100));
  roots_.weak.push_back(roots_.roots[0]);
  Collect(0);
  Collect(2, true);
  t_.heap->SetCollectionObserver(nullptr);
  Collect(0);
  std::vector<std::string> expected;
  for (int generation : {0, 2}) {
    for (const char* phase : {"prepare", "roots", "remembered", "trace", "weak", "finish"}) {
      expected.push_back(absl::StrCat("+", phase, generation));
      expected.push_back(absl::StrCat("-", phase, generation));
    }
  }
  EXPECT_EQ(recorder.events, expected);
  for (int p = 0; p < kCollectionPhaseCount; ++p) {
    EXPECT_STRNE(CollectionPhaseName(static_cast<CollectionPhase>(p)), "unknown");
  }
  ExpectList(roots_.roots[0], 100);
}

TEST_F(CollectorTest, EachCollectionLogsOneDebugLine) {
  std::string log;
  {
    weft::LogCapture capture(spdlog::level::debug);
    roots_.roots.push_back(MakeList(m_, roots_, 10));
    Collect(0);
    Collect(2, true);
    log = capture.Text();
  }
  EXPECT_NE(log.find("gen 0: "), std::string::npos) << log;
  EXPECT_NE(log.find("gen 2 compact: "), std::string::npos) << log;
  EXPECT_NE(log.find(" ms"), std::string::npos) << log;
  HeapStats s = t_.heap->Stats();
  EXPECT_GT(s.total_pause_ms, 0);
  uint64_t n = 0;
  for (uint64_t c : s.pauses.counts) n += c;
  EXPECT_EQ(n, 2u);
}

}  // namespace
}  // namespace weft::heap
