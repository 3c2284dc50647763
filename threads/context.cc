#include "threads/context.h"

#include <pthread.h>

#if defined(WEFT_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(WEFT_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace weft::threads {

namespace bctx = boost::context::detail;

namespace {

// libstdc++'s __cxa_get_globals under another name: <cxxabi.h> declares it
// __attribute__((const)), which would let the compiler reuse the pointer of the OS
// thread a fiber left after it resumed on another one.
extern "C" EhState* WeftCxaGetGlobals() noexcept __asm__("__cxa_get_globals");

// The OS thread's globals, cached: libstdc++ finds them through __tls_get_addr, about
// a tenth of a yield. Read afresh (an %fs load) at every switch, before the jump,
// never reused after it ([threads.inv.no-tls-across-switch]).
thread_local EhState* tls_eh_globals = nullptr;

// [threads.inv.eh-per-fiber]: a green thread that switches inside a catch block (a
// sleep in a handler) keeps its caught exception; another fiber that throws and catches
// on the same OS thread meanwhile cannot unlink it, and no exception object leaks.
inline void SwapEh(EhState* save, const EhState& install) {
  EhState* g = tls_eh_globals;
  if (__builtin_expect(g == nullptr, 0)) g = tls_eh_globals = WeftCxaGetGlobals();
  if (save != nullptr) *save = *g;
  *g = install;
}

}  // namespace

RawContext MakeContext(void* top, size_t size, void (*entry)(bctx::transfer_t)) {
  return bctx::make_fcontext(top, size, entry);
}

JumpResult Jump(RawContext to, void* data, SanitizerFiber* self, const SanitizerFiber& target) {
  SwapEh(&self->eh, target.eh);
#if defined(WEFT_TSAN)
  __tsan_switch_to_fiber(target.tsan_fiber, 0);
#endif
#if defined(WEFT_ASAN)
  __sanitizer_start_switch_fiber(&self->asan_fake_stack, target.stack_bottom,
                                 target.stack_size);
#endif
  bctx::transfer_t t = bctx::jump_fcontext(to, data);
#if defined(WEFT_ASAN)
  __sanitizer_finish_switch_fiber(self->asan_fake_stack, nullptr, nullptr);
#endif
  return JumpResult{t.fctx, t.data};
}

void JumpFinal(RawContext to, void* data, const SanitizerFiber& target) {
  SwapEh(nullptr, target.eh);
#if defined(WEFT_TSAN)
  __tsan_switch_to_fiber(target.tsan_fiber, 0);
#endif
#if defined(WEFT_ASAN)
  __sanitizer_start_switch_fiber(nullptr, target.stack_bottom, target.stack_size);
#endif
  bctx::jump_fcontext(to, data);
  __builtin_unreachable();
}

void FinishEntry(SanitizerFiber* self, SanitizerFiber* from) {
#if defined(WEFT_ASAN)
  const void* bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(nullptr, &bottom, &size);
  if (from != nullptr && from->stack_bottom == nullptr) {
    from->stack_bottom = bottom;
    from->stack_size = size;
  }
#endif
}

void InitThreadFiber(SanitizerFiber* f) {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    f->stack_bottom = addr;
    f->stack_size = size;
  }
#if defined(WEFT_TSAN)
  f->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void CreateSanitizerFiber(SanitizerFiber* f, const void* bottom, size_t size) {
  f->stack_bottom = bottom;
  f->stack_size = size;
  f->asan_fake_stack = nullptr;
  f->eh = EhState{};
#if defined(WEFT_TSAN)
  f->tsan_fiber = __tsan_create_fiber(0);
#endif
}

void DestroySanitizerFiber(SanitizerFiber* f) {
#if defined(WEFT_TSAN)
  if (f->tsan_fiber != nullptr) __tsan_destroy_fiber(f->tsan_fiber);
  f->tsan_fiber = nullptr;
#endif
}

}  // namespace weft::threads
