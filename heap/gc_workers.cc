#include "heap/gc_workers.h"

#include <atomic>
#include <exception>
#include <system_error>

#include "runtime/check.h"
#include "runtime/log.h"

namespace weft::heap {
namespace {

std::atomic<int> fail_thread_start_after{-1};

}  // namespace

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

void GcWorkers::FailThreadStartAfterForTesting(int started) {
  fail_thread_start_after.store(started);
}

int GcWorkers::Start() {
  if (!started_) {
    started_ = true;
    const int fail_after = fail_thread_start_after.exchange(-1);
    helpers_.reserve(threads_ - 1);
    try {
      for (int i = 1; i < threads_; ++i) {
        if (fail_after >= 0 && i > fail_after) {
          throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                                  "injected thread start failure");
        }
        helpers_.emplace_back([this, i] { Loop(i); });
      }
    } catch (const std::exception& e) {
      // A collection is running: it goes on with the threads that did start.
      static std::atomic<bool> logged{false};
      if (!logged.exchange(true)) {
        Log().warn("weft: a GC helper thread could not start ({}); collections trace with {} of "
                   "the {} gc_threads (logged once)",
                   e.what(), helpers_.size() + 1, threads_);
      }
    }
  }
  return static_cast<int>(helpers_.size()) + 1;
}

void GcWorkers::Run(const std::function<void(int)>& task) {
  const int helpers = Start() - 1;
  if (helpers == 0) {
    task(0);
    return;
  }
  {
    MutexLock lock(&mu_);
    WEFT_CHECK(task_ == nullptr, "weft: GcWorkers::Run while a phase is running");
    task_ = &task;
    running_ = helpers;
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
