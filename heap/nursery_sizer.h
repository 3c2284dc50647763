// nursery_sizer.h: NurserySizer, the adaptive nursery's size rule
// ([heap.nursery.adaptive]): the nursery grows while young collections find much of
// it alive and shrinks when little survives, but never past the size whose full copy
// would take longer than the pause target at the copy rate measured so far. Pure
// arithmetic, no clock and no lock: the heap feeds it each young collection's copied
// bytes and pause, and applies the limits ([heap.limits.reserve]) to its answer.
#ifndef WEFT_HEAP_NURSERY_SIZER_H_
#define WEFT_HEAP_NURSERY_SIZER_H_

#include <cstddef>

namespace weft::heap {

class NurserySizer {
 public:
  // The nursery doubles when more than 1/kGrowAbove of what was allocated survived a
  // young collection, and halves below 1/kShrinkBelow ([heap.nursery.adaptive]).
  static constexpr size_t kGrowAbove = 20;
  static constexpr size_t kShrinkBelow = 50;
  // Young collections that copied less than this are not rate samples: their fixed
  // costs (roots, dirty cards, sweeping large and pinned objects) would dominate.
  static constexpr size_t kMinRateSampleBytes = size_t{128} << 10;
  // Each sample moves the smoothed rate by 1/kRateSmoothing of the difference.
  static constexpr double kRateSmoothing = 4;

  // NurserySizer: sizes in [min_bytes, max_bytes], multiples of `granule_bytes`
  // (min_bytes and max_bytes are; min_bytes == max_bytes: a fixed nursery).
  // `pause_target_ms` 0: no pause cap (growth by survival only).
  NurserySizer(size_t min_bytes, size_t max_bytes, size_t granule_bytes,
               double pause_target_ms);

  // RecordYoungCollection: a young collection copied `copied_bytes` (survivors and
  // promotions) in `pause_ms` (the heap gives the collecting thread's CPU time).
  void RecordYoungCollection(size_t copied_bytes, double pause_ms);
  // copy_bytes_per_ms: the smoothed copy rate of young collections, 0 before the
  // first sample.
  double copy_bytes_per_ms() const { return copy_bytes_per_ms_; }
  // PauseCap: the largest nursery whose copy, were all of it to survive, is expected
  // within the pause target: target x rate, in whole granules, never below
  // min_bytes; max_bytes with no target or no sample yet.
  size_t PauseCap() const;
  // Next: the size after a collection of a nursery of `current` bytes that found
  // `survived` of the `allocated` bytes allocated since the last one alive. Only a
  // nursery at least half full tells its survival rate (explicit and stress
  // collections come early); the pause cap applies either way.
  size_t Next(size_t current, size_t allocated, size_t survived) const;

 private:
  const size_t min_bytes_;
  const size_t max_bytes_;
  const size_t granule_bytes_;
  const double pause_target_ms_;
  double copy_bytes_per_ms_ = 0;
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_NURSERY_SIZER_H_
