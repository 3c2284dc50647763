// spin_lock.h: SpinLock, a test-and-test-and-set lock for short critical sections.
//
// Green-thread primitives guard their wait queues with a SpinLock: the holder never
// switches while holding it, except that Park releases it on the scheduler's stack
// after the switch ([threads.inv.publish-after-save]). Lock has acquire and Unlock
// release semantics.
#ifndef WEFT_THREADS_SPIN_LOCK_H_
#define WEFT_THREADS_SPIN_LOCK_H_

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "runtime/check.h"

namespace weft::threads {

class ABSL_LOCKABLE SpinLock {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  // LockUnshared: Lock for a lock that only one OS thread ever takes, or others only
  // while that one is stopped, ordered by the stop's own synchronisation
  // ([threads.inv.unshared-lock]): a load and a plain store, no read-modify-write.
  // Finding it held is a broken invariant (two OS threads after all).
  void LockUnshared() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    WEFT_CHECK(!locked_.load(std::memory_order_relaxed),
               "weft: an unshared spin lock found held (taken by two OS threads?)");
    locked_.store(true, std::memory_order_relaxed);
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() { locked_.store(false, std::memory_order_release); }
  bool IsLocked() const { return locked_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

class ABSL_SCOPED_LOCKABLE SpinLockHolder {
 public:
  explicit SpinLockHolder(SpinLock* l) ABSL_EXCLUSIVE_LOCK_FUNCTION(l) : l_(l) { l_->Lock(); }
  ~SpinLockHolder() ABSL_UNLOCK_FUNCTION() { l_->Unlock(); }
  SpinLockHolder(const SpinLockHolder&) = delete;
  SpinLockHolder& operator=(const SpinLockHolder&) = delete;

 private:
  SpinLock* l_;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_SPIN_LOCK_H_
