#include "runtime/log.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(LogTest, LoggerIsNamedWeftAndStable) {
  EXPECT_EQ(Log().name(), "weft");
  EXPECT_EQ(&Log(), &Log());
}

TEST(LogTest, LevelComesFromEnvironmentOrDefaultsToWarn) {
  // WEFT_LOG is passed through by .bazelrc; unset means warn.
  const char* env = std::getenv("WEFT_LOG");
  if (env == nullptr || *env == '\0') {
    EXPECT_EQ(Log().level(), spdlog::level::warn);
  } else {
    EXPECT_EQ(Log().level(), spdlog::level::from_str(env));
  }
}

}  // namespace
}  // namespace weft
