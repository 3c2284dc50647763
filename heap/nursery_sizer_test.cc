// nursery_sizer_test.cc: the adaptive nursery's size rule ([heap.nursery.adaptive]):
// growth and shrinking by survival, and the cap from the pause target at an injected
// copy rate (no clock: the rates are given, not measured).
#include "heap/nursery_sizer.h"

#include <gtest/gtest.h>

namespace weft::heap {
namespace {

constexpr size_t kKiB = size_t{1} << 10;
constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGranule = 32 * kKiB;
constexpr size_t kMin = 4 * kMiB;
constexpr size_t kMax = 32 * kMiB;

// A nursery of `bytes`, full, all of it alive.
size_t AfterFullSurvival(const NurserySizer& s, size_t bytes) {
  return s.Next(bytes, bytes, bytes);
}

TEST(NurserySizerTest, GrowsBySurvivalUpToTheMaximumWithoutARate) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/10);
  EXPECT_EQ(s.PauseCap(), kMax);
  EXPECT_EQ(AfterFullSurvival(s, kMin), 2 * kMin);
  EXPECT_EQ(AfterFullSurvival(s, kMax), kMax);
  // A twentieth or less surviving keeps the size; less than a fiftieth halves it.
  EXPECT_EQ(s.Next(16 * kMiB, 16 * kMiB, 16 * kMiB / 20), 16 * kMiB);
  EXPECT_EQ(s.Next(16 * kMiB, 16 * kMiB, 16 * kMiB / 20 + 1), kMax);
  EXPECT_EQ(s.Next(16 * kMiB, 16 * kMiB, 0), 8 * kMiB);
  EXPECT_EQ(s.Next(kMin, kMin, 0), kMin);
}

TEST(NurserySizerTest, AnEarlyCollectionSaysNothingAboutSurvival) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/10);
  EXPECT_EQ(s.Next(16 * kMiB, 8 * kMiB - 1, 8 * kMiB - 1), 16 * kMiB);
  EXPECT_EQ(s.Next(16 * kMiB, 8 * kMiB - 1, 0), 16 * kMiB);
}

TEST(NurserySizerTest, SlowCopyRateStopsGrowth) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/10);
  s.RecordYoungCollection(4 * kMiB, 8.0);  // 0.5 MiB/ms: 10 ms copy 5 MiB
  EXPECT_DOUBLE_EQ(s.copy_bytes_per_ms(), 0.5 * kMiB);
  EXPECT_EQ(s.PauseCap(), 5 * kMiB);
  EXPECT_EQ(AfterFullSurvival(s, kMin), 5 * kMiB);
  EXPECT_EQ(AfterFullSurvival(s, 5 * kMiB), 5 * kMiB);
  // A nursery already past the cap (grown before the rate fell) shrinks to it at once.
  EXPECT_EQ(AfterFullSurvival(s, kMax), 5 * kMiB);
  EXPECT_EQ(s.Next(kMax, kMax / 4, 0), 5 * kMiB);
}

TEST(NurserySizerTest, FastCopyRateAllowsTheMaximum) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/10);
  s.RecordYoungCollection(32 * kMiB, 8.0);  // 4 MiB/ms: 10 ms copy 40 MiB
  EXPECT_EQ(s.PauseCap(), kMax);
  EXPECT_EQ(AfterFullSurvival(s, 16 * kMiB), kMax);
}

TEST(NurserySizerTest, SmallPauseTargetKeepsTheMinimum) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/0.5);
  s.RecordYoungCollection(4 * kMiB, 4.0);  // 1 MiB/ms: 0.5 ms copy 512 KiB < kMin
  EXPECT_EQ(s.PauseCap(), kMin);
  EXPECT_EQ(AfterFullSurvival(s, kMin), kMin);
}

TEST(NurserySizerTest, CapIsWholeGranules) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/10);
  s.RecordYoungCollection(4 * kMiB + 1000 * 10, 10.0);  // 10 ms copy 4 MiB + 10000 B
  EXPECT_EQ(s.PauseCap(), 4 * kMiB);
  s.RecordYoungCollection(0, 0);  // ignored
  EXPECT_EQ(s.PauseCap(), 4 * kMiB);
}

TEST(NurserySizerTest, NoPauseTargetMeansSurvivalOnly) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/0);
  s.RecordYoungCollection(4 * kMiB, 400.0);  // 10 KiB/ms
  EXPECT_EQ(s.PauseCap(), kMax);
  EXPECT_EQ(AfterFullSurvival(s, 16 * kMiB), kMax);
}

TEST(NurserySizerTest, SmallCopiesAreNotRateSamples) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/10);
  s.RecordYoungCollection(NurserySizer::kMinRateSampleBytes - 1, 1000.0);
  EXPECT_EQ(s.copy_bytes_per_ms(), 0);
  EXPECT_EQ(s.PauseCap(), kMax);
  s.RecordYoungCollection(NurserySizer::kMinRateSampleBytes, 1.0);
  EXPECT_DOUBLE_EQ(s.copy_bytes_per_ms(), NurserySizer::kMinRateSampleBytes);
}

TEST(NurserySizerTest, RateIsSmoothedOverSamples) {
  NurserySizer s(kMin, kMax, kGranule, /*pause_target_ms=*/10);
  s.RecordYoungCollection(8 * kMiB, 2.0);  // 4 MiB/ms
  s.RecordYoungCollection(8 * kMiB, 8.0);  // 1 MiB/ms: moves a quarter of the way
  EXPECT_DOUBLE_EQ(s.copy_bytes_per_ms(), 3.25 * kMiB);
  // One slow pause (a descheduled collector) lowers the cap, it does not collapse it.
  EXPECT_EQ(s.PauseCap(), kMax);
  s.RecordYoungCollection(8 * kMiB, 80.0);  // 0.1 MiB/ms
  EXPECT_DOUBLE_EQ(s.copy_bytes_per_ms(), (3.25 - (3.25 - 0.1) / 4) * kMiB);
  EXPECT_EQ(s.PauseCap(), static_cast<size_t>(24.625 * kMiB) / kGranule * kGranule);
}

TEST(NurserySizerTest, FixedNurseryNeverMoves) {
  NurserySizer s(kMin, kMin, kGranule, /*pause_target_ms=*/10);
  EXPECT_EQ(AfterFullSurvival(s, kMin), kMin);
  EXPECT_EQ(s.Next(kMin, kMin, 0), kMin);
  s.RecordYoungCollection(4 * kMiB, 400.0);
  EXPECT_EQ(AfterFullSurvival(s, kMin), kMin);
}

}  // namespace
}  // namespace weft::heap
