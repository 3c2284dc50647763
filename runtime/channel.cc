// Channels of managed values and Select, on threads::Channel.
//
// [runtime.channels.in-flight] A value in flight is always where the collector sees
// it, and no global slot is taken for it:
// - buffered: in the channel's buffer, and held by a blocked sender: in that sender's
//   wait node; both are visited through threads::Channel::ForEachValue
//   (VisitChannelValues, called by RuntimeImpl::VisitRoots);
// - handed to a receiver: written straight into a slot of the receiver's managed
//   stack (a SlotOut), which the receiver pushed before it looked at the channel, so
//   a receiver that was readied and has not run yet keeps it as a root of its stack.
#include <atomic>
#include <vector>

#include "runtime/runtime_impl.h"
#include "threads/channel.h"
#include "threads/select.h"

namespace weft {
namespace {

// SlotOut: a receiver's destination, a slot of its own managed stack.
struct SlotOut {
  heap::Value* slot = nullptr;
  bool has = false;
  void emplace(heap::Value v) {
    *slot = v;
    has = true;
  }
  void reset() { has = false; }
};

using ValueChannelBase = threads::Channel<heap::Value, SlotOut>;

// The runtime's channel: which runtime's heap its values belong to, so a collection
// visits only its own runtime's channels. A channel that outlives its runtime (a copy
// kept by the embedder, or captured by a detached thread abandoned at shutdown) is
// detached as the runtime ends: its values, and a blocked sender's node on a freed
// stack, are never visited again, even by a later runtime at the same address.
// Using such a channel in a later runtime is an error (its values would be no roots
// of that runtime).
class ValueChannel final : public ValueChannelBase {
 public:
  ValueChannel(RuntimeImpl* rt, size_t capacity) : ValueChannelBase(capacity), runtime_(rt) {}
  RuntimeImpl* runtime() const { return runtime_.load(std::memory_order_relaxed); }
  void Detach() { runtime_.store(nullptr, std::memory_order_relaxed); }

 private:
  std::atomic<RuntimeImpl*> runtime_;
};

// The registry's ValueChannel of rt, or nullptr.
ValueChannel* OfRuntime(threads::ChannelBase& base, const RuntimeImpl* rt) {
  if (base.value_type() != typeid(ValueChannelBase)) return nullptr;
  auto* c = static_cast<ValueChannel*>(static_cast<ValueChannelBase*>(&base));
  return c->runtime() == rt ? c : nullptr;
}

ValueChannel& StateOf(const std::shared_ptr<void>& state) {
  if (state == nullptr) throw TypeError("weft: use of an empty weft::Channel");
  auto& c = *static_cast<ValueChannel*>(state.get());
  if (__builtin_expect(c.runtime() != RuntimeImpl::CurrentOrNull(), 0)) {
    throw TypeError("weft: use of a weft::Channel made by a runtime that has ended");
  }
  return c;
}

heap::Value* MutableSlotOf(Local v) { return const_cast<heap::Value*>(RuntimeImpl::SlotOf(v)); }

}  // namespace

void VisitChannelValues(RuntimeImpl* rt, absl::FunctionRef<void(heap::Value*)> fn) {
  threads::ForEachChannel([&](threads::ChannelBase& base) {
    if (ValueChannel* c = OfRuntime(base, rt)) c->ForEachValue([&](heap::Value& v) { fn(&v); });
  });
}

bool VisitChannelValuesForFatal(RuntimeImpl* rt, absl::FunctionRef<void(heap::Value*)> fn) {
  bool all = true;
  bool listed = threads::ForEachChannelForFatal([&](threads::ChannelBase& base) {
    if (ValueChannel* c = OfRuntime(base, rt)) {
      all = c->ForEachValueForFatal([&](heap::Value& v) { fn(&v); }) && all;
    }
  });
  return listed && all;
}

void DetachChannels(RuntimeImpl* rt) {
  threads::ForEachChannel([&](threads::ChannelBase& base) {
    if (ValueChannel* c = OfRuntime(base, rt)) c->Detach();
  });
}

Channel Channel::Make(size_t capacity) {
  Channel c;
  c.state_ = std::make_shared<ValueChannel>(&RuntimeImpl::Current(), capacity);
  return c;
}

void Channel::Send(Local v) {
  // No safepoint between reading v and the channel's lock: once blocked, the value is
  // the wait node's, visited by VisitChannelValues.
  if (!StateOf(state_).Send(ToHeap(v.get()))) throw ChannelClosed();
}

std::optional<Local> Channel::Recv() {
  ValueChannel& c = StateOf(state_);
  Local out = Local::Nil();  // the destination, a root from now on
  SlotOut o{MutableSlotOf(out)};
  if (!c.ReceiveInto(&o)) return std::nullopt;
  return out;
}

void Channel::Close() { StateOf(state_).Close(); }

size_t Channel::capacity() const { return StateOf(state_).capacity(); }

int Select(std::span<SelectCase> cases, std::optional<Local>* received,
           std::optional<absl::Duration> timeout) {
  const size_t n = cases.size();
  // One destination slot per receive case, in a frame of their own: only the chosen
  // one escapes to the caller's frame.
  Scope scope("select");
  std::vector<threads::SelectCase> raw(n);
  std::vector<SlotOut> outs(n);
  std::vector<Local> dest(n);
  for (size_t i = 0; i < n; ++i) {
    StateOf(cases[i].channel.state_);  // an empty channel throws before anything blocks
    if (cases[i].op == SelectCase::kRecv) {
      dest[i] = scope.Nil();
      outs[i].slot = MutableSlotOf(dest[i]);
    }
  }
  // The values to send, read last: no safepoint from here until they are the wait
  // nodes' (visited as a blocked sender's) or sent.
  std::vector<heap::Value> send_values(n);
  for (size_t i = 0; i < n; ++i) {
    ValueChannel& c = StateOf(cases[i].channel.state_);
    if (cases[i].op == SelectCase::kSend) {
      send_values[i] = ToHeap(cases[i].value.get());
      raw[i] = threads::SendCase<heap::Value, SlotOut>(c, &send_values[i]);
    } else {
      raw[i] = threads::ReceiveCase<heap::Value, SlotOut>(c, &outs[i]);
    }
  }
  int chosen = threads::Select(absl::MakeSpan(raw), timeout.value_or(absl::InfiniteDuration()));
  if (chosen < 0) return -1;
  if (cases[chosen].op == SelectCase::kSend) {
    if (!raw[chosen].ok) throw ChannelClosed();
  } else if (received != nullptr) {
    *received = outs[chosen].has ? std::optional<Local>(scope.Escape(dest[chosen])) : std::nullopt;
  }
  return chosen;
}

}  // namespace weft
