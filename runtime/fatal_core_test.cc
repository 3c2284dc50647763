// fatal_core_test.cc: a core writer that fails never changes how the process dies
// ([runtime.core.fork]): a writer that hangs is killed after core_timeout, one that
// crashes or fails a check is reported, one that cannot create the file says why; in
// every case the stderr dump comes first and the process aborts as without a core.
#include "runtime/fatal_core.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "runtime/check.h"
#include "runtime/weft.h"

namespace weft {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + name;  // TEST_TMPDIR under Bazel
}

void FailWithWriterHook(void (*hook)(), const std::string& core_path) {
  SetCoreWriterHookForTesting(hook);
  Options o;
  o.workers = 2;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  o.core_path = core_path;
  o.core_timeout = absl::Seconds(1);
  auto rt = Runtime::Create(o);
  if (!rt.ok()) return;
  (void)(*rt)->Run([] {
    Scope scope("writer-test");
    Local answer = Fixnum(42);
    WEFT_CHECK(FixnumValue(answer) == 0, "weft: writer test invariant broken");
    return 0;
  });
}

constexpr char kDumpFirst[] =
    "weft: writer test invariant broken\n"
    "weft: fatal error; every green thread follows [^\n]*\n"
    "weft: 1 green threads\n"
    ".*    \\[[0-9]+\\] fixnum 42\n.*";

void Hang() {
  for (;;) pause();
}
void Crash() { raise(SIGSEGV); }
void FailCheck() { WEFT_CHECK(false, "weft: check failed in the writer"); }

class FatalCoreDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(WEFT_TSAN)
    // The core writer is a raw clone of a multithreaded process (TSan does not
    // support it; tests/stackscan/core_test.sh skips too).
    GTEST_SKIP() << "Weft cores are not tested under TSan";
#endif
    ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  }
};

TEST_F(FatalCoreDeathTest, HangingWriterIsKilledAfterTheTimeout) {
  EXPECT_DEATH(FailWithWriterHook(&Hang, TempPath("hang.core")),
               std::string(kDumpFirst) +
                   "weft: no Weft core: the core writer did not finish within 1000 ms and was "
                   "killed");
}

TEST_F(FatalCoreDeathTest, CrashingWriterIsReported) {
  EXPECT_DEATH(FailWithWriterHook(&Crash, TempPath("crash.core")),
               std::string(kDumpFirst) + "weft: no Weft core: the core writer died of signal 11");
}

TEST_F(FatalCoreDeathTest, CheckFailingInTheWriterIsReported) {
  EXPECT_DEATH(FailWithWriterHook(&FailCheck, TempPath("check.core")),
               std::string(kDumpFirst) +
                   "fatal_core_test.cc:[0-9]+: weft: check failed in the writer\n"
                   "weft: fatal error in the core writer\n"
                   "weft: no Weft core: the core writer hit a fatal error \\(above\\)");
}

TEST_F(FatalCoreDeathTest, UnwritablePathIsReported) {
  EXPECT_DEATH(FailWithWriterHook(nullptr, "/nonexistent-dir/x.core"),
               std::string(kDumpFirst) +
                   "weft: no Weft core: image /nonexistent-dir/x.core: cannot create a "
                   "temporary file: No such file or directory");
}

TEST(FatalCoreTest, ExpandCorePath) {
  EXPECT_EQ(*ExpandCorePath("core.%p", 42), "core.42");
  EXPECT_EQ(*ExpandCorePath("a%%p-%p%%", 7), "a%p-7%");
  EXPECT_FALSE(ExpandCorePath("core.%", 1).ok());
  EXPECT_FALSE(ExpandCorePath("core.%t", 1).ok());
  EXPECT_FALSE(ExpandCorePath("", 1).ok());
  EXPECT_FALSE(ExpandCorePath(std::string(5000, 'a'), 1).ok());
}

}  // namespace
}  // namespace weft
