// core_writer.h: WriteCore, which saves a Weft core. Private to //runtime.
//
// A Weft core (core_format.h) is a heap image of every object reachable from the
// managed stacks that the fatal dump reads, the global slots and the values in flight
// in channels, plus the thread
// registry and those managed stacks, so that `stackscan --core FILE` prints the dump
// of the process that died ([runtime.core]).
#ifndef WEFT_RUNTIME_CORE_WRITER_H_
#define WEFT_RUNTIME_CORE_WRITER_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "runtime/core_format.h"
#include "runtime/runtime_impl.h"

namespace weft {

struct CoreRequest {
  std::string path;
  CoreCause cause = CoreCause::kFatalError;
  std::string message;                   // the fatal message, or the deadlock's
  const void* signal_context = nullptr;  // of a fatal signal, as for BuildFatalDump
  std::span<void* const> self_pcs;       // the failing thread's backtrace (TakeFatalDump)
  int64_t pid = 0;                       // of the process that failed
};

// WriteCore takes the fatal dump of every green thread (stack_dump.h TakeFatalDump),
// saves the heap reachable from the slots it read, the global slots and the channels'
// values (no heap
// when a collection was under way), and writes the image with the core sections
// atomically to `request.path` ([heap.image.atomic]). Nothing else may run on the
// heap meanwhile: it runs in the core writer process of a fatal error (fatal_core.h),
// a copy of the process that nothing else touches, or after a deadlock once every
// worker has stopped ([runtime.core.quiescent]). Errors name what failed.
absl::Status WriteCore(RuntimeImpl& rt, const CoreRequest& request);

}  // namespace weft

#endif  // WEFT_RUNTIME_CORE_WRITER_H_
