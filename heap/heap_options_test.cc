#include "heap/heap_options.h"

#include <string>

#include <gtest/gtest.h>

namespace weft::heap {
namespace {

void ExpectInvalid(const HeapOptions& o, const std::string& option) {
  absl::Status s = o.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << option;
  EXPECT_NE(std::string(s.message()).find(option), std::string::npos) << s;
  EXPECT_NE(std::string(s.message()).find("range"), std::string::npos) << s;
}

TEST(HeapOptionsTest, DefaultsAreValid) { EXPECT_TRUE(HeapOptions{}.Validate().ok()); }

TEST(HeapOptionsTest, EachOptionOutOfRangeIsNamed) {
  HeapOptions o;
  o.nursery_bytes = 1000;
  ExpectInvalid(o, "nursery_bytes");
  o = {};
  o.max_nursery_bytes = o.nursery_bytes / 2;
  ExpectInvalid(o, "max_nursery_bytes");
  o.max_nursery_bytes = size_t{2} << 30;
  ExpectInvalid(o, "max_nursery_bytes");
  o.max_nursery_bytes = 0;  // fixed nursery
  EXPECT_TRUE(o.Validate().ok());
  o = {};
  o.young_pause_target_ms = 0.05;
  ExpectInvalid(o, "young_pause_target_ms");
  o.young_pause_target_ms = 20000;
  ExpectInvalid(o, "young_pause_target_ms");
  o.young_pause_target_ms = -1;
  ExpectInvalid(o, "young_pause_target_ms");
  o.young_pause_target_ms = 0;  // no pause cap
  EXPECT_TRUE(o.Validate().ok());
  o.young_pause_target_ms = 0.1;
  EXPECT_TRUE(o.Validate().ok());
  o = {};
  o.generations = 0;
  ExpectInvalid(o, "generations");
  o.generations = 7;
  ExpectInvalid(o, "generations");
  o = {};
  o.promotion_age[1] = 0;
  ExpectInvalid(o, "promotion_age[1]");
  o.promotion_age[1] = 8;
  ExpectInvalid(o, "promotion_age[1]");
  o = {};
  o.promotion_age[5] = 0;  // unused with 2 generations
  EXPECT_TRUE(o.Validate().ok());
  o = {};
  o.hard_limit_bytes = o.nursery_bytes;
  ExpectInvalid(o, "hard_limit_bytes");
  o = {};
  o.soft_limit_bytes = o.hard_limit_bytes + 1;
  ExpectInvalid(o, "soft_limit_bytes");
  o = {};
  o.initial_bytes = o.soft_limit_bytes + 1;
  ExpectInvalid(o, "initial_bytes");
  o = {};
  o.old_growth_percent = 9;
  ExpectInvalid(o, "old_growth_percent");
  o.old_growth_percent = 1001;
  ExpectInvalid(o, "old_growth_percent");
  o = {};
  o.gc_stress_every_n_allocations = uint64_t{1} << 40;
  ExpectInvalid(o, "gc_stress_every_n_allocations");
}

}  // namespace
}  // namespace weft::heap
