// Local, Scope and Global: the handle discipline of runtime/DESIGN.md
// [runtime.handles].
#include <cstring>

#include "heap/object.h"
#include "runtime/runtime_impl.h"
#include "threads/managed_stack.h"
#include "threads/this_thread.h"

namespace weft {
namespace {

// The bits weft.h's inline fast paths assume ([runtime.handles.fast]).
static_assert(internal::kNilRaw == heap::Value::Nil().raw);
static_assert(internal::kFalseRaw == heap::Value::False().raw);
static_assert(internal::kUnboundRaw == heap::Value::Unbound().raw);
static_assert(heap::Value::FrameMarker(0).raw == internal::kFrameMarkerTag);
static_assert(heap::Value::FrameMarker(1).raw == (uint64_t{1} << 8 | internal::kFrameMarkerTag));
static_assert(heap::Value::Fixnum(0).raw == 0);
static_assert(internal::kTagMask == heap::Value::kTagMask);
static_assert(internal::kPointerTag == heap::Value::kPointerTag);
static_assert(internal::kHeaderTag == heap::kHeaderTag);
static_assert(internal::kVectorHeaderByte == (heap::MakeHeader(heap::ObjectKind::kVector, 0, 0) & 0xff));
static_assert(internal::kLengthShift == heap::kLengthShift && heap::kAuxShift >= 8);
// internal::IsPair tests `first word & 5 != 5`: true of every Value's tag, false of
// a header's and a forwarding word's.
static_assert((heap::kHeaderTag & 5) == 5 && (heap::kForwardTag & 5) == 5);
static_assert(heap::Value::Fixnum(-1).IsValue() && heap::Value::Nil().IsValue() &&
              (heap::Value::kPointerTag & 5) != 5 && (heap::Value::kImmediateTag & 5) != 5);
static_assert(heap::PairBytes() == 2 * sizeof(uint64_t), "a pair is [car, cdr]");
static_assert(sizeof(Value) == sizeof(uint64_t));

// The managed stack of the calling green thread. Opaque on purpose: green threads
// migrate between workers ([threads.inv.no-tls-across-switch]).
threads::ManagedStack& Stack() { return threads::this_thread::GetManagedStack(); }

heap::Value* PushSlot(heap::Value v) {
  uint64_t* slot = Stack().Push();
  if (__builtin_expect(slot == nullptr, 0)) RuntimeImpl::Current().ThrowStackOverflow();
  *slot = v.raw;
  return reinterpret_cast<heap::Value*>(slot);
}

}  // namespace

void RuntimeImpl::ThrowStackOverflow() { throw StackOverflow(Stack().max_bytes()); }

Local Local::New(Value v) { return Local(reinterpret_cast<Value*>(PushSlot(ToHeap(v)))); }

Local Local::Nil() { return New(FromHeap(heap::Value::Nil())); }

// A frame is: [escape slot] [marker: FrameMarker(name)] [info: fixnum] then its
// locals; the escape slot joins the enclosing frame if used ([runtime.frames]).
// Scope::Enter (weft.h) pushes the three slots inline when they fit in the current
// segment; EnterSlow pushes them one by one across a segment boundary.
Scope::Scope(const char* name) {
  threads::ManagedStack& stack = Stack();
  stack_ = &stack;
  top_ = stack.top_address();
  end_ = stack.end_address();
  Enter(name);
}

void Scope::EnterSlow(const char* name) {
  auto& stack = *static_cast<threads::ManagedStack*>(stack_);
  uint64_t* escape = stack.Push();
  if (escape == nullptr) RuntimeImpl::Current().ThrowStackOverflow();
  *escape = heap::Value::Unbound().raw;
  uint64_t* frame = stack.PushFrame(2);
  if (frame == nullptr) {
    stack.ResetTo(escape);
    RuntimeImpl::Current().ThrowStackOverflow();
  }
  frame[0] = heap::Value::FrameMarker(reinterpret_cast<uintptr_t>(name)).raw;
  frame[1] = heap::Value::Fixnum(0).raw;
  escape_slot_ = reinterpret_cast<Value*>(escape);
  frame_ = reinterpret_cast<Value*>(frame);
  segment_end_ = nullptr;  // the destructor takes ExitSlow
}

void Scope::ExitSlow(Value* target) {
  static_cast<threads::ManagedStack*>(stack_)->ResetTo(reinterpret_cast<uint64_t*>(target));
}

Local Scope::NewSlow(Value v) const {
  uint64_t* slot = static_cast<threads::ManagedStack*>(stack_)->Push();
  if (slot == nullptr) RuntimeImpl::Current().ThrowStackOverflow();
  *slot = v.raw;
  return Local(reinterpret_cast<Value*>(slot));
}

Global::Global() : slot_(nullptr), runtime_(nullptr) {}

Global::Global(Local v) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  slot_ = reinterpret_cast<Value*>(rt.NewGlobalSlot(ToHeap(v.get())));
  runtime_ = &rt;
}

// Frees the slot in the runtime that made it, not the running one: after Run returns
// no runtime runs (RuntimeGlobalTest.GlobalDestroyedOrMovedOverAfterRunReturns).
void Global::Release() {
  if (slot_ != nullptr) {
    static_cast<RuntimeImpl*>(runtime_)->FreeGlobalSlot(reinterpret_cast<heap::Value*>(slot_));
    slot_ = nullptr;
  }
}

Global::~Global() { Release(); }

Global::Global(Global&& o) noexcept : slot_(o.slot_), runtime_(o.runtime_) { o.slot_ = nullptr; }

Global& Global::operator=(Global&& o) noexcept {
  if (this != &o) {
    Release();
    slot_ = o.slot_;
    runtime_ = o.runtime_;
    o.slot_ = nullptr;
  }
  return *this;
}

Local Global::Get() const {
  return Local::New(slot_ == nullptr ? FromHeap(heap::Value::Nil()) : *slot_);
}

void Global::Set(Local v) {
  if (slot_ == nullptr) {
    RuntimeImpl& rt = RuntimeImpl::Current();
    slot_ = reinterpret_cast<Value*>(rt.NewGlobalSlot(ToHeap(v.get())));
    runtime_ = &rt;
  } else {
    *slot_ = v.get();
  }
}

// [runtime.handles.raw]: the scope is threads' no-switch bracket; the scheduler
// refuses every switch and stop inside it ([threads.inv.no-switch]), and checked
// builds refuse allocation too (objects.cc, CheckMayAllocate).
NoSafepointScope::NoSafepointScope() { threads::this_thread::NoSwitchBegin(); }
NoSafepointScope::~NoSafepointScope() { threads::this_thread::NoSwitchEnd(); }

}  // namespace weft
