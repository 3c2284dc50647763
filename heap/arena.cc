#include "heap/arena.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "heap/os_memory.h"
#include "runtime/check.h"

namespace weft::heap {
namespace {

// BlockInfo::flags of a free block: it was used and its pages may be resident.
constexpr uint8_t kDirtyFree = 1;

// The table is committed in steps of this many bytes (whole pages).
constexpr size_t kTableCommitStep = size_t{1} << 20;

// The blocks above the high water are committed ahead in steps of at least this many
// blocks (1 MiB), or an eighth of the high water when that is more, capped at 64 MiB
// ([heap.arena.commit-ahead]).
constexpr size_t kMinCommitAheadBlocks = (size_t{1} << 20) >> kBlockShift;
constexpr size_t kMaxCommitAheadBlocks = (size_t{64} << 20) >> kBlockShift;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

const char* BlockTypeName(BlockType type) {
  switch (type) {
    case BlockType::kFree: return "free";
    case BlockType::kYoung: return "young";
    case BlockType::kOld: return "old";
    case BlockType::kLarge: return "large";
    case BlockType::kPinned: return "pinned";
    case BlockType::kManagedStack: return "managed-stack";
    case BlockType::kNativeStack: return "native-stack";
    case BlockType::kMetadata: return "metadata";
  }
  return "unknown";
}

absl::StatusOr<Arena*> Arena::Create(const ArenaOptions& options) {
  if (options.min_reserve_bytes < kBlockSize ||
      options.reserve_bytes < options.min_reserve_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "arena: reserve_bytes (%d) must be >= min_reserve_bytes (%d) >= %d", options.reserve_bytes,
        options.min_reserve_bytes, kBlockSize));
  }
  // Reserve, halving on refusal ([heap.arena.reserve]). Over-reserve by one block so
  // the usable range can be aligned to kBlockSize by trimming.
  size_t size = RoundUp(options.reserve_bytes, kBlockSize);
  void* mapping = nullptr;
  for (;;) {
    mapping = OsReserve(size + kBlockSize);
    if (mapping != nullptr) break;
    if (size / 2 < options.min_reserve_bytes) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "arena: the OS refused to reserve %d bytes of address space (minimum %d): %s",
          size + kBlockSize, options.min_reserve_bytes, std::strerror(errno)));
    }
    size = RoundUp(size / 2, kBlockSize);
  }
  uintptr_t raw = reinterpret_cast<uintptr_t>(mapping);
  uintptr_t base = RoundUp(raw, kBlockSize);
  // Trim the unaligned head and tail so only the aligned range stays mapped.
  if (base > raw) OsRelease(mapping, base - raw);
  size_t tail = (raw + size + kBlockSize) - (base + size);
  if (tail > 0) OsRelease(reinterpret_cast<void*>(base + size), tail);

  size_t blocks = size >> kBlockShift;
  size_t table_bytes = RoundUp(blocks * sizeof(BlockInfo), OsPageSize());
  // [heap.arena.mark-table] The mark words follow the table in the same reservation.
  size_t marks_bytes = RoundUp(blocks * kMarkBytesPerBlock, OsPageSize());
  void* table = OsReserve(table_bytes + marks_bytes);
  if (table == nullptr) {
    OsRelease(reinterpret_cast<void*>(base), size);
    return absl::ResourceExhaustedError(absl::StrFormat(
        "arena: the OS refused to reserve %d bytes for the block and mark tables: %s",
        table_bytes + marks_bytes, std::strerror(errno)));
  }
  Arena* arena = new Arena();
  arena->options_ = options;
  {
    MutexLock lock(&arena->mu_);
    arena->cached_free_bytes_ = options.cached_free_bytes;
  }
  arena->base_ = base;
  arena->size_ = size;
  arena->mapping_ = reinterpret_cast<void*>(base);
  arena->mapping_size_ = size;
  arena->table_ = static_cast<BlockInfo*>(table);
  arena->table_bytes_ = table_bytes;
  arena->marks_ = reinterpret_cast<uint64_t*>(static_cast<char*>(table) + table_bytes);
  arena->marks_bytes_ = marks_bytes;
  return arena;
}

Arena::~Arena() {
  OsRelease(mapping_, mapping_size_);
  OsRelease(table_, table_bytes_ + marks_bytes_);
}

size_t Arena::high_water() const {
  MutexLock lock(&mu_);
  return high_water_;
}

namespace {

// CommitPrefix commits `region` (of `size` bytes, committed up to *committed) up to
// `need` bytes, in steps of kTableCommitStep.
bool CommitPrefix(void* region, size_t size, size_t need, size_t* committed) {
  if (need <= *committed) return true;
  size_t target = std::min(size, RoundUp(need, kTableCommitStep));
  if (!OsCommit(static_cast<char*>(region) + *committed, target - *committed)) return false;
  *committed = target;
  return true;
}

}  // namespace

bool Arena::CommitTableUpTo(size_t blocks) {
  // [heap.arena.mark-table]: committing makes no page resident; a page of mark words
  // becomes resident when a block it covers is first used as a heap block.
  return CommitPrefix(table_, table_bytes_, RoundUp(blocks * sizeof(BlockInfo), OsPageSize()),
                      &table_committed_) &&
         CommitPrefix(marks_, marks_bytes_, RoundUp(blocks * kMarkBytesPerBlock, OsPageSize()),
                      &marks_committed_);
}

bool Arena::CommitBlocksUpTo(size_t blocks) {
  // [heap.arena.commit-ahead]: committing is a protection change of reserved address
  // space (no page is resident before it is touched), so one call covers the next
  // many allocations. Each call would otherwise cost a syscall per new run, and its
  // price grows with the mappings that native-stack guard pages split off.
  if (blocks <= committed_blocks_) return true;
  size_t ahead = std::clamp(high_water_ / 8, kMinCommitAheadBlocks, kMaxCommitAheadBlocks);
  size_t target = std::min(block_count(), std::max(blocks, committed_blocks_ + ahead));
  if (!OsCommit(BlockAddress(committed_blocks_), (target - committed_blocks_) << kBlockShift)) {
    // Short of what was asked ahead: commit exactly what is needed.
    if (target == blocks ||
        !OsCommit(BlockAddress(committed_blocks_), (blocks - committed_blocks_) << kBlockShift)) {
      return false;
    }
    target = blocks;
  }
  committed_blocks_ = target;
  return true;
}

void Arena::InsertFree(size_t start, size_t length) {
  free_by_start_.insert({start, length});
  free_by_size_.insert({start, length});
}

void Arena::EraseFree(const FreeRun& run) {
  free_by_start_.erase(run);
  free_by_size_.erase(run);
}

void Arena::MarkRun(size_t start, size_t length, BlockType type) {
  for (size_t i = start; i < start + length; ++i) {
    BlockInfo& b = table_[i];
    uint8_t dirty = b.flags;
    std::memset(&b, 0, sizeof(b));
    b.type = type;
    b.run_head = static_cast<uint32_t>(start);
    b.marks = marks_ + i * kMarkWordsPerBlock;
    if (type == BlockType::kFree) b.flags = dirty;
    // [heap.arena.mark-table] Only a heap block's mark words are touched: a stack's
    // stay untouched, and so not resident.
    if (IsHeapBlockType(type)) std::memset(b.marks, 0, kMarkBytesPerBlock);
  }
  table_[start].run_blocks = static_cast<uint32_t>(length);
}

void* Arena::AllocateBlocks(size_t count, BlockType type) {
  WEFT_CHECK(type != BlockType::kFree, "weft: AllocateBlocks of type free");
  WEFT_CHECK(count > 0, "weft: AllocateBlocks of zero blocks");
  size_t clean = 0;  // blocks of the run with no resident pages (fresh or decommitted)
  void* run = TakeRun(count, type, &clean);
  // [heap.arena.populate]: nursery and old blocks are filled whole by bump allocation,
  // so a run taken with clean blocks is populated in one call, outside the lock,
  // instead of page by page at first touch.
  if (run != nullptr && clean > 0 && (type == BlockType::kYoung || type == BlockType::kOld)) {
    OsRange range{run, count << kBlockShift};
    OsPopulate(&range, 1);
  }
  return run;
}

void* Arena::TakeRun(size_t count, BlockType type, size_t* clean) {
  MutexLock lock(&mu_);
  size_t start;
  // Best fit among free runs, lowest address among equals ([heap.arena.compact]).
  auto it = free_by_size_.lower_bound(FreeRun{0, count});
  if (it != free_by_size_.end()) {
    FreeRun run = *it;
    EraseFree(run);
    start = run.start;
    if (run.length > count) InsertFree(run.start + count, run.length - count);
    for (size_t i = start; i < start + count; ++i) {
      if (table_[i].flags == kDirtyFree) {
        --free_dirty_blocks_;
      } else {
        ++*clean;
      }
    }
  } else {
    // Extend the high water. A free run ending at the high water is reused first.
    size_t from = high_water_;
    size_t reuse = 0;
    if (!free_by_start_.empty()) {
      const FreeRun& last = *free_by_start_.rbegin();
      if (last.start + last.length == high_water_) {
        from = last.start;
        reuse = last.length;
      }
    }
    size_t grow = count - reuse;
    if (from + count > block_count()) {
      errno = ENOMEM;
      return nullptr;
    }
    if (!CommitTableUpTo(high_water_ + grow)) return nullptr;
    if (!CommitBlocksUpTo(high_water_ + grow)) return nullptr;
    if (reuse > 0) {
      FreeRun last = *free_by_start_.rbegin();
      EraseFree(last);
      for (size_t i = last.start; i < last.start + last.length; ++i) {
        if (table_[i].flags == kDirtyFree) {
          --free_dirty_blocks_;
        } else {
          ++*clean;
        }
      }
    }
    *clean += grow;
    start = from;
    high_water_ += grow;
  }
  MarkRun(start, count, type);
  blocks_by_type_[static_cast<int>(type)] += count;
  return BlockAddress(start);
}

size_t Arena::AllocatedRunHeadLocked(void* run) const {
  WEFT_CHECK(Contains(run), "weft: FreeBlocks or Retype of an address outside the arena");
  size_t start = BlockIndex(run);
  const BlockInfo& head = table_[start];
  // Free blocks keep no run fields, so this comes first: before it, a double free was
  // reported as an address that heads no run.
  WEFT_CHECK(head.type != BlockType::kFree,
             "weft: FreeBlocks or Retype of a free run (a double free?)");
  WEFT_CHECK(BlockAddress(start) == run && head.run_head == start && head.run_blocks > 0,
             "weft: FreeBlocks or Retype of an address that is not the head of a run");
  return start;
}

void Arena::Retype(void* run, BlockType type) {
  WEFT_CHECK(type != BlockType::kFree, "weft: Retype to type free");
  MutexLock lock(&mu_);
  size_t start = AllocatedRunHeadLocked(run);
  BlockInfo& head = table_[start];
  size_t length = head.run_blocks;
  blocks_by_type_[static_cast<int>(head.type)] -= length;
  blocks_by_type_[static_cast<int>(type)] += length;
  for (size_t i = start; i < start + length; ++i) table_[i].type = type;
}

void Arena::FreeBlocks(void* run) {
  MutexLock lock(&mu_);
  size_t start = AllocatedRunHeadLocked(run);
  BlockInfo& head = table_[start];
  size_t length = head.run_blocks;
  blocks_by_type_[static_cast<int>(head.type)] -= length;
  // Free blocks carry only their type and dirty flag; their runs live in the free
  // sets ([heap.arena.free-runs]), so splitting a free run costs no table writes.
  for (size_t i = start; i < start + length; ++i) {
    BlockInfo& b = table_[i];
    b.type = BlockType::kFree;
    b.flags = kDirtyFree;
    b.run_blocks = 0;
  }
  free_dirty_blocks_ += length;
  // Coalesce with the neighbouring free runs.
  auto next = free_by_start_.lower_bound(FreeRun{start, 0});
  if (next != free_by_start_.end() && next->start == start + length) {
    FreeRun n = *next;
    EraseFree(n);
    length += n.length;
  }
  auto prev = free_by_start_.lower_bound(FreeRun{start, 0});
  if (prev != free_by_start_.begin()) {
    --prev;
    if (prev->start + prev->length == start) {
      FreeRun p = *prev;
      EraseFree(p);
      start = p.start;
      length += p.length;
    }
  }
  InsertFree(start, length);
  if ((free_dirty_blocks_ << kBlockShift) > cached_free_bytes_) DecommitExcess();
}

void Arena::SetCachedFreeBytes(size_t bytes) {
  MutexLock lock(&mu_);
  cached_free_bytes_ = bytes;
  if ((free_dirty_blocks_ << kBlockShift) > cached_free_bytes_) DecommitExcess();
}

void Arena::DecommitExcess() {
  // Decommit free runs from the highest address down until the cache fits: the low
  // blocks are the ones handed out next ([heap.arena.decommit]).
  for (auto it = free_by_start_.rbegin(); it != free_by_start_.rend(); ++it) {
    if ((free_dirty_blocks_ << kBlockShift) <= cached_free_bytes_ / 2) break;
    size_t dirty = 0;
    for (size_t i = it->start; i < it->start + it->length; ++i) {
      if (table_[i].flags == kDirtyFree) ++dirty;
    }
    if (dirty == 0) continue;
    if (!OsDecommit(BlockAddress(it->start), it->length << kBlockShift)) return;
    for (size_t i = it->start; i < it->start + it->length; ++i) table_[i].flags = 0;
    free_dirty_blocks_ -= dirty;
    decommitted_blocks_ += dirty;
  }
}

size_t Arena::ReleaseFreeMemory() {
  MutexLock lock(&mu_);
  size_t released = 0;
  for (const FreeRun& run : free_by_start_) {
    size_t dirty = 0;
    for (size_t i = run.start; i < run.start + run.length; ++i) {
      if (table_[i].flags == kDirtyFree) ++dirty;
    }
    if (dirty == 0) continue;
    if (!OsDecommit(BlockAddress(run.start), run.length << kBlockShift)) break;
    for (size_t i = run.start; i < run.start + run.length; ++i) table_[i].flags = 0;
    free_dirty_blocks_ -= dirty;
    decommitted_blocks_ += dirty;
    released += dirty << kBlockShift;
  }
  return released;
}

ArenaStats Arena::Stats() const {
  MutexLock lock(&mu_);
  ArenaStats s;
  s.reserved_bytes = size_;
  s.committed_bytes = high_water_ << kBlockShift;
  size_t free_blocks = 0;
  for (const FreeRun& run : free_by_start_) free_blocks += run.length;
  s.resident_bound_bytes = (high_water_ - free_blocks + free_dirty_blocks_) << kBlockShift;
  for (int i = 0; i < 8; ++i) {
    s.blocks_by_type[i] = blocks_by_type_[i];
    if (i != 0) s.blocks_in_use += blocks_by_type_[i];
  }
  s.blocks_by_type[0] = free_blocks;
  s.free_committed_blocks = free_dirty_blocks_;
  s.cached_free_bytes = cached_free_bytes_;
  s.decommitted_blocks = decommitted_blocks_;
  return s;
}

void Arena::Verify() const {
  MutexLock lock(&mu_);
  WEFT_CHECK(free_by_start_.size() == free_by_size_.size(),
             "weft: arena free sets disagree in size");
  size_t used[8] = {};
  size_t dirty = 0;
  auto free_it = free_by_start_.begin();
  for (size_t i = 0; i < high_water_;) {
    if (free_it != free_by_start_.end() && free_it->start == i) {
      WEFT_CHECK(free_by_size_.contains(*free_it), "weft: arena free sets disagree");
      WEFT_CHECK(free_it->length > 0 && i + free_it->length <= high_water_,
                 "weft: arena free run is empty or past the high water");
      for (size_t j = i; j < i + free_it->length; ++j) {
        WEFT_CHECK(table_[j].type == BlockType::kFree,
                   "weft: block table: block in a free run is not free");
        if (table_[j].flags == kDirtyFree) ++dirty;
      }
      i += free_it->length;
      ++free_it;
      WEFT_CHECK(free_it == free_by_start_.end() || free_it->start > i,
                 "weft: arena free runs touch or overlap (not coalesced)");
      continue;
    }
    const BlockInfo& head = table_[i];
    WEFT_CHECK(head.type != BlockType::kFree, "weft: block table: free block in no free run");
    WEFT_CHECK(head.run_head == i && head.run_blocks > 0,
               "weft: block table: run does not start with its head");
    WEFT_CHECK(i + head.run_blocks <= high_water_, "weft: block table: run past high water");
    for (size_t j = i; j < i + head.run_blocks; ++j) {
      const BlockInfo& b = table_[j];
      WEFT_CHECK(b.type == head.type, "weft: block table: run of mixed types");
      WEFT_CHECK(b.run_head == i, "weft: block table: block points at the wrong head");
      WEFT_CHECK(j == i || b.run_blocks == 0, "weft: block table: run length inside a run");
    }
    used[static_cast<int>(head.type)] += head.run_blocks;
    i += head.run_blocks;
  }
  WEFT_CHECK(free_it == free_by_start_.end(), "weft: free set holds a run past high water");
  WEFT_CHECK(dirty == free_dirty_blocks_, "weft: arena dirty-free count is wrong");
  for (int t = 1; t < 8; ++t) {
    WEFT_CHECK(used[t] == blocks_by_type_[t], "weft: arena per-type block count is wrong");
  }
}

}  // namespace weft::heap
