// Channels of managed values and Select, on threads::Channel.
//
// A value in flight (buffered, held by a blocked sender, or handed to a receiver that
// has not resumed yet) lives in a global slot, and the channel carries the slot's
// address: the collector sees and updates every such value through the global slots
// without knowing about channels ([runtime.channels.in-flight]).
#include <vector>

#include "runtime/runtime_impl.h"
#include "threads/channel.h"
#include "threads/select.h"

namespace weft {
namespace {

using SlotChannel = threads::Channel<heap::Value*>;

struct ChannelState {
  RuntimeImpl* runtime;
  SlotChannel channel;
  ChannelState(RuntimeImpl* rt, size_t capacity) : runtime(rt), channel(capacity) {}
  ~ChannelState() {
    // No copy of the Channel is left, so no thread is blocked on it; free what is
    // still buffered.
    while (std::optional<heap::Value*> slot = channel.TryReceive()) {
      runtime->FreeGlobalSlot(*slot);
    }
  }
};

ChannelState& StateOf(const std::shared_ptr<void>& state) {
  if (state == nullptr) throw TypeError("weft: use of an empty weft::Channel");
  return *static_cast<ChannelState*>(state.get());
}

// TakeSlot reads a received slot's value into a new Local and frees the slot.
Local TakeSlot(RuntimeImpl& rt, heap::Value* slot) {
  Local v = Local::New(FromHeap(*slot));
  rt.FreeGlobalSlot(slot);
  return v;
}

}  // namespace

Channel Channel::Make(size_t capacity) {
  Channel c;
  c.state_ = std::make_shared<ChannelState>(&RuntimeImpl::Current(), capacity);
  return c;
}

void Channel::Send(Local v) {
  ChannelState& s = StateOf(state_);
  heap::Value* slot = s.runtime->NewGlobalSlot(ToHeap(v.get()));
  if (!s.channel.Send(slot)) {
    s.runtime->FreeGlobalSlot(slot);
    throw ChannelClosed();
  }
}

std::optional<Local> Channel::Recv() {
  ChannelState& s = StateOf(state_);
  std::optional<heap::Value*> slot = s.channel.Receive();
  if (!slot) return std::nullopt;
  return TakeSlot(*s.runtime, *slot);
}

void Channel::Close() { StateOf(state_).channel.Close(); }

size_t Channel::capacity() const { return StateOf(state_).channel.capacity(); }

int Select(std::span<SelectCase> cases, std::optional<Local>* received,
           std::optional<absl::Duration> timeout) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  size_t n = cases.size();
  std::vector<threads::SelectCase> raw(n);
  std::vector<heap::Value*> send_slots(n, nullptr);
  std::vector<std::optional<heap::Value*>> outs(n);
  for (size_t i = 0; i < n; ++i) {
    ChannelState& s = StateOf(cases[i].channel.state_);
    if (cases[i].op == SelectCase::kSend) {
      send_slots[i] = rt.NewGlobalSlot(ToHeap(cases[i].value.get()));
      raw[i] = threads::SendCase(s.channel, &send_slots[i]);
    } else {
      raw[i] = threads::ReceiveCase(s.channel, &outs[i]);
    }
  }
  int chosen = threads::Select(absl::MakeSpan(raw), timeout.value_or(absl::InfiniteDuration()));
  // A send that did not proceed still owns its slot; one that did handed it over.
  for (size_t i = 0; i < n; ++i) {
    if (send_slots[i] != nullptr && (static_cast<int>(i) != chosen || !raw[i].ok)) {
      rt.FreeGlobalSlot(send_slots[i]);
    }
  }
  if (chosen < 0) return -1;
  if (cases[chosen].op == SelectCase::kSend) {
    if (!raw[chosen].ok) throw ChannelClosed();
  } else if (received != nullptr) {
    *received = outs[chosen] ? std::optional<Local>(TakeSlot(rt, *outs[chosen])) : std::nullopt;
  } else if (outs[chosen]) {
    rt.FreeGlobalSlot(*outs[chosen]);
  }
  return chosen;
}

}  // namespace weft
