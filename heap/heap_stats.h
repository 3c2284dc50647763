// heap_stats.h: counters the heap keeps, and the census of live objects.
#ifndef WEFT_HEAP_HEAP_STATS_H_
#define WEFT_HEAP_HEAP_STATS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "heap/heap_options.h"
#include "heap/object.h"

namespace weft::heap {

// PauseHistogram: collection pauses by upper bound in milliseconds; the last bucket
// holds everything above the last bound.
struct PauseHistogram {
  static constexpr int kBuckets = 10;
  static constexpr double kUpperMs[kBuckets - 1] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 50, 100};
  std::array<uint64_t, kBuckets> counts = {};
  void Add(double ms);
  std::string ToString() const;
};

struct HeapStats {
  uint64_t bytes_allocated = 0;  // by mutators, ever (objects only, fillers excluded)
  uint64_t objects_allocated_large = 0;
  size_t heap_bytes = 0;         // blocks the heap holds, in bytes
  size_t soft_limit_bytes = 0;
  size_t hard_limit_bytes = 0;
  // The nursery's current size ([heap.nursery.adaptive]) and its spare blocks: emptied
  // by the last young collection and kept committed for the next allocations
  // ([heap.nursery.spare]); not part of heap_bytes.
  size_t nursery_bytes = 0;
  size_t nursery_spare_blocks = 0;
  uint64_t nursery_resizes = 0;  // times the adaptive nursery grew or shrank
  // The smoothed copy rate of young collections that caps the nursery's growth
  // ([heap.nursery.adaptive]); 0 before the first sample.
  double young_copy_bytes_per_ms = 0;
  // Per generation: bytes in objects (block bytes_used) and blocks held.
  std::array<size_t, kMaxGenerations> generation_bytes = {};
  std::array<size_t, kMaxGenerations> generation_blocks = {};
  std::array<uint64_t, kMaxGenerations> collections = {};  // by generation collected
  uint64_t promoted_bytes = 0;   // copied or moved out of the nursery, ever
  uint64_t evacuated_bytes = 0;  // old objects moved by defragmentation/compaction
  // Collections that promoted the nursery in place, and the bytes of nursery objects
  // they promoted without moving them (part of promoted_bytes) ([heap.nursery.in-place]).
  uint64_t in_place_collections = 0;
  uint64_t promoted_in_place_bytes = 0;
  // Collections whose closure several threads traced ([heap.collect.parallel]).
  uint64_t parallel_collections = 0;
  double total_pause_ms = 0;
  double max_pause_ms = 0;
  double last_pause_ms = 0;
  PauseHistogram pauses;
  uint64_t allocation_failures = 0;
};

// Census: live-and-not-yet-collected objects by kind and generation.
struct Census {
  std::array<std::array<uint64_t, kObjectKindCount>, kMaxGenerations> objects = {};
  std::array<std::array<uint64_t, kObjectKindCount>, kMaxGenerations> bytes = {};
  uint64_t total_objects() const;
  uint64_t total_bytes() const;
  std::string ToString() const;
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_HEAP_STATS_H_
