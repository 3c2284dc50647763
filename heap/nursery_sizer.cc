#include "heap/nursery_sizer.h"

#include <algorithm>

namespace weft::heap {

NurserySizer::NurserySizer(size_t min_bytes, size_t max_bytes, size_t granule_bytes,
                           double pause_target_ms)
    : min_bytes_(min_bytes),
      max_bytes_(std::max(min_bytes, max_bytes)),
      granule_bytes_(granule_bytes),
      pause_target_ms_(pause_target_ms) {}

void NurserySizer::RecordYoungCollection(size_t copied_bytes, double pause_ms) {
  if (copied_bytes < kMinRateSampleBytes || !(pause_ms > 0)) return;
  double sample = static_cast<double>(copied_bytes) / pause_ms;
  if (copy_bytes_per_ms_ == 0) {
    copy_bytes_per_ms_ = sample;
  } else {
    copy_bytes_per_ms_ += (sample - copy_bytes_per_ms_) / kRateSmoothing;
  }
}

size_t NurserySizer::PauseCap() const {
  // [heap.nursery.adaptive]: the cap assumes the whole nursery survives.
  if (pause_target_ms_ <= 0 || copy_bytes_per_ms_ == 0) return max_bytes_;
  double cap = pause_target_ms_ * copy_bytes_per_ms_;
  if (cap >= static_cast<double>(max_bytes_)) return max_bytes_;
  size_t bytes = static_cast<size_t>(cap) / granule_bytes_ * granule_bytes_;
  return std::max(bytes, min_bytes_);
}

size_t NurserySizer::Next(size_t current, size_t allocated, size_t survived) const {
  size_t target = current;
  if (max_bytes_ > min_bytes_ && allocated >= current / 2) {
    if (survived * kGrowAbove > allocated) {
      target = std::min(2 * current, max_bytes_);
    } else if (survived * kShrinkBelow < allocated) {
      target = current / 2;
    }
  }
  target = std::min(target, PauseCap());
  return std::max(target / granule_bytes_ * granule_bytes_, min_bytes_);
}

}  // namespace weft::heap
