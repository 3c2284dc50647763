// The public exception types of weft.h.
#include "absl/strings/str_format.h"
#include "runtime/weft.h"

namespace weft {

HeapExhausted::HeapExhausted(size_t request, size_t soft_limit, size_t hard_limit)
    : request_(request),
      soft_(soft_limit),
      hard_(hard_limit),
      message_(absl::StrFormat(
          "weft: heap exhausted: allocating %d bytes would pass the soft limit of %d bytes "
          "(hard limit %d bytes)",
          request, soft_limit, hard_limit)) {}

StackOverflow::StackOverflow(size_t max_bytes)
    : message_(absl::StrFormat("weft: managed stack overflow: the stack reached its maximum "
                               "of %d bytes",
                               max_bytes)) {}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kFixnum: return "fixnum";
    case Kind::kNil: return "nil";
    case Kind::kBoolean: return "boolean";
    case Kind::kChar: return "char";
    case Kind::kUnbound: return "unbound";
    case Kind::kPair: return "pair";
    case Kind::kVector: return "vector";
    case Kind::kString: return "string";
    case Kind::kBytes: return "bytes";
    case Kind::kRecord: return "record";
  }
  return "unknown";
}

}  // namespace weft
