// cond_var.h: a condition variable for threads::Mutex that blocks the green thread.
//
// Wait atomically releases the mutex and parks; it re-acquires the mutex before
// returning. WaitWithTimeout / WaitWithDeadline return false on timeout (the mutex is
// re-acquired either way). Spurious wakeups do not happen, but callers should loop
// on their predicate anyway (another thread may get the mutex first).
#ifndef WEFT_THREADS_COND_VAR_H_
#define WEFT_THREADS_COND_VAR_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "threads/mutex.h"
#include "threads/spin_lock.h"
#include "threads/wait_queue.h"

namespace weft::threads {

class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu);
  bool WaitWithTimeout(Mutex* mu, absl::Duration timeout);
  bool WaitWithDeadline(Mutex* mu, absl::Time deadline);
  void Signal();
  void SignalAll();

 private:
  bool WaitUntilNs(Mutex* mu, int64_t deadline_ns);
  SpinLock lock_;
  internal::WaitQueue waiters_;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_COND_VAR_H_
