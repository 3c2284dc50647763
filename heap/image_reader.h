// image_reader.h: ImageReader, the validated container of an image file.
//
// ImageReader reads a whole image into memory (8-byte aligned) and checks the
// container before anyone looks inside it ([heap.image.untrusted]): size, magic,
// version, word size, byte order, header and table checksum, every section's bounds,
// alignment, kind, overlap and payload checksum. Errors are InvalidArgument (or
// NotFound / the OS error for an unreadable file) with a message naming the file, what
// is wrong and where (offset, section index). It knows nothing about heap objects:
// image_loader.h validates the segments' contents. Callers find extra sections (a
// core's threads and managed stacks, opaque named sections) with FindSection.
#ifndef WEFT_HEAP_IMAGE_READER_H_
#define WEFT_HEAP_IMAGE_READER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "heap/image_format.h"

namespace weft::heap::image {

class ImageReader {
 public:
  // ReadFile reads and validates the image at `path`. Anything but a regular file (a
  // directory, a FIFO, a device) is refused with InvalidArgument "image PATH: not a
  // regular file", without blocking: a FIFO with no writer is opened non-blocking.
  static absl::StatusOr<ImageReader> ReadFile(const std::string& path);
  // For tests: every ReadFile in the process first calls `hook` with its path, on the
  // thread that reads (nullptr: none). Lets a test hold a read, or see its thread.
  static void SetReadHookForTesting(void (*hook)(const std::string& path));
  // FromBytes validates an image held in memory; `what` names it in messages.
  static absl::StatusOr<ImageReader> FromBytes(std::string_view bytes,
                                               std::string what = "<memory>");

  ImageReader(ImageReader&&) = default;
  ImageReader& operator=(ImageReader&&) = default;

  const Header& header() const { return *reinterpret_cast<const Header*>(data()); }
  std::span<const SectionEntry> sections() const {
    return {reinterpret_cast<const SectionEntry*>(data() + header().table_offset),
            header().section_count};
  }
  // Payload: the bytes of a section (8-byte aligned).
  const char* Payload(const SectionEntry& s) const { return data() + s.offset; }
  static std::string_view Name(const SectionEntry& s);
  // FindSection: the payload of the first section of `kind` named `name`, or
  // NotFound.
  absl::StatusOr<std::string_view> FindSection(SectionKind kind, std::string_view name) const;
  // what: the file name (or what FromBytes was given), for messages.
  const std::string& what() const { return what_; }
  size_t size() const { return size_; }

 private:
  ImageReader() = default;
  const char* data() const { return reinterpret_cast<const char*>(words_.get()); }
  absl::Status Validate();

  std::unique_ptr<uint64_t[]> words_;
  size_t size_ = 0;
  std::string what_;
};

}  // namespace weft::heap::image

#endif  // WEFT_HEAP_IMAGE_READER_H_
