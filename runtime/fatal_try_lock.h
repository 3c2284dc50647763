// fatal_try_lock.h: taking a lock on a fatal path (crash dumps, deadlock reports).
//
// The code that failed may itself hold the lock, so a fatal path never blocks on it:
// it tries for about a second and then goes on without what the lock guards.
#ifndef WEFT_RUNTIME_FATAL_TRY_LOCK_H_
#define WEFT_RUNTIME_FATAL_TRY_LOCK_H_

#include <unistd.h>

namespace weft {

// TryLockForFatal returns true with `lock` held, or false after about a second of
// failed attempts. Lock needs TryLock().
template <typename Lock>
bool TryLockForFatal(Lock& lock) {
  for (int i = 0; i < 1000; ++i) {
    if (lock.TryLock()) return true;
    usleep(1000);
  }
  return false;
}

}  // namespace weft

#endif  // WEFT_RUNTIME_FATAL_TRY_LOCK_H_
