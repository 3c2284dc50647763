// semaphore.h: a counting semaphore that blocks the green thread.
//
// Release hands a permit directly to the first waiter (FIFO) when there is one.
#ifndef WEFT_THREADS_SEMAPHORE_H_
#define WEFT_THREADS_SEMAPHORE_H_

#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "threads/spin_lock.h"
#include "threads/wait_queue.h"

namespace weft::threads {

class Semaphore {
 public:
  explicit Semaphore(int64_t permits = 0) : permits_(permits) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  void Acquire();
  bool TryAcquire();
  // AcquireWithTimeout: false if no permit came within the timeout.
  bool AcquireWithTimeout(absl::Duration timeout);
  void Release(int64_t n = 1);
  int64_t permits() const;

 private:
  bool AcquireUntilNs(int64_t deadline_ns);
  mutable SpinLock lock_;
  int64_t permits_;
  internal::WaitQueue waiters_;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_SEMAPHORE_H_
