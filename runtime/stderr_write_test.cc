#include "runtime/stderr_write.h"

#include <unistd.h>

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(DecimalDigitsTest, FormatsTheWholeRangeOfBothTypes) {
  EXPECT_EQ(DecimalDigits(int64_t{0}).view(), "0");
  EXPECT_EQ(DecimalDigits(int64_t{7}).view(), "7");
  EXPECT_EQ(DecimalDigits(int64_t{-42}).view(), "-42");
  EXPECT_EQ(DecimalDigits(std::numeric_limits<int64_t>::min()).view(), "-9223372036854775808");
  EXPECT_EQ(DecimalDigits(std::numeric_limits<int64_t>::max()).view(), "9223372036854775807");
  EXPECT_EQ(DecimalDigits(uint64_t{0}).view(), "0");
  EXPECT_EQ(DecimalDigits(std::numeric_limits<uint64_t>::max()).view(), "18446744073709551615");
}

TEST(WriteAllFdTest, WritesEverythingThroughAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string text(10000, 'x');
  text += "end";
  WriteAllFd(fds[1], text);
  close(fds[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) got.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  EXPECT_EQ(got, text);
}

}  // namespace
}  // namespace weft
