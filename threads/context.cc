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

#if defined(__x86_64__) && defined(__ELF__)
// WeftSwitchContext is Boost.Context's jump_fcontext for x86-64 System V (the 1.74
// layout, so contexts made by make_fcontext resume the same way): save the MXCSR,
// the x87 control word and the callee-saved registers below the return address,
// switch stacks, restore the other side's. Two differences, both for speed:
// - When the other side resumes where this call returns to (both sides switched
//   through the call in Jump: every switch but a new thread's first and a finished
//   thread's last), it returns with `ret` where Boost jumps with `jmp *%r8`.
//   Boost's jump leaves the call's return-stack-buffer entry unpopped, so every
//   `ret` after a switch (Jump, SwitchTo, Park, Yield...) was mispredicted; here the
//   call and the `ret` pair up, and when both sides switched from the same call
//   chain (a yield or a channel hand-off) every return is predicted. Otherwise (into
//   make_fcontext's trampoline, or out of JumpFinal) a `ret` would always be
//   mispredicted, so it jumps as Boost does, and the indirect-branch predictor may
//   know the target (spawn+join was slower with `ret` there).
// - It loads the MXCSR and the x87 control word only when they differ from the
//   leaving side's (LDMXCSR and FLDCW are slow, and the two values are almost always
//   equal). Each fiber still keeps its own floating-point control state, as with
//   Boost.
extern "C" bctx::transfer_t WeftSwitchContext(bctx::fcontext_t to, void* data);
asm(R"(
  .pushsection .text
  .globl WeftSwitchContext
  .hidden WeftSwitchContext
  .type WeftSwitchContext, @function
  .p2align 4
WeftSwitchContext:
  leaq -0x38(%rsp), %rsp
  stmxcsr (%rsp)
  fnstcw 0x4(%rsp)
  movq %r12, 0x8(%rsp)
  movq %r13, 0x10(%rsp)
  movq %r14, 0x18(%rsp)
  movq %r15, 0x20(%rsp)
  movq %rbx, 0x28(%rsp)
  movq %rbp, 0x30(%rsp)
  movq %rsp, %rax
  movq %rdi, %rsp
  movq 0x38(%rsp), %r8
  movl (%rsp), %ecx
  cmpl (%rax), %ecx
  je 1f
  ldmxcsr (%rsp)
1:
  movzwl 0x4(%rsp), %ecx
  cmpw 0x4(%rax), %cx
  je 2f
  fldcw 0x4(%rsp)
2:
  movq 0x8(%rsp), %r12
  movq 0x10(%rsp), %r13
  movq 0x18(%rsp), %r14
  movq 0x20(%rsp), %r15
  movq 0x28(%rsp), %rbx
  movq 0x30(%rsp), %rbp
  movq %rsi, %rdx
  movq %rax, %rdi
  cmpq 0x38(%rax), %r8
  jne 3f
  leaq 0x38(%rsp), %rsp
  ret
3:
  leaq 0x40(%rsp), %rsp
  jmp *%r8
  .size WeftSwitchContext, .-WeftSwitchContext
  .popsection
)");
#else
inline bctx::transfer_t WeftSwitchContext(bctx::fcontext_t to, void* data) {
  return bctx::jump_fcontext(to, data);
}
#endif

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
  bctx::transfer_t t = WeftSwitchContext(to, data);
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
  WeftSwitchContext(to, data);
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
