// image_format.h: the on-disk container of heap images (and, later, crash cores).
//
// A file is a fixed Header, then a table of SectionEntry (typed, extensible: heap
// segments, large segments, pinned segments, record layouts, roots, and kinds
// reserved for a core's threads and managed stacks, plus opaque named sections),
// then the section payloads, each 8-byte aligned. Everything is little-endian with
// 8-byte words; the header says so and a reader refuses anything else
// ([heap.image.format]).
//
// References inside heap segments and roots are *image addresses*: the address an
// object would have if every segment were mapped at its `old_start`. The writer lays
// the segments out block-aligned and contiguous from `saved_base` (the saving heap's
// arena base), so an image address maps to its segment by (address - saved_base) >>
// kBlockShift; the loader relocates each reference by its segment's displacement
// ([heap.image.relocate]).
//
// Integrity: `table_checksum` covers the header (with that field zero) and the
// section table; each section's `checksum` covers its payload. The hash is
// ImageHash64 below (word-at-a-time, xxHash64's round and avalanche functions; not
// byte-compatible with xxHash64, and not cryptographic: it catches corruption, not
// forgery).
#ifndef WEFT_HEAP_IMAGE_FORMAT_H_
#define WEFT_HEAP_IMAGE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::heap::image {

inline constexpr char kMagic[8] = {'W', 'E', 'F', 'T', 'I', 'M', 'G', '\n'};
// Version 2: pairs are two words with no header ([heap.inv.pairs]); version 1 had
// 3-word pairs and is refused.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint8_t kLittleEndian = 1;
inline constexpr uint8_t kBigEndian = 2;
// Bounds a reader accepts (an image is untrusted input).
inline constexpr uint32_t kMaxSections = 1u << 24;
inline constexpr size_t kSectionNameBytes = 24;

enum class SectionKind : uint32_t {
  kHeapSegment = 1,    // small objects of one space, packed, at most one block
  kLargeSegment = 2,   // exactly one large object (> kMaxSmallObjectBytes)
  kPinnedSegment = 3,  // pinned byte arrays, packed, at most one block
  kRecordLayouts = 4,  // the record layouts the segments use (LayoutEntry list)
  kRoots = 5,          // u64 Values, references as image addresses
  kThreads = 6,        // reserved: a core's thread registry
  kManagedStacks = 7,  // reserved: a core's managed stacks
  kOpaque = 8,         // caller-defined bytes, found by name
};
const char* SectionKindName(uint32_t kind);
inline constexpr uint32_t kMaxSectionKind = 8;

// SectionEntry::flags of segments.
inline constexpr uint32_t kSegmentUnboxed = 1;  // no object with references

struct Header {
  char magic[8];
  uint32_t version;
  uint8_t word_size;       // 8
  uint8_t byte_order;      // kLittleEndian
  uint16_t header_bytes;   // sizeof(Header)
  uint64_t saved_base;     // image addresses of segments lie in
  uint64_t saved_end;      //   [saved_base, saved_end)
  uint64_t file_bytes;     // the whole file
  uint32_t section_count;
  uint32_t entry_bytes;    // sizeof(SectionEntry)
  uint64_t table_offset;   // the section table, right after the header
  uint64_t table_checksum; // header (this field zero) + section table
  uint64_t reserved[2];
};
static_assert(sizeof(Header) == 80);

struct SectionEntry {
  uint32_t kind;       // SectionKind
  uint32_t flags;      // kSegmentUnboxed
  uint64_t offset;     // payload, from the start of the file, 8-aligned
  uint64_t bytes;      // payload size
  uint64_t old_start;  // segments: image address of the first byte; else 0
  uint64_t checksum;   // ImageHash64 of the payload
  char name[kSectionNameBytes];  // NUL-padded; opaque sections are found by it
};
static_assert(sizeof(SectionEntry) == 64);

// The kRecordLayouts payload is a u32 count, then per layout:
//   u16 id (in the saving heap), u16 name_bytes, u32 ref_slots, u32 raw_bytes, name,
//   zero padding to 8 bytes.
struct LayoutEntryHead {
  uint16_t id;
  uint16_t name_bytes;
  uint32_t ref_slots;
  uint32_t raw_bytes;
};
static_assert(sizeof(LayoutEntryHead) == 12);

// ImageHash64: the checksum of `bytes` (any length).
uint64_t ImageHash64(const void* data, size_t bytes);

inline constexpr size_t AlignUp8(size_t n) { return (n + 7) & ~size_t{7}; }

}  // namespace weft::heap::image

#endif  // WEFT_HEAP_IMAGE_FORMAT_H_
