// object.h: the layout of every heap object, and how the collector reads it.
//
// Every object is a whole number of 8-byte words. A pair is two words, its car and
// its cdr, with no header ([heap.inv.pairs]); every other object starts with a
// one-word header:
//   bits 0..2   0b111 (kHeaderTag). A forwarded object's first word (header or car)
//               is instead the new address | 0b101 (kForwardTag); only the collector
//               sees those.
//   bits 3..7   ObjectKind
//   bits 8..15  zero (marks are bits beside the block table: [heap.inv.mark-bits];
//               a nursery object's age is its block's: [heap.nursery.block-age])
//   bits 16..31 aux: a record's layout id
//   bits 32..63 length: vector slots, string/byte-array bytes, filler words, or a
//               record's ref slots (low 16 bits) and raw words (high 16 bits)
// A Value's tag is never 0b111 or 0b101, so the first word of an object says what it
// is: a header, a forwarding word, or else the car of a pair. References are always
// ReferenceCount(obj) contiguous words from slots() (after the header, or a pair's
// own two words), so ForEachReference is a loop over a range; everything after them
// is raw.
// Fillers cover unused space so that every block can be walked object by object
// ([heap.inv.parseable]).
#ifndef WEFT_HEAP_OBJECT_H_
#define WEFT_HEAP_OBJECT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "heap/value.h"

namespace weft::heap {

enum class ObjectKind : uint8_t {
  kInvalid = 0,
  kFiller = 1,  // unused space; length = size in words (>= 1)
  kPair = 2,    // car, cdr; no header (never in a header word)
  kVector = 3,  // `length` Values
  kString = 4,  // `length` bytes of UTF-8, never scanned
  kBytes = 5,   // `length` raw bytes, never scanned
  kRecord = 6,  // a registered layout: ref slots, then raw bytes
};
inline constexpr int kObjectKindCount = 7;
const char* ObjectKindName(ObjectKind kind);

inline constexpr size_t kWordSize = 8;
// Objects above this size get their own kLarge block run and never move.
inline constexpr size_t kMaxSmallObjectBytes = size_t{8} << 10;
inline constexpr uint32_t kMaxRecordRefSlots = 0xffff;
inline constexpr uint32_t kMaxRecordRawWords = 0xffff;

inline constexpr uint64_t kHeaderTag = 7;
inline constexpr uint64_t kForwardTag = 5;
inline constexpr int kKindShift = 3;
inline constexpr uint64_t kReservedHeaderBits = uint64_t{0xff} << 8;  // always zero
inline constexpr int kAuxShift = 16;
inline constexpr int kLengthShift = 32;

constexpr uint64_t MakeHeader(ObjectKind kind, uint32_t length, uint16_t aux = 0) {
  return (uint64_t{length} << kLengthShift) | (uint64_t{aux} << kAuxShift) |
         (static_cast<uint64_t>(kind) << kKindShift) | kHeaderTag;
}

constexpr size_t WordsForBytes(size_t bytes) { return (bytes + kWordSize - 1) / kWordSize; }

struct Object {
  // The first word: a header, or a pair's car (IsPair), or a forwarding word.
  uint64_t header;

  // IsPair: the first word is a Value (a pair's car), not a header or a forwarding
  // word: runtime/weft.h's inline IsPair makes the same test.
  bool IsPair() const { return Value::FromRaw(header).IsValue(); }
  ObjectKind kind() const {
    return IsPair() ? ObjectKind::kPair : static_cast<ObjectKind>((header >> kKindShift) & 31);
  }
  // Header fields: not for pairs.
  uint32_t length() const { return static_cast<uint32_t>(header >> kLengthShift); }
  uint16_t aux() const { return static_cast<uint16_t>(header >> kAuxShift); }
  bool HasHeader() const { return (header & 7) == kHeaderTag; }
  // IsObject: the first word of a well-formed, unforwarded object: a header of a
  // valid kind other than kPair with its reserved bits zero, or a Value (a pair's
  // car: a fixnum, a pointer, or an immediate).
  bool IsObject() const {
    if (IsPair()) return true;
    if (!HasHeader()) return false;  // forwarded
    const int k = static_cast<int>((header >> kKindShift) & 31);
    return k != static_cast<int>(ObjectKind::kInvalid) && k != static_cast<int>(ObjectKind::kPair) &&
           k < kObjectKindCount && (header & kReservedHeaderBits) == 0;
  }

  bool IsForwarded() const { return (header & 7) == kForwardTag; }
  Object* forwarding_address() const { return reinterpret_cast<Object*>(header & ~uint64_t{7}); }
  void Forward(Object* to) { header = reinterpret_cast<uint64_t>(to) | kForwardTag; }

  // HeaderWords: words before slots(): none for a pair, one for the rest.
  size_t HeaderWords() const { return IsPair() ? 0 : 1; }
  Value* slots() { return reinterpret_cast<Value*>(this) + HeaderWords(); }
  const Value* slots() const { return reinterpret_cast<const Value*>(this) + HeaderWords(); }
  char* bytes() { return reinterpret_cast<char*>(this + 1); }
  const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }

  // Kind-specific accessors. Stores into an object that may be old must go through
  // the write barrier (heap/write_barrier.h); these are for reads and initialisation.
  Value& car() { return reinterpret_cast<Value*>(this)[0]; }
  Value& cdr() { return reinterpret_cast<Value*>(this)[1]; }
  Value& at(size_t i) { return slots()[i]; }
  std::string_view string_view() const { return {bytes(), length()}; }
  uint32_t record_ref_slots() const { return length() & 0xffff; }
  uint32_t record_raw_words() const { return length() >> 16; }
  char* record_raw() { return reinterpret_cast<char*>(slots() + record_ref_slots()); }
};

static_assert(sizeof(Object) == kWordSize);

inline bool KindHasReferences(ObjectKind kind) {
  return kind == ObjectKind::kPair || kind == ObjectKind::kVector ||
         kind == ObjectKind::kRecord;
}

// ObjectSizeInWords: the whole object, header included. `o` must not be forwarded.
inline size_t ObjectSizeInWords(const Object* o) {
  switch (o->kind()) {
    case ObjectKind::kFiller: return o->length();
    case ObjectKind::kPair: return 2;
    case ObjectKind::kVector: return 1 + size_t{o->length()};
    case ObjectKind::kString:
    case ObjectKind::kBytes: return 1 + WordsForBytes(o->length());
    case ObjectKind::kRecord: return 1 + size_t{o->record_ref_slots()} + o->record_raw_words();
    case ObjectKind::kInvalid: break;
  }
  return 0;
}
inline size_t ObjectSize(const Object* o) { return ObjectSizeInWords(o) * kWordSize; }

// ReferenceCount: how many words from slots() are Values the collector scans.
inline size_t ReferenceCount(const Object* o) {
  switch (o->kind()) {
    case ObjectKind::kPair: return 2;
    case ObjectKind::kVector: return o->length();
    case ObjectKind::kRecord: return o->record_ref_slots();
    default: return 0;
  }
}

// ForEachReference calls fn(Value* slot) for every reference slot of `o`, in address
// order. Slots may hold any Value; only IsPointer() ones refer to objects.
template <typename Fn>
inline void ForEachReference(Object* o, Fn&& fn) {
  Value* s = o->slots();
  size_t n = ReferenceCount(o);
  for (size_t i = 0; i < n; ++i) fn(&s[i]);
}

// Sizes, in bytes, of objects about to be allocated.
constexpr size_t PairBytes() { return 2 * kWordSize; }
constexpr size_t VectorBytes(size_t length) { return (1 + length) * kWordSize; }
constexpr size_t ByteObjectBytes(size_t length) { return (1 + WordsForBytes(length)) * kWordSize; }

// WriteFiller makes [start, start + bytes) one filler object (bytes a multiple of 8).
inline void WriteFiller(void* start, size_t bytes) {
  if (bytes == 0) return;
  static_cast<Object*>(start)->header =
      MakeHeader(ObjectKind::kFiller, static_cast<uint32_t>(bytes / kWordSize));
}

}  // namespace weft::heap

#endif  // WEFT_HEAP_OBJECT_H_
