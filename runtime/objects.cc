// Object constructors, accessors and setters of weft.h. Every store into an existing
// object goes through Heap::WriteBarrier ([heap.inv.old-to-young]).
#include "absl/base/attributes.h"
#include "absl/strings/str_format.h"
#include "heap/object.h"
#include "runtime/runtime_impl.h"
#include "threads/this_thread.h"

namespace weft {
namespace {

// [runtime.inv.mutator-per-worker] The running worker's Mutator, set on the worker's
// own OS thread. It lives here, beside the pair allocators, so that they read it with
// one %fs-relative load instead of calling CurrentMutator (whose call made ConsInto
// save and restore four registers: 33 instructions a pair, 15 without). Only
// out-of-line functions of this file read it, once each, with nothing that can switch
// between the read and its use, so no thread_local address outlives a switch
// ([threads.inv.no-tls-across-switch]); all other code calls the opaque CurrentMutator.
thread_local heap::Mutator* tls_mutator = nullptr;

}  // namespace

__attribute__((noinline)) heap::Mutator* CurrentMutator() {
  asm volatile("" ::: "memory");
  heap::Mutator* m = tls_mutator;
  WEFT_CHECK(m != nullptr, "weft: allocation outside a green thread");
  return m;
}

void SetCurrentMutator(heap::Mutator* m) { tls_mutator = m; }

namespace {

using heap::Object;
using heap::ObjectKind;

Kind KindOf(heap::Value v) {
  if (v.IsFixnum()) return Kind::kFixnum;
  if (v.IsPointer()) {
    WEFT_CHECK(!v.AsObject()->IsForwarded(), "weft: a managed value points at a moved object (stale pointer?)");
    switch (v.AsObject()->kind()) {
      case ObjectKind::kPair: return Kind::kPair;
      case ObjectKind::kVector: return Kind::kVector;
      case ObjectKind::kString: return Kind::kString;
      case ObjectKind::kBytes: return Kind::kBytes;
      case ObjectKind::kRecord: return Kind::kRecord;
      default: break;
    }
    WEFT_CHECK(false, "weft: a managed value points at a non-object (stale pointer?)");
  }
  if (v.IsNil()) return Kind::kNil;
  if (v.IsBool()) return Kind::kBoolean;
  if (v.IsChar()) return Kind::kChar;
  if (v.IsUnbound()) return Kind::kUnbound;
  WEFT_CHECK(false, "weft: a managed slot holds a value of no known kind");
}

[[noreturn]] void WrongKind(const char* function, Kind expected, heap::Value got) {
  throw TypeError(absl::StrFormat("weft: %s: expected a %s, got a %s", function,
                                  KindName(expected), KindName(KindOf(got))));
}

// Expect returns the object `v` names, checking its kind. The fast test reads the
// first word's tag (a pair's car is a Value, never tagged as a header) or the
// header's kind bits; anything else (including a poisoned stale object, whose words
// read as headers of no kind) goes through KindOf, which fails loudly on a non-object.
Object* Expect(const char* function, Local v, Kind kind) {
  heap::Value h = ToHeap(v.get());
  if (__builtin_expect(h.IsPointer(), 1)) {
    Object* o = h.AsObject();
    if (o->IsPair()) {  // [heap.inv.pairs]
      if (kind == Kind::kPair) return o;
    } else if (o->HasHeader()) {
      switch (o->kind()) {
        case ObjectKind::kVector: if (kind == Kind::kVector) return o; break;
        case ObjectKind::kString: if (kind == Kind::kString) return o; break;
        case ObjectKind::kBytes: if (kind == Kind::kBytes) return o; break;
        case ObjectKind::kRecord: if (kind == Kind::kRecord) return o; break;
        default: break;
      }
    }
  }
  if (KindOf(h) != kind) WrongKind(function, kind, h);
  return h.AsObject();
}

// CheckMayAllocate: in checked builds, an allocation inside a NoSafepointScope aborts
// ([runtime.handles.raw]) even when it would not have collected. Other builds catch
// the collection itself (the scheduler refuses the stop, [threads.inv.no-switch]).
inline void CheckMayAllocate() {
  if (WEFT_CHECKED_BUILD) {
    WEFT_CHECK(!threads::this_thread::InNoSwitch(),
               "weft: allocation inside a NoSafepointScope");
  }
}

// Finish turns a fresh object (or an allocation failure) into a Local.
Local Finish(RuntimeImpl& rt, Object* o) {
  CheckMayAllocate();
  if (o == nullptr) rt.ThrowAllocationFailure(rt.mutator().last_failure());
  return Local::New(FromHeap(heap::Value::FromObject(o)));
}

// NewPair allocates (car . cdr) through the mutator of the worker running the caller
// ([runtime.inv.mutator-per-worker]: one read of tls_mutator, see above); throws on
// failure. Inlined only into this file's out-of-line Cons functions.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Value NewPair(Local car, Local cdr) {
  CheckMayAllocate();
  heap::Mutator* m = tls_mutator;
  if (__builtin_expect(m == nullptr, 0)) m = CurrentMutator();  // fails, with its message
  Object* o = m->AllocatePair(ToHeap(car.get()), ToHeap(cdr.get()));
  if (__builtin_expect(o == nullptr, 0)) {
    RuntimeImpl::Current().ThrowAllocationFailure(m->last_failure());
  }
  return FromHeap(heap::Value::FromObject(o));
}

void CheckIndex(const char* function, size_t i, size_t length) {
  if (i >= length) {
    throw TypeError(
        absl::StrFormat("weft: %s: index %d out of range [0, %d)", function, i, length));
  }
}

void Store(Object* holder, heap::Value* slot, Local v) {
  RuntimeImpl::Current().heap().WriteBarrier(holder, slot, ToHeap(v.get()));
}

}  // namespace

namespace internal {

void ThrowWrongKind(const char* function, Kind expected, Value got) {
  WrongKind(function, expected, ToHeap(got));
}

void ThrowIndexOutOfRange(const char* function, size_t i, size_t length) {
  CheckIndex(function, i, length);
  WEFT_CHECK(false, "weft: ThrowIndexOutOfRange of an index in range");
}

void ThrowFixnumOverflow(int64_t v) {
  throw TypeError(absl::StrFormat("weft: fixnum overflow: %d is outside [%d, %d]", v,
                                  kFixnumMin, kFixnumMax));
}

}  // namespace internal

Kind Local::kind() const { return KindOf(ToHeap(*slot_)); }

Local Fixnum(int64_t v) {
  if (!heap::Value::FixnumFits(v)) internal::ThrowFixnumOverflow(v);
  return Local::New(FromHeap(heap::Value::Fixnum(v)));
}

Local Boolean(bool v) { return Local::New(FromHeap(heap::Value::Bool(v))); }

Local Char(char32_t c) {
  if (c > heap::Value::kMaxChar) {
    throw TypeError(absl::StrFormat("weft: %d is not a Unicode code point", uint32_t{c}));
  }
  return Local::New(FromHeap(heap::Value::Char(c)));
}

Local Unbound() { return Local::New(FromHeap(heap::Value::Unbound())); }

char32_t CharValue(Local v) {
  heap::Value h = ToHeap(v.get());
  if (!h.IsChar()) WrongKind("CharValue", Kind::kChar, h);
  return h.CharValue();
}

Local Cons(Local car, Local cdr) { return Local::New(NewPair(car, cdr)); }

Local Scope::Cons(Local car, Local cdr) const { return New(NewPair(car, cdr)); }

namespace {
__attribute__((noinline)) void ConsIntoSlow(Local car, Local cdr, Local out) {
  out.SetValue(NewPair(car, cdr));
}
}  // namespace

// The hot path of [runtime.handles.fast] loops: the bump needs no callee-saved
// register, so it costs no frame; anything else (a full region, no mutator) goes on
// to ConsIntoSlow, a tail call.
void ConsInto(Local car, Local cdr, Local out) {
  CheckMayAllocate();
  if (heap::Mutator* m = tls_mutator; __builtin_expect(m != nullptr, 1)) {
    if (Object* o = m->AllocatePairInRegion(ToHeap(car.get()), ToHeap(cdr.get()))) {
      out.SetValue(FromHeap(heap::Value::FromObject(o)));
      return;
    }
  }
  ConsIntoSlow(car, cdr, out);
}

Local Car(Local pair) {
  return Local::New(FromHeap(Expect("car", pair, Kind::kPair)->car()));
}

Local Cdr(Local pair) {
  return Local::New(FromHeap(Expect("cdr", pair, Kind::kPair)->cdr()));
}

void SetCar(Local pair, Local v) {
  Object* o = Expect("set-car!", pair, Kind::kPair);
  WEFT_DCHECK(ToHeap(v.get()).IsValue(), "weft: set-car! of a word that is not a Value");  // [heap.inv.pairs]
  Store(o, &o->car(), v);
}

void SetCdr(Local pair, Local v) {
  Object* o = Expect("set-cdr!", pair, Kind::kPair);
  Store(o, &o->cdr(), v);
}

Local MakeVector(size_t length, Local fill) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  return Finish(rt, rt.mutator().AllocateVector(length, ToHeap(fill.get())));
}

size_t VectorLength(Local vector) { return Expect("vector-length", vector, Kind::kVector)->length(); }

Local VectorRef(Local vector, size_t i) {
  Object* o = Expect("vector-ref", vector, Kind::kVector);
  CheckIndex("vector-ref", i, o->length());
  return Local::New(FromHeap(o->at(i)));
}

void VectorSet(Local vector, size_t i, Local v) {
  Object* o = Expect("vector-set!", vector, Kind::kVector);
  CheckIndex("vector-set!", i, o->length());
  Store(o, &o->at(i), v);
}

Local MakeString(std::string_view utf8) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  return Finish(rt, rt.mutator().AllocateString(utf8));
}

std::string_view StringView(Local string) {
  return Expect("string", string, Kind::kString)->string_view();
}

size_t StringLength(Local string) { return Expect("string-length", string, Kind::kString)->length(); }

Local MakeBytes(size_t length, bool pinned) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  heap::Mutator& m = rt.mutator();
  return Finish(rt, pinned ? m.AllocatePinnedBytes(length) : m.AllocateBytes(length));
}

size_t BytesLength(Local bytes) { return Expect("bytes-length", bytes, Kind::kBytes)->length(); }

uint8_t* BytesData(Local bytes) {
  return reinterpret_cast<uint8_t*>(Expect("bytes-data", bytes, Kind::kBytes)->bytes());
}

RecordType RegisterRecordType(std::string_view name, uint32_t ref_slots, uint32_t raw_bytes) {
  absl::StatusOr<const heap::RecordLayout*> layout =
      RuntimeImpl::Current().heap().layouts().RegisterLayout(name, ref_slots, raw_bytes);
  if (!layout.ok()) throw TypeError(std::string(layout.status().message()));
  return RecordType{(*layout)->id};
}

namespace {

const heap::RecordLayout& LayoutOf(RecordType type) {
  const heap::RecordLayout* layout =
      RuntimeImpl::Current().heap().layouts().Get(static_cast<heap::LayoutId>(type.id));
  if (layout == nullptr || type.id > 0xffff) {
    throw TypeError(absl::StrFormat("weft: no record type with id %d", type.id));
  }
  return *layout;
}

}  // namespace

Local MakeRecord(RecordType type) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  const heap::RecordLayout& layout = LayoutOf(type);
  return Finish(rt, rt.mutator().AllocateRecord(layout));
}

RecordType RecordTypeOf(Local record) {
  return RecordType{Expect("record-type", record, Kind::kRecord)->aux()};
}

std::string_view RecordTypeName(RecordType type) { return LayoutOf(type).name; }

Local RecordRef(Local record, uint32_t slot) {
  Object* o = Expect("record-ref", record, Kind::kRecord);
  CheckIndex("record-ref", slot, o->record_ref_slots());
  return Local::New(FromHeap(o->at(slot)));
}

void RecordSet(Local record, uint32_t slot, Local v) {
  Object* o = Expect("record-set!", record, Kind::kRecord);
  CheckIndex("record-set!", slot, o->record_ref_slots());
  Store(o, &o->at(slot), v);
}

uint8_t* RecordRaw(Local record) {
  return reinterpret_cast<uint8_t*>(Expect("record-raw", record, Kind::kRecord)->record_raw());
}

}  // namespace weft
