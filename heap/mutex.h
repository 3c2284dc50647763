// mutex.h: the heap's lock, a std::mutex carrying Abseil's thread-safety annotations.
//
// Not absl::Mutex: the system's libabsl is not built with ThreadSanitizer
// annotations, so TSan cannot see absl::Mutex's happens-before edges and reports
// races between critical sections it guards. std::mutex is a pthread mutex, which
// TSan intercepts.
#ifndef WEFT_HEAP_MUTEX_H_
#define WEFT_HEAP_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace weft::heap {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_MUTEX_H_
