#include "heap/heap_options.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace weft::heap {
namespace {

absl::Status OutOfRange(const char* option, uint64_t value, uint64_t lo, uint64_t hi) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "HeapOptions.%s = %d is out of range [%d, %d]", option, value, lo, hi));
}

}  // namespace

absl::Status HeapOptions::Validate() const {
  constexpr uint64_t kMaxBytes = uint64_t{1} << 46;
  constexpr double kMinYoungPauseTargetMs = 0.1;
  constexpr double kMaxYoungPauseTargetMs = 10000;
  if (nursery_bytes < (size_t{64} << 10) || nursery_bytes > (size_t{1} << 30)) {
    return OutOfRange("nursery_bytes", nursery_bytes, size_t{64} << 10, size_t{1} << 30);
  }
  if (max_nursery_bytes != 0 &&
      (max_nursery_bytes < nursery_bytes || max_nursery_bytes > (size_t{1} << 30))) {
    return OutOfRange("max_nursery_bytes", max_nursery_bytes, nursery_bytes, size_t{1} << 30);
  }
  if (young_pause_target_ms != 0 &&
      !(young_pause_target_ms >= kMinYoungPauseTargetMs &&
        young_pause_target_ms <= kMaxYoungPauseTargetMs)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "HeapOptions.young_pause_target_ms = %g is out of range 0 or [%g, %g]",
        young_pause_target_ms, kMinYoungPauseTargetMs, kMaxYoungPauseTargetMs));
  }
  if (generations < 1 || generations > kMaxOlderGenerations) {
    return OutOfRange("generations", generations, 1, kMaxOlderGenerations);
  }
  for (int g = 0; g < generations; ++g) {
    if (promotion_age[g] < 1 || promotion_age[g] > kMaxPromotionAge) {
      return absl::InvalidArgumentError(
          absl::StrFormat("HeapOptions.promotion_age[%d] = %d is out of range [1, %d]", g,
                          promotion_age[g], kMaxPromotionAge));
    }
  }
  if (gc_threads < 1 || gc_threads > 64) {
    return absl::InvalidArgumentError(
        absl::StrFormat("HeapOptions.gc_threads = %d is out of range [1, 64]", gc_threads));
  }
  if (parallel_min_bytes > kMaxBytes) {
    return OutOfRange("parallel_min_bytes", parallel_min_bytes, 0, kMaxBytes);
  }
  if (promote_in_place_percent < 0 || promote_in_place_percent > 100) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "HeapOptions.promote_in_place_percent = %d is out of range [0, 100]",
        promote_in_place_percent));
  }
  if (promote_in_place_percent > 0 && promotion_age[0] != 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "HeapOptions.promote_in_place_percent = %d needs promotion_age[0] = 1 (it is %d): "
        "a nursery promoted in place moves all of it to generation 1",
        promote_in_place_percent, promotion_age[0]));
  }
  if (old_growth_percent < 10 || old_growth_percent > 1000) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "HeapOptions.old_growth_percent = %d is out of range [10, 1000]", old_growth_percent));
  }
  uint64_t min_hard = 3 * uint64_t{nursery_bytes} + (uint64_t{1} << 20);
  if (hard_limit_bytes < min_hard || hard_limit_bytes > kMaxBytes) {
    return OutOfRange("hard_limit_bytes", hard_limit_bytes, min_hard, kMaxBytes);
  }
  if (soft_limit_bytes < nursery_bytes || soft_limit_bytes > hard_limit_bytes) {
    return OutOfRange("soft_limit_bytes", soft_limit_bytes, nursery_bytes, hard_limit_bytes);
  }
  if (initial_bytes > soft_limit_bytes) {
    return OutOfRange("initial_bytes", initial_bytes, 0, soft_limit_bytes);
  }
  if (gc_stress_every_n_allocations > (uint64_t{1} << 31)) {
    return OutOfRange("gc_stress_every_n_allocations", gc_stress_every_n_allocations, 0,
                      uint64_t{1} << 31);
  }
  return absl::OkStatus();
}

bool UniformPromotion(const HeapOptions& options, int generation, int oldest) {
  for (int k = 0; k <= std::min(generation, oldest - 1); ++k) {
    if (options.promotion_age[k] != 1) return false;
  }
  return true;
}

}  // namespace weft::heap
