#include "threads/blocking_pool.h"

#include <system_error>

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
  {
    OsMutexLock l(&mu_);
    if (idle_ == 0 && static_cast<int>(threads_.size()) < max_threads_) {
      try {
        threads_.emplace_back([this] { Loop(); });
      } catch (const std::system_error&) {
        // The OS refused a helper thread (e.g. under `ulimit -v`): the helpers there
        // are will take the job in turn.
      }
    }
    if (!threads_.empty()) {
      jobs_.push_back(std::move(job));
      cv_.Signal();
      return;
    }
  }
  // No helper at all: run the job on the caller. That stalls the caller's worker for
  // the call, but never loses the job or ends the process.
  job();
}

size_t BlockingPool::Busy() {
  OsMutexLock l(&mu_);
  return jobs_.size() + (threads_.size() - static_cast<size_t>(idle_));
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
