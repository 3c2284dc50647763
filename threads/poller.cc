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
  int fd;
  uint32_t events;
  WaitState* ws;
  uint64_t token;
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
  OsMutexLock l(&mu_);
  sched_->ReleasePendingWakers(static_cast<int64_t>(regs_.size()));
  regs_.clear();
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
      OsMutexLock l(&mu_);
      auto it = regs_.find(token);
      if (it == regs_.end()) continue;  // the wait timed out and is gone
      WaitState* ws = it->second;
      regs_.erase(it);
      internal::Wake(ws, 0);  // may lose to the timer; either way the wait ends
      sched_->ReleasePendingWakers();
    }
  }
}

void Poller::RegisterAfter(void* p) {
  Frame* f = static_cast<Frame*>(p);
  // Copy first: the deadline timer may already be armed, so the thread may wake and
  // leave Wait at any time ([threads.inv.ready-after-unlock]).
  Poller* self = f->poller;
  int fd = f->fd;
  uint32_t events = f->events;
  uint64_t token;
  {
    OsMutexLock l(&self->mu_);
    token = self->next_token_++;
    f->token = token;
    self->regs_[token] = f->ws;
    self->sched_->pending_wakers_.fetch_add(1);
  }
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.u64 = token;
  int rc = epoll_ctl(self->epfd_, EPOLL_CTL_ADD, fd, &ev);
  if (rc != 0 && errno == EEXIST) rc = epoll_ctl(self->epfd_, EPOLL_CTL_MOD, fd, &ev);
  if (rc != 0) {
    // Not pollable (e.g. a regular file): report it ready; the caller's I/O call
    // will not block or will report the error. The entry still being there means the
    // thread has not left Wait, so its WaitState is alive.
    OsMutexLock l(&self->mu_);
    auto it = self->regs_.find(token);
    if (it != self->regs_.end()) {
      internal::WaitState* ws = it->second;
      self->regs_.erase(it);
      internal::Wake(ws, 0);
      self->sched_->ReleasePendingWakers();
    }
  }
}

bool Poller::Wait(int fd, uint32_t events, int64_t deadline_ns, WaitReason reason) {
  GreenThread* self = internal::CurrentThread();
  WEFT_CHECK(self != nullptr, "weft: fd wait outside a green thread");
  WaitState ws;
  ws.thread = self;
  Frame f{this, fd, events, &ws, 0};
  internal::Park(ThreadState::kBlocked, reason,
                 reinterpret_cast<const void*>(static_cast<intptr_t>(fd)), &RegisterAfter, &f,
                 &ws, deadline_ns);
  {
    OsMutexLock l(&mu_);
    if (regs_.erase(f.token) == 1) sched_->ReleasePendingWakers();
  }
  return ws.fired == 0;
}

}  // namespace weft::threads
