// poller.h: fd readiness through epoll, one poller OS thread per scheduler (internal).
//
// A waiting thread registers (fd, events) with EPOLLONESHOT from its AfterSwitch, so
// the poller never sees a thread whose context is not saved
// ([threads.inv.publish-after-save]). The poller thread blocks in epoll_wait and
// readies the waiter through the global queue. Registrations are keyed by a token
// under mu_, and the waiter erases its own token before returning, so a late event
// never touches a finished wait. One waiter per fd at a time.
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
  // the monotonic deadline (0: none). True when ready, false on timeout.
  bool Wait(int fd, uint32_t events, int64_t deadline_ns, WaitReason reason);

 private:
  struct Frame;
  static void RegisterAfter(void* frame);
  void Loop();

  SchedulerImpl* sched_;
  int epfd_ = -1;
  int evfd_ = -1;
  std::thread thread_;
  OsMutex mu_;
  absl::flat_hash_map<uint64_t, internal::WaitState*> regs_ ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopped_ = false;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_POLLER_H_
