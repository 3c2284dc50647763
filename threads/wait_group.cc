#include "threads/wait_group.h"

#include "runtime/check.h"

namespace weft::threads {

bool WaitGroup::Add(int64_t n) {
  internal::ReadyList ready;
  SpinLockHolder h(&lock_);
  int64_t count;
  if (__builtin_add_overflow(count_, n, &count) || count < 0) return false;
  count_ = count;
  if (count_ > 0) return true;
  while (internal::WaitNode* w = waiters_.PopClaimed()) {
    w->ws->fired = 0;
    ready.Add(w->ws->thread);
  }
  return true;
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
