// options.h: validation of weft::Options and their translation into the heap's and
// the scheduler's options. Private to //runtime.
#ifndef WEFT_RUNTIME_OPTIONS_H_
#define WEFT_RUNTIME_OPTIONS_H_

#include "absl/status/status.h"
#include "heap/heap_options.h"
#include "runtime/weft.h"
#include "threads/scheduler.h"

namespace weft {

// ValidateOptions returns InvalidArgument naming the first option out of range and
// the allowed range.
absl::Status ValidateOptions(const Options& o);

// ValidateSpawnOptions: the stack sizes of a SpawnOptions (0: the runtime's default),
// in the ranges of the Options of the same name.
absl::Status ValidateSpawnOptions(const SpawnOptions& o);

// The heap's options for `o` (already validated). WEFT_GC_STRESS in the environment
// sets gc_stress_every when `o` leaves it 0.
heap::HeapOptions ToHeapOptions(const Options& o);
threads::SchedulerOptions ToSchedulerOptions(const Options& o);

}  // namespace weft

#endif  // WEFT_RUNTIME_OPTIONS_H_
