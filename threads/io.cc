#include "threads/io.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/check.h"
#include "threads/poller.h"
#include "threads/scheduler_impl.h"

namespace weft::threads {
namespace {

bool WaitFd(int fd, uint32_t events, absl::Time deadline, WaitReason reason) {
  GreenThread* self = internal::CurrentThread();
  WEFT_CHECK(self != nullptr, "weft: fd wait outside a green thread");
  int64_t dl = 0;
  if (deadline != absl::InfiniteFuture()) {
    dl = internal::DeadlineFromNow(absl::ToInt64Nanoseconds(deadline - absl::Now()));
    if (dl <= 0) dl = 1;
  }
  return self->sched->poller()->Wait(fd, events, dl, reason);
}

}  // namespace

bool WaitReadable(int fd, absl::Time deadline) {
  return WaitFd(fd, EPOLLIN | EPOLLRDHUP, deadline, WaitReason::kFdReadable);
}

bool WaitWritable(int fd, absl::Time deadline) {
  return WaitFd(fd, EPOLLOUT, deadline, WaitReason::kFdWritable);
}

bool SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

ssize_t Read(int fd, void* buf, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    WaitReadable(fd);
  }
}

ssize_t WriteAll(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  size_t left = n;
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w >= 0) {
      p += w;
      left -= static_cast<size_t>(w);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    WaitWritable(fd);
  }
  return static_cast<ssize_t>(n);
}

int Accept(int listen_fd) {
  for (;;) {
    int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) return c;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    WaitReadable(listen_fd);
  }
}

}  // namespace weft::threads
