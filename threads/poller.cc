#include "threads/poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/check.h"
#include "threads/scheduler_impl.h"

namespace weft::threads {

using internal::WaitState;

struct Poller::Frame {
  Poller* poller;
  Waiter* w;
};

Poller::Poller(SchedulerImpl* sched) : sched_(sched) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  WEFT_CHECK(epfd_ >= 0, "weft: epoll_create1 failed");
  evfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  WEFT_CHECK(evfd_ >= 0, "weft: eventfd failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  WEFT_CHECK(epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) == 0, "weft: epoll_ctl(eventfd) failed");
  try {
    thread_ = std::thread([this] { Loop(); });
  } catch (...) {
    // The OS refused the thread: the exception reaches the green thread that waited
    // on an fd (SchedulerImpl::poller), which may handle it; close what we opened.
    close(evfd_);
    close(epfd_);
    throw;
  }
}

Poller::~Poller() {
  Stop();
  close(evfd_);
  close(epfd_);
}

void Poller::Stop() {
  if (stopped_) return;
  stopped_ = true;
  uint64_t one = 1;
  (void)!write(evfd_, &one, sizeof(one));
  thread_.join();
  // Run has ended: the waiters still linked belong to abandoned threads, whose frames
  // are never resumed. Release their counts without touching them.
  OsMutexLock l(&mu_);
  if (waiters_ > 0) sched_->ReleasePendingWakers(waiters_);
  waiters_ = 0;
  fds_.clear();
}

void Poller::Link(FdState* st, Waiter* w) {
  w->prev = st->tail;
  w->next = nullptr;
  (st->tail != nullptr ? st->tail->next : st->head) = w;
  st->tail = w;
  w->linked = true;
  ++waiters_;
  sched_->pending_wakers_.fetch_add(1);  // [threads.inv.deadlock]: released by the unlinker
}

void Poller::Unlink(FdState* st, Waiter* w) {
  (w->prev != nullptr ? w->prev->next : st->head) = w->next;
  (w->next != nullptr ? w->next->prev : st->tail) = w->prev;
  w->prev = w->next = nullptr;
  w->linked = false;
  --waiters_;
}

void Poller::WakeAndRelease(Waiter* w) {
  // If the timer claimed the wait, its thread takes mu_ before leaving Wait, so w and
  // its WaitState live until we drop it. If we claim it, the thread may leave Wait as
  // soon as Wake readies it: nothing of w is touched after that.
  internal::Wake(w->ws, 0);
  sched_->ReleasePendingWakers();
}

void Poller::WakeChain(Waiter* w) {
  while (w != nullptr) {
    Waiter* next = w->next;  // before the wake: w may be gone after it
    WakeAndRelease(w);
    w = next;
  }
}

void Poller::Erase(FdState* st) {
  // A closed fd's registration is gone already (EBADF), and a reused number may name
  // a file we never registered (ENOENT): nothing to undo either way.
  const int fd = st->fd;  // st is the slot erased below
  if (st->armed != 0) (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  fds_.erase(fd);
}

Poller::FdState* Poller::StateFor(int fd) {
  auto [it, inserted] = fds_.try_emplace(fd);
  FdState* st = &it->second;
  if (inserted) {
    uint32_t generation = next_generation_++;
    if (next_generation_ == 0) next_generation_ = 1;
    st->fd = fd;
    st->token = static_cast<uint32_t>(fd) | uint64_t{generation} << 32;
  }
  return st;
}

uint32_t Poller::Union(const FdState* st) {
  uint32_t want = 0;
  for (const Waiter* w = st->head; w != nullptr; w = w->next) want |= w->events;
  return want;
}

bool Poller::Arm(FdState* st, uint32_t want) {
  epoll_event ev{};
  ev.events = want | EPOLLONESHOT;
  ev.data.u64 = st->token;
  int op = st->armed == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  int rc = epoll_ctl(epfd_, op, st->fd, &ev);
  if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST) {
    // This number and its file are registered already: an earlier state's
    // registration outlived it (the fd was dup'ed and closed, so its DEL missed, and
    // then dup'ed back). It is this file's: take it over.
    rc = epoll_ctl(epfd_, EPOLL_CTL_MOD, st->fd, &ev);
  }
  if (rc != 0) return false;
  st->armed = want;
  return true;
}

void Poller::Refuse(FdState* st) {
  // Report every waiter ready: its I/O call will not block or will report the error,
  // as for a single waiter before. The registration goes first: a woken thread may
  // close the fd at once (Loop).
  Waiter* chain = st->head;
  for (Waiter* w = chain; w != nullptr; w = w->next) {
    w->linked = false;
    --waiters_;
  }
  st->head = st->tail = nullptr;
  Erase(st);
  WakeChain(chain);
}

void Poller::Sync(FdState* st, bool rearm) {
  uint32_t want = Union(st);
  if (want == 0) {
    Erase(st);
    return;
  }
  if (want == st->armed && !rearm) return;
  // Refused: not pollable (a regular file: EPERM), not open (EBADF), or, for MOD, the
  // registration the waiters relied on is gone (ENOENT: the fd was closed under them,
  // and its number may name another file now).
  if (!Arm(st, want)) Refuse(st);
}

void Poller::Loop() {
  epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epfd_, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      WEFT_CHECK(false, "weft: epoll_wait failed");
    }
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == 0) return;  // Stop
      uint32_t ready = events[i].events;
      OsMutexLock l(&mu_);
      auto it = fds_.find(static_cast<int>(static_cast<uint32_t>(token)));
      // Every waiter of that registration left (and maybe others came since): drop it.
      if (it == fds_.end() || it->second.token != token) continue;
      FdState* st = &it->second;
      // Like poll: every waiter whose events are ready; on an error or hang-up, all.
      bool all = (ready & (EPOLLERR | EPOLLHUP)) != 0;
      Waiter* chain = nullptr;
      Waiter** chain_tail = &chain;
      for (Waiter* w = st->head; w != nullptr;) {
        Waiter* next = w->next;
        if (all || (w->events & ready) != 0) {
          Unlink(st, w);
          *chain_tail = w;
          chain_tail = &w->next;
        }
        w = next;
      }
      // The one-shot registration is disabled now: re-arm it for those left, or drop
      // it, before waking anyone: a woken thread may close the fd at once, and an
      // epoll_ctl after that would act on a closed (or reused) number.
      Sync(st, /*rearm=*/true);
      WakeChain(chain);
    }
  }
}

void Poller::RegisterAfter(void* p) {
  // Runs after the switch ([threads.inv.publish-after-save]). The deadline timer is
  // armed already and may have readied the thread, but Park does not return (and
  // Wait's frame, with f, the waiter and its WaitState, stays) until this has
  // returned ([threads.inv.ready-after-unlock]).
  Frame* f = static_cast<Frame*>(p);
  Poller* self = f->poller;
  Waiter* w = f->w;
  OsMutexLock l(&self->mu_);
  FdState* st = self->StateFor(w->fd);
  if (st->head != nullptr) {
    // The fd has waiters: MOD, even if w adds no event to theirs. When the
    // registration is enabled that changes nothing, and when an event is on its way
    // to Loop, Loop still handles it (a spurious wake of w at worst). But a MOD also
    // tells whether the registration is still there: if the fd was closed under those
    // waiters (epoll dropped it) and its number reused, skipping it would leave w
    // waiting on nothing.
    if (self->Arm(st, Union(st) | w->events)) {
      self->Link(st, w);
      return;
    }
    // Their file is gone: end their waits as ready (before this, they hung), and
    // register w's file afresh.
    self->Refuse(st);
    st = self->StateFor(w->fd);
  }
  self->Link(st, w);
  self->Sync(st, /*rearm=*/false);  // ADD, or a refusal that ends w's wait as ready
}

int64_t Poller::Waiters() {
  OsMutexLock l(&mu_);
  return waiters_;
}

bool Poller::Wait(int fd, uint32_t events, int64_t deadline_ns, WaitReason reason) {
  GreenThread* self = internal::CurrentThread();
  WEFT_CHECK(self != nullptr, "weft: fd wait outside a green thread");
  WaitState ws;
  ws.thread = self;
  Waiter w{&ws, fd, events};
  Frame f{this, &w};
  internal::Park(ThreadState::kBlocked, reason,
                 reinterpret_cast<const void*>(static_cast<intptr_t>(fd)), &RegisterAfter, &f,
                 &ws, deadline_ns);
  // Woken as ready: the waker (Loop, or a refusal in Sync) unlinked us before waking
  // us, releases our count itself and touches nothing of ours after Wake's Ready, so
  // there is nothing to undo and no need for mu_ (which the poller may still hold for
  // its epoll_ctl).
  if (ws.fired == 0) return true;
  // Timed out. A waker may be unlinking us right now and losing the claim to the
  // timer; it holds mu_ while it touches us, so take mu_ before leaving.
  OsMutexLock l(&mu_);
  if (w.linked) {
    // Still linked: leave, and narrow or drop the registration for the waiters left.
    FdState* st = &fds_.find(fd)->second;  // linked: its fd has a state
    Unlink(st, &w);
    sched_->ReleasePendingWakers();
    Sync(st, /*rearm=*/false);
  }
  return false;
}

}  // namespace weft::threads
