#include "runtime/options.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/fatal_core.h"

namespace weft {
namespace {

constexpr size_t kKiB = size_t{1} << 10;
constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

absl::Status OutOfRange(const char* name, const std::string& range, const std::string& got) {
  return absl::InvalidArgumentError(
      absl::StrFormat("weft: option %s must be %s; got %s", name, range, got));
}

absl::Status CheckSize(const char* name, size_t v, size_t lo, size_t hi) {
  if (v >= lo && v <= hi) return absl::OkStatus();
  return OutOfRange(name, absl::StrFormat("in [%d, %d] bytes", lo, hi), absl::StrCat(v));
}

size_t PhysicalMemory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 8 * kGiB;
  return static_cast<size_t>(pages) * static_cast<size_t>(page);
}

uint64_t StressFromEnvironment() {
  const char* env = std::getenv("WEFT_GC_STRESS");
  uint64_t n = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &n)) return n;
  return 0;
}

}  // namespace

absl::Status ValidateSpawnOptions(const SpawnOptions& o) {
  if (o.native_stack_bytes != 0) {
    if (auto s = CheckSize("SpawnOptions.native_stack_bytes", o.native_stack_bytes, 32 * kKiB,
                           64 * kMiB);
        !s.ok()) {
      return s;
    }
  }
  if (o.managed_stack_max_bytes != 0) {
    if (auto s = CheckSize("SpawnOptions.managed_stack_max_bytes", o.managed_stack_max_bytes,
                           4 * kKiB, kGiB);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOptions(const Options& o) {
  if (o.workers < 0 || o.workers > 256) {
    return OutOfRange("workers", "in [1, 256], or 0 for one per core", absl::StrCat(o.workers));
  }
  if (auto s = CheckSize("native_stack_bytes", o.native_stack_bytes, 32 * kKiB, 64 * kMiB);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckSize("managed_stack_max_bytes", o.managed_stack_max_bytes, 4 * kKiB,
                         kGiB);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckSize("nursery_bytes", o.nursery_bytes, 256 * kKiB, kGiB); !s.ok()) return s;
  if (auto s = CheckSize("max_nursery_bytes", o.max_nursery_bytes, 0, kGiB); !s.ok()) return s;
  if (o.young_pause_target != absl::ZeroDuration() &&
      (o.young_pause_target < absl::Microseconds(100) ||
       o.young_pause_target > absl::Seconds(10))) {
    return OutOfRange("young_pause_target", "0 or in [100us, 10s]",
                      absl::FormatDuration(o.young_pause_target));
  }
  if (o.generations < 1 || o.generations > heap::kMaxOlderGenerations) {
    return OutOfRange("generations", "in [1, 6]", absl::StrCat(o.generations));
  }
  if (o.gc_threads < 0 || o.gc_threads > 64) {
    return OutOfRange("gc_threads", "in [1, 64], or 0 for one per core",
                      absl::StrCat(o.gc_threads));
  }
  if (o.old_generation_growth_percent < 10 || o.old_generation_growth_percent > 1000) {
    return OutOfRange("old_generation_growth_percent", "in [10, 1000]",
                      absl::StrCat(o.old_generation_growth_percent));
  }
  if (o.promote_in_place_percent < 0 || o.promote_in_place_percent > 100) {
    return OutOfRange("promote_in_place_percent", "in [0, 100]",
                      absl::StrCat(o.promote_in_place_percent));
  }
  if (o.promotion_age < 1 || o.promotion_age > 7) {
    return OutOfRange("promotion_age", "in [1, 7]", absl::StrCat(o.promotion_age));
  }
  size_t hard = o.heap_hard_limit_bytes == 0 ? PhysicalMemory() : o.heap_hard_limit_bytes;
  size_t min_hard = 3 * o.nursery_bytes + kMiB;
  if (o.heap_hard_limit_bytes != 0) {
    if (auto s = CheckSize("heap_hard_limit_bytes", o.heap_hard_limit_bytes, min_hard,
                           size_t{1} << 46);
        !s.ok()) {
      return s;
    }
  }
  if (o.heap_soft_limit_bytes != 0) {
    if (auto s = CheckSize("heap_soft_limit_bytes", o.heap_soft_limit_bytes, o.nursery_bytes,
                           hard);
        !s.ok()) {
      return s;
    }
  }
  size_t soft = o.heap_soft_limit_bytes == 0 ? hard : o.heap_soft_limit_bytes;
  if (auto s = CheckSize("heap_initial_bytes", o.heap_initial_bytes, 0, soft); !s.ok()) return s;
  if (o.gc_stress_every > (uint64_t{1} << 31)) {
    return OutOfRange("gc_stress_every", "in [0, 2^31]", absl::StrCat(o.gc_stress_every));
  }
  if (o.safepoint_watchdog <= absl::ZeroDuration() || o.safepoint_watchdog > absl::Hours(1)) {
    return OutOfRange("safepoint_watchdog", "in (0, 1h]",
                      absl::FormatDuration(o.safepoint_watchdog));
  }
  if (!o.core_path.empty()) {
    if (auto p = ExpandCorePath(o.core_path, 1); !p.ok()) {
      return OutOfRange("core_path", "a path where only %p and %% follow a %",
                        absl::StrCat("'", o.core_path, "'"));
    }
  }
  if (o.core_timeout <= absl::ZeroDuration() || o.core_timeout > absl::Hours(1)) {
    return OutOfRange("core_timeout", "in (0, 1h]", absl::FormatDuration(o.core_timeout));
  }
  // The layers check their own cross-field rules; their messages name their fields.
  if (auto s = ToHeapOptions(o).Validate(); !s.ok()) return s;
  if (auto s = ToSchedulerOptions(o).Validate(); !s.ok()) return s;
  return absl::OkStatus();
}

heap::HeapOptions ToHeapOptions(const Options& o) {
  heap::HeapOptions h;
  h.nursery_bytes = o.nursery_bytes;
  // A max below nursery_bytes (the 32 MiB default with a bigger nursery) means fixed.
  h.max_nursery_bytes = o.max_nursery_bytes > o.nursery_bytes ? o.max_nursery_bytes : 0;
  h.young_pause_target_ms = absl::ToDoubleMilliseconds(o.young_pause_target);
  h.generations = o.generations;
  h.promotion_age.fill(o.promotion_age);
  h.promote_in_place_percent = o.promotion_age == 1 ? o.promote_in_place_percent : 0;
  h.gc_threads = o.gc_threads != 0
                     ? o.gc_threads
                     : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  h.hard_limit_bytes = o.heap_hard_limit_bytes == 0 ? PhysicalMemory() : o.heap_hard_limit_bytes;
  h.soft_limit_bytes = o.heap_soft_limit_bytes == 0 ? h.hard_limit_bytes : o.heap_soft_limit_bytes;
  h.initial_bytes = std::min(o.heap_initial_bytes, h.soft_limit_bytes);
  h.old_growth_percent = o.old_generation_growth_percent;
  h.gc_stress_every_n_allocations =
      o.gc_stress_every != 0 ? o.gc_stress_every : StressFromEnvironment();
  return h;
}

threads::SchedulerOptions ToSchedulerOptions(const Options& o) {
  threads::SchedulerOptions s;
  s.workers = o.workers;
  s.native_stack_bytes = o.native_stack_bytes;
  s.managed_stack_max_bytes = o.managed_stack_max_bytes;
  s.safepoint_watchdog = o.safepoint_watchdog;
  return s;
}

}  // namespace weft
