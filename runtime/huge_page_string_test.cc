// huge_page_string_test.cc: ReserveHugePages reserves, keeps the contents, and leaves
// small strings alone; with transparent huge pages available, a large buffer written
// through is backed by some (reported, not required: the kernel may have no free
// 2 MiB page at hand).
#include "runtime/huge_page_string.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(HugePageStringTest, ReservesAndKeepsTheContents) {
  std::string s = "already here";
  ReserveHugePages(&s, 100);
  EXPECT_GE(s.capacity(), 100u);
  EXPECT_EQ(s, "already here");
  const size_t big = size_t{16} << 20;
  ReserveHugePages(&s, big);
  EXPECT_GE(s.capacity(), big);
  EXPECT_EQ(s, "already here");
  const char* before = s.data();
  for (size_t i = s.size(); i < big; ++i) s.push_back(static_cast<char>('a' + i % 26));
  EXPECT_EQ(s.data(), before) << "the reserved buffer was reallocated";
  EXPECT_EQ(s.substr(0, 12), "already here");
  EXPECT_EQ(s[big - 1], static_cast<char>('a' + (big - 1) % 26));
  // A smaller request never shrinks it.
  ReserveHugePages(&s, 10);
  EXPECT_EQ(s.data(), before);
}

TEST(HugePageStringTest, ReportsWhetherTheKernelUsedHugePages) {
  std::string s;
  ReserveHugePages(&s, size_t{32} << 20);
  s.assign(size_t{32} << 20, 'x');
  // The advice splits the buffer's mapping at 2 MiB boundaries: sum every mapping
  // that overlaps it.
  auto begin = reinterpret_cast<unsigned long>(s.data());
  unsigned long end = begin + s.size();
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  long huge_kb = 0;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    char dash = 0;
    if (std::sscanf(line.c_str(), "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
      inside = lo < end && hi > begin;
    } else if (inside && line.rfind("AnonHugePages:", 0) == 0) {
      huge_kb += std::stol(line.substr(14));
    }
  }
  std::printf("AnonHugePages of a 32 MiB dump buffer: %ld kB\n", huge_kb);
  EXPECT_EQ(s.size(), size_t{32} << 20);
}

}  // namespace
}  // namespace weft
