// heap_options.h: the heap's tunables and their allowed ranges.
#ifndef WEFT_HEAP_HEAP_OPTIONS_H_
#define WEFT_HEAP_HEAP_OPTIONS_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace weft::heap {

// Generation 0 is the nursery; 1..generations are the older generations.
inline constexpr int kMaxOlderGenerations = 6;
inline constexpr int kMaxGenerations = kMaxOlderGenerations + 1;
// promotion_age is at most kMaxPromotionAge, so a nursery object that stays young is
// at most kMaxNurseryAge collections old ([heap.nursery.block-age]).
inline constexpr int kMaxPromotionAge = 7;
inline constexpr int kMaxNurseryAge = kMaxPromotionAge - 1;

struct HeapOptions {
  // Bytes mutators may allocate (small objects, large objects, pinned objects)
  // between young collections. [64 KiB, 1 GiB]; rounded up to whole blocks.
  size_t nursery_bytes = size_t{4} << 20;
  // Adaptive nursery ([heap.nursery.adaptive]): the nursery grows from nursery_bytes
  // up to this many bytes while young collections find much of it alive, and shrinks
  // back when little survives, within the soft and hard limits. 0: fixed at
  // nursery_bytes. 0 or [nursery_bytes, 1 GiB]; rounded up to whole blocks.
  size_t max_nursery_bytes = 0;
  // The adaptive nursery never grows past the size a young collection would copy in
  // this many milliseconds were all of it to survive, at the copy rate measured on
  // recent young collections ([heap.nursery.adaptive]). 0: no pause cap.
  // 0 or [0.1, 10000].
  double young_pause_target_ms = 0;
  // Number of older generations. [1, 6].
  int generations = 2;
  // promotion_age[g]: collections of generation g an object (nursery) or block
  // (older generations, large and pinned objects) survives before it is promoted to
  // g + 1. Entries 0..generations-1 are used. [1, 7].
  std::array<int, kMaxOlderGenerations> promotion_age = {2, 2, 2, 2, 2, 2};
  // A collection that follows a young one in which at least this percentage of the
  // bytes allocated since the collection before survived promotes the nursery in
  // place ([heap.nursery.in-place]): its blocks with survivors become generation-1
  // blocks, marked and swept, instead of having every survivor copied out. 0: always
  // copy. Needs promotion_age[0] = 1. Ignored in WEFT_CHECKED builds, where every
  // collection moves every nursery object. [0, 100].
  int promote_in_place_percent = 0;
  // Threads that trace a collection that promotes the nursery in place (slots into
  // old blocks it evacuates are left to the collecting thread) and sweep its
  // condemned blocks, the collecting thread included; the others
  // are the heap's own, parked between collections ([heap.collect.parallel]).
  // [1, 64].
  int gc_threads = 1;
  // A collection traces in parallel only when it condemns at least this many bytes
  // (nursery blocks and condemned old bytes in use), and sweeps in parallel only
  // when the blocks it sweeps hold at least this many: waking the helpers costs
  // more than a small heap's trace or sweep. [0, 2^46].
  size_t parallel_min_bytes = size_t{1} << 20;
  // An older generation is collected when it has grown past max(initial_bytes,
  // nursery_bytes, (100 + old_growth_percent)% of its size after its last collection)
  // ([heap.trigger.growth]). [0, soft_limit_bytes].
  size_t initial_bytes = size_t{16} << 20;
  // How much an older generation may grow past its size after its last collection
  // (or past the batch a collection of the generation below just moved into it)
  // before it is collected, in percent: Go's GOGC for one generation. Lower keeps
  // less dead data (a smaller peak footprint) for more older collections.
  // [10, 1000].
  int old_growth_percent = 50;
  // Allocation that would take the heap past the soft limit first runs a full
  // collection, then fails with AllocationFailure::kSoftLimit; SetSoftLimit can raise
  // it. [nursery_bytes, hard_limit_bytes].
  size_t soft_limit_bytes = size_t{1} << 30;
  // Never exceeded, collections included (a reserve for copying the nursery is kept
  // free). [3 x nursery_bytes + 1 MiB, 2^46].
  size_t hard_limit_bytes = size_t{2} << 30;
  // Testing: request a collection every n slow-path allocations (0 = off). With n > 0
  // every allocation takes the slow path. [0, 2^31].
  uint64_t gc_stress_every_n_allocations = 0;

  // Validate returns InvalidArgument naming the first option out of range.
  absl::Status Validate() const;
};

// UniformPromotion: whether a collection of `generation` moves every survivor of
// generations 0..min(generation, oldest - 1) up by one (promotion_age 1 for each):
// [heap.cards.uniform-promotion], [heap.trigger.anticipate].
bool UniformPromotion(const HeapOptions& options, int generation, int oldest);

}  // namespace weft::heap

#endif  // WEFT_HEAP_HEAP_OPTIONS_H_
