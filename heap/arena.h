// arena.h: address space reserved up front, committed as used, handed out in blocks.
//
// An Arena reserves one large, aligned range of address space with no access and no
// commit charge (retrying smaller when the OS refuses), and a block table with one
// BlockInfo per block, itself reserved and committed as the arena grows. Blocks are
// handed out alone or as contiguous runs, lowest address first, so the committed part
// of the arena stays compact; a block is committed on first use and, when freed,
// kept committed up to a cached amount and decommitted (returned to the OS) above
// it, or by ReleaseFreeMemory().
//
// Any address maps to its block index and BlockInfo in O(1) with no lock.
// Allocation and freeing are thread-safe (one mutex; callers cache blocks in their
// own pools and regions, so it is off the hot paths).
#ifndef WEFT_HEAP_ARENA_H_
#define WEFT_HEAP_ARENA_H_

#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/status/statusor.h"
#include "heap/block.h"
#include "heap/mutex.h"

namespace weft::heap {

struct ArenaOptions {
  // Address space to try to reserve. Halved on refusal down to min_reserve_bytes.
  size_t reserve_bytes = size_t{1} << 40;  // 1 TiB
  size_t min_reserve_bytes = size_t{64} << 20;
  // Freed blocks stay committed up to this many bytes; the rest are decommitted.
  size_t cached_free_bytes = size_t{8} << 20;
};

struct ArenaStats {
  size_t reserved_bytes = 0;
  size_t committed_bytes = 0;       // ever committed (high water), in bytes
  size_t resident_bound_bytes = 0;  // committed minus decommitted free blocks
  size_t blocks_in_use = 0;
  size_t blocks_by_type[8] = {};    // indexed by BlockType
  size_t free_committed_blocks = 0;
  size_t cached_free_bytes = 0;     // the current limit on free committed bytes
  uint64_t decommitted_blocks = 0;  // ever returned to the OS (page faults to come)
};

class Arena {
 public:
  // Create reserves the address space and the block table. Fails with
  // ResourceExhausted naming the sizes when even the minimum cannot be reserved.
  static absl::StatusOr<Arena*> Create(const ArenaOptions& options);
  ~Arena();  // unmaps everything; blocks still in use are the caller's bug

  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // AllocateBlocks returns the address of a run of `count` contiguous committed
  // blocks of `type` (not kFree), or nullptr when the arena is full or the OS refuses
  // to commit (errno tells which; the arena is unchanged). Fresh memory reads as zero;
  // reused memory does not (callers initialise what they use). Resets every
  // BlockInfo field except those the arena owns.
  void* AllocateBlocks(size_t count, BlockType type);
  // FreeBlocks returns a run from AllocateBlocks (its head address).
  void FreeBlocks(void* run);
  // Retype changes the type of a run from AllocateBlocks (its head address) in
  // place: the heap promotes a nursery block to an old one without moving it
  // ([heap.nursery.in-place]). Neither type may be kFree.
  void Retype(void* run, BlockType type);
  // ReleaseFreeMemory decommits every free committed block; returns bytes released.
  size_t ReleaseFreeMemory();
  // SetCachedFreeBytes changes how many bytes of freed blocks stay committed
  // (initially ArenaOptions::cached_free_bytes), decommitting any excess at once. The
  // heap raises it to its recent peak footprint ([heap.arena.retain]).
  void SetCachedFreeBytes(size_t bytes);

  // Address queries; O(1), lock-free, valid for any address.
  bool Contains(const void* p) const {
    return reinterpret_cast<uintptr_t>(p) - base_ < size_;
  }
  size_t BlockIndex(const void* p) const {
    return (reinterpret_cast<uintptr_t>(p) - base_) >> kBlockShift;
  }
  char* BlockAddress(size_t index) const {
    return reinterpret_cast<char*>(base_ + (index << kBlockShift));
  }
  // For blocks in use. A free block's entry holds only its type ([heap.arena.free-runs]).
  BlockInfo& Info(size_t index) const { return table_[index]; }
  BlockInfo& InfoFor(const void* p) const { return table_[BlockIndex(p)]; }
  // HeadOf returns the head block index of the run containing block `index`.
  size_t HeadOf(size_t index) const { return table_[index].run_head; }

  uintptr_t base() const { return base_; }
  // The options the arena was created with (its cache size as configured; the
  // current one is ArenaStats::cached_free_bytes).
  const ArenaOptions& options() const { return options_; }
  size_t size() const { return size_; }
  size_t block_count() const { return size_ >> kBlockShift; }
  // high_water: blocks [0, high_water) have been committed at least once.
  size_t high_water() const;

  ArenaStats Stats() const;
  // Verify checks the block table against the free sets: every block below the high
  // water is either in exactly one free run or in a used run with a consistent head.
  // Aborts with a message on the first inconsistency.
  void Verify() const;

  // ForEachRun calls fn(head_index, BlockInfo&) for every run in use, in address
  // order. Holds the arena lock: fn must not allocate or free blocks.
  template <typename Fn>
  void ForEachRun(Fn fn) const {
    MutexLock lock(&mu_);
    for (size_t i = 0; i < high_water_;) {
      BlockInfo& b = table_[i];
      if (b.type == BlockType::kFree) {
        ++i;
        continue;
      }
      fn(i, b);
      i += b.run_blocks;
    }
  }

 private:
  Arena() = default;
  struct FreeRun {  // [start, start + length) blocks
    size_t start;
    size_t length;
  };
  struct ByStart {
    bool operator()(const FreeRun& a, const FreeRun& b) const { return a.start < b.start; }
  };
  struct BySize {
    bool operator()(const FreeRun& a, const FreeRun& b) const {
      return a.length != b.length ? a.length < b.length : a.start < b.start;
    }
  };

  // AllocatedRunHeadLocked: the index of the run `run` heads, checking that it is the
  // head of an allocated run (FreeBlocks and Retype take only those).
  size_t AllocatedRunHeadLocked(void* run) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CommitBlocksUpTo(size_t blocks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CommitTableUpTo(size_t blocks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InsertFree(size_t start, size_t length) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseFree(const FreeRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkRun(size_t start, size_t length, BlockType type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DecommitExcess() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // TakeRun takes the run under the lock; *clean counts its blocks with no resident
  // pages.
  void* TakeRun(size_t count, BlockType type, size_t* clean) ABSL_LOCKS_EXCLUDED(mu_);

  ArenaOptions options_;
  uintptr_t base_ = 0;
  size_t size_ = 0;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  BlockInfo* table_ = nullptr;
  size_t table_bytes_ = 0;
  // [heap.arena.mark-table] kMarkWordsPerBlock words per block, after the table.
  uint64_t* marks_ = nullptr;
  size_t marks_bytes_ = 0;

  mutable Mutex mu_;  // TSan-visible ([heap/mutex.h])
  size_t high_water_ ABSL_GUARDED_BY(mu_) = 0;
  size_t table_committed_ ABSL_GUARDED_BY(mu_) = 0;  // bytes of table committed
  size_t marks_committed_ ABSL_GUARDED_BY(mu_) = 0;  // bytes of mark table committed
  // Blocks [0, committed_blocks_) are readable and writable: the high water plus what
  // was committed ahead of it ([heap.arena.commit-ahead]).
  size_t committed_blocks_ ABSL_GUARDED_BY(mu_) = 0;
  absl::btree_set<FreeRun, ByStart> free_by_start_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<FreeRun, BySize> free_by_size_ ABSL_GUARDED_BY(mu_);
  // Free blocks that may still hold resident pages (BlockInfo::flags == kDirtyFree
  // on a free block); decommitted when they exceed cached_free_bytes_.
  size_t free_dirty_blocks_ ABSL_GUARDED_BY(mu_) = 0;
  size_t cached_free_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // see SetCachedFreeBytes
  size_t blocks_by_type_[8] ABSL_GUARDED_BY(mu_) = {};
  uint64_t decommitted_blocks_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_ARENA_H_
