// Tests for NativeStackAllocator and ManagedStack.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "heap/arena.h"
#include "heap/os_memory.h"
#include "heap/os_memory_testing.h"
#include "threads/managed_stack.h"
#include "threads/native_stack.h"

namespace weft::threads {
namespace {

class StacksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = heap::Arena::Create({});
    ASSERT_TRUE(a.ok());
    arena_.reset(*a);
  }
  std::unique_ptr<heap::Arena> arena_;
};

// AllocateGuardRegion allocates a stack and reports whether it got a kernel guard
// region (false, with the stack freed, on kernels without them).
bool AllocateGuardRegion(NativeStackAllocator* regions, NativeStack* s) {
  if (!heap::OsGuardsSupported() || !regions->Allocate(64 << 10, s)) return false;
  if (s->guard == StackGuard::kRegion) return true;
  regions->Free(s);
  return false;
}

TEST_F(StacksTest, NativeGuardedAndCanary) {
  NativeStackAllocator guarded(arena_.get(), /*guard_regions=*/false, 1 << 20);
  NativeStack s;
  ASSERT_TRUE(guarded.Allocate(64 << 10, &s));
  EXPECT_EQ(s.guard, StackGuard::kProtected);
  EXPECT_EQ(s.run_bytes, size_t{64} << 10);
  EXPECT_EQ(arena_->InfoFor(s.run).type, heap::BlockType::kNativeStack);
  s.top[-1] = 1;  // usable
  guarded.Free(&s);

  NativeStackAllocator unguarded(arena_.get(), /*guard_regions=*/false, 0);
  ASSERT_TRUE(unguarded.Allocate(40 << 10, &s));
  EXPECT_EQ(s.guard, StackGuard::kCanary);
  EXPECT_EQ(s.run_bytes, size_t{64} << 10);  // rounded to blocks
  EXPECT_TRUE(NativeStackAllocator::CanaryIntact(s));
  s.limit[3] = 1;
  EXPECT_FALSE(NativeStackAllocator::CanaryIntact(s));
  unguarded.Free(&s);
  EXPECT_EQ(arena_->Stats().blocks_in_use, 0u);
}

long MappingCount() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return -1;
  long lines = 0;
  for (int c; (c = std::fgetc(f)) != EOF;) lines += (c == '\n');
  std::fclose(f);
  return lines;
}

// [threads.inv.overflow-detected]: with kernel guard regions every stack is guarded,
// far beyond what vm.max_map_count would allow PROT_NONE pages (about 24k here), and
// the mapping count does not grow. A freed stack's page is plain memory again.
TEST_F(StacksTest, GuardRegionsGuardEveryStackWithoutSplittingTheMapping) {
  NativeStackAllocator regions(arena_.get(), /*guard_regions=*/true, 0);
  NativeStack probe;
  if (!AllocateGuardRegion(&regions, &probe)) GTEST_SKIP() << "no kernel guard regions";
  const long maps_before = MappingCount();
  const long regions_before = NativeStackAllocator::GuardRegionStacks();
  constexpr int kStacks = 40000;
  std::vector<NativeStack> stacks(kStacks);
  for (NativeStack& s : stacks) {
    ASSERT_TRUE(regions.Allocate(32 << 10, &s));
    ASSERT_EQ(s.guard, StackGuard::kRegion);
    s.top[-1] = 1;
  }
  EXPECT_EQ(NativeStackAllocator::GuardRegionStacks(), regions_before + kStacks);
  EXPECT_LT(MappingCount(), maps_before + 64);  // the arena's commits, not one per stack
  for (NativeStack& s : stacks) regions.Free(&s);
  regions.Free(&probe);
  EXPECT_EQ(NativeStackAllocator::GuardRegionStacks(), regions_before - 1);
  EXPECT_EQ(arena_->Stats().blocks_in_use, 0u);
  // The guard is gone: the arena hands the page out again as ordinary memory.
  char* block = static_cast<char*>(arena_->AllocateBlocks(1, heap::BlockType::kNativeStack));
  ASSERT_NE(block, nullptr);
  block[0] = 1;
  block[heap::kBlockSize - 1] = 1;
  arena_->FreeBlocks(block);
}

// A kernel guard region faults on any access, read or write.
TEST_F(StacksTest, GuardRegionFaultsOnAccessDeathTest) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  NativeStackAllocator regions(arena_.get(), /*guard_regions=*/true, 0);
  NativeStack s;
  if (!AllocateGuardRegion(&regions, &s)) GTEST_SKIP() << "no kernel guard regions";
  volatile char* guard_page = s.run;
  EXPECT_DEATH((void)guard_page[17], "");
  regions.Free(&s);
}

using heap::testing::KernelPopulates;
using heap::testing::Resident;

// [threads.stacks.prefault]: a batch of stacks costs one populate call for all of
// them (and, with batched guards, one guard call); each is a whole stack with its own
// guard, and its top page is already resident where the kernel populates.
TEST_F(StacksTest, AllocateManyGuardsAndPopulatesABatchAtOnce) {
  NativeStackAllocator regions(arena_.get(), /*guard_regions=*/true, 1 << 20);
  constexpr size_t kStacks = 16;
  NativeStack stacks[kStacks];
  const long populates = heap::OsCallCount(heap::OsCall::kPopulate);
  ASSERT_EQ(regions.AllocateMany(64 << 10, stacks, kStacks), kStacks);
  EXPECT_EQ(heap::OsCallCount(heap::OsCall::kPopulate), populates + 1);
  const bool populated = KernelPopulates();
  for (size_t i = 0; i < kStacks; ++i) {
    NativeStack& s = stacks[i];
    EXPECT_EQ(s.run_bytes, size_t{64} << 10);
    EXPECT_EQ(s.top, s.run + s.run_bytes);
    EXPECT_EQ(arena_->InfoFor(s.run).type, heap::BlockType::kNativeStack);
    EXPECT_NE(s.guard, StackGuard::kCanary);  // a region, or a page within the budget
    if (heap::OsGuardsSupported()) {
      EXPECT_EQ(s.guard, StackGuard::kRegion);
    }
    if (populated) {
      EXPECT_TRUE(Resident(s.top - 1)) << "stack " << i;
    }
    for (size_t j = 0; j < i; ++j) EXPECT_FALSE(stacks[j].Contains(s.run));
    s.top[-1] = 1;
  }
  for (NativeStack& s : stacks) regions.Free(&s);
  EXPECT_EQ(arena_->Stats().blocks_in_use, 0u);
}

// When the batched guard call fails, each stack of the batch places its own.
TEST_F(StacksTest, AllocateManyGuardsEachStackWhenTheBatchFails) {
  NativeStackAllocator regions(arena_.get(), /*guard_regions=*/true, 0);
  NativeStack probe;
  if (!AllocateGuardRegion(&regions, &probe)) GTEST_SKIP() << "no kernel guard regions";
  regions.Free(&probe);
  NativeStack stacks[8];
  const long guards = heap::OsCallCount(heap::OsCall::kGuard);
  heap::OsInjectFault(heap::OsCall::kGuard, 1);  // the batch call
  ASSERT_EQ(regions.AllocateMany(32 << 10, stacks, 8), 8u);
  heap::OsInjectFault(heap::OsCall::kGuard, 0);
  EXPECT_EQ(heap::OsCallCount(heap::OsCall::kGuard), guards + 1 + 8);
  for (NativeStack& s : stacks) {
    EXPECT_EQ(s.guard, StackGuard::kRegion);
    regions.Free(&s);
  }
}

// Population is advisory: when the call fails the stacks are the same, their pages
// fault in on first touch.
TEST_F(StacksTest, AllocateManyWorksWhenPopulatingFails) {
  NativeStackAllocator plain(arena_.get(), /*guard_regions=*/false, 0);
  NativeStack stacks[4];
  heap::OsInjectFault(heap::OsCall::kPopulate, 1);
  ASSERT_EQ(plain.AllocateMany(32 << 10, stacks, 4), 4u);
  heap::OsInjectFault(heap::OsCall::kPopulate, 0);
  for (NativeStack& s : stacks) {
    EXPECT_EQ(s.guard, StackGuard::kCanary);
    EXPECT_TRUE(NativeStackAllocator::CanaryIntact(s));
    s.top[-1] = 1;
    plain.Free(&s);
  }
  EXPECT_EQ(arena_->Stats().blocks_in_use, 0u);
}

TEST_F(StacksTest, DefaultGuardBudgetIsBelowMapLimit) {
  long b = NativeStackAllocator::DefaultGuardBudget();
  EXPECT_GT(b, 1000);
  EXPECT_LT(b, 65530 / 2);
}

TEST_F(StacksTest, ManagedGrowsBySegmentsAndSlotsStayPut) {
  ManagedChunkAllocator chunks(arena_.get());
  {
    ManagedStack m;
    ASSERT_TRUE(m.Init(&chunks, 256 << 10));
    EXPECT_EQ(m.capacity_bytes(), kFirstSegmentBytes);
    std::vector<uint64_t*> slots;
    for (uint64_t i = 0; i < 10000; ++i) {
      uint64_t* p = m.Push();
      ASSERT_NE(p, nullptr);
      *p = i;
      slots.push_back(p);
    }
    for (uint64_t i = 0; i < slots.size(); ++i) ASSERT_EQ(*slots[i], i);  // never moved
    EXPECT_EQ(m.used_slots(), 10000u);
    size_t seen = 0;
    uint64_t expect = 0;
    m.ForEachSegment([&](uint64_t* b, uint64_t* e) {
      for (uint64_t* p = b; p < e; ++p) ASSERT_EQ(*p, expect++);
      seen += e - b;
    });
    EXPECT_EQ(seen, 10000u);
    ManagedStack::Mark mark = m.GetMark();
    for (int i = 0; i < 9000; ++i) ASSERT_NE(m.Push(), nullptr);
    m.Reset(mark);
    EXPECT_EQ(m.used_slots(), 10000u);
    m.Clear();
    EXPECT_EQ(m.used_slots(), 0u);
    EXPECT_EQ(m.segment_count(), 1);
  }
  // What is left: one block of each chunk pool ([threads.managed.segments]).
  EXPECT_EQ(arena_->Stats().blocks_by_type[static_cast<int>(heap::BlockType::kManagedStack)], 2u);
}

TEST_F(StacksTest, ManagedStopsAtMaximum) {
  ManagedChunkAllocator chunks(arena_.get());
  ManagedStack m;
  const size_t max = kFirstSegmentBytes + kSecondSegmentBytes + heap::kBlockSize;
  ASSERT_TRUE(m.Init(&chunks, max));
  size_t n = 0;
  while (m.Push() != nullptr) ++n;
  EXPECT_EQ(n, max / 8);
  EXPECT_EQ(m.capacity_bytes(), max);
  EXPECT_EQ(m.Push(), nullptr);  // stays at the maximum
  m.Clear();
  EXPECT_NE(m.Push(), nullptr);
  EXPECT_EQ(m.PushFrame(heap::kBlockSize), nullptr);  // larger than any segment
}

// [threads.stacks.prefault]: the first-chunk pool populates each block it takes (every
// thread writes its first chunk, lowest address first); the second-chunk pool does not.
TEST_F(StacksTest, FirstChunkBlocksArePopulatedWhenTaken) {
  if (!KernelPopulates()) GTEST_SKIP() << "no MADV_POPULATE_WRITE before Linux 5.14";
  ManagedChunkAllocator chunks(arena_.get());
  const long populates = heap::OsCallCount(heap::OsCall::kPopulate);
  uint64_t* first = chunks.AllocateChunk(ManagedChunkAllocator::Size::kFirst);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(heap::OsCallCount(heap::OsCall::kPopulate), populates + 1);
  const char* block = reinterpret_cast<const char*>(first);
  for (size_t off = 0; off < heap::kBlockSize; off += heap::OsPageSize()) {
    EXPECT_TRUE(Resident(block + off)) << "page at " << off;
  }
  uint64_t* second = chunks.AllocateChunk(ManagedChunkAllocator::Size::kSecond);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(heap::OsCallCount(heap::OsCall::kPopulate), populates + 1);
  chunks.FreeChunk(first, ManagedChunkAllocator::Size::kFirst);
  chunks.FreeChunk(second, ManagedChunkAllocator::Size::kSecond);
}

// [threads.managed.segments]: 16 slots in the first chunk, 256 in the second, then
// whole blocks; a blocked thread that used a few slots holds only the first chunk.
TEST_F(StacksTest, ManagedSegmentsGrowFromSmallChunksToBlocks) {
  const auto managed_blocks = [&] {
    return arena_->Stats().blocks_by_type[static_cast<int>(heap::BlockType::kManagedStack)];
  };
  ManagedChunkAllocator chunks(arena_.get());
  {
    ManagedStack m;
    ASSERT_TRUE(m.Init(&chunks, 1 << 20));
    EXPECT_EQ(managed_blocks(), 1u);  // the first-chunk pool's block
    for (size_t i = 0; i < kFirstSegmentBytes / 8; ++i) ASSERT_NE(m.Push(), nullptr);
    EXPECT_EQ(m.segment_count(), 1);
    ASSERT_NE(m.Push(), nullptr);
    EXPECT_EQ(m.segment_count(), 2);
    EXPECT_EQ(m.capacity_bytes(), kFirstSegmentBytes + kSecondSegmentBytes);
    EXPECT_EQ(managed_blocks(), 2u);  // and the second-chunk pool's
    for (size_t i = 1; i < kSecondSegmentBytes / 8; ++i) ASSERT_NE(m.Push(), nullptr);
    EXPECT_EQ(m.segment_count(), 2);
    ASSERT_NE(m.Push(), nullptr);
    EXPECT_EQ(m.segment_count(), 3);
    EXPECT_EQ(m.capacity_bytes(), kFirstSegmentBytes + kSecondSegmentBytes + heap::kBlockSize);
    EXPECT_EQ(managed_blocks(), 3u);
    m.Clear();
    EXPECT_EQ(m.segment_count(), 1);
    EXPECT_EQ(managed_blocks(), 2u);  // the block segment went back; the pools keep theirs
  }
  {
    // Many stacks share the chunk pools' blocks.
    std::vector<std::unique_ptr<ManagedStack>> stacks;
    for (size_t i = 0; i < heap::kBlockSize / kFirstSegmentBytes; ++i) {
      stacks.push_back(std::make_unique<ManagedStack>());
      ASSERT_TRUE(stacks.back()->Init(&chunks, 1 << 20));
      *stacks.back()->Push() = i;
    }
    EXPECT_EQ(managed_blocks(), 2u);
  }
}

// A frame larger than the second chunk skips it, also when the chunk is a spare kept by
// Reset, and the slots pushed before stay where they were.
TEST_F(StacksTest, ManagedFrameLargerThanTheSecondChunkSkipsIt) {
  ManagedChunkAllocator chunks(arena_.get());
  ManagedStack m;
  ASSERT_TRUE(m.Init(&chunks, 1 << 20));
  uint64_t* first = m.Push();
  *first = 7;
  ManagedStack::Mark mark = m.GetMark();
  for (size_t i = 0; i < kFirstSegmentBytes / 8; ++i) ASSERT_NE(m.Push(), nullptr);  // into chunk 2
  EXPECT_EQ(m.segment_count(), 2);
  m.Reset(mark);  // keeps the second chunk as a spare
  EXPECT_EQ(m.segment_count(), 2);
  for (size_t i = 1; i < kFirstSegmentBytes / 8; ++i) ASSERT_NE(m.Push(), nullptr);  // fill chunk 1
  const size_t big = kSecondSegmentBytes / 8 + 1;
  uint64_t* frame = m.PushFrame(big);
  ASSERT_NE(frame, nullptr);
  for (size_t i = 0; i < big; ++i) frame[i] = 100 + i;
  EXPECT_EQ(m.segment_count(), 3);
  EXPECT_EQ(m.used_slots(), kFirstSegmentBytes / 8 + big);
  size_t seen = 0;
  m.ForEachSegment([&](uint64_t* b, uint64_t* e) { seen += static_cast<size_t>(e - b); });
  EXPECT_EQ(seen, m.used_slots());
  EXPECT_EQ(*first, 7u);
  m.Reset(mark);
  EXPECT_EQ(m.used_slots(), 1u);
  EXPECT_EQ(*first, 7u);
}

}  // namespace
}  // namespace weft::threads
