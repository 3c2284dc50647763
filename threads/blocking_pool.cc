#include "threads/blocking_pool.h"

namespace weft::threads {

BlockingPool::~BlockingPool() {
  std::vector<std::thread> threads;
  {
    OsMutexLock l(&mu_);
    stop_ = true;
    cv_.SignalAll();
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void BlockingPool::Submit(std::function<void()> job) {
  OsMutexLock l(&mu_);
  jobs_.push_back(std::move(job));
  cv_.Signal();
  if (idle_ == 0 && static_cast<int>(threads_.size()) < max_threads_) {
    threads_.emplace_back([this] { Loop(); });
  }
}

void BlockingPool::Loop() {
  OsMutexLock l(&mu_);
  for (;;) {
    ++idle_;
    while (!stop_ && jobs_.empty()) cv_.Wait(&mu_);
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
