// os_memory.h: the arena's boundary with the operating system.
//
// Every mmap/mprotect/madvise the heap and the stacks make goes through these five
// functions, so a test can make the Nth call of a kind fail (fault injection) and
// check that each failure ends in a clean error. Each returns false (or nullptr) and
// sets errno on failure; none of them logs.
#ifndef WEFT_HEAP_OS_MEMORY_H_
#define WEFT_HEAP_OS_MEMORY_H_

#include <cstddef>

namespace weft::heap {

enum class OsCall { kReserve = 0, kCommit, kDecommit, kProtect, kRelease, kCount };

// OsReserve maps `size` bytes of address space with no access and no commit charge
// (PROT_NONE, MAP_NORESERVE). Returns nullptr on failure.
void* OsReserve(size_t size);
// OsCommit makes [p, p+size) readable and writable. Pages are zero on first touch.
bool OsCommit(void* p, size_t size);
// OsDecommit returns the pages' memory to the OS (RSS falls); the range stays
// readable and writable and reads back as zero.
bool OsDecommit(void* p, size_t size);
// OsProtectNone makes [p, p+size) inaccessible (guard pages).
bool OsProtectNone(void* p, size_t size);
// OsRelease unmaps a range obtained from OsReserve (or part of it).
bool OsRelease(void* p, size_t size);

// Fault injection, for tests: the `nth` call (1-based, counted from now) of `call`
// fails with ENOMEM; 0 disables. Thread-safe.
void OsInjectFault(OsCall call, int nth);
// OsCallCount reports how many calls of `call` were made since the process started.
long OsCallCount(OsCall call);

size_t OsPageSize();

}  // namespace weft::heap

#endif  // WEFT_HEAP_OS_MEMORY_H_
