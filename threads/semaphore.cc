#include "threads/semaphore.h"

#include "runtime/check.h"

namespace weft::threads {

bool Semaphore::AcquireUntilNs(int64_t deadline_ns) {
  lock_.Lock();
  if (permits_ > 0) {
    --permits_;
    lock_.Unlock();
    return true;
  }
  internal::WaitState ws;
  ws.thread = internal::CurrentThread();
  WEFT_CHECK(ws.thread != nullptr, "weft: threads::Semaphore::Acquire outside a green thread");
  internal::WaitNode node;
  node.ws = &ws;
  waiters_.PushBack(&node);
  internal::Park(ThreadState::kBlocked, WaitReason::kSemaphore, this,
                 &internal::UnlockSpinAfter, &lock_, &ws, deadline_ns);
  if (ws.fired == -1) {
    SpinLockHolder h(&lock_);
    waiters_.Remove(&node);
    return false;
  }
  return true;  // Release handed us its permit
}

void Semaphore::Acquire() { AcquireUntilNs(0); }

bool Semaphore::TryAcquire() {
  SpinLockHolder h(&lock_);
  if (permits_ == 0) return false;
  --permits_;
  return true;
}

bool Semaphore::AcquireWithTimeout(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return AcquireUntilNs(0);
  int64_t d = internal::DeadlineFromNow(absl::ToInt64Nanoseconds(timeout));
  return AcquireUntilNs(d > 0 ? d : 1);
}

void Semaphore::Release(int64_t n) {
  internal::ReadyList ready;
  SpinLockHolder h(&lock_);
  for (; n > 0; --n) {
    internal::WaitNode* w = waiters_.PopClaimed();
    if (w == nullptr) break;
    w->ws->fired = 0;
    ready.Add(w->ws->thread);
  }
  permits_ += n;
}

int64_t Semaphore::permits() const {
  SpinLockHolder h(&lock_);
  return permits_;
}

}  // namespace weft::threads
