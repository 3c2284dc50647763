// gc_workers.h: GcWorkers, the OS threads that trace beside the collecting thread
// ([heap.collect.parallel]).
//
// The collecting thread is one of a collection's tracers; GcWorkers adds threads - 1
// helpers, started at the first parallel phase and parked on a condition variable
// between phases (an idle heap costs no CPU). The heap owns one; ~GcWorkers stops and
// joins its threads.
//
// Starting a helper can fail (the process's thread limit, `ulimit -v`): the
// collection that asked for it is already running with the world stopped, so the
// failure is logged once and the phases run with the threads that did start, down
// to the collecting thread alone. Nothing is thrown out of a collection.
#ifndef WEFT_HEAP_GC_WORKERS_H_
#define WEFT_HEAP_GC_WORKERS_H_

#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "heap/mutex.h"

namespace weft::heap {

class GcWorkers {
 public:
  // `threads` in [2, 64]: the collecting thread and threads - 1 helpers.
  explicit GcWorkers(int threads);
  ~GcWorkers();
  GcWorkers(const GcWorkers&) = delete;
  GcWorkers& operator=(const GcWorkers&) = delete;

  // threads: how many threads were asked for.
  int threads() const { return threads_; }
  // Start starts the helpers, once (later calls return at once), and returns how
  // many threads the phases run on: threads() unless some helper failed to start.
  int Start();
  // Run calls task(i) for every i in [0, Start()), task(0) on the calling thread
  // and the others on the helpers, and returns once every call has returned. Not
  // reentrant: one phase at a time.
  void Run(const std::function<void(int)>& task);

  // Testing: the next Start fails to start helpers after `started` of them, as
  // std::thread does when the OS refuses a thread (-1: no failure, the default).
  static void FailThreadStartAfterForTesting(int started);

 private:
  void Loop(int index);

  const int threads_;
  bool started_ = false;  // Start has run
  Mutex mu_;
  CondVar start_cv_;
  CondVar done_cv_;
  const std::function<void(int)>* task_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t phase_ ABSL_GUARDED_BY(mu_) = 0;    // bumped by every Run
  int running_ ABSL_GUARDED_BY(mu_) = 0;       // helpers still in this phase's task
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> helpers_;            // started by the first Start
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_GC_WORKERS_H_
