// value.h: Value, the tagged 64-bit word every managed slot holds.
//
// Tag scheme (low bits of `raw`):
//   ...xxxx0  fixnum: a 63-bit signed integer, stored as value << 1.
//   ...xx001  heap pointer: the address of an Object (8-byte aligned) plus 1.
//   ...xx011  immediate: kind in bits 3..7, payload in bits 8..63 (56 bits).
//   ...xx101, ...xx111: never Values. Object headers use 0b111 and forwarding
//             headers 0b101, so a header word is never mistaken for a Value.
// Immediate kinds: nil (the empty list), true, false, unbound, characters (a
// Unicode code point payload) and frame markers (a payload opaque to the heap that
// the runtime uses for managed-stack frame metadata). The collector skips every
// non-pointer Value; only IsPointer() words are references.
#ifndef WEFT_HEAP_VALUE_H_
#define WEFT_HEAP_VALUE_H_

#include <cstdint>
#include <type_traits>

namespace weft::heap {

struct Object;

enum class ImmediateKind : uint8_t {
  kNil = 0,
  kTrue = 1,
  kFalse = 2,
  kUnbound = 3,
  kChar = 4,
  kFrameMarker = 5,
};

struct Value {
  uint64_t raw;

  static constexpr uint64_t kTagMask = 7;
  static constexpr uint64_t kPointerTag = 1;
  static constexpr uint64_t kImmediateTag = 3;
  static constexpr int kImmediateKindShift = 3;
  static constexpr int kImmediatePayloadShift = 8;
  static constexpr int64_t kFixnumMax = (int64_t{1} << 62) - 1;
  static constexpr int64_t kFixnumMin = -(int64_t{1} << 62);
  static constexpr uint64_t kMaxImmediatePayload = (uint64_t{1} << 56) - 1;
  static constexpr char32_t kMaxChar = 0x10FFFF;

  static constexpr Value FromRaw(uint64_t raw) { return Value{raw}; }

  // Fixnum: `v` must lie in [kFixnumMin, kFixnumMax] (FixnumFits); outside it the
  // top bit is lost.
  static constexpr bool FixnumFits(int64_t v) { return v >= kFixnumMin && v <= kFixnumMax; }
  static constexpr Value Fixnum(int64_t v) { return Value{static_cast<uint64_t>(v) << 1}; }
  constexpr bool IsFixnum() const { return (raw & 1) == 0; }
  constexpr int64_t FixnumValue() const { return static_cast<int64_t>(raw) >> 1; }

  static Value FromObject(const Object* o) {
    return Value{reinterpret_cast<uint64_t>(o) + kPointerTag};
  }
  constexpr bool IsPointer() const { return (raw & kTagMask) == kPointerTag; }
  Object* AsObject() const { return reinterpret_cast<Object*>(raw - kPointerTag); }

  static constexpr Value Immediate(ImmediateKind kind, uint64_t payload) {
    return Value{(payload << kImmediatePayloadShift) |
                 (static_cast<uint64_t>(kind) << kImmediateKindShift) | kImmediateTag};
  }
  constexpr bool IsImmediate() const { return (raw & kTagMask) == kImmediateTag; }
  constexpr ImmediateKind immediate_kind() const {
    return static_cast<ImmediateKind>((raw >> kImmediateKindShift) & 31);
  }
  constexpr uint64_t immediate_payload() const { return raw >> kImmediatePayloadShift; }

  static constexpr Value Nil() { return Immediate(ImmediateKind::kNil, 0); }
  static constexpr Value True() { return Immediate(ImmediateKind::kTrue, 0); }
  static constexpr Value False() { return Immediate(ImmediateKind::kFalse, 0); }
  static constexpr Value Bool(bool b) { return b ? True() : False(); }
  static constexpr Value Unbound() { return Immediate(ImmediateKind::kUnbound, 0); }
  // Char: `c` must be a code point (<= kMaxChar).
  static constexpr Value Char(char32_t c) { return Immediate(ImmediateKind::kChar, c); }
  // FrameMarker: `payload` must fit in 56 bits (<= kMaxImmediatePayload).
  static constexpr Value FrameMarker(uint64_t payload) {
    return Immediate(ImmediateKind::kFrameMarker, payload);
  }

  constexpr bool IsNil() const { return raw == Nil().raw; }
  constexpr bool IsTrue() const { return raw == True().raw; }
  constexpr bool IsFalse() const { return raw == False().raw; }
  constexpr bool IsBool() const { return IsTrue() || IsFalse(); }
  constexpr bool IsUnbound() const { return raw == Unbound().raw; }
  constexpr bool IsChar() const {
    return IsImmediate() && immediate_kind() == ImmediateKind::kChar;
  }
  constexpr char32_t CharValue() const { return static_cast<char32_t>(immediate_payload()); }
  constexpr bool IsFrameMarker() const {
    return IsImmediate() && immediate_kind() == ImmediateKind::kFrameMarker;
  }
  constexpr uint64_t FrameMarkerPayload() const { return immediate_payload(); }

  // IsValue: a word some Value could hold: not tagged 0b111 (a header) or 0b101 (a
  // forwarding word), the two tags with bits 0 and 2 both set ([heap.inv.pairs]).
  constexpr bool IsValue() const { return (raw & 5) != 5; }

  friend constexpr bool operator==(Value a, Value b) { return a.raw == b.raw; }
  friend constexpr bool operator!=(Value a, Value b) { return a.raw != b.raw; }
};

static_assert(sizeof(Value) == 8);
static_assert(std::is_trivially_copyable_v<Value>);
static_assert(std::is_standard_layout_v<Value>);

}  // namespace weft::heap

#endif  // WEFT_HEAP_VALUE_H_
