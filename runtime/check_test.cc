#include "runtime/check.h"

#include <signal.h>

#include <cstdio>

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(CheckDeathTest, FailingCheckPrintsMessageAndAborts) {
  EXPECT_DEATH(WEFT_CHECK(1 + 1 == 3, "weft: arithmetic is broken"),
               "check_test.cc:[0-9]+: weft: arithmetic is broken");
}

TEST(CheckTest, PassingCheckDoesNothing) {
  int evaluated = 0;
  WEFT_CHECK(++evaluated == 1, "weft: evaluated once");
  EXPECT_EQ(evaluated, 1);
}

void Hook(const char* message) { std::fprintf(stderr, "hook saw <%s>\n", message); }

TEST(CheckDeathTest, FatalHookRunsBeforeAbort) {
  EXPECT_DEATH(
      {
        SetFatalHook(&Hook);
        WEFT_CHECK(false, "weft: with hook");
      },
      "hook saw <weft: with hook>");
}

void FailingHook(const char*) { WEFT_CHECK(false, "weft: failure inside the hook"); }

// [runtime.inv.fatal-once]: a check failing inside the hook does not recurse.
TEST(CheckDeathTest, FailureInsideTheHookAbortsWithoutRecursing) {
  EXPECT_DEATH(
      {
        SetFatalHook(&FailingHook);
        WEFT_CHECK(false, "weft: outer");
      },
      "weft: outer\n.*weft: failure inside the hook\n"
      "weft: fatal error while reporting a fatal error; no dump\n");
}

void HangingHook(const char*) {
  for (;;) {
  }
}

// The hook's time is bounded: a hook that hangs (on a lock the failing code held)
// still ends the process.
TEST(CheckDeathTest, HangingHookIsEndedByTheAlarm) {
  EXPECT_EXIT(
      {
        SetFatalHook(&HangingHook);
        WEFT_CHECK(false, "weft: hangs");
      },
      ::testing::KilledBySignal(SIGALRM), "weft: hangs");
}

TEST(CheckTest, DcheckFollowsBuildConfig) {
  int evaluated = 0;
  WEFT_DCHECK(++evaluated == 1, "weft: dcheck");
  EXPECT_EQ(evaluated, WEFT_CHECKED_BUILD ? 1 : 0);
}

}  // namespace
}  // namespace weft
