// Jump between two contexts of context.h on a stack we allocate ourselves: the
// switch keeps each side's floating-point control state (MXCSR and the x87 control
// word) and callee-saved values, both where the switch returns (between two Jump
// calls) and where it jumps (into a context made by MakeContext, out of JumpFinal).
#include "threads/context.h"

#include <fenv.h>
#include <sys/mman.h>
#include <xmmintrin.h>

#include <cstdint>

#include <gtest/gtest.h>

namespace weft::threads {
namespace {

namespace bctx = boost::context::detail;

constexpr size_t kStackBytes = 64 * 1024;

// What the fiber and the test's own stack share.
struct Shared {
  SanitizerFiber main_fiber;
  SanitizerFiber fiber;
  RawContext back = nullptr;  // the main side's saved context
  int fiber_round = -1;       // fegetround() the fiber saw after each resume
  unsigned fiber_mxcsr_rc = 0;
  int64_t checksum = 0;
};

void FiberEntry(bctx::transfer_t t) {
  auto* s = static_cast<Shared*>(t.data);
  FinishEntry(&s->fiber, &s->main_fiber);
  s->back = t.fctx;
  // This fiber rounds upwards; the main side keeps rounding to nearest.
  fesetround(FE_UPWARD);
  for (int i = 0; i < 3; ++i) {
    // Values live in callee-saved registers across the switch.
    volatile int64_t base = 1000 * (i + 1);
    int64_t a = base + 1, b = base + 2, c = base + 3, d = base + 4, e = base + 5;
    JumpResult r = Jump(s->back, s, &s->fiber, s->main_fiber);
    s->back = r.from;
    s->fiber_round = fegetround();
    s->fiber_mxcsr_rc = _mm_getcsr() & _MM_ROUND_MASK;
    s->checksum += a + b + c + d + e - 5 * base;  // 15 per round when preserved
  }
  JumpFinal(s->back, s, s->main_fiber);
}

TEST(ContextTest, EachSideKeepsItsFloatingPointControlAndRegisters) {
  void* mem = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  Shared s;
  InitThreadFiber(&s.main_fiber);
  CreateSanitizerFiber(&s.fiber, mem, kStackBytes);
  ASSERT_EQ(fegetround(), FE_TONEAREST);
  RawContext fiber = MakeContext(static_cast<char*>(mem) + kStackBytes, kStackBytes, &FiberEntry);
  for (int i = 0; i < 4; ++i) {
    volatile int64_t base = 7 * (i + 1);
    int64_t a = base + 1, b = base + 2, c = base + 3;
    JumpResult r = Jump(fiber, &s, &s.main_fiber, s.fiber);
    fiber = r.from;
    EXPECT_EQ(r.data, &s);
    EXPECT_EQ(a + b + c - 3 * base, 6);
    EXPECT_EQ(fegetround(), FE_TONEAREST) << "round " << i;
    EXPECT_EQ(_mm_getcsr() & _MM_ROUND_MASK, unsigned{_MM_ROUND_NEAREST}) << "round " << i;
    if (i > 0) {
      EXPECT_EQ(s.fiber_round, FE_UPWARD) << "round " << i;
      EXPECT_EQ(s.fiber_mxcsr_rc, unsigned{_MM_ROUND_UP}) << "round " << i;
    }
  }
  EXPECT_EQ(s.checksum, 3 * 15);
  DestroySanitizerFiber(&s.fiber);
  munmap(mem, kStackBytes);
}

}  // namespace
}  // namespace weft::threads
