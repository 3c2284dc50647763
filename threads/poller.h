// poller.h: fd readiness through epoll, one poller OS thread per scheduler (internal).
//
// Any number of green threads may wait on one fd at once, each for its own events
// (EPOLLIN, EPOLLOUT) and with its own deadline (DESIGN.md section 3a,
// [threads.inv.fd-waiters]). Under mu_ the poller keeps, per fd with waiters, the list
// of waiters (nodes in their Wait frames) and one epoll registration: the union of
// their events, EPOLLONESHOT, with the fd and a generation as data. A waiter links
// itself and adds or modifies the registration from its AfterSwitch, so the poller
// never sees a thread whose context is not saved ([threads.inv.publish-after-save]).
// The poller thread blocks in epoll_wait; for an event it unlinks every waiter whose
// events are in the ready set (all of them on EPOLLERR/EPOLLHUP), re-arms the
// registration for the rest or deletes it when none is left, and then wakes the
// unlinked ones (through the global queue), like poll(2) reporting to each caller.
// A waiter that times out unlinks itself and narrows or deletes the registration.
// Whoever unlinks a waiter releases its pending-waker count, once
// ([threads.inv.deadlock]); a waiter still linked when it leaves Park unlinks itself
// under mu_ before Wait returns, so a late event never touches a finished wait, and an
// event whose generation is not that of the fd's live state is dropped. An fd epoll
// refuses (a regular file: EPERM; not open: EBADF; closed under its waiters: ENOENT)
// ends every wait on it as ready.
#ifndef WEFT_THREADS_POLLER_H_
#define WEFT_THREADS_POLLER_H_

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "threads/os_mutex.h"
#include "threads/park.h"

namespace weft::threads {

class SchedulerImpl;

class Poller {
 public:
  explicit Poller(SchedulerImpl* sched);
  ~Poller();
  void Stop();

  // Wait parks the calling green thread until `events` (EPOLLIN/EPOLLOUT) on fd or
  // the monotonic deadline (0: none). True when ready, false on timeout. Readiness
  // wakes every waiter of the fd whose events it matches, as poll(2) reports it to
  // each caller, so it may be gone by the time the thread runs (another waiter read
  // the data): callers retry on EAGAIN.
  bool Wait(int fd, uint32_t events, int64_t deadline_ns, WaitReason reason);
  // Waiters: the waits registered now (a wait counts from its registration, made by
  // its after-switch action, until it is woken or times out).
  int64_t Waiters();

 private:
  // A waiting thread, in its Wait frame; linked on its fd's list under mu_.
  struct Waiter {
    internal::WaitState* ws;
    int fd;
    uint32_t events;
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    bool linked = false;
  };
  // An fd with waiters and its epoll registration.
  struct FdState {
    int fd = -1;
    uint64_t token = 0;  // the registration's epoll data: fd | generation << 32
    // Events of the registration (with EPOLLONESHOT); 0: not in epoll. Either the
    // registration is enabled with them, or epoll delivered an event for it that the
    // poller has not handled yet (and will re-arm after).
    uint32_t armed = 0;
    Waiter* head = nullptr;  // oldest first
    Waiter* tail = nullptr;
  };
  struct Frame;
  static void RegisterAfter(void* frame);
  void Loop();
  void Link(FdState* st, Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unlink(FdState* st, Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // StateFor: fd's state, made (with a new generation) if it has none.
  FdState* StateFor(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static uint32_t Union(const FdState* st);  // under mu_
  // Arm: epoll_ctl ADD (st has no registration; EEXIST, a registration of this
  // number's file that outlived an earlier state, is taken over) or MOD to `want`;
  // false if refused.
  bool Arm(FdState* st, uint32_t want) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refuse ends every wait on st as ready and erases st.
  void Refuse(FdState* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sync makes st's registration the union of its waiters' events (re-arming it even
  // if unchanged when `rearm`), deletes it and st when none is left, and on a refusal
  // ends every wait on st as ready. st may be gone afterwards.
  void Sync(FdState* st, bool rearm) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // WakeAndRelease ends w's wait as ready (unless its timer won) and releases its
  // pending-waker count; w must be unlinked already.
  void WakeAndRelease(Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // WakeChain: WakeAndRelease for unlinked waiters chained through `next`, in order.
  void WakeChain(Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Erase(FdState* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  SchedulerImpl* sched_;
  int epfd_ = -1;
  int evfd_ = -1;
  std::thread thread_;
  OsMutex mu_;
  // Fds with at least one waiter. An FdState* is used only within one hold of mu_
  // with no insertion in between (erasing does not move the others).
  absl::flat_hash_map<int, FdState> fds_ ABSL_GUARDED_BY(mu_);
  // A new FdState's generation, which tells its events from those of an earlier
  // registration of the same fd; never 0, so no token is the eventfd's 0.
  uint32_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t waiters_ ABSL_GUARDED_BY(mu_) = 0;  // linked waiters, each a pending waker
  bool stopped_ = false;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_POLLER_H_
