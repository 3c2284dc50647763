// context.h: a saved execution context and the switch between two of them.
//
// Context wraps Boost.Context's fcontext (make_fcontext / jump_fcontext, the
// assembly behind boost::context::fiber, used directly so that the scheduler owns the
// stacks and every switch) and tells the sanitizers about every switch:
// ASan through __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber and
// TSan through __tsan_{create,switch_to,destroy}_fiber. Without sanitizers the
// annotations compile to nothing.
//
// A switch saves the current context and returns the destination's: Jump returns,
// in the resumed context, the saved context of whoever switched back to it, plus one
// pointer of data.
#ifndef WEFT_THREADS_CONTEXT_H_
#define WEFT_THREADS_CONTEXT_H_

#include <cstddef>

#include <boost/context/detail/fcontext.hpp>

namespace weft::threads {

using RawContext = boost::context::detail::fcontext_t;

struct JumpResult {
  RawContext from;  // the context that switched to us, saved
  void* data;
};

// EhState: the C++ runtime's per-OS-thread exception-handling state (libstdc++'s
// __cxa_eh_globals: the stack of exceptions being handled, the count of uncaught
// ones). It belongs to whatever runs on the thread, so every switch saves the leaving
// fiber's and installs the arriving one's ([threads.inv.eh-per-fiber]).
struct EhState {
  void* caught_exceptions = nullptr;
  unsigned int uncaught_exceptions = 0;
};

// SanitizerFiber: what the sanitizers need to know about one stack, and the
// per-fiber state every switch swaps.
struct SanitizerFiber {
  const void* stack_bottom = nullptr;  // lowest address
  size_t stack_size = 0;
  void* asan_fake_stack = nullptr;
  void* tsan_fiber = nullptr;
  EhState eh;
};

// MakeContext prepares a context that will run entry(JumpResult) on the stack whose
// highest address is `top` and which is `size` bytes long. `entry` must never
// return: it ends by jumping away with JumpFinal.
RawContext MakeContext(void* top, size_t size, void (*entry)(boost::context::detail::transfer_t));

// Jump switches from the running fiber `self` to `to` (whose stack is `target`).
// Returns in `self` when something jumps back.
JumpResult Jump(RawContext to, void* data, SanitizerFiber* self, const SanitizerFiber& target);
// JumpFinal is Jump from a fiber that will never run again (its stack may be reused).
[[noreturn]] void JumpFinal(RawContext to, void* data, const SanitizerFiber& target);
// FinishEntry must be the first thing a new context's entry does.
void FinishEntry(SanitizerFiber* self, SanitizerFiber* from);

// The fiber of the calling OS thread's own stack (the scheduler loop).
void InitThreadFiber(SanitizerFiber* f);
// For green threads: create and destroy the TSan fiber (no-ops without TSan).
void CreateSanitizerFiber(SanitizerFiber* f, const void* bottom, size_t size);
void DestroySanitizerFiber(SanitizerFiber* f);

}  // namespace weft::threads

#endif  // WEFT_THREADS_CONTEXT_H_
