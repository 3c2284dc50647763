#include "threads/managed_stack.h"

#include "runtime/check.h"
#include "threads/arena_calls.h"

namespace weft::threads {

namespace {
constexpr size_t kChunksPerBlock = heap::kBlockSize / kFirstSegmentBytes;
constexpr size_t kFirstSlots = kFirstSegmentBytes / sizeof(uint64_t);
constexpr size_t kBlockSlots = heap::kBlockSize / sizeof(uint64_t);
}  // namespace

ManagedChunkAllocator::~ManagedChunkAllocator() {
  SpinLockHolder h(&lock_);
  WEFT_CHECK(free_.size() == blocks_.size() * kChunksPerBlock,
             "weft: managed stack chunks still in use at shutdown");
  for (void* b : blocks_) FreeArenaBlocks(arena_, b);
}

uint64_t* ManagedChunkAllocator::AllocateChunk() {
  SpinLockHolder h(&lock_);
  if (free_.empty()) {
    void* block = AllocateArenaBlocks(arena_, 1, heap::BlockType::kManagedStack, this);
    if (block == nullptr) return nullptr;
    blocks_.push_back(block);
    char* p = static_cast<char*>(block);
    for (size_t i = kChunksPerBlock; i-- > 0;) {
      free_.push_back(reinterpret_cast<uint64_t*>(p + i * kFirstSegmentBytes));
    }
  }
  uint64_t* c = free_.back();
  free_.pop_back();
  return c;
}

void ManagedChunkAllocator::FreeChunk(uint64_t* chunk) {
  SpinLockHolder h(&lock_);
  free_.push_back(chunk);
}

ManagedStack::~ManagedStack() { Release(); }

bool ManagedStack::Init(ManagedChunkAllocator* chunks, size_t max_bytes) {
  WEFT_CHECK(segments_.empty(), "weft: ManagedStack::Init on a stack in use");
  uint64_t* c = chunks->AllocateChunk();
  if (c == nullptr) return false;
  chunks_ = chunks;
  max_bytes_ = max_bytes < kFirstSegmentBytes ? kFirstSegmentBytes : max_bytes;
  segments_.reserve(4);
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
  chunks_->FreeChunk(segments_[0].begin);
  segments_.clear();
  top_ = end_ = nullptr;
  current_ = 0;
  capacity_bytes_ = 0;
}

void ManagedStack::FreeSegmentsFrom(int first) {
  for (int i = static_cast<int>(segments_.size()) - 1; i >= first && i >= 1; --i) {
    FreeArenaBlocks(chunks_->arena(), segments_[i].begin);
    capacity_bytes_ -= heap::kBlockSize;
    segments_.pop_back();
  }
}

uint64_t* ManagedStack::PushSlow(size_t n) {
  WEFT_DCHECK(!segments_.empty(), "weft: push on a released managed stack");
  if (n > kBlockSlots) return nullptr;
  // [threads.inv.slots-stable]: move on to the next segment, never copy.
  segments_[current_].used_end = top_;
  int next = current_ + 1;
  if (next == static_cast<int>(segments_.size())) {
    if (capacity_bytes_ + heap::kBlockSize > max_bytes_) return nullptr;
    void* block =
        AllocateArenaBlocks(chunks_->arena(), 1, heap::BlockType::kManagedStack, this);
    if (block == nullptr) return nullptr;
    uint64_t* b = static_cast<uint64_t*>(block);
    segments_.push_back(Segment{b, b + kBlockSlots, b});
    capacity_bytes_ += heap::kBlockSize;
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
  FreeSegmentsFrom(1);
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
