// os_mutex.h: threads/ names for the shared OS-thread lock (runtime/os_mutex.h).
#ifndef WEFT_THREADS_OS_MUTEX_H_
#define WEFT_THREADS_OS_MUTEX_H_

#include "runtime/os_mutex.h"

namespace weft::threads {

using ::weft::OsCondVar;
using ::weft::OsMutex;
using ::weft::OsMutexLock;

}  // namespace weft::threads

#endif  // WEFT_THREADS_OS_MUTEX_H_
