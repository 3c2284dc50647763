// collector_parallel.cc: the closure of a collection that moves nothing, traced by
// several threads ([heap.collect.parallel]).
//
// A collection that promotes the nursery in place moves nothing but the objects of
// the old blocks it evacuates: tracers mark, and leave every slot that refers into
// an evacuated block to the collecting thread, which copies after them. No slot
// changes while they run, so they need agree only on which of them marks an object
// and counts its bytes. Each block has one owner (its index modulo the tracers), the
// only tracer that writes its mark words and live count, with plain stores; a tracer
// that reaches another's object sends it, in batches, to the owner's inbox. The
// phase ends when every tracer waits and no inbox holds anything.
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

// References to another tracer's objects are sent in batches of this many; a
// partial batch goes when the sender runs out of work or another tracer waits.
constexpr size_t kSendBatch = 256;
// Sweeping: blocks taken at a time by a thread.
constexpr size_t kSweepBatch = 16;

}  // namespace

struct Collector::ParallelTrace {
  explicit ParallelTrace(int n) : inbox(n), tracers(n) {}
  Mutex mu;
  CondVar cv;
  // inbox[i]: objects tracer i owns that other tracers reached, not yet tested.
  std::vector<std::vector<Object*>> inbox ABSL_GUARDED_BY(mu);
  size_t pending ABSL_GUARDED_BY(mu) = 0;  // entries in all inboxes
  int waiting ABSL_GUARDED_BY(mu) = 0;
  bool done ABSL_GUARDED_BY(mu) = false;
  std::atomic<int> hungry{0};  // tracers waiting for work: send partial batches
  const int tracers;
};

// One cache line each: every push and pop writes the stack's end, and tracers that
// shared a line slowed each other down more than the second thread helped.
struct alignas(64) Collector::Tracer {
  int index = 0;
  // Marked objects this tracer owns, to scan.
  std::vector<Object*> stack;
  // outbox[i]: objects tracer i owns that this tracer reached (i != index).
  std::vector<std::vector<Object*>> outbox;
  uint64_t marked_bytes = 0;
  // Slots referring to objects in blocks being evacuated, with their holders'
  // generations: copying is the collecting thread's, after the parallel phase.
  std::vector<std::pair<Value*, int>> deferred;
  // Marked bytes of one nursery or old block not yet added to its bytes_used.
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
    counted_block->bytes_used += counted_bytes;  // the block's owner: no other writer
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
  // Fewer than gc_threads if a helper failed to start.
  ParallelTrace shared(workers.Start());
  std::vector<Tracer> tracers(shared.tracers);
  for (int i = 0; i < shared.tracers; ++i) {
    tracers[i].index = i;
    tracers[i].outbox.resize(shared.tracers);
  }
  // Marked and counted by Process: each goes to its owner's stack.
  for (Object* o : work_) tracers[Owner(o, shared.tracers)].stack.push_back(o);
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

int Collector::Owner(const void* p, int tracers) const {
  return static_cast<int>(((reinterpret_cast<uintptr_t>(p) - arena_.base()) >> kBlockShift) %
                          static_cast<uintptr_t>(tracers));
}

void Collector::Send(Tracer& t, int to, ParallelTrace& shared) {
  std::vector<Object*>& out = t.outbox[to];
  MutexLock lock(&shared.mu);
  std::vector<Object*>& in = shared.inbox[to];
  in.insert(in.end(), out.begin(), out.end());
  shared.pending += out.size();
  shared.cv.SignalAll();
  out.clear();
}

// Claim marks `r`, an object this tracer owns in a condemned block (`ri` its
// block's entry), unless it is marked already; counts it and queues it for a scan.
// [heap.collect.parallel] Only the owner writes a block's mark words and live count.
inline void Collector::Claim(Object* r, BlockInfo& ri, Tracer& t) {
  if (TestAndSetMark(ri, r)) return;
  WEFT_DCHECK(r->IsObject(), "weft: reference to something that is not an object");
  const uint32_t bytes = static_cast<uint32_t>(ObjectSizeInWords(r) * kWordSize);
  if (ri.type != BlockType::kYoung) t.marked_bytes += bytes;
  if (ri.type == BlockType::kYoung || ri.type == BlockType::kOld) {
    t.Count(ri, bytes);  // [heap.collect.unswept]
  }
  if (KindHasReferences(r->kind())) t.stack.push_back(r);
}

void Collector::TraceLoop(Tracer& t, ParallelTrace& shared) {
  const uintptr_t base = arena_.base();
  const BlockTable info_for{base, &arena_.InfoFor(reinterpret_cast<const void*>(base))};
  std::vector<Object*> received;
  for (;;) {
    while (!t.stack.empty()) {
      Object* o = t.stack.back();
      t.stack.pop_back();
      TraceObject(o, t, shared);
    }
    for (int i = 0; i < shared.tracers; ++i) {
      if (!t.outbox[i].empty()) Send(t, i, shared);
    }
    {
      MutexLock lock(&shared.mu);
      for (;;) {
        std::vector<Object*>& in = shared.inbox[t.index];
        if (!in.empty()) {
          received.swap(in);
          shared.pending -= received.size();
          break;
        }
        if (shared.done) return;
        // The closure is done when every tracer waits and nothing is in flight
        // (every tracer sends what it holds before it waits).
        if (++shared.waiting == shared.tracers && shared.pending == 0) {
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
    for (Object* r : received) Claim(r, info_for(r), t);
    received.clear();
  }
}

// TraceObject: ScanObject for a closure that moves nothing, beside other tracers.
// An object this tracer owns is claimed at once; another tracer's goes to its
// outbox. Nothing in an object changes.
void Collector::TraceObject(Object* o, Tracer& t, ParallelTrace& shared) {
  const uintptr_t base = arena_.base();
  const BlockTable info_for{base, &arena_.InfoFor(reinterpret_cast<const void*>(base))};
  const int holder_generation = Generation(info_for(o));
  Value* s = o->slots();
  const size_t n = ReferenceCount(o);
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
      const int owner = Owner(r, shared.tracers);
      if (owner == t.index) {
        Claim(r, ri, t);
      } else {
        std::vector<Object*>& out = t.outbox[owner];
        out.push_back(r);
        if (out.size() >= kSendBatch ||
            shared.hungry.load(std::memory_order_relaxed) > 0) {
          Send(t, owner, shared);
        }
      }
    }
    if (holder_generation > 0 && Generation(ri) < holder_generation) {
      DirtyCard(info_for(&s[i]), &s[i]);  // [heap.inv.old-to-young]
    }
  }
}

}  // namespace weft::heap
