#include "threads/cond_var.h"

#include "runtime/check.h"

namespace weft::threads {

bool CondVar::WaitUntilNs(Mutex* mu, int64_t deadline_ns) {
  internal::WaitState ws;
  ws.thread = internal::CurrentThread();
  WEFT_CHECK(ws.thread != nullptr, "weft: threads::CondVar wait outside a green thread");
  internal::WaitNode node;
  node.ws = &ws;
  lock_.Lock();
  waiters_.PushBack(&node);
  mu->Unlock();
  internal::Park(ThreadState::kBlocked, WaitReason::kCondVar, this, &internal::UnlockSpinAfter,
                 &lock_, &ws, deadline_ns);
  lock_.Lock();
  waiters_.Remove(&node);  // still queued after a timeout
  lock_.Unlock();
  mu->Lock();
  return ws.fired != -1;
}

void CondVar::Wait(Mutex* mu) { WaitUntilNs(mu, 0); }

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return WaitUntilNs(mu, 0);
  int64_t d = internal::DeadlineFromNow(absl::ToInt64Nanoseconds(timeout));
  return WaitUntilNs(mu, d > 0 ? d : 1);
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return WaitUntilNs(mu, 0);
  return WaitWithTimeout(mu, deadline - absl::Now());
}

void CondVar::Signal() {
  internal::ReadyList ready;
  SpinLockHolder h(&lock_);
  if (internal::WaitNode* n = waiters_.PopClaimed()) {
    n->ws->fired = 0;
    ready.Add(n->ws->thread);
  }
}

void CondVar::SignalAll() {
  internal::ReadyList ready;
  SpinLockHolder h(&lock_);
  while (internal::WaitNode* n = waiters_.PopClaimed()) {
    n->ws->fired = 0;
    ready.Add(n->ws->thread);
  }
}

}  // namespace weft::threads
