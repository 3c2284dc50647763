#include "runtime/huge_page_string.h"

#include <sys/mman.h>

#include <cstdint>

namespace weft {

void ReserveHugePages(std::string* s, size_t bytes) {
  if (bytes <= s->capacity()) return;
  s->reserve(bytes);
  if (s->capacity() < kHugePageMinBytes) return;
  // A malloc chunk this large is its own mapping: advising the 2 MiB pages wholly
  // inside it touches no other allocation. The pages already written (the string's
  // contents so far) are collapsed or left as they are; both are fine.
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  auto begin = reinterpret_cast<uintptr_t>(s->data());
  uintptr_t end = begin + s->capacity();
  uintptr_t lo = (begin + kHuge - 1) & ~(kHuge - 1);
  uintptr_t hi = end & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
}

}  // namespace weft
