// A Boost.Context fiber round trip on a stack we allocate ourselves: the primitive the
// scheduler is built on.
#include <sys/mman.h>

#include <boost/context/fiber.hpp>
#include <boost/context/preallocated.hpp>
#include <boost/context/stack_context.hpp>
#include <gtest/gtest.h>

namespace {

namespace ctx = boost::context;

// An allocator handing Boost.Context one fixed mmap'd stack.
struct OwnStack {
  void* base;
  size_t size;
  ctx::stack_context allocate() {
    ctx::stack_context sc;
    sc.size = size;
    sc.sp = static_cast<char*>(base) + size;
    return sc;
  }
  void deallocate(ctx::stack_context&) noexcept {}
};

TEST(FcontextTest, RoundTripOnOwnStack) {
  constexpr size_t kSize = 64 * 1024;
  void* mem = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  int steps = 0;
  char* seen_sp = nullptr;
  {
    ctx::fiber f(std::allocator_arg, OwnStack{mem, kSize}, [&](ctx::fiber&& back) {
      char local;
      seen_sp = &local;
      for (int i = 0; i < 3; ++i) {
        ++steps;
        back = std::move(back).resume();
      }
      return std::move(back);
    });
    for (int i = 0; i < 3; ++i) {
      f = std::move(f).resume();
      EXPECT_EQ(steps, i + 1);
    }
    f = std::move(f).resume();  // lets the fiber return
    EXPECT_FALSE(f);
  }
  EXPECT_GE(seen_sp, static_cast<char*>(mem));
  EXPECT_LT(seen_sp, static_cast<char*>(mem) + kSize);
  munmap(mem, kSize);
}

}  // namespace
