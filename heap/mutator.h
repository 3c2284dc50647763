// mutator.h: a per-worker allocation context.
//
// The runtime creates one Mutator per worker thread (Heap::CreateMutator) and uses
// it only from that worker. Each Mutator owns two bump regions, boxed (objects with
// references) and unboxed (strings, byte arrays), in separate nursery blocks. The
// fast path is inline: a pointer bump and a limit compare. The slow path
// (Heap::AllocateSlow) closes the region, takes a fresh block and may call the
// CollectionHost, so any allocation may run a collection: Values held only in C++
// locals across an allocation are stale afterwards. The arguments of the allocation
// itself (car/cdr, a vector's fill) are kept safe by the Mutator.
//
// Every Allocate* returns the new object, fully initialised, in generation 0, or
// nullptr on failure, in which case last_failure() tells why
// (heap/allocation_failure.h) and the heap is unchanged.
#ifndef WEFT_HEAP_MUTATOR_H_
#define WEFT_HEAP_MUTATOR_H_

#include <cstdint>
#include <cstring>
#include <string_view>

#include "heap/allocation_failure.h"
#include "heap/layout_registry.h"
#include "heap/object.h"
#include "heap/region.h"
#include "heap/value.h"
#include "runtime/check.h"

namespace weft::heap {

class Heap;

enum class Space : uint8_t { kBoxed = 0, kUnboxed = 1 };

class Mutator {
 public:
  Mutator(const Mutator&) = delete;
  Mutator& operator=(const Mutator&) = delete;

  Object* AllocatePair(Value car, Value cdr);
  // AllocatePairInRegion is AllocatePair's fast path alone: nullptr when the open
  // boxed region has no room, and then nothing has changed (the caller goes on to
  // AllocatePair, which may collect). Never a safepoint.
  Object* AllocatePairInRegion(Value car, Value cdr);
  // AllocateVector: `length` slots, each `fill`.
  Object* AllocateVector(size_t length, Value fill);
  // AllocateString: a copy of `text` (no terminator).
  Object* AllocateString(std::string_view text);
  // AllocateBytes: `length` zero bytes.
  Object* AllocateBytes(size_t length);
  // AllocatePinnedBytes: `length` zero bytes that never move (a kPinned block, or a
  // kLarge run above kMaxSmallObjectBytes); the address may be handed to native code
  // for as long as the object is reachable.
  Object* AllocatePinnedBytes(size_t length);
  // AllocateRecord: ref slots nil, raw bytes zero.
  Object* AllocateRecord(const RecordLayout& layout);

  const AllocationFailure& last_failure() const { return failure_; }
  Heap& heap() const { return *heap_; }

 private:
  friend class Heap;
  friend class Collector;
  friend class HeapVerifier;
  explicit Mutator(Heap* heap) : heap_(heap) {}

  // Slow path: `bytes` of `space`, preserving scratch_. nullptr on failure.
  char* AllocateSlow(size_t bytes, Space space);
  char* AllocateLarge(size_t bytes, Space space);
  char* AllocatePinned(size_t bytes);
  char* FailTooLarge(size_t bytes);

  Heap* const heap_;
  Region regions_[2];  // indexed by Space
  // Allocation arguments that must survive a collection in the slow path; visited as
  // roots by every collection.
  Value scratch_[2] = {Value::Nil(), Value::Nil()};
  uint64_t slow_allocations_ = 0;
  AllocationFailure failure_;
};

inline Object* InitPair(char* p, Value car, Value cdr) {
  // [heap.inv.pairs]: no header; the car's tag is what tells a pair from a header.
  WEFT_DCHECK(car.IsValue() && cdr.IsValue(), "weft: a pair's car or cdr is not a Value");
  Object* o = reinterpret_cast<Object*>(p);
  o->car() = car;
  o->cdr() = cdr;
  return o;
}

inline Object* Mutator::AllocatePairInRegion(Value car, Value cdr) {
  // Bump's test without its null result, which the caller would test again.
  Region& r = regions_[0];
  char* p = r.cursor;
  if (__builtin_expect(static_cast<size_t>(r.limit - p) < PairBytes(), 0)) return nullptr;
  r.cursor = p + PairBytes();
  return InitPair(p, car, cdr);
}

inline Object* Mutator::AllocatePair(Value car, Value cdr) {
  if (Object* o = AllocatePairInRegion(car, cdr); __builtin_expect(o != nullptr, 1)) {
    return o;
  }
  scratch_[0] = car;
  scratch_[1] = cdr;
  char* p = AllocateSlow(PairBytes(), Space::kBoxed);
  car = scratch_[0];
  cdr = scratch_[1];
  scratch_[0] = scratch_[1] = Value::Nil();
  return p == nullptr ? nullptr : InitPair(p, car, cdr);
}

inline Object* Mutator::AllocateVector(size_t length, Value fill) {
  // Compare lengths, not byte sizes, so that a huge length cannot overflow.
  size_t bytes = length <= UINT32_MAX ? VectorBytes(length) : SIZE_MAX;
  char* p = bytes <= kMaxSmallObjectBytes ? regions_[0].Bump(bytes) : nullptr;
  if (__builtin_expect(p == nullptr, 0)) {
    if (length > UINT32_MAX) return reinterpret_cast<Object*>(FailTooLarge(bytes));
    scratch_[0] = fill;
    p = bytes <= kMaxSmallObjectBytes ? AllocateSlow(bytes, Space::kBoxed)
                                      : AllocateLarge(bytes, Space::kBoxed);
    fill = scratch_[0];
    scratch_[0] = Value::Nil();
    if (p == nullptr) return nullptr;
  }
  Object* o = reinterpret_cast<Object*>(p);
  o->header = MakeHeader(ObjectKind::kVector, static_cast<uint32_t>(length));
  Value* s = o->slots();
  for (size_t i = 0; i < length; ++i) s[i] = fill;
  return o;
}

inline Object* Mutator::AllocateBytes(size_t length) {
  size_t bytes = length <= UINT32_MAX ? ByteObjectBytes(length) : SIZE_MAX;
  char* p = bytes <= kMaxSmallObjectBytes ? regions_[1].Bump(bytes) : nullptr;
  if (__builtin_expect(p == nullptr, 0)) {
    if (length > UINT32_MAX) return reinterpret_cast<Object*>(FailTooLarge(bytes));
    p = bytes <= kMaxSmallObjectBytes ? AllocateSlow(bytes, Space::kUnboxed)
                                      : AllocateLarge(bytes, Space::kUnboxed);
    if (p == nullptr) return nullptr;
  }
  Object* o = reinterpret_cast<Object*>(p);
  o->header = MakeHeader(ObjectKind::kBytes, static_cast<uint32_t>(length));
  std::memset(o->bytes(), 0, bytes - kWordSize);
  return o;
}

inline Object* Mutator::AllocateString(std::string_view text) {
  Object* o = AllocateBytes(text.size());
  if (o == nullptr) return nullptr;
  o->header = MakeHeader(ObjectKind::kString, static_cast<uint32_t>(text.size()));
  if (!text.empty()) std::memcpy(o->bytes(), text.data(), text.size());
  return o;
}

inline Object* Mutator::AllocatePinnedBytes(size_t length) {
  size_t bytes = length <= UINT32_MAX ? ByteObjectBytes(length) : SIZE_MAX;
  if (length > UINT32_MAX) return reinterpret_cast<Object*>(FailTooLarge(bytes));
  char* p = bytes <= kMaxSmallObjectBytes ? AllocatePinned(bytes)
                                          : AllocateLarge(bytes, Space::kUnboxed);
  if (p == nullptr) return nullptr;
  Object* o = reinterpret_cast<Object*>(p);
  o->header = MakeHeader(ObjectKind::kBytes, static_cast<uint32_t>(length));
  std::memset(o->bytes(), 0, bytes - kWordSize);
  return o;
}

inline Object* Mutator::AllocateRecord(const RecordLayout& layout) {
  size_t raw_words = WordsForBytes(layout.raw_bytes);
  size_t bytes = (1 + layout.ref_slots + raw_words) * kWordSize;
  char* p = bytes <= kMaxSmallObjectBytes ? regions_[0].Bump(bytes) : nullptr;
  if (__builtin_expect(p == nullptr, 0)) {
    p = bytes <= kMaxSmallObjectBytes ? AllocateSlow(bytes, Space::kBoxed)
                                      : AllocateLarge(bytes, Space::kBoxed);
    if (p == nullptr) return nullptr;
  }
  Object* o = reinterpret_cast<Object*>(p);
  o->header = MakeHeader(ObjectKind::kRecord,
                         static_cast<uint32_t>(layout.ref_slots | (raw_words << 16)), layout.id);
  Value* s = o->slots();
  for (uint32_t i = 0; i < layout.ref_slots; ++i) s[i] = Value::Nil();
  std::memset(s + layout.ref_slots, 0, raw_words * kWordSize);
  return o;
}

}  // namespace weft::heap

#endif  // WEFT_HEAP_MUTATOR_H_
