#include "heap/object.h"

namespace weft::heap {

const char* ObjectKindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kInvalid: return "invalid";
    case ObjectKind::kFiller: return "filler";
    case ObjectKind::kPair: return "pair";
    case ObjectKind::kVector: return "vector";
    case ObjectKind::kString: return "string";
    case ObjectKind::kBytes: return "bytes";
    case ObjectKind::kRecord: return "record";
  }
  return "unknown";
}

}  // namespace weft::heap
