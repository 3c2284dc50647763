// io.h: waiting for file descriptors without blocking the worker.
//
// WaitReadable / WaitWritable park the calling green thread until the fd is ready
// (epoll, level-triggered, one shot) or the deadline passes; they return true when
// ready. Any number of green threads may wait on one fd, for reading or writing, each
// with its own deadline: readiness wakes every waiter it matches (an error or
// hang-up wakes all), as poll(2) would report it to each, so true is a hint and the
// I/O call may still find EAGAIN (another waiter took the data). An fd epoll refuses
// (a regular file, a closed fd) is reported ready. The helpers below work on
// non-blocking fds (SetNonBlocking), park on EAGAIN and retry.
#ifndef WEFT_THREADS_IO_H_
#define WEFT_THREADS_IO_H_

#include <sys/types.h>

#include <cstddef>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace weft::threads {

bool WaitReadable(int fd, absl::Time deadline = absl::InfiniteFuture());
bool WaitWritable(int fd, absl::Time deadline = absl::InfiniteFuture());

bool SetNonBlocking(int fd);
// Read: up to n bytes; 0 at end of file; -1 with errno on error.
ssize_t Read(int fd, void* buf, size_t n);
// WriteAll: all n bytes, or -1 with errno.
ssize_t WriteAll(int fd, const void* buf, size_t n);
// Accept: a new non-blocking connection, or -1 with errno.
int Accept(int listen_fd);

}  // namespace weft::threads

#endif  // WEFT_THREADS_IO_H_
