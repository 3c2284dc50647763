#include "runtime/fatal_dump.h"

#include <unistd.h>

#include <string>

#include "runtime/check.h"
#include "runtime/fatal_core.h"
#include "runtime/runtime_impl.h"
#include "runtime/stack_dump.h"
#include "runtime/stderr_write.h"

namespace weft {
namespace {

// [runtime.dump.fatal]: best effort. The world is not stopped (it may be half
// stopped, or the failing code may hold locks); check.h bounds the hook's time and
// keeps a failure inside it from recursing ([runtime.inv.fatal-once]).
void FatalDump(const char* message) {
  RuntimeImpl* rt = RuntimeImpl::CurrentOrNull();
  if (rt == nullptr) return;
  WriteStderr("weft: fatal error; every green thread follows (best effort: threads running "
           "on other workers are not read)\n");
  WriteStderr(BuildFatalDump(rt->heap(), rt->scheduler(), FatalSignalContext()));
  // [runtime.core]: then the Weft core, if configured, by a bounded child process.
  WriteFatalCore(*rt, message);
}

}  // namespace

void InstallFatalDump() { SetFatalHook(&FatalDump); }

}  // namespace weft
