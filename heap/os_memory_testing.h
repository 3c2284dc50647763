// os_memory_testing.h: residency checks for tests of code that populates memory
// (heap/arena_test, threads/stacks_test).
#ifndef WEFT_HEAP_OS_MEMORY_TESTING_H_
#define WEFT_HEAP_OS_MEMORY_TESTING_H_

#include <sys/mman.h>

#include <cstdint>

#include "heap/os_memory.h"

namespace weft::heap::testing {

// Resident reports whether the page at p is in memory (mincore).
inline bool Resident(const void* p) {
  const size_t page = OsPageSize();
  void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~(page - 1));
  unsigned char v = 0;
  return mincore(start, page, &v) == 0 && (v & 1) != 0;
}

// Whether this kernel populates pages on request (MADV_POPULATE_WRITE, 5.14+).
inline bool KernelPopulates() {
  const size_t page = OsPageSize();
  void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  bool ok = p != MAP_FAILED && madvise(p, page, 23 /* MADV_POPULATE_WRITE */) == 0;
  if (p != MAP_FAILED) munmap(p, page);
  return ok;
}

}  // namespace weft::heap::testing

#endif  // WEFT_HEAP_OS_MEMORY_TESTING_H_
