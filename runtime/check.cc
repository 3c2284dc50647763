#include "runtime/check.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace weft {
namespace {

std::atomic<FatalHook> fatal_hook{nullptr};
// The kernel id of the thread handling the first fatal error (0: none yet).
std::atomic<long> fatal_owner{0};
std::atomic<void*> signal_context{nullptr};
std::atomic<bool> fatal_child{false};

void WriteAll(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Formats a non-negative int without allocating.
void WriteInt(int v) {
  char buf[16];
  int i = sizeof(buf) - 1;
  buf[i] = '\0';
  if (v == 0) buf[--i] = '0';
  while (v > 0 && i > 0) {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  WriteAll(buf + i);
}

// RunHookAndAbort keeps [runtime.inv.fatal-once]. Only async-signal-safe calls
// before the hook: it may run in a signal handler.
[[noreturn]] void RunHookAndAbort(const char* message, void* context) {
  if (fatal_child.load()) {
    WriteAll("weft: fatal error in the core writer\n");
    _exit(kFatalChildExit);
  }
  long self = syscall(SYS_gettid);
  long expected = 0;
  if (!fatal_owner.compare_exchange_strong(expected, self)) {
    if (expected != self) {
      // Another thread is reporting: let it finish (its abort ends us too).
      for (;;) pause();
    }
    WriteAll("weft: fatal error while reporting a fatal error; no dump\n");
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
  WriteAll(file);
  WriteAll(":");
  WriteInt(line);
  WriteAll(": ");
  WriteAll(message);
  WriteAll("\n");
  RunHookAndAbort(message, nullptr);
}

void FatalAfterReport(const char* message, void* context) { RunHookAndAbort(message, context); }

}  // namespace weft
