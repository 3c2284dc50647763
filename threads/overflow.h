// overflow.h: native stack overflow detection and reporting (internal).
//
// A green thread that runs off its native stack either hits the guard page (SIGSEGV,
// handled on the worker's alternate signal stack) or, for stacks beyond the guard
// budget, clobbers the canary checked at its next switch. Both end the process with
//   weft: green thread 'NAME' (id N) overflowed its native stack of S bytes
// written with async-signal-safe calls only ([threads.inv.overflow-detected]).
#ifndef WEFT_THREADS_OVERFLOW_H_
#define WEFT_THREADS_OVERFLOW_H_

#include <signal.h>

#include "heap/arena.h"

namespace weft::threads {

struct GreenThread;

// InstallOverflowHandler installs the process-wide SIGSEGV/SIGBUS handler (once).
void InstallOverflowHandler(heap::Arena* arena);
// Per worker OS thread: an alternate signal stack of ours, and the one the thread had
// before (ASan gives every thread its own; so may an embedder), which RemoveAltStack
// puts back: whoever installed that one frees it at thread exit by what sigaltstack
// reports then ([threads.overflow.altstack]).
struct AltStack {
  void* memory = nullptr;  // ours; nullptr: none installed
  stack_t previous{};
};
AltStack InstallAltStack();
void RemoveAltStack(AltStack& stack);
// ReportOverflow writes the message (async-signal-safe), then runs the fatal hook
// through FatalAfterReport (check.h) and aborts. `signal_context` is the handler's
// ucontext_t, or nullptr when called at a switch (canary check).
[[noreturn]] void ReportOverflow(const GreenThread* t, void* signal_context = nullptr);

}  // namespace weft::threads

#endif  // WEFT_THREADS_OVERFLOW_H_
