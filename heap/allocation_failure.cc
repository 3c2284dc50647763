#include "heap/allocation_failure.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace weft::heap {

const char* AllocationFailureReasonName(AllocationFailure::Reason reason) {
  switch (reason) {
    case AllocationFailure::Reason::kNone: return "none";
    case AllocationFailure::Reason::kSoftLimit: return "soft limit";
    case AllocationFailure::Reason::kHardLimit: return "hard limit";
    case AllocationFailure::Reason::kOsRefused: return "OS refused memory";
    case AllocationFailure::Reason::kTooLarge: return "request too large";
  }
  return "unknown";
}

absl::Status AllocationFailure::ToStatus() const {
  if (reason == Reason::kNone) return absl::OkStatus();
  std::string msg = absl::StrFormat(
      "heap exhausted (%s): request %d bytes, heap %d bytes, soft limit %d, hard limit %d",
      AllocationFailureReasonName(reason), request_bytes, heap_bytes, soft_limit_bytes,
      hard_limit_bytes);
  if (reason == Reason::kOsRefused) absl::StrAppend(&msg, ": ", std::strerror(os_errno));
  if (reason == Reason::kTooLarge) return absl::InvalidArgumentError(msg);
  return absl::ResourceExhaustedError(msg);
}

}  // namespace weft::heap
