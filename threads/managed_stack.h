// managed_stack.h: a green thread's stack of 64-bit slots, grown by chaining segments.
//
// threads/ treats slots as raw uint64_t words; the runtime layer stores tagged values
// in them and hands out pointers to slots as handles, so a slot never moves while in
// use ([threads.inv.slots-stable]): the stack grows by chaining a new segment, never
// by copying. The first two segments are chunks sub-allocated from shared
// kManagedStack blocks, kFirstSegmentBytes then kSecondSegmentBytes, so that a blocked
// thread costs little memory and a thread that needs a few hundred slots does not yet
// take a whole block; each later segment is one whole kManagedStack block
// ([threads.managed.segments]). Push returns nullptr when the next segment would take
// the stack past its maximum: the runtime raises a recoverable StackOverflow.
//
// A ManagedStack is used by its own green thread only, or by anyone while the world
// is stopped (ForEachSegment).
#ifndef WEFT_THREADS_MANAGED_STACK_H_
#define WEFT_THREADS_MANAGED_STACK_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "heap/arena.h"
#include "threads/spin_lock.h"

namespace weft::threads {

inline constexpr size_t kFirstSegmentBytes = 128;    // 16 slots
inline constexpr size_t kSecondSegmentBytes = 2048;  // 256 slots
// The smallest maximum a stack may have (SchedulerOptions::managed_stack_max_bytes).
inline constexpr size_t kMinManagedStackBytes = 512;

// ManagedChunkAllocator carves kManagedStack blocks into the chunks of the first and
// second segments, each size from blocks of its own. Thread-safe. The blocks go back
// to the arena when the allocator is destroyed.
class ManagedChunkAllocator {
 public:
  enum class Size { kFirst, kSecond };  // kFirstSegmentBytes, kSecondSegmentBytes

  explicit ManagedChunkAllocator(heap::Arena* arena) : arena_(arena) {}
  ~ManagedChunkAllocator();
  uint64_t* AllocateChunk(Size size);  // nullptr when the arena refuses
  void FreeChunk(uint64_t* chunk, Size size);
  heap::Arena* arena() const { return arena_; }

 private:
  struct Pool {
    std::vector<uint64_t*> free;
    std::vector<void*> blocks;
  };
  // TakeChunk: a chunk from the pool, under the lock; *populate is the first-chunk
  // block it had to take from the arena, if any.
  uint64_t* TakeChunk(Size size, void** populate);
  heap::Arena* arena_;
  SpinLock lock_;
  Pool pools_[2] ABSL_GUARDED_BY(lock_);
};

class ManagedStack {
 public:
  // A position to return to with Reset (a frame boundary).
  struct Mark {
    int segment;
    uint64_t* top;
  };

  ManagedStack() = default;
  ManagedStack(const ManagedStack&) = delete;
  ManagedStack& operator=(const ManagedStack&) = delete;
  ~ManagedStack();

  // Init takes the first segment; false when memory is refused.
  bool Init(ManagedChunkAllocator* chunks, size_t max_bytes);
  // Release frees every segment (the stack must be re-Init'ed to be used again).
  void Release();

  // Push returns a fresh slot (contents unspecified) or nullptr at the maximum.
  uint64_t* Push() {
    if (__builtin_expect(top_ < end_, 1)) return top_++;
    return PushSlow(1);
  }
  // PushFrame returns `n` contiguous fresh slots, or nullptr at the maximum.
  uint64_t* PushFrame(size_t n) {
    if (__builtin_expect(static_cast<size_t>(end_ - top_) >= n, 1)) {
      uint64_t* p = top_;
      top_ += n;
      return p;
    }
    return PushSlow(n);
  }
  Mark GetMark() const { return Mark{current_, top_}; }
  // Reset pops every slot pushed since `mark` was taken. Keeps one spare segment.
  void Reset(Mark mark);
  // ResetTo pops back to the position `top`, a slot address (or one past the last
  // slot of a segment) that was the top of this stack earlier and is still in use
  // (in the current or an earlier segment). Same as Reset(the Mark taken then).
  void ResetTo(uint64_t* top);

  // The addresses of the top and end words, for the runtime's inline slot pushes
  // (runtime/weft.h, [runtime.handles.fast]): a push is `*top < *end ? (*top)++ :
  // Push()`. Stable for the stack's lifetime; the stack belongs to its green thread,
  // so they may be kept across switches, unlike anything per worker.
  uint64_t** top_address() { return &top_; }
  uint64_t* const* end_address() const { return &end_; }
  // Clear pops everything and frees every segment but the first.
  void Clear();

  // ForEachSegment calls fn(begin, end) for the used slots of each segment, oldest
  // first.
  template <typename Fn>
  void ForEachSegment(Fn&& fn) const {
    for (int i = 0; i <= current_ && i < static_cast<int>(segments_.size()); ++i) {
      const Segment& s = segments_[i];
      uint64_t* end = i == current_ ? top_ : s.used_end;
      if (end > s.begin) fn(s.begin, end);
    }
  }
  // Holds: `p` is a slot in use on this stack (pushed and not popped since).
  bool Holds(const void* p) const {
    bool held = false;
    ForEachSegment([&](const uint64_t* begin, const uint64_t* end) {
      held |= p >= begin && p < end;
    });
    return held;
  }
  // Owns: `p` lies in one of this stack's segments, in use or not (a slot popped
  // since, but whose memory the stack still has).
  bool Owns(const void* p) const {
    for (const Segment& s : segments_) {
      if (p >= s.begin && p < s.end) return true;
    }
    return false;
  }
  size_t used_slots() const;
  size_t capacity_bytes() const { return capacity_bytes_; }
  size_t max_bytes() const { return max_bytes_; }
  int segment_count() const { return static_cast<int>(segments_.size()); }

 private:
  struct Segment {
    uint64_t* begin;
    uint64_t* end;
    uint64_t* used_end;  // valid once the stack moved on to a later segment
    // A chunk of ManagedChunkAllocator (smaller than a block), else a whole block.
    bool chunk() const {
      return static_cast<size_t>(end - begin) * sizeof(uint64_t) < heap::kBlockSize;
    }
  };
  uint64_t* PushSlow(size_t n);
  // AddSegment appends the next segment, with room for at least n slots; false at the
  // maximum or when memory is refused.
  bool AddSegment(size_t n);
  void FreeSegmentsFrom(int first);

  ManagedChunkAllocator* chunks_ = nullptr;
  uint64_t* top_ = nullptr;
  uint64_t* end_ = nullptr;
  int current_ = 0;
  size_t max_bytes_ = 0;
  size_t capacity_bytes_ = 0;
  std::vector<Segment> segments_;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_MANAGED_STACK_H_
