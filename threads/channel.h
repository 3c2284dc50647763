// channel.h: Go-style channels between green threads.
//
// Channel<T>(capacity): capacity 0 is unbuffered (a send waits for a receiver and
// hands the value over directly); otherwise up to `capacity` values wait in a FIFO
// buffer. Send returns false when the channel is (or becomes, while waiting) closed;
// Receive returns nullopt once it is closed and drained. Closing twice is fatal.
// Blocked senders and receivers are served FIFO. Select (select.h) waits on several
// channels at once.
//
// For the garbage collector: every channel registers itself; while the world is
// stopped, ForEachChannel visits each one and Channel<T>::ForEachValue visits every
// value the channel holds (buffered values and the values of blocked senders) by
// reference, so they can be updated in place. ChannelCast<T> recovers the typed
// channel.
//
// A receiver names where its value goes with an `Out`, by default std::optional<T>.
// Any type with emplace(T&&) and reset() will do: a receiver that must keep the value
// where a collector sees it from the moment it is handed over (it may be readied
// and not run for a while) passes an Out that writes into such a place
// (runtime/channel.cc [runtime.channels.in-flight]).
#ifndef WEFT_THREADS_CHANNEL_H_
#define WEFT_THREADS_CHANNEL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "absl/functional/function_ref.h"
#include "runtime/check.h"
#include "runtime/fatal_try_lock.h"
#include "threads/spin_lock.h"
#include "threads/wait_queue.h"

namespace weft::threads {

struct SelectCase;
int SelectImpl(SelectCase* cases, int n, int64_t deadline_ns, bool poll_only);

class ChannelBase {
 public:
  // unshared: every operation on this channel runs on one OS thread, or while that
  // thread is stopped (a runtime with one worker, runtime/channel.cc): Send and
  // Receive then take the lock with a plain store ([threads.inv.unshared-lock]).
  explicit ChannelBase(size_t capacity, bool unshared = false);
  virtual ~ChannelBase();
  ChannelBase(const ChannelBase&) = delete;
  ChannelBase& operator=(const ChannelBase&) = delete;

  // Close wakes every blocked sender (their Send returns false) and receiver. False,
  // and nothing changes, when the channel was already closed (a caller's error to
  // report, not a broken invariant).
  bool Close();
  // ForgetWaiters drops every blocked sender and receiver without reading their wait
  // nodes: for a layer above whose threads are all gone with their stacks (abandoned
  // at shutdown).
  void ForgetWaiters();
  bool closed() const;
  size_t capacity() const { return capacity_; }
  bool unshared() const { return unshared_; }

  virtual const std::type_info& value_type() const = 0;
  // ForEachValuePtr calls fn(T*) for every value held; takes the channel's lock.
  virtual void ForEachValuePtr(absl::FunctionRef<void(void*)> fn) = 0;

 protected:
  friend int SelectImpl(SelectCase* cases, int n, int64_t deadline_ns, bool poll_only);
  friend void ForEachChannel(absl::FunctionRef<void(ChannelBase&)> fn);

  // Under lock_: complete a send of *value (moved from) or a receive into *out
  // (std::optional<T>*) if possible now; *ok is false when it completed because the
  // channel is closed.
  virtual bool TrySendLocked(void* value, bool* ok, internal::ReadyList* ready) = 0;
  virtual bool TryReceiveLocked(void* out, bool* ok, internal::ReadyList* ready) = 0;
  // Under lock_: reset a blocked receiver's *out (a close completes it empty).
  virtual void ResetOutLocked(void* out) = 0;
  // Blocks the calling green thread on one queue; returns the node's ok.
  bool Block(internal::WaitQueue* q, void* value, bool send);
  static void Complete(internal::WaitNode* n, bool ok, internal::ReadyList* ready);

  // LockQueues takes lock_ for Send and Receive, as the channel was made to. Other
  // takers (Select, Close, collections, reports) use lock_.Lock(), which is correct
  // either way.
  void LockQueues() const ABSL_EXCLUSIVE_LOCK_FUNCTION(lock_) {
    if (unshared_) {
      lock_.LockUnshared();
    } else {
      lock_.Lock();
    }
  }

  mutable SpinLock lock_;
  const bool unshared_;
  internal::WaitQueue recvq_ ABSL_GUARDED_BY(lock_);
  internal::WaitQueue sendq_ ABSL_GUARDED_BY(lock_);
  bool closed_ ABSL_GUARDED_BY(lock_) = false;
  const size_t capacity_;

 private:
  ChannelBase* reg_prev_ = nullptr;
  ChannelBase* reg_next_ = nullptr;
};

// ForEachChannel visits every live channel (while the world is stopped, for exact
// results). fn must not create or destroy channels.
void ForEachChannel(absl::FunctionRef<void(ChannelBase&)> fn);

// Not final, so that a layer above can keep its own fields with a channel; its own
// calls of the Try*Locked hooks are qualified (no virtual dispatch).
template <typename T, typename Out = std::optional<T>>
class Channel : public ChannelBase {
 public:
  explicit Channel(size_t capacity = 0, bool unshared = false) : ChannelBase(capacity, unshared) {}

  bool Send(T value) {
    internal::ReadyList ready;
    LockQueues();
    bool ok;
    if (Channel::TrySendLocked(&value, &ok, &ready)) {
      lock_.Unlock();
      return ok;
    }
    return Block(&sendq_, &value, true);
  }
  std::optional<T> Receive()
    requires std::is_same_v<Out, std::optional<T>>
  {
    std::optional<T> out;
    ReceiveInto(&out);
    return out;
  }
  // ReceiveInto: as Receive, into *out (emplaced); false (and out reset) once the
  // channel is closed and drained.
  bool ReceiveInto(Out* out) {
    internal::ReadyList ready;
    LockQueues();
    bool ok;
    if (Channel::TryReceiveLocked(out, &ok, &ready)) {
      lock_.Unlock();
      return ok;
    }
    return Block(&recvq_, out, false);
  }
  // TrySend: sends only if it can without blocking; the value is moved from only on
  // success. False when it would block or the channel is closed.
  bool TrySend(T& value) {
    internal::ReadyList ready;
    SpinLockHolder h(&lock_);
    bool ok;
    return Channel::TrySendLocked(&value, &ok, &ready) && ok;
  }
  std::optional<T> TryReceive()
    requires std::is_same_v<Out, std::optional<T>>
  {
    std::optional<T> out;
    internal::ReadyList ready;
    SpinLockHolder h(&lock_);
    bool ok;
    Channel::TryReceiveLocked(&out, &ok, &ready);
    return out;
  }
  size_t size() const {
    SpinLockHolder h(&lock_);
    return buf_.size();
  }

  // ForEachValue calls fn(T&) for every buffered value (oldest first), then for the
  // value of every blocked sender. Takes the channel's lock.
  template <typename Fn>
  void ForEachValue(Fn&& fn) {
    SpinLockHolder h(&lock_);
    ForEachValueLocked(fn);
  }

  // The channel's own type: ChannelCast<T, Out> matches exactly.
  const std::type_info& value_type() const override { return typeid(Channel); }
  // ForEachValueForFatal: ForEachValue for a fatal report, which never blocks on a lock
  // the failing code may hold (TryLockForFatal); false, visiting nothing, when the
  // channel's lock stayed held.
  template <typename Fn>
  bool ForEachValueForFatal(Fn&& fn) {
    if (!TryLockForFatal(lock_)) return false;
    ForEachValueLocked(fn);
    lock_.Unlock();
    return true;
  }
  void ForEachValuePtr(absl::FunctionRef<void(void*)> fn) override {
    ForEachValue([&](T& v) { fn(&v); });
  }

 private:
  template <typename Fn>
  void ForEachValueLocked(Fn& fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_) {
    for (T& v : buf_) fn(v);
    sendq_.ForEach([&](internal::WaitNode* n) { fn(*static_cast<T*>(n->value)); });
  }
  bool TrySendLocked(void* v, bool* ok, internal::ReadyList* ready) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_) {
    T& value = *static_cast<T*>(v);
    if (closed_) {
      *ok = false;
      return true;
    }
    if (internal::WaitNode* n = recvq_.PopClaimed()) {
      static_cast<Out*>(n->value)->emplace(std::move(value));
      Complete(n, true, ready);
      *ok = true;
      return true;
    }
    if (capacity_ != 0 && buf_.size() < capacity_) {  // a deque's size is not one load
      buf_.push_back(std::move(value));
      *ok = true;
      return true;
    }
    return false;
  }
  bool TryReceiveLocked(void* o, bool* ok, internal::ReadyList* ready) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_) {
    Out& out = *static_cast<Out*>(o);
    if (!buf_.empty()) {
      out.emplace(std::move(buf_.front()));
      buf_.pop_front();
      if (internal::WaitNode* n = sendq_.PopClaimed()) {
        buf_.push_back(std::move(*static_cast<T*>(n->value)));
        Complete(n, true, ready);
      }
      *ok = true;
      return true;
    }
    if (internal::WaitNode* n = sendq_.PopClaimed()) {
      out.emplace(std::move(*static_cast<T*>(n->value)));
      Complete(n, true, ready);
      *ok = true;
      return true;
    }
    if (closed_) {
      out.reset();
      *ok = false;
      return true;
    }
    return false;
  }
  void ResetOutLocked(void* o) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(lock_) {
    static_cast<Out*>(o)->reset();
  }

  std::deque<T> buf_ ABSL_GUARDED_BY(lock_);
};

// ChannelCast returns the typed channel, or nullptr if it is another type.
template <typename T, typename Out = std::optional<T>>
Channel<T, Out>* ChannelCast(ChannelBase* c) {
  return c->value_type() == typeid(Channel<T, Out>) ? static_cast<Channel<T, Out>*>(c) : nullptr;
}

}  // namespace weft::threads

#endif  // WEFT_THREADS_CHANNEL_H_
