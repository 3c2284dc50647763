#include "heap/gc_workers.h"

#include "runtime/check.h"

namespace weft::heap {

GcWorkers::GcWorkers(int threads) : threads_(threads) {
  WEFT_CHECK(threads >= 2 && threads <= 64, "weft: GcWorkers needs 2..64 threads");
}

GcWorkers::~GcWorkers() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  start_cv_.SignalAll();
  for (std::thread& t : helpers_) t.join();
}

void GcWorkers::Run(const std::function<void(int)>& task) {
  if (helpers_.empty()) {
    helpers_.reserve(threads_ - 1);
    for (int i = 1; i < threads_; ++i) helpers_.emplace_back([this, i] { Loop(i); });
  }
  {
    MutexLock lock(&mu_);
    WEFT_CHECK(task_ == nullptr, "weft: GcWorkers::Run while a phase is running");
    task_ = &task;
    running_ = threads_ - 1;
    ++phase_;
  }
  start_cv_.SignalAll();
  task(0);
  MutexLock lock(&mu_);
  while (running_ > 0) done_cv_.Wait(&mu_);
  task_ = nullptr;
}

void GcWorkers::Loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* task;
    {
      MutexLock lock(&mu_);
      while (!stop_ && phase_ == seen) start_cv_.Wait(&mu_);
      if (stop_) return;
      seen = phase_;
      task = task_;
    }
    (*task)(index);
    MutexLock lock(&mu_);
    if (--running_ == 0) done_cv_.Signal();
  }
}

}  // namespace weft::heap
