#include "threads/timer_heap.h"

#include <utility>

namespace weft::threads {

void TimerHeap::Add(TimerNode* n) {
  SpinLockHolder h(&lock_);
  n->heap = this;
  n->index = static_cast<int>(heap_.size());
  heap_.push_back(n);
  SiftUp(n->index);
  UpdateEarliest();
}

bool TimerHeap::Cancel(TimerNode* n) {
  TimerHeap* heap = n->heap;
  if (heap == nullptr) return false;
  SpinLockHolder h(&heap->lock_);
  if (n->index < 0) return false;
  heap->RemoveAt(n->index);
  heap->UpdateEarliest();
  return true;
}

void TimerHeap::RemoveAt(int i) {
  TimerNode* n = heap_[i];
  int last = static_cast<int>(heap_.size()) - 1;
  if (i != last) {
    heap_[i] = heap_[last];
    heap_[i]->index = i;
    heap_.pop_back();
    SiftDown(i);
    SiftUp(i);
  } else {
    heap_.pop_back();
  }
  n->index = -1;
}

void TimerHeap::SiftUp(int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (heap_[p]->deadline_ns <= heap_[i]->deadline_ns) break;
    std::swap(heap_[p], heap_[i]);
    heap_[p]->index = p;
    heap_[i]->index = i;
    i = p;
  }
}

void TimerHeap::SiftDown(int i) {
  int n = static_cast<int>(heap_.size());
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && heap_[l]->deadline_ns < heap_[m]->deadline_ns) m = l;
    if (r < n && heap_[r]->deadline_ns < heap_[m]->deadline_ns) m = r;
    if (m == i) return;
    std::swap(heap_[m], heap_[i]);
    heap_[m]->index = m;
    heap_[i]->index = i;
    i = m;
  }
}

}  // namespace weft::threads
