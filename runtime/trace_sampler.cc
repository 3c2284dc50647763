#include "runtime/trace_sampler.h"

#include <algorithm>
#include <atomic>

#include "runtime/trace.h"

namespace weft::trace {
namespace internal {

// Set by Start before recording is enabled; relaxed, since a Sampler that reads a
// stale value only records one blocking more or fewer.
std::atomic<uint32_t> sample_fixed{kSampleAuto};
std::atomic<uint64_t> sample_interval_ticks{kSampleIntervalNs};

void ConfigureSampling(int sample, double ticks_per_ns) {
  sample_fixed.store(static_cast<uint32_t>(std::clamp<int>(sample, 0, kMaxSamplePeriod)),
                     std::memory_order_relaxed);
  sample_interval_ticks.store(static_cast<uint64_t>(double(kSampleIntervalNs) * ticks_per_ns),
                              std::memory_order_relaxed);
}

}  // namespace internal

// [runtime.trace.sample]
void Sampler::Recorded(uint64_t tsc) {
  uint32_t fixed = internal::sample_fixed.load(std::memory_order_relaxed);
  if (fixed != kSampleAuto) {
    period_ = fixed;
  } else {
    uint64_t interval = internal::sample_interval_ticks.load(std::memory_order_relaxed);
    uint64_t since = tsc - last_tsc_;
    if (since < interval) {
      period_ = std::min(period_ * 2, kMaxSamplePeriod);
    } else if (since > 4 * interval && period_ > 1) {  // hysteresis: no flip-flop
      period_ /= 2;
    }
  }
  last_tsc_ = tsc;
  countdown_ = period_;
}

}  // namespace weft::trace
