// huge_page_string.h: room in a std::string for a large text, backed by huge pages.
//
// A 100k-thread stack dump is tens of megabytes of text. On this project's virtual
// machines a page fault costs several microseconds, so writing 70 MB into fresh 4 KiB
// pages costs about 200 ms and growing a string by doubling twice that, more than the
// formatting. ReserveHugePages reserves the capacity once and asks the kernel
// (madvise MADV_HUGEPAGE, transparent huge pages in `madvise` mode) to back the
// buffer with 2 MiB pages: 35 faults instead of 17,000 ([runtime.dump.huge-pages]).
#ifndef WEFT_RUNTIME_HUGE_PAGE_STRING_H_
#define WEFT_RUNTIME_HUGE_PAGE_STRING_H_

#include <cstddef>
#include <string>

namespace weft {

// ReserveHugePages: s->reserve(bytes), and when the buffer is large
// (heap::kHugePageAdviceMinBytes, 4 MiB) huge pages for the whole 2 MiB pages it
// spans (heap::OsAdviseHugePages). The advice is only advice: where the kernel
// refuses it (THP off) the string works as before.
void ReserveHugePages(std::string* s, size_t bytes);

}  // namespace weft

#endif  // WEFT_RUNTIME_HUGE_PAGE_STRING_H_
