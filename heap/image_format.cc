#include "heap/image_format.h"

#include <cstring>

namespace weft::heap::image {
namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kP5 = 0x27D4EB2F165667C5ULL;

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t Round(uint64_t acc, uint64_t w) { return Rotl(acc + w * kP2, 31) * kP1; }
inline uint64_t Load64(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

}  // namespace

const char* SectionKindName(uint32_t kind) {
  switch (static_cast<SectionKind>(kind)) {
    case SectionKind::kHeapSegment: return "heap segment";
    case SectionKind::kLargeSegment: return "large segment";
    case SectionKind::kPinnedSegment: return "pinned segment";
    case SectionKind::kRecordLayouts: return "record layouts";
    case SectionKind::kRoots: return "roots";
    case SectionKind::kThreads: return "threads";
    case SectionKind::kManagedStacks: return "managed stacks";
    case SectionKind::kOpaque: return "opaque";
  }
  return "unknown";
}

// Four independent lanes over 32-byte stripes (so the multiplies pipeline), then
// the remaining words and bytes, then an avalanche.
uint64_t ImageHash64(const void* data, size_t bytes) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  const unsigned char* end = p + bytes;
  uint64_t a = kP1 + kP2, b = kP2, c = 0, d = 0 - kP1;
  while (end - p >= 32) {
    a = Round(a, Load64(p));
    b = Round(b, Load64(p + 8));
    c = Round(c, Load64(p + 16));
    d = Round(d, Load64(p + 24));
    p += 32;
  }
  uint64_t h = Rotl(a, 1) + Rotl(b, 7) + Rotl(c, 12) + Rotl(d, 18) + bytes * kP5;
  while (end - p >= 8) {
    h = Rotl(h ^ Round(0, Load64(p)), 27) * kP1 + kP4;
    p += 8;
  }
  while (p < end) {
    h = Rotl(h ^ (*p * kP5), 11) * kP1;
    ++p;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

}  // namespace weft::heap::image
