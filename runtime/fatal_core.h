// fatal_core.h: when and how the runtime writes a Weft core. Private to //runtime.
//
// With Options::core_path (or WEFT_CORE) set, a fatal error writes a Weft core
// (core_writer.h) after its stderr dump, and so does a deadlock before Run returns.
// The core is written by a copy of the process (a clone without shared memory, on a
// stack of its own), which the process waits for at most Options::core_timeout and
// kills if it hangs; the process itself never touches its heap for the core and
// never waits longer ([runtime.core.fork]).
#ifndef WEFT_RUNTIME_FATAL_CORE_H_
#define WEFT_RUNTIME_FATAL_CORE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "runtime/weft.h"

namespace weft {

class RuntimeImpl;

// ExpandCorePath: `pattern` with %p replaced by `pid` and %% by %; InvalidArgument for
// another % sequence, an empty result, or one of PATH_MAX bytes or more.
absl::StatusOr<std::string> ExpandCorePath(std::string_view pattern, int pid);

// ConfigureCore (at Run, before any green thread runs): the core path of this run:
// options.core_path, else $WEFT_CORE (a bad one is logged and ignored), made absolute;
// none when both are empty. ClearCore (when Run returns) turns it off.
void ConfigureCore(const Options& options);
void ClearCore();

// WriteFatalCore: from the fatal hook, after the stderr dump. Writes one line to
// stderr: where the core is, or why there is none. No-op without a core path.
void WriteFatalCore(RuntimeImpl& rt, const char* message);
// WriteDeadlockCore: from the scheduler's deadlock hook, every worker stopped.
void WriteDeadlockCore(RuntimeImpl& rt);

// For tests: `hook` runs in the core writer process before it writes (to make it
// hang, crash or fail a check). nullptr removes it.
void SetCoreWriterHookForTesting(void (*hook)());

}  // namespace weft

#endif  // WEFT_RUNTIME_FATAL_CORE_H_
