// mutex.h: the heap's lock, the shared OS-thread lock (runtime/os_mutex.h) under the
// heap's names.
#ifndef WEFT_HEAP_MUTEX_H_
#define WEFT_HEAP_MUTEX_H_

#include "runtime/os_mutex.h"

namespace weft::heap {

using Mutex = ::weft::OsMutex;
using MutexLock = ::weft::OsMutexLock;
using CondVar = ::weft::OsCondVar;

}  // namespace weft::heap

#endif  // WEFT_HEAP_MUTEX_H_
