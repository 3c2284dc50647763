#include "heap/heap_stats.h"

#include "absl/strings/str_format.h"

namespace weft::heap {

void PauseHistogram::Add(double ms) {
  int i = 0;
  while (i < kBuckets - 1 && ms > kUpperMs[i]) ++i;
  ++counts[i];
}

std::string PauseHistogram::ToString() const {
  std::string s;
  for (int i = 0; i < kBuckets; ++i) {
    if (counts[i] == 0) continue;
    if (i < kBuckets - 1) {
      absl::StrAppendFormat(&s, "<=%gms:%d ", kUpperMs[i], counts[i]);
    } else {
      absl::StrAppendFormat(&s, ">%gms:%d ", kUpperMs[kBuckets - 2], counts[i]);
    }
  }
  return s;
}

uint64_t Census::total_objects() const {
  uint64_t n = 0;
  for (const auto& g : objects) for (uint64_t c : g) n += c;
  return n;
}

uint64_t Census::total_bytes() const {
  uint64_t n = 0;
  for (const auto& g : bytes) for (uint64_t c : g) n += c;
  return n;
}

std::string Census::ToString() const {
  std::string s;
  for (int g = 0; g < kMaxGenerations; ++g) {
    for (int k = 0; k < kObjectKindCount; ++k) {
      if (objects[g][k] == 0) continue;
      absl::StrAppendFormat(&s, "gen %d %-7s %10d objects %12d bytes\n", g,
                            ObjectKindName(static_cast<ObjectKind>(k)), objects[g][k],
                            bytes[g][k]);
    }
  }
  return s;
}

}  // namespace weft::heap
