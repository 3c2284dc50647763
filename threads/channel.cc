#include "threads/channel.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "threads/os_mutex.h"
#include "threads/park.h"
#include "threads/select.h"
#include "threads/timer_heap.h"

namespace weft::threads {
namespace {

// The channel registry ([threads.inv.registry]): every live channel.
OsMutex registry_mu;
ChannelBase* registry_head ABSL_GUARDED_BY(registry_mu) = nullptr;

}  // namespace

ChannelBase::ChannelBase(size_t capacity, bool unshared)
    : unshared_(unshared), capacity_(capacity) {
  OsMutexLock l(&registry_mu);
  reg_next_ = registry_head;
  if (registry_head != nullptr) registry_head->reg_prev_ = this;
  registry_head = this;
}

ChannelBase::~ChannelBase() {
  OsMutexLock l(&registry_mu);
  if (reg_prev_ != nullptr) reg_prev_->reg_next_ = reg_next_;
  if (reg_next_ != nullptr) reg_next_->reg_prev_ = reg_prev_;
  if (registry_head == this) registry_head = reg_next_;
}

void ForEachChannel(absl::FunctionRef<void(ChannelBase&)> fn) {
  OsMutexLock l(&registry_mu);
  for (ChannelBase* c = registry_head; c != nullptr; c = c->reg_next_) fn(*c);
}

void ChannelBase::Complete(internal::WaitNode* n, bool ok, internal::ReadyList* ready) {
  n->ok = ok;
  n->ws->fired = n->case_index;
  ready->Add(n->ws->thread);  // readied after the unlock
}

bool ChannelBase::Close() {
  internal::ReadyList ready;
  SpinLockHolder h(&lock_);
  if (closed_) return false;
  closed_ = true;
  while (internal::WaitNode* n = recvq_.PopClaimed()) {
    ResetOutLocked(n->value);  // as a receive that finds the channel closed
    Complete(n, false, &ready);
  }
  while (internal::WaitNode* n = sendq_.PopClaimed()) Complete(n, false, &ready);
  return true;
}

void ChannelBase::ForgetWaiters() {
  SpinLockHolder h(&lock_);
  recvq_.Forget();
  sendq_.Forget();
}

bool ChannelBase::closed() const {
  SpinLockHolder h(&lock_);
  return closed_;
}

bool ChannelBase::Block(internal::WaitQueue* q, void* value, bool send) {
  internal::WaitState ws;
  ws.thread = internal::CurrentThread();
  ws.one_lock = true;  // claimed only under lock_ (no select, no timer)
  WEFT_CHECK(ws.thread != nullptr, "weft: blocking channel operation outside a green thread");
  internal::WaitNode node;
  node.ws = &ws;
  node.value = value;
  q->PushBack(&node);
  internal::Park(ThreadState::kBlocked,
                 send ? WaitReason::kChannelSend : WaitReason::kChannelReceive, this,
                 &internal::UnlockSpinAfter, &lock_);
  return node.ok;
}

// ---------------------------------------------------------------------------
// Select.

// Friend of ChannelBase: locks in address order ([threads.inv.lock-order]).
int SelectImpl(SelectCase* cases, int n, int64_t deadline_ns, bool poll_only) {
  absl::InlinedVector<SpinLock*, 8> locks;
  for (int i = 0; i < n; ++i) locks.push_back(&cases[i].channel->lock_);
  std::sort(locks.begin(), locks.end());
  locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
  internal::ReadyList ready;  // readied after unlock_all
  for (SpinLock* l : locks) l->Lock();
  auto unlock_all = [&] {
    for (auto it = locks.rbegin(); it != locks.rend(); ++it) (*it)->Unlock();
  };
  // Poll in a random order.
  static std::atomic<uint64_t> seed{0x243f6a8885a308d3ull};
  uint64_t r = seed.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed);
  r ^= r >> 29;
  int start = n > 0 ? static_cast<int>(r % static_cast<uint64_t>(n)) : 0;
  for (int k = 0; k < n; ++k) {
    int i = (start + k) % n;
    SelectCase& c = cases[i];
    bool ok = false;
    bool done = c.send ? c.channel->TrySendLocked(c.value, &ok, &ready)
                       : c.channel->TryReceiveLocked(c.value, &ok, &ready);
    if (done) {
      c.ok = ok;
      unlock_all();
      ready.ReadyAll();
      return i;
    }
  }
  if (poll_only || n == 0) {
    unlock_all();
    if (n == 0 && !poll_only) {
      // Nothing to wait for but the deadline (or forever: a deadlock if alone).
      internal::WaitState ws;
      ws.thread = internal::CurrentThread();
      internal::Park(ThreadState::kBlocked, WaitReason::kSelect, nullptr, nullptr, nullptr,
                     deadline_ns > 0 ? &ws : nullptr, deadline_ns);
    }
    return -1;
  }
  internal::WaitState ws;
  ws.thread = internal::CurrentThread();
  WEFT_CHECK(ws.thread != nullptr, "weft: blocking Select outside a green thread");
  absl::InlinedVector<internal::WaitNode, 8> nodes(n);
  for (int i = 0; i < n; ++i) {
    nodes[i].ws = &ws;
    nodes[i].value = cases[i].value;
    nodes[i].case_index = i;
    (cases[i].send ? cases[i].channel->sendq_ : cases[i].channel->recvq_).PushBack(&nodes[i]);
  }
  struct Unlocker {
    absl::InlinedVector<SpinLock*, 8>* locks;
    static void After(void* p) {
      // Copy first: after the first unlock the thread may be woken, run, and free
      // `locks` ([threads.inv.ready-after-unlock]).
      auto* u = static_cast<Unlocker*>(p);
      absl::InlinedVector<SpinLock*, 8> copy(u->locks->begin(), u->locks->end());
      for (auto it = copy.rbegin(); it != copy.rend(); ++it) (*it)->Unlock();
    }
  } unlocker{&locks};
  internal::Park(ThreadState::kBlocked, WaitReason::kSelect, cases[0].channel, &Unlocker::After,
                 &unlocker, &ws, deadline_ns);
  for (SpinLock* l : locks) l->Lock();
  for (int i = 0; i < n; ++i) {
    (cases[i].send ? cases[i].channel->sendq_ : cases[i].channel->recvq_).Remove(&nodes[i]);
  }
  unlock_all();
  int fired = ws.fired;
  if (fired >= 0) cases[fired].ok = nodes[fired].ok;
  return fired;
}

int Select(absl::Span<SelectCase> cases, absl::Duration timeout) {
  for (SelectCase& c : cases) c.ok = false;
  int n = static_cast<int>(cases.size());
  if (timeout <= absl::ZeroDuration()) return SelectImpl(cases.data(), n, 0, true);
  int64_t deadline = 0;
  if (timeout != absl::InfiniteDuration()) {
    deadline = internal::DeadlineFromNow(absl::ToInt64Nanoseconds(timeout));
  }
  return SelectImpl(cases.data(), n, deadline, false);
}

}  // namespace weft::threads
