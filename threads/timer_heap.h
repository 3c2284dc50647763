// timer_heap.h: a worker's timers (internal).
//
// A binary min-heap of TimerNodes ordered by deadline, guarded by a SpinLock so that
// any worker can fire or cancel them. Nodes live in the waiting thread's Park frame;
// Fire runs the callback under the lock and Cancel takes the node out under the same
// lock, so once Cancel returns no timer code touches the node.
#ifndef WEFT_THREADS_TIMER_HEAP_H_
#define WEFT_THREADS_TIMER_HEAP_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "threads/spin_lock.h"

namespace weft::threads {

class TimerHeap;

struct TimerNode {
  int64_t deadline_ns = 0;
  int index = -1;  // position in the heap; -1 when not armed
  TimerHeap* heap = nullptr;
  void* arg = nullptr;
};

class TimerHeap {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  void Add(TimerNode* n);
  // Cancel removes n if still armed; true if it did (the timer will not fire).
  static bool Cancel(TimerNode* n);
  // FireExpired calls fn(node) under the lock for every node due at `now`, after
  // removing it. Returns the number fired.
  template <typename Fn>
  int FireExpired(int64_t now, Fn&& fn) {
    if (earliest_.load(std::memory_order_acquire) > now) return 0;
    int fired = 0;
    SpinLockHolder h(&lock_);
    while (!heap_.empty() && heap_[0]->deadline_ns <= now) {
      TimerNode* n = heap_[0];
      RemoveAt(0);
      fn(n);
      ++fired;
    }
    UpdateEarliest();
    return fired;
  }
  // Clear disarms every timer (after a Run, for abandoned threads).
  void Clear() {
    SpinLockHolder h(&lock_);
    for (TimerNode* n : heap_) n->index = -1;
    heap_.clear();
    UpdateEarliest();
  }
  int64_t earliest() const { return earliest_.load(std::memory_order_acquire); }

 private:
  void RemoveAt(int i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);
  void SiftUp(int i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);
  void SiftDown(int i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_);
  void UpdateEarliest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_) {
    earliest_.store(heap_.empty() ? kNever : heap_[0]->deadline_ns, std::memory_order_release);
  }

  SpinLock lock_;
  std::vector<TimerNode*> heap_ ABSL_GUARDED_BY(lock_);
  std::atomic<int64_t> earliest_{kNever};
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_TIMER_HEAP_H_
