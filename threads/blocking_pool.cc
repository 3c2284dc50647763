#include "threads/blocking_pool.h"

namespace weft::threads {

BlockingPool::~BlockingPool() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void BlockingPool::Submit(std::function<void()> job) {
  absl::MutexLock l(&mu_);
  jobs_.push_back(std::move(job));
  if (idle_ == 0 && static_cast<int>(threads_.size()) < max_threads_) {
    threads_.emplace_back([this] { Loop(); });
  }
}

void BlockingPool::Loop() {
  absl::MutexLock l(&mu_);
  for (;;) {
    ++idle_;
    mu_.Await(absl::Condition(
        +[](BlockingPool* p) ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->stop_ || !p->jobs_.empty(); },
        this));
    --idle_;
    if (jobs_.empty()) return;  // stop_
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    mu_.Unlock();
    job();
    mu_.Lock();
  }
}

}  // namespace weft::threads
