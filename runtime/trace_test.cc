#include "runtime/trace.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace weft::trace {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(TraceTest, WritesChromeTraceEventsFromSeveralThreads) {
  std::string path = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                     "/trace_test.json";
  EXPECT_FALSE(Enabled());
  Instant("test", "before-start");  // not recorded
  Start(path);
  {
    Scoped s("test", "outer", 7);
    Instant("test", "point", 3);
  }
  std::thread t([] { Instant("test", "other-thread", 9); });
  t.join();
  Stop();
  EXPECT_FALSE(Enabled());
  std::string json = ReadFile(path);
  EXPECT_EQ(json.rfind("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 0), 0u) << json;
  EXPECT_NE(json.find("\"ph\":\"B\",\"cat\":\"test\",\"name\":\"outer\""), std::string::npos);
  EXPECT_NE(json.find("\"ph\":\"E\",\"cat\":\"test\",\"name\":\"outer\""), std::string::npos);
  EXPECT_NE(json.find("\"name\":\"point\""), std::string::npos);
  EXPECT_NE(json.find("\"name\":\"other-thread\""), std::string::npos);
  EXPECT_EQ(json.find("before-start"), std::string::npos);
  // Balanced JSON: the file ends the array and the object.
  EXPECT_NE(json.find("\n]}\n"), std::string::npos);
}

TEST(TraceTest, RingKeepsTheLastEvents) {
  std::string path = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                     "/trace_ring.json";
  Start(path);
  for (size_t i = 0; i < kRingEvents + 10; ++i) Instant("test", "tick", i);
  Stop();
  std::string json = ReadFile(path);
  EXPECT_EQ(json.find("\"value\":0}"), std::string::npos);  // overwritten
  EXPECT_NE(json.find(std::to_string(kRingEvents + 9)), std::string::npos);
}

}  // namespace
}  // namespace weft::trace
