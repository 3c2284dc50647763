// allocation_failure.h: why an allocation returned nullptr.
//
// Allocation fails only recoverably: the heap is unchanged and consistent, and the
// caller may free roots, raise the soft limit (Heap::SetSoftLimit) and retry. The
// runtime turns a failure into weft::HeapExhausted.
#ifndef WEFT_HEAP_ALLOCATION_FAILURE_H_
#define WEFT_HEAP_ALLOCATION_FAILURE_H_

#include <cstddef>

#include "absl/status/status.h"

namespace weft::heap {

struct AllocationFailure {
  enum class Reason {
    kNone = 0,
    // Allocating would pass the soft limit, and a full collection (run through the
    // CollectionHost, or none without a host) did not get the heap below it.
    kSoftLimit,
    // Allocating would pass the hard limit (minus the copy reserve), after a full
    // collection. Raising the soft limit does not help.
    kHardLimit,
    // The OS refused to commit memory (Arena::AllocateBlocks failed with errno
    // `os_errno`, usually ENOMEM) while below the limits, after a full collection.
    kOsRefused,
    // The request cannot be represented (length above 2^32 - 1 or size overflow).
    kTooLarge,
  };
  Reason reason = Reason::kNone;
  size_t request_bytes = 0;
  size_t heap_bytes = 0;
  size_t soft_limit_bytes = 0;
  size_t hard_limit_bytes = 0;
  int os_errno = 0;

  // ToStatus: ResourceExhausted (InvalidArgument for kTooLarge) naming the request
  // and the limits; OkStatus for kNone.
  absl::Status ToStatus() const;
};

const char* AllocationFailureReasonName(AllocationFailure::Reason reason);

}  // namespace weft::heap

#endif  // WEFT_HEAP_ALLOCATION_FAILURE_H_
