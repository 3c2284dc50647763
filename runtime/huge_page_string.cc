#include "runtime/huge_page_string.h"

#include "heap/os_memory.h"

namespace weft {

void ReserveHugePages(std::string* s, size_t bytes) {
  if (bytes <= s->capacity()) return;
  s->reserve(bytes);
  // A malloc block of the advised size is its own mapping: advising the 2 MiB pages
  // wholly inside it touches no other allocation. The pages already written (the
  // string's contents so far) are collapsed or left as they are; both are fine.
  heap::OsAdviseHugePages(s->data(), s->capacity());
}

}  // namespace weft
