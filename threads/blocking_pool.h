// blocking_pool.h: helper OS threads for blocking native calls (internal).
//
// Jobs run in submission order on up to `max_threads` helpers, started on demand and
// kept (idle) until the pool is destroyed. Destroying the pool runs every job still
// queued and waits for the jobs running ([threads.inv.blocking-at-shutdown]).
#ifndef WEFT_THREADS_BLOCKING_POOL_H_
#define WEFT_THREADS_BLOCKING_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "threads/os_mutex.h"

namespace weft::threads {

class BlockingPool {
 public:
  explicit BlockingPool(int max_threads) : max_threads_(max_threads) {}
  ~BlockingPool();
  void Submit(std::function<void()> job);
  // Busy: jobs queued or running now.
  size_t Busy();

 private:
  void Loop();
  const int max_threads_;
  OsMutex mu_;
  OsCondVar cv_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_BLOCKING_POOL_H_
