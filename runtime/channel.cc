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

#include "runtime/check.h"
#include "runtime/fatal_try_lock.h"
#include "runtime/runtime_impl.h"
#include "threads/channel.h"
#include "threads/select.h"
#include "threads/this_thread.h"

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

// The runtime's channel, linked into its runtime's ChannelList for the whole of its
// life as a complete object, so a collection visits only its own runtime's channels
// and never one half built or half torn down. A channel can outlive its runtime (a
// copy kept by the embedder, or one captured by a detached thread abandoned at
// shutdown): the runtime unlinks it as it ends and it belongs to no runtime; using it
// then is an error.
class ValueChannel final : public ValueChannelBase, public internal::ChannelLink {
 public:
  // With one worker every green thread of rt runs on that worker's OS thread, and
  // only rt's green threads may use the channel (weft.h); collections, dumps and the
  // end of the run read it with the worker stopped or joined. So its lock is
  // unshared ([threads.inv.unshared-lock]).
  ValueChannel(RuntimeImpl* rt, size_t capacity)
      : ValueChannelBase(capacity, rt->scheduler().worker_count() == 1), runtime_(rt) {
    RuntimeImpl::ChannelList& list = rt->channels();
    OsMutexLock l(&list.mu);
    prev = &list.head;
    next = list.head.next;
    list.head.next->prev = this;
    list.head.next = this;
  }
  ~ValueChannel() {
    // Destroying a channel while its runtime ends, on another OS thread, is a race of
    // the embedder's; otherwise runtime_ is stable here.
    if (RuntimeImpl* rt = runtime()) {
      OsMutexLock l(&rt->channels().mu);
      Unlink();
    }
  }
  RuntimeImpl* runtime() const { return runtime_.load(std::memory_order_relaxed); }
  // Under the list's lock.
  void Unlink() {
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
  void Detach() {
    Unlink();
    runtime_.store(nullptr, std::memory_order_relaxed);
  }

 private:
  std::atomic<RuntimeImpl*> runtime_;
};

// ForEachOf calls fn(ValueChannel&) for each of rt's channels, under the list's lock.
template <typename Fn>
void ForEachOf(RuntimeImpl* rt, Fn&& fn) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  RuntimeImpl::ChannelList& list = rt->channels();
  for (internal::ChannelLink* l = list.head.next; l != &list.head;) {
    internal::ChannelLink* next = l->next;  // fn may unlink l
    fn(*static_cast<ValueChannel*>(l));
    l = next;
  }
}

// Out of line and cold, so that StateOf stays a leaf of a few loads and compares
// (building the exception inline gave every channel operation a stack frame).
[[noreturn, gnu::noinline, gnu::cold]] void ThrowTypeError(const char* message) {
  throw TypeError(message);
}

inline ValueChannel& StateOf(const std::shared_ptr<void>& state) {
  if (__builtin_expect(state == nullptr, 0)) ThrowTypeError("weft: use of an empty weft::Channel");
  auto& c = *static_cast<ValueChannel*>(state.get());
  RuntimeImpl* rt = c.runtime();
  if (__builtin_expect(rt == nullptr || rt != RuntimeImpl::CurrentOrNull(), 0)) {
    ThrowTypeError("weft: use of a weft::Channel outside the run of the runtime that made it");
  }
  // Off a green thread (an OS thread of the embedder's, a RunBlocking helper) the
  // call breaks weft.h's contract, and on an unshared channel it would race with the
  // worker. A thread lookup per operation is too dear for the fast path (ping-pong
  // 5 % slower), so only checked builds look.
  if (WEFT_CHECKED_BUILD && !threads::this_thread::InGreenThread()) {
    ThrowTypeError("weft: use of a weft::Channel outside a green thread");
  }
  return c;
}

heap::Value* MutableSlotOf(Local v) { return const_cast<heap::Value*>(RuntimeImpl::SlotOf(v)); }

}  // namespace

void VisitChannelValues(RuntimeImpl* rt, absl::FunctionRef<void(heap::Value*)> fn) {
  OsMutexLock l(&rt->channels().mu);
  ForEachOf(rt, [&](ValueChannel& c) { c.ForEachValue([&](heap::Value& v) { fn(&v); }); });
}

bool VisitChannelValuesForFatal(RuntimeImpl* rt, absl::FunctionRef<void(heap::Value*)> fn) {
  OsMutex& mu = rt->channels().mu;
  if (!TryLockForFatal(mu)) return false;
  bool all = true;
  ForEachOf(rt, [&](ValueChannel& c) {
    all = c.ForEachValueForFatal([&](heap::Value& v) { fn(&v); }) && all;
  });
  mu.Unlock();
  return all;
}

void ForgetChannelWaiters(RuntimeImpl* rt) {
  OsMutexLock l(&rt->channels().mu);
  ForEachOf(rt, [](ValueChannel& c) { c.ForgetWaiters(); });
}

void DetachChannels(RuntimeImpl* rt) {
  OsMutexLock l(&rt->channels().mu);
  ForEachOf(rt, [](ValueChannel& c) { c.Detach(); });
}

Channel Channel::Make(size_t capacity) {
  Channel c;
  c.state_ = std::make_shared<ValueChannel>(&RuntimeImpl::Current(), capacity);
  return c;
}

// Send, Recv and Select poll first, so a loop of operations that never block is a
// safepoint like one that does ([runtime.safepoint.calls]).
void Channel::Send(Local v) {
  ValueChannel& c = StateOf(state_);
  Safepoint();
  // No safepoint between reading v and the channel's lock: once blocked, the value is
  // the wait node's, visited by VisitChannelValues.
  if (!c.Send(ToHeap(v.get()))) throw ChannelClosed();
}

std::optional<Local> Channel::Recv() {
  ValueChannel& c = StateOf(state_);
  Safepoint();
  Local out = Local::Nil();  // the destination, a root from now on
  SlotOut o{MutableSlotOf(out)};
  if (!c.ReceiveInto(&o)) return std::nullopt;
  return out;
}

void Channel::Close() {
  ValueChannel& c = StateOf(state_);
  Safepoint();
  if (!c.Close()) throw ChannelClosed("weft: close of a closed channel");
}

size_t Channel::capacity() const { return StateOf(state_).capacity(); }

int Select(std::span<SelectCase> cases, std::optional<Local>* received,
           std::optional<absl::Duration> timeout) {
  Safepoint();
  const size_t n = cases.size();
  // One destination slot per receive case, in a frame of their own: only the chosen
  // one escapes to the caller's frame.
  Scope scope("select");
  std::vector<threads::SelectCase> raw(n);
  std::vector<SlotOut> outs(n);
  std::vector<Local> dest(n);
  std::vector<heap::Value> send_values(n);
  // No safepoint from reading a value to send until it is a wait node's (visited as a
  // blocked sender's) or sent: pushing a slot is none, and a bad channel throws here,
  // before anything blocks.
  for (size_t i = 0; i < n; ++i) {
    ValueChannel& c = StateOf(cases[i].channel.state_);
    if (cases[i].op == SelectCase::kSend) {
      send_values[i] = ToHeap(cases[i].value.get());
      raw[i] = threads::SendCase<heap::Value, SlotOut>(c, &send_values[i]);
    } else {
      dest[i] = scope.Nil();
      outs[i].slot = MutableSlotOf(dest[i]);
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
