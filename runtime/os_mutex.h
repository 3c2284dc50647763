// os_mutex.h: OsMutex, OsMutexLock and OsCondVar: the one OS-thread lock of every
// layer (heap/, threads/, runtime/).
//
// Thin wrappers over std::mutex / std::condition_variable with Abseil-style names and
// thread-safety annotations. Not absl::Mutex: the system's libabsl is not built with
// ThreadSanitizer annotations, so TSan cannot see absl::Mutex's happens-before edges
// and reports races between the critical sections it guards; pthread-based locks are
// intercepted by every sanitizer.
#ifndef WEFT_RUNTIME_OS_MUTEX_H_
#define WEFT_RUNTIME_OS_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace weft {

class ABSL_LOCKABLE OsMutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }

 private:
  friend class OsCondVar;
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE OsMutexLock {
 public:
  explicit OsMutexLock(OsMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~OsMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  OsMutexLock(const OsMutexLock&) = delete;
  OsMutexLock& operator=(const OsMutexLock&) = delete;

 private:
  OsMutex* mu_;
};

class OsCondVar {
 public:
  // Wait: mu held on entry and on return.
  void Wait(OsMutex* mu) {
    std::unique_lock<std::mutex> l(mu->mu_, std::adopt_lock);
    cv_.wait(l);
    l.release();
  }
  // WaitWithTimeout returns true if the timeout expired.
  bool WaitWithTimeout(OsMutex* mu, absl::Duration d) {
    std::unique_lock<std::mutex> l(mu->mu_, std::adopt_lock);
    bool timed_out =
        cv_.wait_for(l, std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d))) ==
        std::cv_status::timeout;
    l.release();
    return timed_out;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace weft

#endif  // WEFT_RUNTIME_OS_MUTEX_H_
