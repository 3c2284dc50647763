// trace_sampler.h: which blockings of one worker the timeline records
// ([runtime.trace.sample]).
//
// A blocking is the costliest thing to trace: a switch-heavy program blocks every
// 100 ns, and each recorded blocking costs two events (its block and the wake that
// ends it). A worker's Sampler picks the blockings to record; the blocked thread
// carries the choice to its waker, so a recorded block always has its wake.
// Spawns, parking, safepoint stops and collection phases are never sampled.
#ifndef WEFT_RUNTIME_TRACE_SAMPLER_H_
#define WEFT_RUNTIME_TRACE_SAMPLER_H_

#include <cstdint>

namespace weft::trace {

// The auto mode's goal: at most about one recorded blocking per this many ns per
// worker, that is at most a few per cent of a worker's time spent recording.
inline constexpr uint64_t kSampleIntervalNs = 1000;
// The longest period: a recorded blocking stands for at most this many.
inline constexpr uint32_t kMaxSamplePeriod = 1024;

// Sampler: one worker's choice of blockings. Used only by its worker's OS thread.
class Sampler {
 public:
  // Take: whether this blocking is recorded (call only with tracing on). If so, record
  // it with period() as its sample weight, then pass the event's time to Recorded.
  bool Take() { return --countdown_ == 0; }
  uint32_t period() const { return period_; }
  // Recorded sets the next period: the fixed one, or (auto) twice the current one if
  // the last recorded blocking was under kSampleIntervalNs ago, half if over four times
  // that (a period that just doubled is kept while the gap stays under 4 intervals).
  void Recorded(uint64_t tsc);

 private:
  uint32_t countdown_ = 1;
  uint32_t period_ = 1;
  uint64_t last_tsc_ = 0;
};

}  // namespace weft::trace

#endif  // WEFT_RUNTIME_TRACE_SAMPLER_H_
