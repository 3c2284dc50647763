// layout_registry.h: record layouts registered at run time.
//
// A record layout has a name, a number of reference slots (scanned by the collector)
// and a number of raw bytes (never scanned), laid out in that order after the
// header. RegisterLayout is idempotent for an identical layout and an error for the
// same name with a different one. Layouts are never removed, so a RecordLayout
// pointer stays valid for the registry's lifetime. Thread-safe.
#ifndef WEFT_HEAP_LAYOUT_REGISTRY_H_
#define WEFT_HEAP_LAYOUT_REGISTRY_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include <map>
#include "absl/status/statusor.h"
#include "heap/mutex.h"

namespace weft::heap {

using LayoutId = uint16_t;

struct RecordLayout {
  LayoutId id;
  std::string name;
  uint32_t ref_slots;
  uint32_t raw_bytes;
};

class LayoutRegistry {
 public:
  // At most this many layouts (ids 0..kMaxLayouts-1 fit the header's 16-bit aux).
  static constexpr size_t kMaxLayouts = 0x10000;

  // RegisterLayout returns the layout's id. InvalidArgument when ref_slots > 65535,
  // raw_bytes > 65535 * 8 or the name is empty; AlreadyExists when `name` is
  // registered with a different layout; ResourceExhausted when the table is full.
  absl::StatusOr<const RecordLayout*> RegisterLayout(std::string_view name, uint32_t ref_slots,
                                                     uint32_t raw_bytes);
  // Find returns the layout named `name`, or nullptr.
  const RecordLayout* Find(std::string_view name) const;
  // Get returns the layout with id `id`, or nullptr.
  const RecordLayout* Get(LayoutId id) const;
  size_t size() const;

 private:
  mutable Mutex mu_;
  std::deque<RecordLayout> layouts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, LayoutId, std::less<>> by_name_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_LAYOUT_REGISTRY_H_
