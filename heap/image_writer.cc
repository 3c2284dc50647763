#include "heap/image_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_format.h"
#include "runtime/check.h"

namespace weft::heap::image {

// [heap.image.save]: Cheney's algorithm with the image as to-space. Copy gives an
// object its image address and leaves a forwarding header in the live object; the
// scan below translates the copies' slots; the originals' first words (headers, or
// a pair's car: [heap.inv.pairs]) are restored at the end from `first_words_`, not
// from the copies, whose cars are translated by then.
uint64_t ImageWriter::Copy(Object* o) {
  size_t size = ObjectSize(o);
  WEFT_CHECK(size > 0 && o->IsObject(), "weft: image writer: reachable object is not an object");
  BlockType type = heap_.arena().InfoFor(o).type;
  int seg_index;
  uint64_t address;
  if (type == BlockType::kLarge) {
    size_t blocks = (size + kBlockSize - 1) / kBlockSize;
    Segment& s = segments_.emplace_back();
    s.kind = SectionKind::kLargeSegment;
    s.unboxed = !KindHasReferences(o->kind());
    s.old_start = base_ + next_block_ * kBlockSize;
    s.bytes.reserve(size);
    next_block_ += blocks;
    seg_index = static_cast<int>(segments_.size() - 1);
  } else {
    SpaceIndex space = type == BlockType::kPinned           ? kPinned
                       : KindHasReferences(o->kind())        ? kBoxed
                                                             : kUnboxed;
    seg_index = open_[space];
    if (seg_index < 0 || segments_[seg_index].bytes.size() + size > kBlockSize) {
      Segment& s = segments_.emplace_back();
      s.kind = space == kPinned ? SectionKind::kPinnedSegment : SectionKind::kHeapSegment;
      s.unboxed = space != kBoxed;
      s.old_start = base_ + next_block_ * kBlockSize;
      s.bytes.reserve(kBlockSize);
      ++next_block_;
      seg_index = open_[space] = static_cast<int>(segments_.size() - 1);
    }
  }
  Segment& s = segments_[seg_index];
  size_t offset = s.bytes.size();
  s.bytes.resize(offset + size);  // within the reserved capacity: no reallocation
  char* dst = s.bytes.data() + offset;
  std::memcpy(dst, o, size);
  address = s.old_start + offset;
  if (o->kind() == ObjectKind::kRecord) layouts_used_[o->aux()] = true;
  originals_.push_back(o);
  first_words_.push_back(o->header);
  copies_.push_back(dst);
  object_bytes_ += size;
  o->Forward(reinterpret_cast<Object*>(address));
  return address;
}

Value ImageWriter::Translate(Value v) {
  if (!v.IsPointer()) return v;
  Object* o = v.AsObject();
  uint64_t address = o->IsForwarded() ? reinterpret_cast<uint64_t>(o->forwarding_address())
                                      : Copy(o);
  return Value::FromRaw(address + Value::kPointerTag);
}

void ImageWriter::AddHeap(std::span<const Value> roots) {
  WEFT_CHECK(originals_.empty() && roots_.empty(), "weft: image writer: AddHeap called twice");
  base_ = heap_.arena().base();
  layouts_used_.assign(LayoutRegistry::kMaxLayouts, false);
  for (Value v : roots) roots_.push_back(Translate(v).raw);
  for (size_t i = 0; i < copies_.size(); ++i) {
    ForEachReference(reinterpret_cast<Object*>(copies_[i]), [&](Value* slot) {
      *slot = Translate(*slot);
    });
  }
  for (size_t i = 0; i < originals_.size(); ++i) originals_[i]->header = first_words_[i];
  // The layouts section, now: Write reads nothing of the heap (it may run on another
  // thread, with the world running or stopped for a collection).
  layouts_.assign(4, '\0');
  uint32_t layout_count = 0;
  for (size_t id = 0; id < layouts_used_.size(); ++id) {
    if (!layouts_used_[id]) continue;
    const RecordLayout* l = heap_.layouts().Get(static_cast<LayoutId>(id));
    WEFT_CHECK(l != nullptr, "weft: image writer: record with an unregistered layout");
    LayoutEntryHead head{static_cast<uint16_t>(id), static_cast<uint16_t>(l->name.size()),
                         l->ref_slots, l->raw_bytes};
    layouts_.append(reinterpret_cast<const char*>(&head), sizeof(head));
    layouts_.append(l->name);
    layouts_.resize(AlignUp8(layouts_.size()), '\0');
    ++layout_count;
  }
  std::memcpy(layouts_.data(), &layout_count, 4);
  layouts_used_.clear();
  layouts_used_.shrink_to_fit();
  object_count_ = originals_.size();
  originals_.clear();
  originals_.shrink_to_fit();
  first_words_.clear();
  first_words_.shrink_to_fit();
  copies_.clear();
  copies_.shrink_to_fit();
}

absl::Status ImageWriter::AddSection(SectionKind kind, std::string_view name, std::string payload) {
  if (kind != SectionKind::kThreads && kind != SectionKind::kManagedStacks &&
      kind != SectionKind::kOpaque) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image writer: AddSection takes threads, managed stacks or opaque sections, not %s",
        SectionKindName(static_cast<uint32_t>(kind))));
  }
  if (name.size() >= kSectionNameBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image writer: section name '%s' is longer than %d bytes", name, kSectionNameBytes - 1));
  }
  extras_.push_back(Extra{kind, std::string(name), std::move(payload)});
  return absl::OkStatus();
}

namespace {

// Out writes to a file descriptor, counting bytes; the test hook makes it fail.
class Out {
 public:
  Out(int fd, size_t fail_after) : fd_(fd), fail_after_(fail_after) {}
  absl::Status Write(const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      size_t chunk = bytes;
      if (written_ + chunk > fail_after_) {
        if (written_ >= fail_after_) {
          return absl::ResourceExhaustedError(absl::StrFormat(
              "write failed at offset %d: %s (injected by the test hook)", written_,
              std::strerror(ENOSPC)));
        }
        chunk = fail_after_ - written_;
      }
      ssize_t n = ::write(fd_, p, chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::UnavailableError(
            absl::StrFormat("write failed at offset %d: %s", written_, std::strerror(errno)));
      }
      p += n;
      bytes -= static_cast<size_t>(n);
      written_ += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }
  absl::Status Pad(size_t to) {
    static const char zeros[8] = {};
    return written_ < to ? Write(zeros, to - written_) : absl::OkStatus();
  }

 private:
  int fd_;
  size_t fail_after_;
  size_t written_ = 0;
};

struct Planned {
  SectionEntry entry;
  const char* data;
};

std::atomic<void (*)(const std::string&)> write_hook{nullptr};

}  // namespace

void ImageWriter::SetWriteHookForTesting(void (*hook)(const std::string& path)) {
  write_hook.store(hook, std::memory_order_release);
}

// Reads only the writer's members (never heap_): see image_writer.h.
absl::Status ImageWriter::Write(const std::string& path) const {
  if (auto* hook = write_hook.load(std::memory_order_acquire)) hook(path);
  // AddHeap leaves layouts_ empty when it did not run: an image of no heap at all
  // still has a (zero-entry) layouts section.
  const std::string layouts = layouts_.empty() ? std::string(4, '\0') : layouts_;

  std::vector<Planned> plan;
  auto add = [&](SectionKind kind, uint32_t flags, uint64_t old_start, const char* data,
                 size_t bytes, std::string_view name) {
    Planned p{};
    p.entry.kind = static_cast<uint32_t>(kind);
    p.entry.flags = flags;
    p.entry.bytes = bytes;
    p.entry.old_start = old_start;
    std::memcpy(p.entry.name, name.data(), std::min(name.size(), kSectionNameBytes - 1));
    p.data = data;
    plan.push_back(p);
  };
  for (const Segment& s : segments_) {
    add(s.kind, s.unboxed ? kSegmentUnboxed : 0, s.old_start, s.bytes.data(), s.bytes.size(), "");
  }
  add(SectionKind::kRecordLayouts, 0, 0, layouts.data(), layouts.size(), "layouts");
  add(SectionKind::kRoots, 0, 0, reinterpret_cast<const char*>(roots_.data()),
      roots_.size() * sizeof(uint64_t), "roots");
  for (const Extra& e : extras_) add(e.kind, 0, 0, e.payload.data(), e.payload.size(), e.name);

  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kFormatVersion;
  h.word_size = 8;
  h.byte_order = kLittleEndian;
  h.header_bytes = sizeof(Header);
  h.entry_bytes = sizeof(SectionEntry);
  h.saved_base = base_;
  h.saved_end = base_ + next_block_ * kBlockSize;
  h.section_count = static_cast<uint32_t>(plan.size());
  h.table_offset = sizeof(Header);
  uint64_t offset = sizeof(Header) + plan.size() * sizeof(SectionEntry);
  std::vector<SectionEntry> table;
  table.reserve(plan.size());
  for (Planned& p : plan) {
    offset = AlignUp8(offset);
    p.entry.offset = offset;
    p.entry.checksum = ImageHash64(p.data, p.entry.bytes);
    offset += p.entry.bytes;
    table.push_back(p.entry);
  }
  h.file_bytes = AlignUp8(offset);
  h.table_checksum = ImageHash64(&h, sizeof(h)) ^
                     ImageHash64(table.data(), table.size() * sizeof(SectionEntry));

  // [heap.image.atomic]: a temporary in the target's directory, renamed over it.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    return absl::UnavailableError(absl::StrFormat("image %s: cannot create a temporary file: %s",
                                                  path, std::strerror(errno)));
  }
  auto fail = [&](const absl::Status& s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::Status(s.code(), absl::StrFormat("image %s: %s", path, s.message()));
  };
  ::fchmod(fd, 0644);
  Out out(fd, fail_after_);
  if (absl::Status s = out.Write(&h, sizeof(h)); !s.ok()) return fail(s);
  if (absl::Status s = out.Write(table.data(), table.size() * sizeof(SectionEntry)); !s.ok()) {
    return fail(s);
  }
  for (const Planned& p : plan) {
    if (absl::Status s = out.Pad(p.entry.offset); !s.ok()) return fail(s);
    if (absl::Status s = out.Write(p.data, p.entry.bytes); !s.ok()) return fail(s);
  }
  if (absl::Status s = out.Pad(h.file_bytes); !s.ok()) return fail(s);
  if (::fsync(fd) != 0) {
    return fail(absl::UnavailableError(absl::StrFormat("fsync failed: %s", std::strerror(errno))));
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return absl::UnavailableError(
        absl::StrFormat("image %s: close failed: %s", path, std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(
        absl::StrFormat("image %s: cannot rename the temporary file over it: %s", path,
                        std::strerror(e)));
  }
  return absl::OkStatus();
}

}  // namespace weft::heap::image
