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
