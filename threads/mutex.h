// mutex.h: a mutex that blocks the green thread, not the worker.
//
// Unlock hands the mutex directly to the first waiter (FIFO), so a waiter is never
// overtaken once queued. Not recursive. Lock and Unlock may be called from different
// workers (the owner may migrate) but must be called by the same green thread.
#ifndef WEFT_THREADS_MUTEX_H_
#define WEFT_THREADS_MUTEX_H_

#include "absl/base/thread_annotations.h"
#include "threads/spin_lock.h"
#include "threads/wait_queue.h"

namespace weft::threads {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION();
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true);
  // Unlock returns false, and changes nothing, when the mutex is not locked (the
  // caller's error to report: weft::Mutex throws).
  bool Unlock() ABSL_UNLOCK_FUNCTION();

 private:
  SpinLock lock_;
  bool locked_ = false;
  internal::WaitQueue waiters_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_MUTEX_H_
