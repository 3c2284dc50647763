// wait_group.h: wait for a collection of green threads to finish (Go's WaitGroup).
//
// Add(n) before starting work, Done() when each part ends, Wait() blocks the green
// thread until the count is zero. Add refuses (returns false, count unchanged) a change
// that would make the count negative or overflow it: the caller reports the error.
#ifndef WEFT_THREADS_WAIT_GROUP_H_
#define WEFT_THREADS_WAIT_GROUP_H_

#include <cstdint>

#include "threads/spin_lock.h"
#include "threads/wait_queue.h"

namespace weft::threads {

class WaitGroup {
 public:
  explicit WaitGroup(int64_t count = 0) : count_(count) {}
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  bool Add(int64_t n);
  bool Done() { return Add(-1); }
  void Wait();

 private:
  SpinLock lock_;
  int64_t count_;
  internal::WaitQueue waiters_;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_WAIT_GROUP_H_
