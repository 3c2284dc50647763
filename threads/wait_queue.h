// wait_queue.h: the intrusive FIFO of waiting green threads that every primitive
// keeps under its own lock (internal).
#ifndef WEFT_THREADS_WAIT_QUEUE_H_
#define WEFT_THREADS_WAIT_QUEUE_H_

#include <vector>

#include "threads/park.h"

namespace weft::threads::internal {

struct WaitNode {
  WaitState* ws = nullptr;
  WaitNode* prev = nullptr;
  WaitNode* next = nullptr;
  bool queued = false;
  void* value = nullptr;  // channels: T* (send) or std::optional<T>* (receive)
  int case_index = 0;     // select: which case this node stands for
  bool ok = false;        // channels: the operation completed (not closed)
};

class WaitQueue {
 public:
  bool empty() const { return head_ == nullptr; }
  void PushBack(WaitNode* n) {
    n->prev = tail_;
    n->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = n;
    } else {
      head_ = n;
    }
    tail_ = n;
    n->queued = true;
  }
  void Remove(WaitNode* n) {
    if (!n->queued) return;
    if (n->prev != nullptr) {
      n->prev->next = n->next;
    } else {
      head_ = n->next;
    }
    if (n->next != nullptr) {
      n->next->prev = n->prev;
    } else {
      tail_ = n->prev;
    }
    n->prev = n->next = nullptr;
    n->queued = false;
  }
  WaitNode* PopFront() {
    WaitNode* n = head_;
    if (n != nullptr) Remove(n);
    return n;
  }
  // PopClaimed dequeues nodes until one whose WaitState this caller claims
  // ([threads.inv.wake-once]); nodes another waker claimed first are dropped.
  WaitNode* PopClaimed() {
    while (WaitNode* n = PopFront()) {
      if (n->ws->Claim()) return n;
    }
    return nullptr;
  }
  // Forget empties the queue without touching its nodes (for nodes on stacks that
  // are gone).
  void Forget() { head_ = tail_ = nullptr; }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (WaitNode* n = head_; n != nullptr; n = n->next) fn(n);
  }

 private:
  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
};

// ReadyList defers readying woken threads until the primitive's lock is released:
// a woken thread may destroy the primitive as soon as it runs, so nothing may touch
// the primitive after the first Ready ([threads.inv.ready-after-unlock]). Declare it
// before the lock holder so that it runs after the unlock.
class ReadyList {
 public:
  ReadyList() = default;
  ReadyList(const ReadyList&) = delete;
  ReadyList& operator=(const ReadyList&) = delete;
  ~ReadyList() { ReadyAll(); }
  void Add(GreenThread* t) {
    if (n_ < kInline) {
      inline_[n_++] = t;
    } else {
      more_.push_back(t);
    }
  }
  void ReadyAll() {
    for (int i = 0; i < n_; ++i) Ready(inline_[i]);
    n_ = 0;
    for (GreenThread* t : more_) Ready(t);
    more_.clear();
  }

 private:
  static constexpr int kInline = 4;
  GreenThread* inline_[kInline];
  int n_ = 0;
  std::vector<GreenThread*> more_;
};

// After-switch action releasing a SpinLock.
void UnlockSpinAfter(void* spin_lock);

}  // namespace weft::threads::internal

#endif  // WEFT_THREADS_WAIT_QUEUE_H_
