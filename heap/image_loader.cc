#include "heap/image_loader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "heap/filler.h"
#include "runtime/check.h"

namespace weft::heap::image {

absl::Status ImageLoader::Bad(const std::string& message) const {
  return absl::InvalidArgumentError(absl::StrFormat("image %s: %s", reader_->what(), message));
}

absl::StatusOr<ImageLoader> ImageLoader::Prepare(const ImageReader& reader, Heap& heap) {
  return Prepare(reader, heap, Fixups{});
}

absl::StatusOr<ImageLoader> ImageLoader::Prepare(const ImageReader& reader, Heap& heap, Fixups fixups) {
  ImageLoader l(reader, &heap);
  if (absl::Status s = l.ReadLayouts(); !s.ok()) return s;
  if (absl::Status s = l.SetFixups(fixups); !s.ok()) return s;
  if (absl::Status s = l.Validate(); !s.ok()) return s;
  return l;
}

// [heap.image.fixups]: the role of each image layout, from the heap layouts named.
absl::Status ImageLoader::SetFixups(const Fixups& fixups) {
  if (fixups.list.empty() && fixups.shared.empty()) return absl::OkStatus();  // no roles
  size_t max_id = 0;
  for (uint16_t id : fixups.list) max_id = std::max<size_t>(max_id, id);
  for (uint16_t id : fixups.shared) max_id = std::max<size_t>(max_id, id);
  std::vector<uint16_t> heap_role(max_id + 1, 0);
  for (uint16_t id : fixups.list) heap_role[id] = 1;
  for (size_t k = 0; k < fixups.shared.size(); ++k) {
    uint16_t id = fixups.shared[k];
    if (heap_role[id] != 0 || k + 2 > 0xffff) {
      return absl::InvalidArgumentError(
          absl::StrFormat("layout id %d is shared twice, also listed, or one of over 65533 shared layouts", id));
    }
    heap_role[id] = static_cast<uint16_t>(k + 2);
  }
  image_role_.assign(layout_map_.size(), 0);
  for (size_t i = 0; i < layout_map_.size(); ++i) {
    if (layout_map_[i] >= 0 && static_cast<size_t>(layout_map_[i]) < heap_role.size()) {
      image_role_[i] = heap_role[layout_map_[i]];
    }
  }
  shared_count_ = fixups.shared.size();
  return absl::OkStatus();
}

absl::StatusOr<ImageLoader> ImageLoader::Inspect(const ImageReader& reader) {
  ImageLoader l(reader, nullptr);
  if (absl::Status s = l.ReadLayouts(); !s.ok()) return s;
  if (absl::Status s = l.Validate(); !s.ok()) return s;
  return l;
}

absl::Status ImageLoader::Validate() {
  if (absl::Status s = ReadSegments(); !s.ok()) return s;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (absl::Status s = ParseSegment(i); !s.ok()) return s;
  }
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (absl::Status s = CheckReferences(i); !s.ok()) return s;
  }
  for (size_t i = 0; i < roots_count_; ++i) {
    absl::Status s = CheckValue(roots_[i], [&] { return absl::StrFormat("root %d", i); });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

const Object* ImageLoader::ObjectAt(Value v) const {
  if (!v.IsPointer()) return nullptr;
  uint64_t address = v.raw - Value::kPointerTag;
  if (address < base_ || address >= end_) return nullptr;
  const Segment& s = segments_[block_segment_[(address - base_) / kBlockSize]];
  if (address >= s.old_start + s.bytes || !IsStart(address)) return nullptr;
  return reinterpret_cast<const Object*>(s.data + (address - s.old_start));
}

// Layouts are re-bound by name ([heap.image.layouts]).
absl::Status ImageLoader::ReadLayouts() {
  // Sized by the largest id the image lists, not kMaxLayouts: two tables of 64k
  // entries were a few hundred page faults per load.
  layout_map_.clear();
  image_layouts_.clear();
  const SectionEntry* found = nullptr;
  size_t index = 0;
  std::span<const SectionEntry> secs = reader_->sections();
  for (size_t i = 0; i < secs.size(); ++i) {
    if (secs[i].kind != static_cast<uint32_t>(SectionKind::kRecordLayouts)) continue;
    if (found != nullptr) return Bad(absl::StrFormat("sections %d and %d both hold record layouts", index, i));
    found = &secs[i];
    index = i;
  }
  if (found == nullptr) return absl::OkStatus();
  const char* p = reader_->Payload(*found);
  uint64_t size = found->bytes;
  if (size < 4) return Bad(absl::StrFormat("record layouts (section %d) truncated: %d bytes", index, size));
  uint32_t count;
  std::memcpy(&count, p, 4);
  uint64_t at = 4;
  for (uint32_t k = 0; k < count; ++k) {
    LayoutEntryHead head;
    if (size - at < sizeof(head)) {
      return Bad(absl::StrFormat("record layouts (section %d): entry %d of %d truncated at offset %d",
                                 index, k, count, at));
    }
    std::memcpy(&head, p + at, sizeof(head));
    at += sizeof(head);
    if (size - at < head.name_bytes) {
      return Bad(absl::StrFormat("record layouts (section %d): the name of entry %d runs past the section",
                                 index, k));
    }
    std::string_view name(p + at, head.name_bytes);
    at = std::min<uint64_t>(size, AlignUp8(at + head.name_bytes));
    if (head.id >= image_layouts_.size()) {
      image_layouts_.resize(head.id + size_t{1});
      layout_map_.resize(head.id + size_t{1}, -1);
    }
    if (image_layouts_[head.id].listed) {
      return Bad(absl::StrFormat("record layouts (section %d): layout id %d appears twice", index, head.id));
    }
    image_layouts_[head.id] = ImageLayout{true, name, head.ref_slots, head.raw_bytes};
    if (heap_ == nullptr) continue;  // Inspect: the image's own layouts
    const RecordLayout* l = heap_->layouts().Find(name);
    if (l == nullptr) {
      return Bad(absl::StrFormat("record layout '%s' (id %d in the image) is not registered here", name,
                                 head.id));
    }
    if (l->ref_slots != head.ref_slots || l->raw_bytes != head.raw_bytes) {
      return Bad(absl::StrFormat(
          "record layout '%s' has %d ref slots and %d raw bytes in the image but %d and %d here", name,
          head.ref_slots, head.raw_bytes, l->ref_slots, l->raw_bytes));
    }
    layout_map_[head.id] = l->id;
  }
  return absl::OkStatus();
}

// [heap.image.layout]: segments tile [saved_base, saved_end) block by block.
absl::Status ImageLoader::ReadSegments() {
  const Header& h = reader_->header();
  base_ = h.saved_base;
  end_ = h.saved_end;
  if (base_ % kBlockSize != 0 || end_ % kBlockSize != 0) {
    return Bad(absl::StrFormat("saved range [0x%x, 0x%x) is not block-aligned", base_, end_));
  }
  std::span<const SectionEntry> secs = reader_->sections();
  for (size_t i = 0; i < secs.size(); ++i) {
    const SectionEntry& e = secs[i];
    SectionKind kind = static_cast<SectionKind>(e.kind);
    if (kind == SectionKind::kRoots) {
      if (roots_ != nullptr) return Bad(absl::StrFormat("section %d is a second roots section", i));
      if (e.bytes % 8 != 0) return Bad(absl::StrFormat("roots (section %d): %d bytes, not whole words", i, e.bytes));
      roots_ = reinterpret_cast<const uint64_t*>(reader_->Payload(e));
      roots_count_ = e.bytes / 8;
      continue;
    }
    if (kind != SectionKind::kHeapSegment && kind != SectionKind::kLargeSegment &&
        kind != SectionKind::kPinnedSegment) {
      continue;
    }
    Segment s{i, kind, (e.flags & kSegmentUnboxed) != 0, reader_->Payload(e), e.old_start, e.bytes, 0};
    if (e.flags & ~kSegmentUnboxed) {
      return Bad(absl::StrFormat("segment (section %d) has unknown flags 0x%x", i, e.flags));
    }
    if (s.bytes == 0 || s.bytes % 8 != 0) {
      return Bad(absl::StrFormat("segment (section %d) has %d bytes (must be a positive multiple of 8)", i,
                                 s.bytes));
    }
    if (kind == SectionKind::kLargeSegment) {
      if (s.bytes <= kMaxSmallObjectBytes) {
        return Bad(absl::StrFormat("large segment (section %d) holds only %d bytes", i, s.bytes));
      }
      s.blocks = (s.bytes + kBlockSize - 1) / kBlockSize;
    } else {
      if (s.bytes > kBlockSize) {
        return Bad(absl::StrFormat("%s (section %d) has %d bytes, more than a block", SectionKindName(e.kind),
                                   i, s.bytes));
      }
      if (kind == SectionKind::kPinnedSegment && !s.unboxed) {
        return Bad(absl::StrFormat("pinned segment (section %d) is not marked unboxed", i));
      }
      s.blocks = 1;
    }
    if (s.old_start < base_ || s.old_start >= end_ || s.old_start % kBlockSize != 0 ||
        s.blocks > (end_ - s.old_start) / kBlockSize) {
      return Bad(absl::StrFormat(
          "%s (section %d) at image addresses [0x%x, 0x%x) is out of the saved range [0x%x, 0x%x) or not "
          "block-aligned",
          SectionKindName(e.kind), i, s.old_start, s.old_start + s.bytes, base_, end_));
    }
    segments_.push_back(s);
  }
  if (roots_ == nullptr) return Bad("no roots section");
  std::sort(segments_.begin(), segments_.end(),
            [](const Segment& a, const Segment& b) { return a.old_start < b.old_start; });
  uint64_t expected = base_;
  for (size_t k = 0; k < segments_.size(); ++k) {
    const Segment& s = segments_[k];
    if (s.old_start < expected) {
      return Bad(absl::StrFormat("segments (sections %d and %d) overlap at image address 0x%x",
                                 segments_[k - 1].section, s.section, s.old_start));
    }
    if (s.old_start > expected) {
      return Bad(absl::StrFormat("image addresses [0x%x, 0x%x) before segment (section %d) belong to no segment",
                                 expected, s.old_start, s.section));
    }
    expected += s.blocks * kBlockSize;
  }
  if (expected != end_) {
    return Bad(absl::StrFormat("image addresses [0x%x, 0x%x) at the end of the saved range belong to no segment",
                               expected, end_));
  }
  size_t blocks = (end_ - base_) / kBlockSize;
  block_segment_.resize(blocks);
  for (size_t k = 0; k < segments_.size(); ++k) {
    size_t first = (segments_[k].old_start - base_) / kBlockSize;
    for (size_t b = 0; b < segments_[k].blocks; ++b) block_segment_[first + b] = static_cast<uint32_t>(k);
  }
  starts_.assign((blocks * (kBlockSize / 8) + 63) / 64, 0);
  return absl::OkStatus();
}

absl::Status ImageLoader::ParseSegment(size_t k) {
  const Segment& s = segments_[k];
  const char* name = SectionKindName(static_cast<uint32_t>(s.kind));
  for (uint64_t at = 0; at < s.bytes;) {
    const Object* o = reinterpret_cast<const Object*>(s.data + at);
    uint64_t address = s.old_start + at;
    auto where = [&] {
      return absl::StrFormat("object at image address 0x%x (%s, section %d, offset %d)", address, name,
                             s.section, at);
    };
    // [heap.inv.pairs]: a first word tagged as a header is one; any other is a pair's
    // car, checked as a Value with the other slots.
    if (o->HasHeader() && (o->header & kReservedHeaderBits)) {
      return Bad(absl::StrFormat("%s: reserved header bits set in 0x%016x", where(), o->header));
    }
    if (!o->IsObject() || o->kind() == ObjectKind::kFiller) {
      return Bad(absl::StrFormat("%s: invalid header 0x%016x", where(), o->header));
    }
    ObjectKind kind = o->kind();
    uint64_t size = ObjectSizeInWords(o) * kWordSize;
    if (size > s.bytes - at) {
      return Bad(absl::StrFormat("%s: %s of %d bytes overruns its segment (%d bytes left)", where(),
                                 ObjectKindName(kind), size, s.bytes - at));
    }
    bool boxed_kind = KindHasReferences(kind);
    if (s.unboxed == boxed_kind) {
      return Bad(absl::StrFormat("%s: %s in a %s segment", where(), ObjectKindName(kind),
                                 s.unboxed ? "unboxed" : "boxed"));
    }
    if (s.kind == SectionKind::kPinnedSegment && kind != ObjectKind::kBytes) {
      return Bad(absl::StrFormat("%s: %s in a pinned segment", where(), ObjectKindName(kind)));
    }
    if (s.kind == SectionKind::kLargeSegment ? (at != 0 || size != s.bytes)
                                             : size > kMaxSmallObjectBytes) {
      return Bad(absl::StrFormat("%s: %s of %d bytes does not fit its %s of %d bytes", where(),
                                 ObjectKindName(kind), size, name, s.bytes));
    }
    if (kind == ObjectKind::kRecord) {
      // The image's layout; Prepare checked it equals the heap's ([heap.image.layouts]).
      const ImageLayout* l = o->aux() < image_layouts_.size() ? &image_layouts_[o->aux()] : nullptr;
      if (l == nullptr || !l->listed) {
        return Bad(absl::StrFormat("%s: record of layout id %d, which the image does not list", where(),
                                   o->aux()));
      }
      if (o->record_ref_slots() != l->ref_slots || o->record_raw_words() != WordsForBytes(l->raw_bytes)) {
        return Bad(absl::StrFormat("%s: record of layout '%s' with %d ref slots and %d raw words (expected %d "
                                   "and %d)",
                                   where(), l->name, o->record_ref_slots(), o->record_raw_words(),
                                   l->ref_slots, WordsForBytes(l->raw_bytes)));
      }
    }
    if (kind == ObjectKind::kRecord && !image_role_.empty()) {
      if (uint16_t role = image_role_[o->aux()]; role == 1) {
        listed_old_.push_back(address);
      } else if (role >= 2) {
        shared_old_.emplace_back(address, static_cast<uint16_t>(role - 2));
      }
    }
    uint64_t w = (address - base_) >> 3;
    starts_[w >> 6] |= uint64_t{1} << (w & 63);
    object_bytes_ += size;
    ++object_count_;
    at += size;
  }
  return absl::OkStatus();
}

absl::Status ImageLoader::CheckValue(uint64_t raw, absl::FunctionRef<std::string()> where) const {
  Value v = Value::FromRaw(raw);
  if (v.IsFixnum()) return absl::OkStatus();
  if (v.IsImmediate()) {
    if (static_cast<int>(v.immediate_kind()) <= static_cast<int>(ImmediateKind::kFrameMarker)) {
      return absl::OkStatus();
    }
    return Bad(absl::StrFormat("%s holds 0x%016x, an immediate of unknown kind %d", where(), raw,
                               static_cast<int>(v.immediate_kind())));
  }
  if (!v.IsPointer()) return Bad(absl::StrFormat("%s holds 0x%016x, which is not a Value", where(), raw));
  uint64_t address = raw - Value::kPointerTag;
  if (address < base_ || address >= end_) {
    return Bad(absl::StrFormat("%s refers to image address 0x%x, outside every segment", where(), address));
  }
  const Segment& s = segments_[block_segment_[(address - base_) / kBlockSize]];
  if (address >= s.old_start + s.bytes) {
    return Bad(absl::StrFormat("%s refers to image address 0x%x, outside every segment", where(), address));
  }
  if (!IsStart(address)) {
    return Bad(absl::StrFormat("%s refers to image address 0x%x, which is not an object start (%s, section "
                               "%d, offset %d)",
                               where(), address, SectionKindName(static_cast<uint32_t>(s.kind)), s.section,
                               address - s.old_start));
  }
  return absl::OkStatus();
}

absl::Status ImageLoader::CheckReferences(size_t k) {
  const Segment& s = segments_[k];
  if (s.unboxed) return absl::OkStatus();
  for (uint64_t at = 0; at < s.bytes;) {
    const Object* o = reinterpret_cast<const Object*>(s.data + at);
    size_t n = ReferenceCount(o);
    const uint64_t* slots = reinterpret_cast<const uint64_t*>(o->slots());
    for (size_t i = 0; i < n; ++i) {
      absl::Status st = CheckValue(slots[i], [&] {
        return absl::StrFormat("slot %d of the %s at image address 0x%x (section %d)", i,
                               ObjectKindName(o->kind()), s.old_start + at, s.section);
      });
      if (!st.ok()) return st;
    }
    at += ObjectSize(o);
  }
  return absl::OkStatus();
}

// [heap.image.relocate]: one pass per segment copies each object and relocates its
// references by their target segment's displacement (SBCL's relocate_all, with an
// O(1) block-indexed segment lookup instead of a search).
absl::StatusOr<std::vector<Value>> ImageLoader::Load() {
  WEFT_CHECK(shared_count_ == 0 && listed_old_.empty(), "weft: ImageLoader::Load without the fixups asked for");
  return Load({}, nullptr);
}

absl::StatusOr<std::vector<Value>> ImageLoader::Load(std::span<const Value> shared_with,
                                                     std::vector<Value>* listed) {
  WEFT_CHECK(shared_with.size() == shared_count_, "weft: ImageLoader::Load: one shared object per layout");
  WEFT_CHECK(listed != nullptr || listed_old_.empty(), "weft: ImageLoader::Load: nowhere to list");
  WEFT_CHECK(!loaded_, "weft: ImageLoader::Load called twice");
  WEFT_CHECK(heap_ != nullptr, "weft: ImageLoader::Load after Inspect");
  loaded_ = true;
  std::vector<Heap::ImageRun> runs;
  runs.reserve(segments_.size());
  for (const Segment& s : segments_) {
    BlockType type = s.kind == SectionKind::kLargeSegment    ? BlockType::kLarge
                     : s.kind == SectionKind::kPinnedSegment ? BlockType::kPinned
                                                             : BlockType::kOld;
    runs.push_back(Heap::ImageRun{type, s.unboxed, s.blocks});
  }
  if (absl::Status st = heap_->AllocateImageRuns(std::span<Heap::ImageRun>(runs)); !st.ok()) {
    return absl::Status(st.code(), absl::StrFormat("image %s: %s", reader_->what(), st.message()));
  }
  for (size_t k = 0; k < segments_.size(); ++k) {
    segments_[k].displacement = reinterpret_cast<uint64_t>(runs[k].start) - segments_[k].old_start;
  }
  const uint64_t base = base_;
  const Segment* segs = segments_.data();
  const uint32_t* block_segment = block_segment_.data();
  auto relocate = [&](uint64_t raw) {
    if ((raw & Value::kTagMask) != Value::kPointerTag) return raw;
    return raw + segs[block_segment[(raw - Value::kPointerTag - base) >> kBlockShift]].displacement;
  };
  // [heap.image.fixups]: a reference to a shared record becomes the heap's object.
  // shared_old_ is in image order (ascending): a binary search, only for the
  // references that a one-word range test cannot rule out.
  const uint64_t shared_lo = shared_old_.empty() ? 1 : shared_old_.front().first + Value::kPointerTag;
  const uint64_t shared_hi = shared_old_.empty() ? 0 : shared_old_.back().first + Value::kPointerTag;
  auto shared = [&](uint64_t raw) -> const Value* {
    if (raw < shared_lo || raw > shared_hi) return nullptr;
    auto it = std::lower_bound(shared_old_.begin(), shared_old_.end(), raw - Value::kPointerTag,
                               [](const std::pair<uint64_t, uint16_t>& e, uint64_t a) { return e.first < a; });
    if (it == shared_old_.end() || it->first != raw - Value::kPointerTag) return nullptr;
    return &shared_with[it->second];
  };
  Arena& arena = heap_->arena();
  for (size_t k = 0; k < segments_.size(); ++k) {
    const Segment& s = segments_[k];
    char* dst = runs[k].start;
    const char* src = s.data;
    for (uint64_t at = 0; at < s.bytes;) {
      const Object* from = reinterpret_cast<const Object*>(src + at);
      Object* to = reinterpret_cast<Object*>(dst + at);
      size_t size = ObjectSize(from);
      // [heap.inv.pairs]: a pair has no header; its car is its first slot.
      const size_t header_words = from->HeaderWords();
      if (header_words == 1) {
        uint64_t header = from->header;
        if (from->kind() == ObjectKind::kRecord) {
          // [heap.image.layouts]: the heap's id for the layout of the same name.
          header = (header & ~(uint64_t{0xffff} << kAuxShift)) |
                   (static_cast<uint64_t>(layout_map_[from->aux()]) << kAuxShift);
        }
        to->header = header;
      }
      size_t n = ReferenceCount(from);
      const uint64_t* fs = reinterpret_cast<const uint64_t*>(from) + header_words;
      uint64_t* ts = reinterpret_cast<uint64_t*>(to) + header_words;
      if (shared_old_.empty()) {
        for (size_t i = 0; i < n; ++i) ts[i] = relocate(fs[i]);
      } else {
        for (size_t i = 0; i < n; ++i) {
          if (const Value* with = shared(fs[i])) {
            StoreValue(arena, reinterpret_cast<Value*>(ts + i), *with);  // may be young
          } else {
            ts[i] = relocate(fs[i]);
          }
        }
      }
      std::memcpy(ts + n, fs + n, size - (n + header_words) * kWordSize);
      at += size;
    }
    BlockInfo& info = arena.InfoFor(dst);
    info.bytes_used = static_cast<uint32_t>(s.bytes);
    if (s.kind != SectionKind::kLargeSegment) {
      FillGap(dst + s.bytes, dst + kBlockSize);  // [heap.inv.parseable]
      MarkLines(info, dst, dst, dst + s.bytes);  // [heap.inv.lines]
    }
  }
  heap_->AdoptImageRuns(runs);
  std::vector<Value> roots(roots_count_);
  for (size_t i = 0; i < roots_count_; ++i) {
    const Value* with = shared(roots_[i]);
    roots[i] = with != nullptr ? *with : Value::FromRaw(relocate(roots_[i]));
  }
  if (listed != nullptr) {
    listed->clear();
    listed->reserve(listed_old_.size());
    for (uint64_t a : listed_old_) listed->push_back(Value::FromRaw(relocate(a + Value::kPointerTag)));
  }
  return roots;
}

}  // namespace weft::heap::image
