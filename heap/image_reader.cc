#include "heap/image_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "heap/os_memory.h"

namespace weft::heap::image {
namespace {

absl::Status Bad(const std::string& what, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrFormat("image %s: %s", what, message));
}

std::atomic<void (*)(const std::string&)> read_hook{nullptr};

}  // namespace

std::string_view ImageReader::Name(const SectionEntry& s) {
  size_t n = 0;
  while (n < kSectionNameBytes && s.name[n] != '\0') ++n;
  return {s.name, n};
}

void ImageReader::SetReadHookForTesting(void (*hook)(const std::string& path)) {
  read_hook.store(hook, std::memory_order_release);
}

absl::StatusOr<ImageReader> ImageReader::ReadFile(const std::string& path) {
  if (auto* hook = read_hook.load(std::memory_order_acquire)) hook(path);
  // [heap.image.regular-file] O_NONBLOCK: the open of a FIFO with no writer (or of a
  // device that waits for a carrier) returns at once instead of blocking for ever;
  // the file is then refused unless it is a regular file, whose reads never block.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    std::string message = absl::StrFormat("image %s: cannot open: %s", path, std::strerror(e));
    return e == ENOENT ? absl::NotFoundError(message) : absl::UnavailableError(message);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrFormat("image %s: not a regular file", path));
  }
  // A regular file: back to blocking reads (O_NONBLOCK means nothing for one, save
  // with mandatory locks), so a short read is only ever the end of the file.
  if (int flags = ::fcntl(fd, F_GETFL); flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    int e = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrFormat("image %s: cannot clear O_NONBLOCK: %s", path, std::strerror(e)));
  }
  ImageReader r;
  r.what_ = path;
  r.size_ = static_cast<size_t>(st.st_size);
  // Uninitialised on purpose: read() fills it, and zeroing 256 MiB is a memory pass.
  r.words_.reset(new uint64_t[(r.size_ + 7) / 8 + 1]);
  char* p = reinterpret_cast<char*>(r.words_.get());
  // Written once in full by read(): a large file goes to huge pages, a few faults
  // instead of one per 4 KiB page (heap/DESIGN.md "Measured").
  OsAdviseHugePages(p, r.size_);
  size_t got = 0;
  while (got < r.size_) {
    ssize_t n = ::read(fd, p + got, r.size_ - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : 0;
      ::close(fd);
      if (n == 0) {
        return Bad(path, absl::StrFormat("truncated while reading: %d of %d bytes", got, r.size_));
      }
      return absl::UnavailableError(
          absl::StrFormat("image %s: read failed at offset %d: %s", path, got, std::strerror(e)));
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (absl::Status s = r.Validate(); !s.ok()) return s;
  return r;
}

absl::StatusOr<ImageReader> ImageReader::FromBytes(std::string_view bytes, std::string what) {
  ImageReader r;
  r.what_ = std::move(what);
  r.size_ = bytes.size();
  r.words_.reset(new uint64_t[(r.size_ + 7) / 8 + 1]);
  if (!bytes.empty()) std::memcpy(r.words_.get(), bytes.data(), bytes.size());
  if (absl::Status s = r.Validate(); !s.ok()) return s;
  return r;
}

// [heap.image.untrusted]: every field is checked before it is used as an offset.
absl::Status ImageReader::Validate() {
  if (size_ < sizeof(Header)) {
    return Bad(what_, absl::StrFormat("truncated: %d bytes, shorter than the %d-byte header", size_,
                                      sizeof(Header)));
  }
  const Header& h = header();
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) {
    return Bad(what_, "wrong magic at offset 0 (not a Weft heap image)");
  }
  if (h.version != kFormatVersion) {
    return Bad(what_, absl::StrFormat("format version %d, this build reads version %d", h.version,
                                      kFormatVersion));
  }
  if (h.word_size != 8) {
    return Bad(what_, absl::StrFormat("word size %d bytes, this build needs 8", h.word_size));
  }
  if (h.byte_order != kLittleEndian) {
    return Bad(what_, absl::StrFormat("byte order %s, this build needs little-endian",
                                      h.byte_order == kBigEndian ? "big-endian" : "unknown"));
  }
  if (h.header_bytes != sizeof(Header) || h.entry_bytes != sizeof(SectionEntry)) {
    return Bad(what_, absl::StrFormat("header size %d or section entry size %d, expected %d and %d",
                                      h.header_bytes, h.entry_bytes, sizeof(Header),
                                      sizeof(SectionEntry)));
  }
  if (h.file_bytes != size_) {
    return Bad(what_, absl::StrFormat("%s: the header says %d bytes, the file has %d",
                                      h.file_bytes > size_ ? "truncated" : "trailing bytes",
                                      h.file_bytes, size_));
  }
  if (h.section_count > kMaxSections || h.table_offset != sizeof(Header) ||
      h.table_offset + uint64_t{h.section_count} * sizeof(SectionEntry) > size_) {
    return Bad(what_, absl::StrFormat(
                          "section table at offset %d with %d entries does not fit the file (%d bytes)",
                          h.table_offset, h.section_count, size_));
  }
  size_t table_end = sizeof(Header) + size_t{h.section_count} * sizeof(SectionEntry);
  {
    Header copy = h;
    copy.table_checksum = 0;
    uint64_t sum = ImageHash64(&copy, sizeof(copy)) ^
                   ImageHash64(data() + sizeof(Header), table_end - sizeof(Header));
    if (sum != h.table_checksum) {
      return Bad(what_, absl::StrFormat(
                            "checksum mismatch in the header or section table (stored %016x, "
                            "computed %016x)",
                            h.table_checksum, sum));
    }
  }
  if (h.saved_end < h.saved_base) {
    return Bad(what_, absl::StrFormat("saved address range [0x%x, 0x%x) is reversed", h.saved_base,
                                      h.saved_end));
  }
  std::span<const SectionEntry> secs = sections();
  std::vector<std::pair<uint64_t, size_t>> by_offset;
  by_offset.reserve(secs.size());
  for (size_t i = 0; i < secs.size(); ++i) {
    const SectionEntry& s = secs[i];
    if (s.kind == 0 || s.kind > kMaxSectionKind) {
      return Bad(what_, absl::StrFormat("section %d has unknown kind %d", i, s.kind));
    }
    if (s.offset % 8 != 0 || s.offset < table_end || s.offset > size_ || s.bytes > size_ - s.offset) {
      return Bad(what_, absl::StrFormat(
                            "section %d (%s) at file offset %d, %d bytes, lies outside the payload "
                            "area [%d, %d)",
                            i, SectionKindName(s.kind), s.offset, s.bytes, table_end, size_));
    }
    if (s.bytes > 0) by_offset.emplace_back(s.offset, i);
  }
  std::sort(by_offset.begin(), by_offset.end());
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const SectionEntry& prev = secs[by_offset[k - 1].second];
    if (prev.offset + prev.bytes > by_offset[k].first) {
      return Bad(what_, absl::StrFormat("sections %d and %d overlap in the file (offsets %d and %d)",
                                        by_offset[k - 1].second, by_offset[k].second, prev.offset,
                                        by_offset[k].first));
    }
  }
  // No checksum covers the bytes outside every section (alignment padding, or gaps
  // a hand-made file could leave): the writer makes them zero, so anything else is
  // corruption ([heap.image.untrusted]).
  {
    size_t from = table_end;
    auto zero_until = [&](size_t to) -> absl::Status {
      for (size_t at = from; at < to; ++at) {
        if (data()[at] != 0) {
          return Bad(what_, absl::StrFormat("byte at file offset %d lies in no section and is not "
                                            "zero (padding between sections is zero)",
                                            at));
        }
      }
      return absl::OkStatus();
    };
    for (const auto& [offset, index] : by_offset) {
      if (absl::Status z = zero_until(offset); !z.ok()) return z;
      from = std::max<size_t>(from, offset + secs[index].bytes);
    }
    if (absl::Status z = zero_until(size_); !z.ok()) return z;
  }
  for (size_t i = 0; i < secs.size(); ++i) {
    const SectionEntry& s = secs[i];
    uint64_t sum = ImageHash64(data() + s.offset, s.bytes);
    if (sum != s.checksum) {
      return Bad(what_, absl::StrFormat(
                            "section %d (%s) at file offset %d: checksum mismatch (stored %016x, "
                            "computed %016x)",
                            i, SectionKindName(s.kind), s.offset, s.checksum, sum));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string_view> ImageReader::FindSection(SectionKind kind,
                                                          std::string_view name) const {
  for (const SectionEntry& s : sections()) {
    if (s.kind == static_cast<uint32_t>(kind) && Name(s) == name) {
      return std::string_view(Payload(s), s.bytes);
    }
  }
  return absl::NotFoundError(absl::StrFormat("image %s: no %s section named '%s'", what_,
                                             SectionKindName(static_cast<uint32_t>(kind)), name));
}

}  // namespace weft::heap::image
