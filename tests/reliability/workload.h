// workload.h: a small allocating, spawning workload over the public API, shared by
// the fault-injection test and the ulimit program.
//
// RunWorkload creates a runtime, spawns a few green threads that build lists,
// vectors and strings, pass them over a channel and collect, and checks every
// message and checksum. It never lets an exception escape: a HeapExhausted in a
// green thread is counted, a failed Create or Run is reported.
#ifndef WEFT_TESTS_RELIABILITY_WORKLOAD_H_
#define WEFT_TESTS_RELIABILITY_WORKLOAD_H_

#include <string>

namespace weft::reliability {

enum class WorkloadOutcome {
  kCompleted = 0,        // every message delivered and checked
  kCreateFailed = 10,    // Runtime::Create returned an error status
  kRunFailed = 11,       // Run returned an error status
  kHeapExhausted = 12,   // at least one green thread caught HeapExhausted
  kDataLost = 20,        // a message was lost, duplicated or corrupted: a bug
  kEscaped = 21,         // a C++ exception escaped Runtime::Create or Run: a bug
};

struct WorkloadResult {
  WorkloadOutcome outcome = WorkloadOutcome::kCompleted;
  std::string detail;  // the status or the exception message
  int heap_exhausted = 0;
};

// RunWorkload: `threads` producers each send `messages` lists of `list_length`.
WorkloadResult RunWorkload(int workers, int threads, int messages, int list_length);

}  // namespace weft::reliability

#endif  // WEFT_TESTS_RELIABILITY_WORKLOAD_H_
