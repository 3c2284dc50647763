// collector_parallel.cc: the closure of a collection that moves nothing, traced by
// several threads ([heap.collect.parallel]).
//
// A collection that promotes the nursery in place moves nothing but the objects of
// the old blocks it evacuates: tracers mark, and leave every slot that refers into
// an evacuated block to the collecting thread, which copies after them. No slot
// changes while they run, so they need agree only on which of them marks an object
// (its mark bit, set by an atomic or: [heap.inv.mark-bits]) and on the per-block live
// byte counts. Each tracer keeps its own stack; one that has
// plenty while another waits gives half to a shared pool; the phase ends when every
// tracer waits and the pool is empty.
#include <algorithm>
#include <atomic>
#include <vector>

#include "heap/collector.h"
#include "heap/gc_workers.h"
#include "heap/mark_bits.h"
#include "heap/write_barrier.h"
#include "runtime/check.h"

namespace weft::heap {
namespace {

// A tracer with more than this many objects gives half of them away while another
// tracer waits. Small: the stack of a depth-first trace of a tree holds about one
// entry per level, and the entries at its bottom are the biggest subtrees.
constexpr size_t kShareAbove = 4;
// Sweeping: blocks taken at a time by a thread.
constexpr size_t kSweepBatch = 16;

}  // namespace

struct Collector::ParallelTrace {
  Mutex mu;
  CondVar cv;
  std::vector<std::vector<Object*>> pool ABSL_GUARDED_BY(mu);
  int waiting ABSL_GUARDED_BY(mu) = 0;
  bool done ABSL_GUARDED_BY(mu) = false;
  std::atomic<int> hungry{0};  // tracers waiting for work: share when > 0
  int tracers = 0;
};

// One cache line each: every push and pop writes the stack's end, and tracers that
// shared a line slowed each other down more than the second thread helped.
struct alignas(64) Collector::Tracer {
  std::vector<Object*> stack;
  uint64_t marked_bytes = 0;
  // Slots referring to objects in blocks being evacuated, with their holders'
  // generations: copying is the collecting thread's, after the parallel phase.
  std::vector<std::pair<Value*, int>> deferred;
  // Marked bytes of one nursery or old block not yet added to its bytes_used:
  // tracers mark neighbouring objects, so adding each at once would bounce the
  // block's entry between their caches.
  BlockInfo* counted_block = nullptr;
  uint32_t counted_bytes = 0;

  void Count(BlockInfo& block, uint32_t bytes) {
    if (counted_block != &block) {
      FlushCount();
      counted_block = &block;
    }
    counted_bytes += bytes;
  }
  void FlushCount() {
    if (counted_block == nullptr) return;
    std::atomic_ref<uint32_t>(counted_block->bytes_used)
        .fetch_add(counted_bytes, std::memory_order_relaxed);
    counted_block = nullptr;
    counted_bytes = 0;
  }
};

bool Collector::TraceInParallel() const {
  // [heap.collect.parallel]: only a closure that moves no nursery object, and only
  // one worth waking the helpers for.
  return heap_.gc_workers_ != nullptr && in_place_ &&
         condemned_bytes_ >= heap_.options_.parallel_min_bytes;
}

void Collector::SweepBlocks(const std::vector<char*>& blocks) {
  if (heap_.gc_workers_ == nullptr || blocks.size() < 2 ||
      blocks.size() * kBlockSize < heap_.options_.parallel_min_bytes) {
    for (char* b : blocks) Sweep(b, arena_.InfoFor(b));
    return;
  }
  // Each sweep writes only its own block and its block-table entry. A block whose
  // evacuation fell back to marking still holds forwarded objects and reads their
  // copies' headers (sizes) in other blocks, which no sweep writes: a copy is live,
  // and marks are beside the block table ([heap.inv.mark-bits]).
  std::atomic<size_t> next{0};
  heap_.gc_workers_->Run([&](int) {
    for (size_t i; (i = next.fetch_add(kSweepBatch, std::memory_order_relaxed)) < blocks.size();) {
      const size_t end = std::min(i + kSweepBatch, blocks.size());
      for (; i < end; ++i) Sweep(blocks[i], arena_.InfoFor(blocks[i]));
    }
  });
}

void Collector::DrainParallel() {
  GcWorkers& workers = *heap_.gc_workers_;
  ParallelTrace shared;
  shared.tracers = workers.Start();  // fewer than gc_threads if a helper failed to start
  std::vector<Tracer> tracers(shared.tracers);
  for (size_t i = 0; i < work_.size(); ++i) {
    tracers[i % tracers.size()].stack.push_back(work_[i]);
  }
  work_.clear();
  workers.Run([&](int i) {
    TraceLoop(tracers[i], shared);
    tracers[i].FlushCount();
  });
  for (const Tracer& t : tracers) marked_bytes_ += t.marked_bytes;
  // Evacuation, alone: each deferred slot is processed (its object copied, or the
  // slot updated to the copy) and what the copies reach traced as in a collection
  // without helpers.
  parallel_tail_ = true;
  for (const Tracer& t : tracers) {
    for (auto [slot, holder_generation] : t.deferred) {
      Process(slot);
      if (holder_generation > 0) RecordCard(slot, holder_generation);
    }
  }
  DrainInPlace();
  parallel_tail_ = false;
}

void Collector::TraceLoop(Tracer& t, ParallelTrace& shared) {
  for (;;) {
    while (!t.stack.empty()) {
      Object* o = t.stack.back();
      t.stack.pop_back();
      TraceObject(o, t);
      if (t.stack.size() > kShareAbove &&
          shared.hungry.load(std::memory_order_relaxed) > 0) {
        // Give away the oldest half: the bottom of the stack, nearest the roots.
        const size_t half = t.stack.size() / 2;
        std::vector<Object*> gift(t.stack.begin(), t.stack.begin() + half);
        t.stack.erase(t.stack.begin(), t.stack.begin() + half);
        MutexLock lock(&shared.mu);
        shared.pool.push_back(std::move(gift));
        shared.cv.Signal();
      }
    }
    MutexLock lock(&shared.mu);
    for (;;) {
      if (!shared.pool.empty()) {
        t.stack = std::move(shared.pool.back());
        shared.pool.pop_back();
        break;
      }
      if (shared.done) return;
      if (++shared.waiting == shared.tracers) {  // nobody has work: the closure is done
        shared.done = true;
        shared.cv.SignalAll();
        return;
      }
      shared.hungry.fetch_add(1, std::memory_order_relaxed);
      shared.cv.Wait(&shared.mu);
      shared.hungry.fetch_sub(1, std::memory_order_relaxed);
      --shared.waiting;
    }
  }
}

// TraceObject: ScanObject for a closure that moves nothing, safe beside other
// tracers. Mark bits are set atomically (another tracer may be claiming the same
// object, or another in the same mark word); nothing in an object changes.
void Collector::TraceObject(Object* o, Tracer& t) {
  const uintptr_t base = arena_.base();
  const BlockTable info_for{base, &arena_.InfoFor(reinterpret_cast<const void*>(base))};
  const int holder_generation = Generation(info_for(o));
  Object shape{std::atomic_ref<uint64_t>(o->header).load(std::memory_order_relaxed)};
  Value* s = o->slots();
  const size_t n = ReferenceCount(&shape);
  for (size_t i = 0; i < n; ++i) {
    if (!s[i].IsPointer()) continue;
    Object* r = s[i].AsObject();
    BlockInfo& ri = info_for(r);
    bool condemned;
    switch (ri.type) {
      case BlockType::kYoung:
        condemned = true;  // promoted in place ([heap.nursery.in-place])
        break;
      case BlockType::kOld:
        if (ri.flags & kBlockEvacuate) {
          t.deferred.emplace_back(&s[i], holder_generation);
          continue;
        }
        // A copy this collection made (into a to-space block, or marked in a hole)
        // is settled.
        condemned = ri.generation <= generation_ && !(ri.flags & kBlockToSpace);
        break;
      case BlockType::kLarge:
      case BlockType::kPinned:
        condemned = ri.generation <= generation_;
        break;
      default:
        WEFT_CHECK(false, "weft: heap reference into a block that is not a heap block");
    }
    if (condemned) {
      // [heap.inv.mark-bits]: one atomic or claims the object for one tracer (a
      // mark word covers 64 objects' words, so a plain store could lose another
      // tracer's mark). Nothing else in an object changes, so its header is read
      // plainly.
      if (!AtomicTestAndSetMark(ri, r)) {
        const Object claimed{std::atomic_ref<uint64_t>(r->header).load(std::memory_order_relaxed)};
        WEFT_DCHECK(claimed.IsObject(), "weft: reference to something that is not an object");
        const uint32_t bytes = static_cast<uint32_t>(ObjectSizeInWords(&claimed) * kWordSize);
        if (ri.type != BlockType::kYoung) t.marked_bytes += bytes;
        if (ri.type == BlockType::kYoung || ri.type == BlockType::kOld) {
          t.Count(ri, bytes);  // [heap.collect.unswept]
        }
        if (KindHasReferences(claimed.kind())) t.stack.push_back(r);
      }
    }
    if (holder_generation > 0 && Generation(ri) < holder_generation) {
      DirtyCard(info_for(&s[i]), &s[i]);  // [heap.inv.old-to-young]
    }
  }
}

}  // namespace weft::heap
