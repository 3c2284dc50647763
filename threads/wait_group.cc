#include "threads/wait_group.h"

#include "runtime/check.h"

namespace weft::threads {

void WaitGroup::Add(int64_t n) {
  internal::ReadyList ready;
  SpinLockHolder h(&lock_);
  count_ += n;
  WEFT_CHECK(count_ >= 0, "weft: WaitGroup count went negative");
  if (count_ > 0) return;
  while (internal::WaitNode* w = waiters_.PopClaimed()) {
    w->ws->fired = 0;
    ready.Add(w->ws->thread);
  }
}

void WaitGroup::Wait() {
  lock_.Lock();
  if (count_ == 0) {
    lock_.Unlock();
    return;
  }
  internal::WaitState ws;
  ws.thread = internal::CurrentThread();
  WEFT_CHECK(ws.thread != nullptr, "weft: threads::WaitGroup::Wait outside a green thread");
  internal::WaitNode node;
  node.ws = &ws;
  waiters_.PushBack(&node);
  internal::Park(ThreadState::kBlocked, WaitReason::kWaitGroup, this,
                 &internal::UnlockSpinAfter, &lock_);
}

}  // namespace weft::threads
