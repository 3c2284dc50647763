#include "heap/heap.h"

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "heap/heap_testing.h"

namespace weft::heap {
namespace {

using testing::TestHeap;
using testing::TestHost;
using testing::V;
using testing::VectorRoots;

TEST(HeapTest, CreateRejectsBadOptionsAndNullArena) {
  TestHeap t;
  HeapOptions bad;
  bad.generations = 0;
  auto h = Heap::Create(bad, t.arena.get());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Heap::Create(HeapOptions{}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HeapTest, AllocatesEveryKindInitialised) {
  TestHeap t;
  Mutator* m = t.heap->CreateMutator();
  Object* p = m->AllocatePair(Value::Fixnum(1), Value::Nil());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->kind(), ObjectKind::kPair);
  EXPECT_EQ(p->car().FixnumValue(), 1);
  EXPECT_TRUE(p->cdr().IsNil());
  Object* v = m->AllocateVector(5, Value::True());
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->length(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(v->at(i).IsTrue());
  Object* s = m->AllocateString("hello");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->string_view(), "hello");
  Object* b = m->AllocateBytes(13);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 13; ++i) EXPECT_EQ(b->bytes()[i], 0);
  const RecordLayout* layout = *t.heap->layouts().RegisterLayout("point", 2, 12);
  Object* r = m->AllocateRecord(*layout);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->aux(), layout->id);
  EXPECT_EQ(ObjectSize(r), 8u + 16u + 16u);
  EXPECT_TRUE(r->slots()[1].IsNil());
  // Boxed and unboxed objects come from different blocks.
  EXPECT_NE(t.arena->BlockIndex(p), t.arena->BlockIndex(s));
  EXPECT_EQ(t.heap->GenerationOf(p), 0);
  t.heap->Verify();
  Census c = t.heap->TakeCensus();
  EXPECT_EQ(c.objects[0][static_cast<int>(ObjectKind::kPair)], 1u);
  EXPECT_EQ(c.objects[0][static_cast<int>(ObjectKind::kString)], 1u);
  EXPECT_EQ(c.total_objects(), 5u);
  t.heap->DestroyMutator(m);
  t.heap->Verify();
}

TEST(HeapTest, LargeObjectsGetTheirOwnRunAndPinnedBytesTheirBlocks) {
  TestHeap t;
  Mutator* m = t.heap->CreateMutator();
  Object* big = m->AllocateVector(5000, Value::Fixnum(7));  // 40 KiB: two blocks
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(t.arena->InfoFor(big).type, BlockType::kLarge);
  EXPECT_EQ(t.arena->Info(t.arena->BlockIndex(big)).run_blocks, 2u);
  EXPECT_TRUE(t.heap->NeverMoves(big));
  Object* pin = m->AllocatePinnedBytes(100);
  ASSERT_NE(pin, nullptr);
  EXPECT_EQ(t.arena->InfoFor(pin).type, BlockType::kPinned);
  Object* bigpin = m->AllocatePinnedBytes(100000);
  EXPECT_EQ(t.arena->InfoFor(bigpin).type, BlockType::kLarge);
  EXPECT_EQ(t.heap->Stats().objects_allocated_large, 2u);
  t.heap->Verify();
  t.heap->DestroyMutator(m);
}

TEST(HeapTest, TooLargeRequestFailsCleanly) {
  TestHeap t;
  Mutator* m = t.heap->CreateMutator();
  EXPECT_EQ(m->AllocateVector(size_t{1} << 33, Value::Nil()), nullptr);
  EXPECT_EQ(m->last_failure().reason, AllocationFailure::Reason::kTooLarge);
  EXPECT_EQ(m->last_failure().ToStatus().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m->AllocateVector(size_t{1} << 61, Value::Nil()), nullptr);  // would overflow
  EXPECT_EQ(m->AllocateBytes(SIZE_MAX - 3), nullptr);
  EXPECT_EQ(m->AllocatePinnedBytes(SIZE_MAX), nullptr);
  EXPECT_EQ(m->last_failure().reason, AllocationFailure::Reason::kTooLarge);
  t.heap->Verify();
  t.heap->DestroyMutator(m);
}

TEST(HeapTest, WriteBarrierDirtiesOnlyOldBlocksForPointers) {
  TestHeap t;
  VectorRoots roots;
  Mutator* m = t.heap->CreateMutator();
  roots.roots.push_back(V(m->AllocateVector(4, Value::Nil())));
  // Promotion age 2: two collections move the vector to generation 1.
  t.heap->Collect(0, roots);
  t.heap->Collect(0, roots);
  Object* old = roots.roots[0].AsObject();
  ASSERT_EQ(t.heap->GenerationOf(old), 1);
  BlockInfo& info = t.arena->InfoFor(old);
  std::memset(info.cards, 0, sizeof(info.cards));
  t.heap->WriteBarrier(old, &old->at(0), Value::Fixnum(3));
  size_t card = (reinterpret_cast<uintptr_t>(&old->at(0)) >> kCardShift) % kCardsPerBlock;
  EXPECT_EQ(info.cards[card], 0);  // not a pointer: no card
  Object* young = m->AllocatePair(Value::Nil(), Value::Nil());
  t.heap->WriteBarrier(old, &old->at(1), V(young));
  EXPECT_NE(info.cards[card], 0);
  t.heap->Verify(&roots);
  t.heap->Collect(0, roots);
  t.heap->Verify(&roots);
  old = roots.roots[0].AsObject();
  EXPECT_EQ(old->at(1).AsObject()->kind(), ObjectKind::kPair);
  EXPECT_EQ(old->at(0).FixnumValue(), 3);
  t.heap->DestroyMutator(m);
}

TEST(HeapTest, GlobalRootsAreUpdated) {
  TestHeap t;
  VectorRoots none;
  Mutator* m = t.heap->CreateMutator();
  Value g = V(m->AllocateString("global"));
  t.heap->AddGlobalRoot(&g);
  Value before = g;
  t.heap->Collect(0, none);
  t.heap->Verify(&none);
  EXPECT_NE(g.raw, before.raw);  // nursery objects always move
  EXPECT_EQ(g.AsObject()->string_view(), "global");
  t.heap->RemoveGlobalRoot(&g);
  t.heap->Collect(0, none);
  EXPECT_EQ(t.heap->TakeCensus().total_objects(), 0u);
  t.heap->DestroyMutator(m);
}

TEST(HeapTest, FreedBlocksStayCommittedUpToTheRecentPeakThenGoBack) {
  // [heap.arena.retain]: what a collection frees stays resident while the heap was
  // recently that big (the next cycle reuses it without page faults), and goes back
  // to the arena's own cache size once the heap has stayed small for a few older
  // collections.
  TestHeap t;  // the arena keeps 4 MiB of free blocks of its own accord
  const size_t base = t.arena->Stats().cached_free_bytes;
  VectorRoots roots;
  Mutator* m = t.heap->CreateMutator();
  for (int i = 0; i < 4000; ++i) {  // 16 MiB of 4 KiB vectors
    Object* v = m->AllocateVector(500, Value::Fixnum(i));
    ASSERT_NE(v, nullptr);
    roots.roots.push_back(V(v));
  }
  const int oldest = t.heap->oldest_generation();
  t.heap->Collect(oldest, roots);  // promotes them
  roots.roots.clear();
  t.heap->Collect(oldest, roots);  // frees them
  t.heap->Verify(&roots);
  EXPECT_GT(t.arena->Stats().free_committed_blocks * kBlockSize, size_t{12} << 20);
  EXPECT_GT(t.arena->Stats().cached_free_bytes, size_t{16} << 20);
  int collections = 0;
  while (t.arena->Stats().cached_free_bytes > base && collections < 10) {
    t.heap->Collect(oldest, roots);
    ++collections;
  }
  EXPECT_LE(collections, 6);
  EXPECT_EQ(t.arena->Stats().cached_free_bytes, base);
  EXPECT_LE(t.arena->Stats().free_committed_blocks * kBlockSize, base);
  t.heap->DestroyMutator(m);
}

TEST(HeapTest, BlocksKeptForReuseStayWithinTheHardLimit) {
  // [heap.arena.retain]: once a collection has freed, the heap and what the arena
  // keeps for it fit under the hard limit, however big the recent peak was.
  HeapOptions o = testing::SmallHeapOptions();
  o.hard_limit_bytes = size_t{32} << 20;
  o.soft_limit_bytes = o.hard_limit_bytes;
  TestHeap t(o);
  const size_t base = t.arena->options().cached_free_bytes;
  VectorRoots roots;
  Mutator* m = t.heap->CreateMutator();
  for (int i = 0; i < 3000; ++i) {  // 12 MiB of 4 KiB vectors, 11 MiB of them kept
    Object* v = m->AllocateVector(500, Value::Fixnum(i));
    ASSERT_NE(v, nullptr);
    if (i % 12 != 0) roots.roots.push_back(V(v));
  }
  t.heap->Collect(t.heap->oldest_generation(), roots);  // a 23 MiB peak, 11 MiB left
  t.heap->Verify(&roots);
  HeapStats s = t.heap->Stats();
  const size_t used = s.heap_bytes + s.nursery_spare_blocks * kBlockSize;
  const size_t cached = t.arena->Stats().cached_free_bytes;
  EXPECT_LE(cached, std::max(base, o.hard_limit_bytes - used));
  EXPECT_LT(cached, size_t{22} << 20);  // below the peak: the bound was what applied
  EXPECT_LE(t.arena->Stats().free_committed_blocks * kBlockSize, cached);
  t.heap->DestroyMutator(m);
}

TEST(HeapTest, HostIsAskedWhenTheNurseryFills) {
  TestHeap t;
  VectorRoots roots;
  TestHost host(t.heap.get(), &roots);
  t.heap->SetHost(&host);
  Mutator* m = t.heap->CreateMutator();
  roots.roots.push_back(Value::Nil());
  for (int i = 0; i < 200000; ++i) {
    Object* p = m->AllocatePair(Value::Fixnum(i), roots.roots[0]);
    ASSERT_NE(p, nullptr);
    if (i % 100 == 0) roots.roots[0] = Value::Nil();  // keep lists short
    else roots.roots[0] = V(p);
  }
  EXPECT_GT(host.requests[0], 5);
  t.heap->DestroyMutator(m);  // closes its regions, which counts their bytes
  HeapStats s = t.heap->Stats();
  EXPECT_GT(s.collections[0], 5u);
  EXPECT_GE(s.bytes_allocated, 200000u * PairBytes());
  EXPECT_LE(s.heap_bytes, size_t{4} << 20);  // garbage was reclaimed
  t.heap->SetHost(nullptr);
}

TEST(HeapTest, StressModeCollectsInsideAllocationAndKeepsArguments) {
  HeapOptions o = testing::SmallHeapOptions();
  o.gc_stress_every_n_allocations = 3;
  TestHeap t(o);
  VectorRoots roots;
  TestHost host(t.heap.get(), &roots);
  t.heap->SetHost(&host);
  Mutator* m = t.heap->CreateMutator();
  roots.roots.push_back(Value::Nil());
  for (int i = 0; i < 300; ++i) {
    // The car is a fresh object only the Mutator's scratch slot keeps alive.
    Value s = V(m->AllocateString("x"));
    Object* p = m->AllocatePair(s, roots.roots[0]);
    ASSERT_NE(p, nullptr);
    roots.roots[0] = V(p);
  }
  int n = 0;
  for (Value v = roots.roots[0]; !v.IsNil(); v = v.AsObject()->cdr()) {
    ASSERT_EQ(v.AsObject()->car().AsObject()->string_view(), "x");
    ++n;
  }
  EXPECT_EQ(n, 300);
  EXPECT_GT(host.requests[0], 50);
  t.heap->DestroyMutator(m);
  t.heap->SetHost(nullptr);
}

// [heap.poll]: every slow path polls the host before it takes a block (or a large or
// pinned object), and a collection there (in the runtime, another thread's: the
// poller stops for it) may move the arguments held in the mutator's scratch slots.
TEST(HeapTest, SlowPathsPollTheHostAndACollectionThereKeepsArguments) {
  TestHeap t;
  VectorRoots roots;
  TestHost host(t.heap.get(), &roots);
  host.young_every_nth_poll = 2;
  t.heap->SetHost(&host);
  Mutator* m = t.heap->CreateMutator();
  roots.roots.push_back(Value::Nil());
  constexpr int kPairs = 20000;
  for (int i = 0; i < kPairs; ++i) {
    // The car is a fresh string only the Mutator's scratch slot keeps alive while the
    // pair is allocated.
    Value s = V(m->AllocateString(std::to_string(i)));
    Object* p = m->AllocatePair(s, roots.roots[0]);
    ASSERT_NE(p, nullptr);
    roots.roots[0] = V(p);
  }
  // Each block taken was polled for: the pairs alone fill kPairs * PairBytes() / kBlockSize.
  EXPECT_GE(host.polls, static_cast<int>(kPairs * PairBytes() / kBlockSize));
  EXPECT_GT(host.collected_at_poll, 0);
  int polls = host.polls;
  ASSERT_NE(m->AllocateBytes(kMaxSmallObjectBytes + 1), nullptr);
  EXPECT_EQ(host.polls, polls + 1);
  ASSERT_NE(m->AllocatePinnedBytes(64), nullptr);
  EXPECT_EQ(host.polls, polls + 2);
  int i = kPairs;
  for (Value v = roots.roots[0]; !v.IsNil(); v = v.AsObject()->cdr()) {
    ASSERT_EQ(v.AsObject()->car().AsObject()->string_view(), std::to_string(--i));
  }
  EXPECT_EQ(i, 0);
  t.heap->DestroyMutator(m);
  t.heap->SetHost(nullptr);
}

// [heap.collect.coalesce]: a request is served by any collection of its generation
// or an older one that ran after it was made, and by no younger one.
TEST(HeapTest, CollectUnlessDoneSkipsARequestThatAnotherCollectionServed) {
  TestHeap t;
  VectorRoots roots;
  const uint64_t young_seen = t.heap->CollectionsOf(0);
  const uint64_t old_seen = t.heap->CollectionsOf(1);
  t.heap->Collect(0, roots);  // another thread's young collection
  EXPECT_EQ(t.heap->CollectionsOf(0), young_seen + 1);
  EXPECT_FALSE(t.heap->CollectUnlessDone(0, young_seen, roots));
  EXPECT_EQ(t.heap->CollectionsOf(0), young_seen + 1);
  // A young collection does not serve a request for generation 1.
  EXPECT_TRUE(t.heap->CollectUnlessDone(1, old_seen, roots));
  EXPECT_EQ(t.heap->CollectionsOf(1), old_seen + 1);
  // ... and a full one serves a young request made before it.
  const uint64_t seen = t.heap->CollectionsOf(0);
  t.heap->Collect(t.heap->oldest_generation(), roots);
  EXPECT_FALSE(t.heap->CollectUnlessDone(0, seen, roots));
  // Nothing ran since: it collects.
  EXPECT_TRUE(t.heap->CollectUnlessDone(0, t.heap->CollectionsOf(0), roots));
  EXPECT_EQ(t.heap->Stats().collections[0], 2u);
}

TEST(HeapTest, MutatorsAllocateConcurrently) {
  TestHeap t;
  constexpr int kThreads = 2;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      Mutator* m = t.heap->CreateMutator();
      Value list = Value::Nil();
      for (int j = 0; j < 20000; ++j) {
        Object* p = m->AllocatePair(Value::Fixnum(j), list);
        if (p == nullptr) {
          ++failures;
          break;
        }
        list = V(p);
        if (j % 1000 == 0) m->AllocateString("some text");
      }
      t.heap->DestroyMutator(m);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  t.heap->Verify();
  EXPECT_EQ(t.heap->TakeCensus().objects[0][static_cast<int>(ObjectKind::kPair)],
            size_t{kThreads} * 20000);
}

TEST(HeapTest, ForEachObjectSeesEveryObjectOnce) {
  TestHeap t;
  Mutator* m = t.heap->CreateMutator();
  for (int i = 0; i < 1000; ++i) m->AllocateVector(i % 7, Value::Nil());
  size_t n = 0;
  t.heap->ForEachObject([&](Object* o, int gen) {
    EXPECT_EQ(o->kind(), ObjectKind::kVector);
    EXPECT_EQ(gen, 0);
    ++n;
  });
  EXPECT_EQ(n, 1000u);
  t.heap->DestroyMutator(m);
}

}  // namespace
}  // namespace weft::heap
