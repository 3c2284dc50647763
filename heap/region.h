// region.h: a bump-allocation region inside one block.
//
// [start, cursor) holds objects allocated since the region opened; [cursor, end) is
// unused and not parseable until Close writes fillers over it. `limit` is what the
// fast path compares against: normally `end`, but equal to `cursor` in gc-stress mode
// so that every allocation takes the slow path. A block with an open region has
// BlockInfo::owner pointing at the Region.
#ifndef WEFT_HEAP_REGION_H_
#define WEFT_HEAP_REGION_H_

#include <cstddef>

namespace weft::heap {

struct Region {
  char* cursor = nullptr;
  char* limit = nullptr;
  char* end = nullptr;
  char* start = nullptr;

  bool open() const { return start != nullptr; }
  // Bump returns `bytes` from the region, or nullptr when they do not fit under limit.
  char* Bump(size_t bytes) {
    char* p = cursor;
    if (static_cast<size_t>(limit - p) < bytes) return nullptr;
    cursor = p + bytes;
    return p;
  }
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_REGION_H_
