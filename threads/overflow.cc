#include "threads/overflow.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "runtime/check.h"
#include "runtime/stderr_write.h"
#include "threads/scheduler_impl.h"

namespace weft::threads {
namespace {

// Room for the runtime's fatal hook too (it symbolizes and formats the dump on it).
constexpr size_t kAltStackBytes = 256 * 1024;

std::atomic<bool> installed{false};
struct sigaction old_segv;
struct sigaction old_bus;

void Handler(int sig, siginfo_t* info, void* uctx) {
  // Direct thread_local read: we are on the faulting OS thread, inside the handler.
  Worker* w = internal::CurrentWorker();
  if (w != nullptr) {
    GreenThread* t = w->current_.load(std::memory_order_relaxed);
    if (t != nullptr && t->stacks != nullptr) {
      const NativeStack& s = t->stacks->native;
      char* addr = static_cast<char*>(info->si_addr);
      // The guard page, or below it by up to one large frame.
      if (addr < s.limit && addr + (size_t{64} << 10) >= s.run) ReportOverflow(t, uctx);
    }
  }
  // Not ours: restore the previous handler and let the fault happen again.
  sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, nullptr);
}

}  // namespace

void ReportOverflow(const GreenThread* t, void* signal_context) {
  WriteStderr("weft: green thread '");
  if (t->name.empty()) {  // the default name, "thread-<id>" (ThreadName)
    WriteStderr("thread-");
    WriteStderrDecimal(t->id);
  } else {
    WriteStderr(t->name.c_str());
  }
  WriteStderr("' (id ");
  WriteStderrDecimal(t->id);
  WriteStderr(") overflowed its native stack of ");
  WriteStderrDecimal(t->stacks->native.run_bytes);
  WriteStderr(" bytes\n");
  // The runtime's fatal hook dumps every green thread: best effort, not
  // async-signal-safe ([threads.overflow.dump]).
  FatalAfterReport("weft: green thread overflowed its native stack", signal_context);
}

void InstallOverflowHandler(heap::Arena*) {
  if (installed.exchange(true)) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = &Handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
}

AltStack InstallAltStack() {
  AltStack a;
  a.memory = std::malloc(kAltStackBytes);
  if (a.memory == nullptr) return a;
  stack_t ss;
  ss.ss_sp = a.memory;
  ss.ss_size = kAltStackBytes;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, &a.previous) != 0) {
    std::free(a.memory);
    a.memory = nullptr;
  }
  return a;
}

// [threads.overflow.altstack]: put back the stack the thread had, not SS_DISABLE.
// ASan maps an alternate stack for every thread it starts and, as the thread exits,
// unmaps whatever sigaltstack then reports: after SS_DISABLE that was our freed
// allocation (a hole punched in ASan's heap) while its own mapping leaked, one per
// worker per Run, until a fuzzer that makes many runtimes in one process ran out of
// mappings (vm.max_map_count) after ~23k runs.
void RemoveAltStack(AltStack& a) {
  if (a.memory == nullptr) return;
  stack_t restore = a.previous;
  if (restore.ss_sp == nullptr || (restore.ss_flags & SS_DISABLE) != 0) {
    std::memset(&restore, 0, sizeof(restore));
    restore.ss_flags = SS_DISABLE;
  }
  sigaltstack(&restore, nullptr);
  std::free(a.memory);
  a.memory = nullptr;
}

}  // namespace weft::threads
