#include "runtime/check.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "runtime/stderr_write.h"

namespace weft {
namespace {

std::atomic<FatalHook> fatal_hook{nullptr};
// The kernel id of the thread handling the first fatal error (0: none yet).
std::atomic<long> fatal_owner{0};
std::atomic<void*> signal_context{nullptr};
std::atomic<bool> fatal_child{false};

// RunHookAndAbort keeps [runtime.inv.fatal-once]. Only async-signal-safe calls
// before the hook: it may run in a signal handler.
[[noreturn]] void RunHookAndAbort(const char* message, void* context) {
  if (fatal_child.load()) {
    WriteStderr("weft: fatal error in the core writer\n");
    _exit(kFatalChildExit);
  }
  long self = syscall(SYS_gettid);
  long expected = 0;
  if (!fatal_owner.compare_exchange_strong(expected, self)) {
    if (expected != self) {
      // Another thread is reporting: let it finish (its abort ends us too).
      for (;;) pause();
    }
    WriteStderr("weft: fatal error while reporting a fatal error; no dump\n");
    signal(SIGABRT, SIG_DFL);
    std::abort();
  }
  signal_context.store(context);
  FatalHook hook = fatal_hook.load();
  if (hook != nullptr) {
    signal(SIGALRM, SIG_DFL);
    alarm(kFatalHookSeconds);
    hook(message);
  }
  signal(SIGABRT, SIG_DFL);
  std::abort();
}

}  // namespace

void SetFatalHook(FatalHook hook) { fatal_hook.store(hook); }

void* FatalSignalContext() { return signal_context.load(); }

void EnterFatalChild() { fatal_child.store(true); }

void Fatal(const char* file, int line, const char* message) {
  WriteStderr(file);
  WriteStderr(":");
  WriteStderrDecimal(static_cast<uint64_t>(line));
  WriteStderr(": ");
  WriteStderr(message);
  WriteStderr("\n");
  RunHookAndAbort(message, nullptr);
}

void FatalAfterReport(const char* message, void* context) { RunHookAndAbort(message, context); }

}  // namespace weft
