// scheduler.h: Weft's green-thread scheduler, the entry point of threads/.
//
// A Scheduler runs green threads on N worker OS threads. Each green thread owns a
// native stack and a managed stack carved from a heap::Arena the caller owns (and
// which must outlive the Scheduler). Green threads are cooperative: they switch at
// Yield, at every blocking operation of the primitives in threads/ (mutex.h,
// cond_var.h, channel.h, ...), sleeping, I/O waits and RunBlocking.
//
//   auto arena = heap::Arena::Create({});
//   auto sched = threads::Scheduler::Create(*arena, {.workers = 4});
//   absl::Status s = (*sched)->Run([] {
//     threads::Thread t = threads::Spawn([] { return int64_t{42}; });
//     return t.Join().value;
//   });
//
// Run returns once the main green thread and every non-detached green thread have
// finished (detached threads still alive then are abandoned: their stacks are freed
// without unwinding), or with FailedPrecondition when every green thread is blocked
// and nothing (timer, fd, blocking call) can wake one: a deadlock
// ([threads.inv.deadlock]).
//
// The runtime layer above uses the world-stopping API: StopTheWorld (from a green
// thread) returns once every other worker is at a safepoint; then ForEachThread and
// ForEachChannel (channel.h) are exact and managed stacks and channel contents may be
// updated; ResumeTheWorld releases them. See threads/DESIGN.md.
#ifndef WEFT_THREADS_SCHEDULER_H_
#define WEFT_THREADS_SCHEDULER_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "heap/arena.h"
#include "threads/thread_info.h"

namespace weft::threads {

class SchedulerImpl;
struct GreenThread;

struct SchedulerOptions {
  int workers = 0;                                 // 0: one per CPU; [1, 256]
  size_t native_stack_bytes = size_t{64} << 10;   // rounded up to 32 KiB blocks; [32 KiB, 64 MiB]
  size_t managed_stack_max_bytes = size_t{1} << 20;  // [512 B, 1 GiB]
  // Every native stack's lowest page is a guard region where the kernel has them
  // (Linux 6.13+, MADV_GUARD_INSTALL: no mapping split, no limit); else, or with
  // guard_regions false, a PROT_NONE page while guard_page_budget lasts (each one
  // splits the arena's mapping; -1: from vm.max_map_count); else a canary.
  bool guard_regions = true;
  long guard_page_budget = -1;
  int stack_pool_per_worker = 128;  // cached stacks per worker; [0, 1<<20]
  int stack_pool_global = 4096;     // cached stacks shared by all workers; [0, 1<<24]
  absl::Duration spin_before_park = absl::Microseconds(50);  // [0, 1s]
  absl::Duration safepoint_watchdog = absl::Milliseconds(200);  // (0, 1h]
  int blocking_threads_max = 64;   // RunBlocking helpers; [1, 4096]
  // Called on each worker's OS thread when it starts and before it exits.
  std::function<void(int worker)> on_worker_start;
  std::function<void(int worker)> on_worker_stop;
  // Formats one green thread for the deadlock report and the safepoint watchdog: the
  // runtime installs its stack-scan format (threads/ never includes runtime/). It
  // runs with the scheduler's locks held (mu_, then the registry's) and must not call
  // back into the Scheduler. Empty: the built-in one-line format.
  // [threads.hook.format-thread]
  std::function<std::string(const ThreadInfo&)> format_thread;
  // Called once on Run's thread after a deadlock, once every worker has stopped and
  // before the blocked threads are freed: ForEachThread still lists them with their
  // stacks, and nothing runs on them (the runtime writes its Weft core then).
  // [threads.hook.deadlock]
  std::function<void()> on_deadlock;

  // Validate returns InvalidArgument naming the first option out of range.
  absl::Status Validate() const;
};

struct SpawnOptions {
  std::string name;                  // empty: DefaultThreadName(id)
  size_t native_stack_bytes = 0;     // 0: the scheduler's default
  size_t managed_stack_max_bytes = 0;  // 0: the scheduler's default
};

// DefaultThreadName: the name of a thread spawned without one, "thread-<id>".
std::string DefaultThreadName(uint64_t id);

// ThreadBody: what a green thread runs. Move-only, and a callable of up to two words
// (a pointer and a count, a shared_ptr) is kept inline: no allocation per Spawn.
using ThreadBody = absl::AnyInvocable<int64_t()>;

// ThreadResult: how a green thread ended. The runtime may wrap it.
struct ThreadResult {
  int64_t value = 0;
  std::exception_ptr exception;  // set when an exception escaped the body
  bool ok() const { return exception == nullptr; }
};

// Thread: the handle Spawn returns. Move-only. Join or Detach it exactly once;
// destroying a joinable handle is a fatal error (as for std::thread). A joinable
// handle may outlive the Run that ran its thread, and the Scheduler: Run leaves the
// thread's block to it ([threads.inv.orphans]), and only Detach is allowed then. A
// handle never destroyed (one on the stack of a thread abandoned at the end of Run)
// keeps that block for ever, as any object there keeps what it owns.
class Thread {
 public:
  Thread() = default;
  Thread(Thread&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }
  Thread& operator=(Thread&& o) noexcept;
  ~Thread();

  bool joinable() const { return t_ != nullptr; }
  uint64_t id() const;
  // Join blocks the calling green thread until the thread ends; returns its result.
  ThreadResult Join();
  // Detach lets the thread run on; its resources go when it ends.
  void Detach();
  // orphaned: the Run that ran the thread has ended with this handle still joinable
  // (the thread finished, or was abandoned); Join is then a fatal error, and Detach
  // only frees what the thread left ([threads.inv.orphans]).
  bool orphaned() const;

 private:
  friend Thread Spawn(ThreadBody&& body, const SpawnOptions& options);
  explicit Thread(GreenThread* t) : t_(t) {}
  GreenThread* t_ = nullptr;
};

// Spawn starts a green thread on the calling green thread's scheduler. Must be called
// from a green thread. A safepoint. The body is taken by reference and moved once, into
// the thread (a move of a body that is not trivially copyable is an indirect call).
Thread Spawn(ThreadBody&& body, const SpawnOptions& options = {});

struct SchedulerStats {
  uint64_t spawned = 0;
  uint64_t live = 0;
  uint64_t steals = 0;
  uint64_t parks = 0;
  uint64_t context_switches = 0;  // switches into a green thread, on every worker
  uint64_t guarded_stacks = 0;       // native stacks with a PROT_NONE page (process-wide)
  uint64_t guard_region_stacks = 0;  // native stacks with a kernel guard region (process-wide)
  uint64_t fd_waiters = 0;  // fd waits registered with the poller now
};

class Scheduler {
 public:
  // Create validates the options; the arena must outlive the scheduler.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(heap::Arena* arena,
                                                           const SchedulerOptions& options);
  ~Scheduler();

  // Run starts the workers, runs `main` as the first green thread, and returns when it
  // and every non-detached thread have finished; see the file comment. One Run at a
  // time; Run may be called again after it returns.
  absl::Status Run(std::function<int64_t()> main);
  // The result of the last Run's main thread.
  ThreadResult main_result() const;

  // StopTheWorld: from a green thread, or from an OS thread that is not a worker (the
  // runtime's control thread). Returns when every other worker is stopped at a
  // safepoint (or parked), or, for an outside caller, when Run is ending. While stopped, the caller may inspect and update every
  // thread's managed stack and every channel's values. Concurrent requests do not
  // deadlock: one wins, the others stop at their safepoint until it resumes, then
  // stop the world in turn.
  void StopTheWorld();
  void ResumeTheWorld();

  // ForEachThread calls fn for every green thread not yet joined (or, if detached,
  // not yet ended). Exact while the world is stopped.
  void ForEachThread(const std::function<void(const ThreadInfo&)>& fn) const;
  // DumpThreads: "weft: N green threads", then each thread in the format_thread
  // format (or one built-in line per thread). The deadlock report is this text.
  std::string DumpThreads() const;
  // ForEachThreadForFatal: ForEachThread for a fatal-error report, which may run with
  // any lock held and the world half-stopped: it gives up (false) if the registry
  // stays locked for a second, and marks every running thread other than the
  // caller's running_unstopped.
  bool ForEachThreadForFatal(const std::function<void(const ThreadInfo&)>& fn) const;

  int worker_count() const;
  // Per-worker opaque data for the runtime (e.g. its allocation context).
  void SetWorkerData(int worker, void* data);
  void* GetWorkerData(int worker) const;

  SchedulerStats Stats() const;
  const SchedulerOptions& options() const;

 private:
  explicit Scheduler(std::unique_ptr<SchedulerImpl> impl);
  std::unique_ptr<SchedulerImpl> impl_;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_SCHEDULER_H_
