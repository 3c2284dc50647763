#include "runtime/trace.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/trace_sampler.h"

namespace weft::trace {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string TempPath(const char* name) {
  return ::testing::TempDir() + name;  // TEST_TMPDIR under Bazel
}

const char* Colour(uint8_t d) { return d == 1 ? "red" : "blue"; }
constexpr Kind kOuter{"test", "outer"};
constexpr Kind kPoint{"test", "point", &Colour};
constexpr Kind kOtherThread{"test", "other-thread"};
constexpr Kind kBeforeStart{"test", "before-start"};
constexpr Kind kTick{"test", "tick"};

TEST(TraceTest, WritesChromeTraceEventsFromSeveralThreads) {
  std::string path = TempPath("trace_test.json");
  EXPECT_FALSE(Enabled());
  Instant(kBeforeStart);  // not recorded
  Start(path);
  {
    Scoped s(kOuter, 7);
    Instant(kPoint, 3, 1);
    SampledInstant(kPoint, 4, 2, 16);
  }
  std::thread t([] { Instant(kOtherThread, 9); });
  t.join();
  Stop();
  EXPECT_FALSE(Enabled());
  std::string json = ReadFile(path);
  EXPECT_EQ(json.rfind("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 0), 0u) << json;
  EXPECT_NE(json.find("\"ph\":\"B\",\"cat\":\"test\",\"name\":\"outer\""), std::string::npos);
  EXPECT_NE(json.find("\"ph\":\"E\",\"cat\":\"test\",\"name\":\"outer\""), std::string::npos);
  EXPECT_NE(json.find("\"args\":{\"value\":7}"), std::string::npos) << json;
  // The detail code goes through the kind's detail_name; a sample weight above 1 is shown.
  EXPECT_NE(json.find("\"args\":{\"value\":3,\"detail\":\"red\"}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"args\":{\"value\":4,\"detail\":\"blue\",\"sample\":16}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"name\":\"other-thread\""), std::string::npos);
  EXPECT_EQ(json.find("before-start"), std::string::npos);
  // Balanced JSON: the file ends the array and the object.
  EXPECT_NE(json.find("\n]}\n"), std::string::npos);
}

TEST(TraceTest, ArgKeepsFortyBits) {
  std::string path = TempPath("trace_arg.json");
  Start(path);
  Instant(kTick, (uint64_t{1} << 40) + 5);
  Instant(kTick, (uint64_t{1} << 40) - 1);
  Stop();
  std::string json = ReadFile(path);
  EXPECT_NE(json.find("\"value\":5}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"value\":" + std::to_string((uint64_t{1} << 40) - 1) + "}"),
            std::string::npos)
      << json;
}

TEST(TraceTest, RingKeepsTheLastEvents) {
  std::string path = TempPath("trace_ring.json");
  Start(path);
  for (size_t i = 0; i < kRingEvents + 10; ++i) Instant(kTick, i);
  Stop();
  std::string json = ReadFile(path);
  EXPECT_EQ(json.find("\"value\":0}"), std::string::npos);  // overwritten
  EXPECT_NE(json.find(std::to_string(kRingEvents + 9)), std::string::npos);
}

// Takes until the sampler says yes; returns how many blockings that was.
int TakesUntilRecorded(Sampler* s) {
  int n = 1;
  while (!s->Take()) ++n;
  return n;
}

TEST(TraceSamplerTest, FixedPeriodRecordsOneBlockingInN) {
  Start(TempPath("trace_sampler_fixed.json"), 4);
  Sampler s;
  // The first blocking is recorded (it stands for itself), then one in four.
  EXPECT_EQ(TakesUntilRecorded(&s), 1);
  EXPECT_EQ(s.period(), 1u);
  s.Recorded(1000);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(TakesUntilRecorded(&s), 4);
    EXPECT_EQ(s.period(), 4u);
    s.Recorded(1000 + i);  // the time does not matter
  }
  Start(TempPath("trace_sampler_fixed.json"), 1);
  s.Recorded(0);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(TakesUntilRecorded(&s), 1);
    s.Recorded(0);
  }
  Stop();
}

TEST(TraceSamplerTest, AutoPeriodFollowsTheBlockingRate) {
  Start(TempPath("trace_sampler_auto.json"), kSampleAuto);
  Sampler s;
  EXPECT_TRUE(s.Take());
  uint64_t t = uint64_t{1} << 40;
  s.Recorded(t);
  // Dense: recorded blockings under kSampleIntervalNs apart (0 ticks) double the period
  // up to kMaxSamplePeriod.
  uint32_t expected = 1;
  for (int i = 0; i < 15; ++i) {
    expected = std::min(expected * 2, kMaxSamplePeriod);
    EXPECT_EQ(TakesUntilRecorded(&s), static_cast<int>(s.period()));
    s.Recorded(t);
    EXPECT_EQ(s.period(), expected);
  }
  // Sparse: recorded blockings a second apart (over any TSC rate) halve it down to 1.
  for (int i = 0; i < 15; ++i) {
    expected = std::max(expected / 2, 1u);
    TakesUntilRecorded(&s);
    t += uint64_t{10} << 30;
    s.Recorded(t);
    EXPECT_EQ(s.period(), expected);
  }
  EXPECT_EQ(TakesUntilRecorded(&s), 1);
  Stop();
}

}  // namespace
}  // namespace weft::trace
