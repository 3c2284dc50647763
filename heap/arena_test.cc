#include "heap/arena.h"

#include <sys/resource.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "heap/os_memory.h"
#include "heap/os_memory_testing.h"

namespace weft::heap {
namespace {

ArenaOptions SmallOptions() {
  ArenaOptions o;
  o.reserve_bytes = size_t{256} << 20;
  o.cached_free_bytes = size_t{1} << 20;
  return o;
}

TEST(ArenaTest, ReservesAlignedRangeAndMapsAddressesToBlocks) {
  auto arena = Arena::Create(SmallOptions());
  ASSERT_TRUE(arena.ok()) << arena.status();
  std::unique_ptr<Arena> a(*arena);
  EXPECT_EQ(a->base() % kBlockSize, 0u);
  EXPECT_EQ(a->size(), size_t{256} << 20);
  char* p = static_cast<char*>(a->AllocateBlocks(3, BlockType::kLarge));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(a->Contains(p + 3 * kBlockSize - 1));
  size_t head = a->BlockIndex(p);
  EXPECT_EQ(a->HeadOf(head + 2), head);
  EXPECT_EQ(a->InfoFor(p + kBlockSize + 17).type, BlockType::kLarge);
  EXPECT_EQ(a->Info(head).run_blocks, 3u);
  std::memset(p, 0xab, 3 * kBlockSize);  // committed and writable
  a->Verify();
  a->FreeBlocks(p);
  a->Verify();
  EXPECT_FALSE(a->Contains(reinterpret_cast<void*>(a->base() - 1)));
}

TEST(ArenaTest, FreedRunsCoalesceAndAreReusedLowestFirst) {
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  void* x = a->AllocateBlocks(1, BlockType::kYoung);
  void* y = a->AllocateBlocks(1, BlockType::kYoung);
  void* z = a->AllocateBlocks(1, BlockType::kYoung);
  a->FreeBlocks(x);
  a->FreeBlocks(y);
  a->Verify();
  // x and y coalesced into one 2-block run; a 2-block request fits there.
  EXPECT_EQ(a->AllocateBlocks(2, BlockType::kOld), x);
  a->FreeBlocks(z);
  a->Verify();
  EXPECT_EQ(a->Stats().blocks_by_type[static_cast<int>(BlockType::kOld)], 2u);
}

// [heap.nursery.in-place]: a nursery block becomes an old one where it is.
TEST(ArenaTest, RetypeChangesARunsTypeAndTheCountsInPlace) {
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  void* x = a->AllocateBlocks(1, BlockType::kYoung);
  void* y = a->AllocateBlocks(2, BlockType::kYoung);
  a->InfoFor(x).generation = 0;
  a->InfoFor(x).bytes_used = 123;
  a->Retype(x, BlockType::kOld);
  a->Verify();
  EXPECT_EQ(a->InfoFor(x).type, BlockType::kOld);
  EXPECT_EQ(a->InfoFor(x).bytes_used, 123u);  // the owner's fields are kept
  EXPECT_EQ(a->Stats().blocks_by_type[static_cast<int>(BlockType::kOld)], 1u);
  EXPECT_EQ(a->Stats().blocks_by_type[static_cast<int>(BlockType::kYoung)], 2u);
  a->Retype(y, BlockType::kOld);
  a->Verify();
  EXPECT_EQ(a->InfoFor(static_cast<char*>(y) + kBlockSize).type, BlockType::kOld);
  EXPECT_EQ(a->Stats().blocks_by_type[static_cast<int>(BlockType::kOld)], 3u);
  a->FreeBlocks(x);
  a->FreeBlocks(y);
  a->Verify();
  EXPECT_EQ(a->Stats().blocks_by_type[static_cast<int>(BlockType::kOld)], 0u);
}

// The always-on checks of FreeBlocks and Retype: each misuse ends the process with
// its message instead of corrupting the block table.
TEST(ArenaDeathTest, FreeBlocksAndRetypeTakeOnlyTheHeadOfAnAllocatedRun) {
  auto arena = Arena::Create(SmallOptions());
  ASSERT_TRUE(arena.ok());
  std::unique_ptr<Arena> owner(*arena);
  Arena& a = *owner;
  char* run = static_cast<char*>(a.AllocateBlocks(2, BlockType::kOld));
  ASSERT_NE(run, nullptr);
  int outside = 0;
  EXPECT_DEATH(a.FreeBlocks(&outside), "FreeBlocks or Retype of an address outside the arena");
  EXPECT_DEATH(a.Retype(run + kBlockSize, BlockType::kYoung),
               "FreeBlocks or Retype of an address that is not the head of a run");
  EXPECT_DEATH(a.FreeBlocks(run + 8), "not the head of a run");
  EXPECT_DEATH(a.Retype(run, BlockType::kFree), "Retype to type free");
  a.FreeBlocks(run);
  EXPECT_DEATH(a.FreeBlocks(run), "FreeBlocks or Retype of a free run \\(a double free\\?\\)");
  EXPECT_DEATH(a.Retype(run, BlockType::kOld), "of a free run");
  a.Verify();
}

TEST(ArenaTest, RandomAllocateFreeKeepsTableConsistent) {
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  uint32_t seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  std::vector<std::pair<void*, size_t>> live;
  for (int step = 0; step < 4000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      size_t n = 1 + rng() % 8;
      void* p = a->AllocateBlocks(n, static_cast<BlockType>(1 + rng() % 7));
      ASSERT_NE(p, nullptr);
      live.emplace_back(p, n);
    } else {
      size_t i = rng() % live.size();
      a->FreeBlocks(live[i].first);
      live[i] = live.back();
      live.pop_back();
    }
    if (step % 97 == 0) a->Verify();
  }
  size_t in_use = 0;
  for (auto& [p, n] : live) in_use += n;
  EXPECT_EQ(a->Stats().blocks_in_use, in_use);
  for (auto& [p, n] : live) a->FreeBlocks(p);
  a->Verify();
  EXPECT_EQ(a->Stats().blocks_in_use, 0u);
}

TEST(ArenaTest, ExhaustionReturnsNullWithoutDamage) {
  ArenaOptions o = SmallOptions();
  o.reserve_bytes = o.min_reserve_bytes = size_t{1} << 20;  // 32 blocks
  std::unique_ptr<Arena> a(*Arena::Create(o));
  void* p = a->AllocateBlocks(32, BlockType::kOld);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(a->AllocateBlocks(1, BlockType::kOld), nullptr);
  a->Verify();
  a->FreeBlocks(p);
  EXPECT_NE(a->AllocateBlocks(32, BlockType::kOld), nullptr);
}

TEST(ArenaTest, CommitFailureLeavesArenaUnchanged) {
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  OsInjectFault(OsCall::kCommit, 1);
  EXPECT_EQ(a->AllocateBlocks(4, BlockType::kOld), nullptr);
  OsInjectFault(OsCall::kCommit, 0);
  a->Verify();
  EXPECT_EQ(a->Stats().blocks_in_use, 0u);
  EXPECT_NE(a->AllocateBlocks(4, BlockType::kOld), nullptr);
  a->Verify();
}

// [heap.arena.commit-ahead]
TEST(ArenaTest, CommitsAheadOfTheHighWaterInSteps) {
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  ASSERT_NE(a->AllocateBlocks(1, BlockType::kOld), nullptr);
  long commits = OsCallCount(OsCall::kCommit);
  // The first step is 1 MiB (32 blocks): the next 31 blocks need no call.
  std::vector<char*> runs;
  for (int i = 0; i < 31; ++i) {
    char* p = static_cast<char*>(a->AllocateBlocks(1, BlockType::kOld));
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x5a, kBlockSize);  // committed and writable
    runs.push_back(p);
  }
  EXPECT_EQ(OsCallCount(OsCall::kCommit), commits);
  EXPECT_EQ(a->high_water(), 32u);
  // Past the step: one more call, and a run larger than a step is committed whole.
  char* big = static_cast<char*>(a->AllocateBlocks(100, BlockType::kLarge));
  ASSERT_NE(big, nullptr);
  std::memset(big, 0x5a, 100 * kBlockSize);
  EXPECT_EQ(OsCallCount(OsCall::kCommit), commits + 1);
  a->Verify();
}

TEST(ArenaTest, CommitsExactlyWhatARunNeedsWhenTheStepIsRefused) {
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  long before = OsCallCount(OsCall::kCommit);
  // The 1st and 2nd are the block table's and the mark table's
  // ([heap.arena.mark-table]); the 3rd, the step.
  OsInjectFault(OsCall::kCommit, 3);
  char* p = static_cast<char*>(a->AllocateBlocks(2, BlockType::kOld));
  OsInjectFault(OsCall::kCommit, 0);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x5a, 2 * kBlockSize);
  EXPECT_EQ(OsCallCount(OsCall::kCommit), before + 4);
  // Nothing was committed ahead, so the next new block asks again.
  ASSERT_NE(a->AllocateBlocks(1, BlockType::kOld), nullptr);
  EXPECT_EQ(OsCallCount(OsCall::kCommit), before + 5);
  a->Verify();
}

TEST(ArenaTest, ReserveRetriesSmallerWhenRefused) {
  OsInjectFault(OsCall::kReserve, 1);  // the first (1 TiB) attempt fails
  ArenaOptions o;
  auto arena = Arena::Create(o);
  OsInjectFault(OsCall::kReserve, 0);
  ASSERT_TRUE(arena.ok()) << arena.status();
  EXPECT_EQ((*arena)->size(), o.reserve_bytes / 2);
  delete *arena;
}

TEST(ArenaTest, ReserveFailsCleanlyUnderTinyAddressSpaceLimit) {
  ArenaOptions o;
  o.min_reserve_bytes = size_t{1} << 39;  // 512 GiB: beyond the limit set below
  rlimit old;
  getrlimit(RLIMIT_AS, &old);
  rlimit tight = old;
  tight.rlim_cur = size_t{64} << 30;
  ASSERT_EQ(setrlimit(RLIMIT_AS, &tight), 0);
  auto arena = Arena::Create(o);
  setrlimit(RLIMIT_AS, &old);
  ASSERT_FALSE(arena.ok());
  EXPECT_EQ(arena.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(arena.status().message().find("refused to reserve"), std::string::npos);
}

// AllocateTouchAndFree takes `blocks` old blocks one at a time, writes every page of
// them, then frees them all.
void AllocateTouchAndFree(Arena& a, int blocks) {
  std::vector<void*> runs;
  for (int i = 0; i < blocks; ++i) {
    void* p = a.AllocateBlocks(1, BlockType::kOld);
    std::memset(p, 1, kBlockSize);
    runs.push_back(p);
  }
  for (void* p : runs) a.FreeBlocks(p);
}

TEST(ArenaTest, DecommitPolicyReturnsMemoryAboveTheCache) {
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  AllocateTouchAndFree(*a, 256);  // 8 MiB
  a->Verify();
  // At most the cache stays resident.
  EXPECT_LE(a->Stats().free_committed_blocks * kBlockSize, size_t{1} << 20);
  a->ReleaseFreeMemory();
  EXPECT_EQ(a->Stats().free_committed_blocks, 0u);
  // Decommitted memory reads back as zero and is reusable.
  char* p = static_cast<char*>(a->AllocateBlocks(1, BlockType::kOld));
  EXPECT_EQ(p[100], 0);
  a->Verify();
}

TEST(ArenaTest, SetCachedFreeBytesKeepsFreedBlocksAndDecommitsTheExcess) {
  // [heap.arena.retain]: the heap raises the cache to its recent peak, so freed
  // blocks stay resident; lowering it returns the excess at once.
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  a->SetCachedFreeBytes(size_t{16} << 20);
  EXPECT_EQ(a->Stats().cached_free_bytes, size_t{16} << 20);
  AllocateTouchAndFree(*a, 256);  // 8 MiB
  EXPECT_EQ(a->Stats().free_committed_blocks, 256u);
  a->SetCachedFreeBytes(size_t{2} << 20);
  EXPECT_LE(a->Stats().free_committed_blocks * kBlockSize, size_t{2} << 20);
  EXPECT_GT(a->Stats().decommitted_blocks, 0u);
  a->Verify();
}

using testing::KernelPopulates;
using testing::Resident;

// ResidentPages counts the resident pages of one block.
size_t ResidentPages(const char* block) {
  size_t n = 0;
  for (size_t off = 0; off < kBlockSize; off += OsPageSize()) n += Resident(block + off);
  return n;
}

TEST(ArenaTest, CleanNurseryAndOldBlocksArePopulatedWhenTaken) {
  // [heap.arena.populate]: a fresh or decommitted heap block is resident when handed
  // out (one populate call instead of a fault per page); stacks are not.
  if (!KernelPopulates()) GTEST_SKIP() << "no MADV_POPULATE_WRITE before Linux 5.14";
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  const size_t pages = kBlockSize / OsPageSize();
  char* fresh_old = static_cast<char*>(a->AllocateBlocks(1, BlockType::kOld));
  char* fresh_young = static_cast<char*>(a->AllocateBlocks(2, BlockType::kYoung));
  char* stack = static_cast<char*>(a->AllocateBlocks(1, BlockType::kNativeStack));
  EXPECT_EQ(ResidentPages(fresh_old), pages);
  EXPECT_EQ(ResidentPages(fresh_young), pages);
  EXPECT_EQ(ResidentPages(fresh_young + kBlockSize), pages);
  EXPECT_EQ(ResidentPages(stack), 0u);
  // Decommitted and taken again: resident again, and zero.
  std::memset(fresh_old, 7, kBlockSize);
  a->FreeBlocks(fresh_old);
  a->ReleaseFreeMemory();
  EXPECT_EQ(ResidentPages(fresh_old), 0u);
  char* again = static_cast<char*>(a->AllocateBlocks(1, BlockType::kOld));
  ASSERT_EQ(again, fresh_old);
  EXPECT_EQ(ResidentPages(again), pages);
  EXPECT_EQ(again[kBlockSize - 1], 0);
  a->FreeBlocks(again);
  a->FreeBlocks(fresh_young);
  a->FreeBlocks(stack);
  a->Verify();
}

TEST(ArenaTest, APopulateTheKernelRefusesLeavesTheBlockUsable) {
  std::unique_ptr<Arena> a(*Arena::Create(SmallOptions()));
  OsInjectFault(OsCall::kPopulate, 1);
  char* p = static_cast<char*>(a->AllocateBlocks(1, BlockType::kOld));
  OsInjectFault(OsCall::kPopulate, 0);
  ASSERT_NE(p, nullptr);
  if (KernelPopulates()) {
    EXPECT_EQ(ResidentPages(p), 0u);  // faults in on first touch
  }
  std::memset(p, 3, kBlockSize);
  EXPECT_EQ(p[kBlockSize - 1], 3);
  a->FreeBlocks(p);
  a->Verify();
}

}  // namespace
}  // namespace weft::heap
