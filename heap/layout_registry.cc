#include "heap/layout_registry.h"

#include "absl/strings/str_format.h"
#include "heap/object.h"

namespace weft::heap {

absl::StatusOr<const RecordLayout*> LayoutRegistry::RegisterLayout(std::string_view name,
                                                                   uint32_t ref_slots,
                                                                   uint32_t raw_bytes) {
  if (name.empty()) return absl::InvalidArgumentError("layout: the name must not be empty");
  if (ref_slots > kMaxRecordRefSlots) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "layout %s: ref_slots %d is out of range [0, %d]", name, ref_slots, kMaxRecordRefSlots));
  }
  if (WordsForBytes(raw_bytes) > kMaxRecordRawWords) {
    return absl::InvalidArgumentError(
        absl::StrFormat("layout %s: raw_bytes %d is out of range [0, %d]", name, raw_bytes,
                        kMaxRecordRawWords * kWordSize));
  }
  MutexLock lock(&mu_);
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    const RecordLayout& old = layouts_[it->second];
    if (old.ref_slots == ref_slots && old.raw_bytes == raw_bytes) return &old;
    return absl::AlreadyExistsError(absl::StrFormat(
        "layout %s is already registered with %d ref slots and %d raw bytes (not %d and %d)",
        name, old.ref_slots, old.raw_bytes, ref_slots, raw_bytes));
  }
  if (layouts_.size() >= kMaxLayouts) {
    return absl::ResourceExhaustedError("layout: the registry is full (65536 layouts)");
  }
  LayoutId id = static_cast<LayoutId>(layouts_.size());
  layouts_.push_back(RecordLayout{id, std::string(name), ref_slots, raw_bytes});
  by_name_.emplace(std::string(name), id);
  return &layouts_.back();
}

const RecordLayout* LayoutRegistry::Find(std::string_view name) const {
  MutexLock lock(&mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &layouts_[it->second];
}

const RecordLayout* LayoutRegistry::Get(LayoutId id) const {
  MutexLock lock(&mu_);
  return id < layouts_.size() ? &layouts_[id] : nullptr;
}

size_t LayoutRegistry::size() const {
  MutexLock lock(&mu_);
  return layouts_.size();
}

}  // namespace weft::heap
