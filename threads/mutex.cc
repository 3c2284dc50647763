#include "threads/mutex.h"

#include "runtime/check.h"

namespace weft::threads {

void Mutex::Lock() {
  lock_.Lock();
  if (!locked_) {
    locked_ = true;
    lock_.Unlock();
    return;
  }
  internal::WaitState ws;
  ws.thread = internal::CurrentThread();
  WEFT_CHECK(ws.thread != nullptr, "weft: threads::Mutex::Lock outside a green thread");
  internal::WaitNode node;
  node.ws = &ws;
  waiters_.PushBack(&node);
  internal::Park(ThreadState::kBlocked, WaitReason::kMutex, this, &internal::UnlockSpinAfter,
                 &lock_);
  // Unlock handed the mutex to us: locked_ stayed true.
}

bool Mutex::TryLock() {
  SpinLockHolder h(&lock_);
  if (locked_) return false;
  locked_ = true;
  return true;
}

bool Mutex::Unlock() {
  lock_.Lock();
  if (!locked_) {
    lock_.Unlock();
    return false;
  }
  internal::WaitNode* n = waiters_.PopClaimed();
  if (n == nullptr) {
    locked_ = false;
    lock_.Unlock();
    return true;
  }
  GreenThread* t = n->ws->thread;
  lock_.Unlock();
  internal::Ready(t);
  return true;
}

}  // namespace weft::threads
