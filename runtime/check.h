// check.h: Weft's two levels of invariant checks.
//
// WEFT_CHECK(cond, "weft: message") is always on, in every build: when `cond` is false
// it writes the constant message with the source location to stderr, runs the fatal
// hook (the runtime installs one that dumps every green thread), and aborts. The
// message must be a string literal: nothing is allocated or formatted while the
// process is in a broken state.
//
// WEFT_DCHECK(cond, "weft: message") guards hot paths. It is compiled in only under
// `--config=checked` (WEFT_CHECKED) and otherwise compiles to nothing, but its
// condition is still type-checked.
#ifndef WEFT_RUNTIME_CHECK_H_
#define WEFT_RUNTIME_CHECK_H_

namespace weft {

// FatalHook runs once, after the message is written and before abort(). It must
// not allocate from the managed heap. Installing nullptr removes it.
//
// [runtime.inv.fatal-once] The hook runs at most once per process: a second fatal
// error on the thread running the hook (a check failing inside the dump) aborts at
// once without the hook; one on another thread waits for the first to abort. The
// hook gets kFatalHookSeconds: SIGALRM (default action) ends a hook that hangs, e.g.
// on a lock the failing code held.
using FatalHook = void (*)(const char* message);
void SetFatalHook(FatalHook hook);
inline constexpr unsigned kFatalHookSeconds = 10;

// Fatal writes "file:line: message" to stderr, runs the hook, and aborts.
[[noreturn]] void Fatal(const char* file, int line, const char* message);

// FatalAfterReport: for a caller that has written its own message (the native stack
// overflow handler, which formats the thread's name). Runs the hook under the same
// rules and aborts. `signal_context` is the ucontext_t of the signal being handled,
// or nullptr; the hook reads it with FatalSignalContext() (to unwind the faulting
// stack across the signal frame).
[[noreturn]] void FatalAfterReport(const char* message, void* signal_context);
void* FatalSignalContext();

// EnterFatalChild: called first in a process cloned to finish a fatal report (the
// Weft core writer, runtime/fatal_core.h). From then on a fatal error in that process
// writes its message and `weft: fatal error in the core writer` and _exits with
// kFatalChildExit, instead of waiting for the first report ([runtime.inv.fatal-once])
// or running the hook again.
void EnterFatalChild();
inline constexpr int kFatalChildExit = 3;

}  // namespace weft

#define WEFT_CHECK(cond, message)                     \
  do {                                                \
    if (__builtin_expect(!(cond), 0)) {               \
      ::weft::Fatal(__FILE__, __LINE__, "" message);  \
    }                                                 \
  } while (0)

#ifdef WEFT_CHECKED
#define WEFT_DCHECK(cond, message) WEFT_CHECK(cond, message)
#define WEFT_CHECKED_BUILD 1
#else
#define WEFT_DCHECK(cond, message) \
  do {                             \
    if (false && (cond)) {         \
    }                              \
  } while (0)
#define WEFT_CHECKED_BUILD 0
#endif

#endif  // WEFT_RUNTIME_CHECK_H_
