#include "heap/mutator.h"

#include "heap/heap.h"

namespace weft::heap {

char* Mutator::AllocateSlow(size_t bytes, Space space) {
  return heap_->AllocateSmall(this, bytes, space);
}

char* Mutator::AllocateLarge(size_t bytes, Space space) {
  return heap_->AllocateLarge(this, bytes, space);
}

char* Mutator::AllocatePinned(size_t bytes) { return heap_->AllocatePinned(this, bytes); }

char* Mutator::FailTooLarge(size_t bytes) {
  failure_ = AllocationFailure{};
  failure_.reason = AllocationFailure::Reason::kTooLarge;
  failure_.request_bytes = bytes;
  failure_.soft_limit_bytes = heap_->soft_limit();
  failure_.hard_limit_bytes = heap_->options().hard_limit_bytes;
  return nullptr;
}

}  // namespace weft::heap
