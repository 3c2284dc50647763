// runtime_impl_test.cc: RuntimeImpl's own protocol, below the public API.
#include "runtime/runtime_impl.h"

#include <atomic>
#include <stdexcept>

#include <gtest/gtest.h>

#include "absl/time/clock.h"

namespace weft {
namespace {

// [runtime.stw.resume]: an exception thrown while the world is stopped reaches the
// caller with the other workers running again, and later stops work.
TEST(RuntimeImplTest, AnExceptionInThePauseResumesTheWorld) {
  Options o;
  o.workers = 2;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  auto rt = Runtime::Create(o);
  ASSERT_TRUE(rt.ok()) << rt.status();
  absl::StatusOr<int> code = (*rt)->Run([] {
    RuntimeImpl& impl = RuntimeImpl::Current();
    std::atomic<bool> stop{false};
    std::atomic<int64_t> steps{0};
    Thread spinner = Spawn([&] {
      while (!stop.load()) {
        steps.fetch_add(1);
        Yield();
      }
      return Local::Nil();
    });
    bool caught = false;
    try {
      impl.WithWorldStopped([] { throw std::runtime_error("failed in the pause"); });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "failed in the pause";
    }
    EXPECT_TRUE(caught);
    // The spinner runs again (on either worker: main sleeps, so it may take this one).
    const int64_t before = steps.load();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (steps.load() < before + 1000 && absl::Now() < deadline) weft::SleepFor(absl::Milliseconds(1));
    EXPECT_GE(steps.load(), before + 1000) << "the world stayed stopped";
    // And the world can be stopped again: a collection, then another pause.
    Collect(0);
    int ran = 0;
    impl.WithWorldStopped([&] { ++ran; });
    EXPECT_EQ(ran, 1);
    stop.store(true);
    spinner.Join();
    return 0;
  });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace weft
