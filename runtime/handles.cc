// Local, Scope and Global: the handle discipline of runtime/DESIGN.md
// [runtime.handles].
#include <cstring>

#include "runtime/runtime_impl.h"
#include "threads/managed_stack.h"
#include "threads/this_thread.h"

namespace weft {
namespace {

static_assert(sizeof(threads::ManagedStack::Mark) * 2 <= sizeof(void*) * 4,
              "Scope::mark_ must hold a ManagedStack::Mark");

// The managed stack of the calling green thread. Opaque on purpose: green threads
// migrate between workers ([threads.inv.no-cached-tls]).
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

bool Local::IsNil() const { return ToHeap(*slot_).IsNil(); }
bool Local::IsTrue() const { return !ToHeap(*slot_).IsFalse(); }

// A frame is: [escape slot] [marker: FrameMarker(name)] [info: fixnum] then its
// locals; the escape slot joins the enclosing frame if used ([runtime.frames]).
Scope::Scope(const char* name) {
  threads::ManagedStack& stack = Stack();
  threads::ManagedStack::Mark marks[2];
  marks[0] = stack.GetMark();
  escape_slot_ = reinterpret_cast<Value*>(PushSlot(heap::Value::Unbound()));
  marks[1] = stack.GetMark();
  std::memcpy(mark_, marks, sizeof(marks));
  uint64_t* frame = stack.PushFrame(2);
  if (frame == nullptr) {
    stack.Reset(marks[0]);
    RuntimeImpl::Current().ThrowStackOverflow();
  }
  frame[0] = heap::Value::FrameMarker(reinterpret_cast<uintptr_t>(name)).raw;
  frame[1] = heap::Value::Fixnum(0).raw;
  frame_ = reinterpret_cast<Value*>(frame);
}

Scope::~Scope() {
  threads::ManagedStack::Mark marks[2];
  std::memcpy(marks, mark_, sizeof(marks));
  Stack().Reset(marks[escaped_ ? 1 : 0]);
}

Local Scope::Escape(Local v) {
  *escape_slot_ = v.get();
  escaped_ = true;
  return Local(escape_slot_);
}

void Scope::SetInfo(int64_t info) { frame_[1] = FromHeap(heap::Value::Fixnum(info)); }

Global::Global() : slot_(nullptr) {}

Global::Global(Local v)
    : slot_(reinterpret_cast<Value*>(RuntimeImpl::Current().NewGlobalSlot(ToHeap(v.get())))) {}

Global::~Global() {
  if (slot_ != nullptr) {
    RuntimeImpl::Current().FreeGlobalSlot(reinterpret_cast<heap::Value*>(slot_));
  }
}

Global::Global(Global&& o) noexcept : slot_(o.slot_) { o.slot_ = nullptr; }

Global& Global::operator=(Global&& o) noexcept {
  if (this != &o) {
    if (slot_ != nullptr) {
      RuntimeImpl::Current().FreeGlobalSlot(reinterpret_cast<heap::Value*>(slot_));
    }
    slot_ = o.slot_;
    o.slot_ = nullptr;
  }
  return *this;
}

Local Global::Get() const {
  return Local::New(slot_ == nullptr ? FromHeap(heap::Value::Nil()) : *slot_);
}

void Global::Set(Local v) {
  if (slot_ == nullptr) {
    slot_ = reinterpret_cast<Value*>(RuntimeImpl::Current().NewGlobalSlot(ToHeap(v.get())));
  } else {
    *slot_ = v.get();
  }
}

}  // namespace weft
