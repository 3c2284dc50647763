// park.h: how threads/ primitives block and wake green threads (internal).
//
// A primitive registers the current thread as a waiter under its own lock, then
// Parks with an AfterSwitch that releases that lock. AfterSwitch runs on the
// worker's scheduler stack after the thread's context is saved, so no waker can
// resume a thread whose context is not saved yet ([threads.inv.publish-after-save]).
//
// A wait that several wakers race for (select, timeouts, fd + deadline) uses a
// WaitState: the first to Claim it wakes the thread; the others skip it
// ([threads.inv.wake-once]).
#ifndef WEFT_THREADS_PARK_H_
#define WEFT_THREADS_PARK_H_

#include <atomic>
#include <cstdint>

#include "threads/thread_info.h"

namespace weft::threads {

struct GreenThread;

namespace internal {

using AfterSwitch = void (*)(void* arg);

struct WaitState {
  GreenThread* thread = nullptr;
  std::atomic<bool> claimed{false};
  int fired = -1;  // set by the winner before it readies the thread; -1: timeout
  // Claims never race (only wakers holding the primitive's one lock, or a single
  // waker, can claim it): no CAS needed.
  bool one_lock = false;

  bool Claim() {
    if (one_lock) {
      if (claimed.load(std::memory_order_relaxed)) return false;
      claimed.store(true, std::memory_order_relaxed);
      return true;
    }
    bool expected = false;
    return claimed.compare_exchange_strong(expected, true, std::memory_order_acq_rel);
  }
};

// Monotonic clock in nanoseconds.
int64_t MonoNowNs();
// Coarse (about 4 ms resolution) monotonic clock, for blocked-since times.
int64_t CoarseNowNs();
int64_t DeadlineFromNow(int64_t relative_ns);

// CurrentThread: the running green thread, or nullptr off one. Opaque (never
// inlined) so no caller caches the worker's thread_local across a switch.
GreenThread* CurrentThread();

// Park blocks the current green thread with the given registry state until Ready.
// After the switch, `after(arg)` runs (may be null). With deadline_ns > 0, `ws` must
// be set and a timer claims it (fired = -1) at that monotonic time; the timer is
// armed before `after` runs and cancelled before Park returns.
void Park(ThreadState state, WaitReason reason, const void* object, AfterSwitch after,
          void* arg, WaitState* ws = nullptr, int64_t deadline_ns = 0);

// Ready makes a parked thread runnable. From a worker it goes to that worker's
// run-next slot; from any other OS thread to the global queue.
void Ready(GreenThread* t);

// ReadyAtTail: as Ready, but from a worker of t's scheduler to the tail of that
// worker's local queue rather than its run-next slot ([threads.timers.order]).
void ReadyAtTail(GreenThread* t);

// Wake claims `ws` and readies its thread with `ready`; false if another waker won.
inline bool Wake(WaitState* ws, int fired, void (*ready)(GreenThread*) = &Ready) {
  if (!ws->Claim()) return false;
  ws->fired = fired;
  ready(ws->thread);
  return true;
}

// External wake sources (poller, blocking helpers) count themselves while a wake is
// pending so that deadlock detection does not fire ([threads.inv.deadlock]).
void AddPendingWaker(GreenThread* t, int delta);

}  // namespace internal
}  // namespace weft::threads

#endif  // WEFT_THREADS_PARK_H_
