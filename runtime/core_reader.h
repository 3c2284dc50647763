// core_reader.h: ReadCore, a Weft core read offline into a Dump. Private to //runtime
// and //tools:stackscan.
//
// A core is untrusted input ([runtime.core.untrusted]): ReadCore validates the image
// container and its whole heap first (heap/image_reader.h, ImageLoader::Inspect),
// then decodes the core sections (core_format.h) with every count, enum, thread id
// and root index checked, so a truncated, corrupt or foreign file gives an error
// naming the file and what is wrong, never a crash. Every managed slot that refers to
// an object is described from the image's heap segments (its kind, length, string
// bytes, record type); the address and generation printed are those of the process
// that died. The result prints with FormatDump exactly like a live dump.
#ifndef WEFT_RUNTIME_CORE_READER_H_
#define WEFT_RUNTIME_CORE_READER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/core_format.h"
#include "runtime/dump_format.h"

namespace weft {

struct CoreInfo {
  CoreCause cause = CoreCause::kFatalError;
  bool heap_saved = false;
  int64_t pid = 0;
  std::string message;
  uint64_t stack_roots = 0;   // image roots that are managed-stack slots
  uint64_t global_roots = 0;  // the global slots after them
};

struct Core {
  CoreInfo info;
  Dump dump;  // the threads that passed the filters
};

struct CoreReadOptions {
  std::string thread_filter;  // id or name; empty: all
  std::string state_filter;   // e.g. "blocked"; empty: all
  bool roots = false;         // compute each slot's retained bytes in the image
};

// ReadCore reads the Weft core at `path`. Errors: NotFound or the OS's for an
// unreadable file, InvalidArgument ("image PATH: ..." or "core PATH: ...") for a bad
// one.
absl::StatusOr<Core> ReadCore(const std::string& path, const CoreReadOptions& options);

// For FormatDump: a first text line and the JSON "core" member saying which process
// died and why.
std::string CoreTextPreamble(const CoreInfo& info);
std::string CoreJsonMembers(const CoreInfo& info);

}  // namespace weft

#endif  // WEFT_RUNTIME_CORE_READER_H_
