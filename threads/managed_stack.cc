#include "threads/managed_stack.h"

#include "heap/os_memory.h"
#include "runtime/check.h"
#include "threads/arena_calls.h"

namespace weft::threads {

namespace {
constexpr size_t kFirstSlots = kFirstSegmentBytes / sizeof(uint64_t);
constexpr size_t kSecondSlots = kSecondSegmentBytes / sizeof(uint64_t);
constexpr size_t kBlockSlots = heap::kBlockSize / sizeof(uint64_t);
static_assert(heap::kBlockSize % kSecondSegmentBytes == 0 &&
              kFirstSegmentBytes < kSecondSegmentBytes && kSecondSegmentBytes < heap::kBlockSize &&
              kFirstSegmentBytes <= kMinManagedStackBytes);

size_t ChunkBytes(ManagedChunkAllocator::Size size) {
  return size == ManagedChunkAllocator::Size::kFirst ? kFirstSegmentBytes : kSecondSegmentBytes;
}
}  // namespace

ManagedChunkAllocator::~ManagedChunkAllocator() {
  SpinLockHolder h(&lock_);
  for (Size size : {Size::kFirst, Size::kSecond}) {
    Pool& pool = pools_[static_cast<int>(size)];
    WEFT_CHECK(pool.free.size() == pool.blocks.size() * (heap::kBlockSize / ChunkBytes(size)),
               "weft: managed stack chunks still in use at shutdown");
    for (void* b : pool.blocks) FreeArenaBlocks(arena_, b);
  }
}

uint64_t* ManagedChunkAllocator::AllocateChunk(Size size) {
  void* populate = nullptr;
  uint64_t* c = TakeChunk(size, &populate);
  if (populate != nullptr) {
    // [threads.stacks.prefault]: every thread writes its first chunk, and first
    // chunks are handed out lowest address first, so a block of them is touched
    // whole: populate it in one call instead of a fault per page. Outside the lock
    // (others may already write the block's chunks; populating never changes data).
    heap::OsRange range{populate, heap::kBlockSize};
    heap::OsPopulate(&range, 1);
  }
  return c;
}

uint64_t* ManagedChunkAllocator::TakeChunk(Size size, void** populate) {
  SpinLockHolder h(&lock_);
  Pool& pool = pools_[static_cast<int>(size)];
  if (pool.free.empty()) {
    void* block = AllocateArenaBlocks(arena_, 1, heap::BlockType::kManagedStack, this);
    if (block == nullptr) return nullptr;
    if (size == Size::kFirst) *populate = block;
    pool.blocks.push_back(block);
    char* p = static_cast<char*>(block);
    const size_t bytes = ChunkBytes(size);
    for (size_t i = heap::kBlockSize / bytes; i-- > 0;) {
      pool.free.push_back(reinterpret_cast<uint64_t*>(p + i * bytes));
    }
  }
  uint64_t* c = pool.free.back();
  pool.free.pop_back();
  return c;
}

void ManagedChunkAllocator::FreeChunk(uint64_t* chunk, Size size) {
  SpinLockHolder h(&lock_);
  pools_[static_cast<int>(size)].free.push_back(chunk);
}

ManagedStack::~ManagedStack() { Release(); }

bool ManagedStack::Init(ManagedChunkAllocator* chunks, size_t max_bytes) {
  WEFT_CHECK(segments_.empty(), "weft: ManagedStack::Init on a stack in use");
  uint64_t* c = chunks->AllocateChunk(ManagedChunkAllocator::Size::kFirst);
  if (c == nullptr) return false;
  chunks_ = chunks;
  max_bytes_ = max_bytes < kFirstSegmentBytes ? kFirstSegmentBytes : max_bytes;
  // No reserve: most threads never leave their first segment, and a blocked thread's
  // bytes count ([threads.managed.segments]).
  segments_.push_back(Segment{c, c + kFirstSlots, c});
  capacity_bytes_ = kFirstSegmentBytes;
  current_ = 0;
  top_ = c;
  end_ = c + kFirstSlots;
  return true;
}

void ManagedStack::Release() {
  if (segments_.empty()) return;
  FreeSegmentsFrom(1);
  chunks_->FreeChunk(segments_[0].begin, ManagedChunkAllocator::Size::kFirst);
  segments_.clear();
  top_ = end_ = nullptr;
  current_ = 0;
  capacity_bytes_ = 0;
}

void ManagedStack::FreeSegmentsFrom(int first) {
  for (int i = static_cast<int>(segments_.size()) - 1; i >= first && i >= 1; --i) {
    const Segment& s = segments_[i];
    if (s.chunk()) {
      chunks_->FreeChunk(s.begin, ManagedChunkAllocator::Size::kSecond);
    } else {
      FreeArenaBlocks(chunks_->arena(), s.begin);
    }
    capacity_bytes_ -= static_cast<size_t>(s.end - s.begin) * sizeof(uint64_t);
    segments_.pop_back();
  }
}

bool ManagedStack::AddSegment(size_t n) {
  // [threads.managed.segments]: the second segment is a kSecondSegmentBytes chunk when
  // the frame fits in it, every later one a block.
  const bool chunk = segments_.size() == 1 && n <= kSecondSlots;
  const size_t bytes = chunk ? kSecondSegmentBytes : heap::kBlockSize;
  if (capacity_bytes_ + bytes > max_bytes_) return false;
  void* memory =
      chunk ? chunks_->AllocateChunk(ManagedChunkAllocator::Size::kSecond)
            : AllocateArenaBlocks(chunks_->arena(), 1, heap::BlockType::kManagedStack, this);
  if (memory == nullptr) return false;
  uint64_t* b = static_cast<uint64_t*>(memory);
  segments_.push_back(Segment{b, b + bytes / sizeof(uint64_t), b});
  capacity_bytes_ += bytes;
  return true;
}

uint64_t* ManagedStack::PushSlow(size_t n) {
  WEFT_DCHECK(!segments_.empty(), "weft: push on a released managed stack");
  if (n > kBlockSlots) return nullptr;
  // [threads.inv.slots-stable]: move on to the next segment, never copy. A kept
  // spare segment too small for this frame (the second, a chunk) is skipped over:
  // the frame goes to the one after it.
  segments_[current_].used_end = top_;
  int next = current_ + 1;
  while (true) {
    if (next == static_cast<int>(segments_.size()) && !AddSegment(n)) return nullptr;
    Segment& s = segments_[next];
    if (static_cast<size_t>(s.end - s.begin) >= n) break;
    s.used_end = s.begin;  // passed over, empty
    ++next;
  }
  current_ = next;
  Segment& s = segments_[current_];
  top_ = s.begin + n;
  end_ = s.end;
  return s.begin;
}

void ManagedStack::Reset(Mark mark) {
  WEFT_DCHECK(mark.segment <= current_, "weft: managed stack reset to a popped mark");
  current_ = mark.segment;
  top_ = mark.top;
  end_ = segments_[current_].end;
  FreeSegmentsFrom(current_ + 2);  // keep one spare segment against thrashing
}

void ManagedStack::ResetTo(uint64_t* top) {
  // The earliest segment holding `top` (a top equal to a segment's end and to the
  // next one's begin names the same stack state either way).
  for (int i = 0; i <= current_ && i < static_cast<int>(segments_.size()); ++i) {
    const Segment& s = segments_[i];
    if (s.begin <= top && top <= s.end) {
      Reset(Mark{i, top});
      return;
    }
  }
  WEFT_CHECK(false, "weft: managed stack reset to a position it does not hold");
}

void ManagedStack::Clear() {
  if (segments_.empty()) return;
  if (segments_.size() > 1) FreeSegmentsFrom(1);
  current_ = 0;
  top_ = segments_[0].begin;
  end_ = segments_[0].end;
}

size_t ManagedStack::used_slots() const {
  size_t n = 0;
  ForEachSegment([&](uint64_t* b, uint64_t* e) { n += static_cast<size_t>(e - b); });
  return n;
}

}  // namespace weft::threads
