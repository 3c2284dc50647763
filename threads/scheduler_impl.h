// scheduler_impl.h: the scheduler's internal types (not for use outside threads/).
//
// GreenThread is the control block of one green thread; Worker is one OS worker
// thread with its queues, timers and stack pool; SchedulerImpl holds the global
// queue, the registry, parking and the safepoint protocol. DESIGN.md describes the
// rules; the invariants are cited by tag where they are kept.
#ifndef WEFT_THREADS_SCHEDULER_IMPL_H_
#define WEFT_THREADS_SCHEDULER_IMPL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "threads/os_mutex.h"
#include "heap/arena.h"
#include "runtime/trace_sampler.h"
#include "threads/context.h"
#include "threads/managed_stack.h"
#include "threads/native_stack.h"
#include "threads/overflow.h"
#include "threads/park.h"
#include "threads/run_queue.h"
#include "threads/scheduler.h"
#include "threads/spin_lock.h"
#include "threads/timer_heap.h"

namespace weft::threads {

class SchedulerImpl;
class Worker;
class Poller;
class BlockingPool;

// How many pooled-size stacks a worker allocates at once when its pool and the
// global one are empty ([threads.stacks.prefault]); at most stack_pool_per_worker.
inline constexpr size_t kStackBatch = 16;

struct StackPair {
  NativeStack native;
  ManagedStack managed;
  bool pooled_size = false;  // default sizes: may go back to a pool
};

// [threads.inv.observed-fields] GreenThread::ctx and ::stacks change while other
// workers may read them through the registry (ForEachThread, e.g. GetStats, without
// the world stopped): once a thread is registered, they are written only with
// SetObserved (a relaxed atomic store, a plain move on x86-64) and read by observers
// with LoadObserved; the owning worker may read them plainly.
template <typename T>
inline void SetObserved(T& field, T v) {
  std::atomic_ref<T>(field).store(v, std::memory_order_relaxed);
}
template <typename T>
inline T LoadObserved(const T& field) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

struct GreenThread {
  uint64_t id = 0;
  std::string name;  // empty: the default "thread-<id>" (ThreadName), made on demand
  SchedulerImpl* sched = nullptr;
  ThreadBody body;
  ThreadResult result;
  StackPair* stacks = nullptr;
  RawContext ctx = nullptr;  // saved context while not running
  SanitizerFiber fiber;

  // Registry fields ([threads.inv.registry]); written by the thread's worker.
  std::atomic<ThreadState> state{ThreadState::kRunnable};
  std::atomic<WaitReason> reason{WaitReason::kNone};
  std::atomic<const void*> wait_object{nullptr};
  std::atomic<int64_t> blocked_since_ns{0};
  std::atomic<int> worker{-1};
  // Its current blocking is recorded in the timeline, so its wake is too
  // ([runtime.trace.sample]); set by Park, cleared by the waker, only with tracing on.
  std::atomic<bool> trace_sampled{false};

  // Join protocol ([threads.inv.join]).
  SpinLock join_lock;
  bool done ABSL_GUARDED_BY(join_lock) = false;
  // Written under join_lock and read there by the join protocol; atomic so that
  // observers (ForEachThread, the dumps) can read it without the lock.
  std::atomic<bool> detached{false};
  // [threads.inv.orphans] Thread::Join took the handle: no handle names the thread any
  // more (its joiner owns it). Run deletes a thread left at its end that is joined or
  // detached, and orphans one that is neither.
  bool joined ABSL_GUARDED_BY(join_lock) = false;
  // [threads.inv.orphans] Run ended with this thread's handle still joinable: its
  // stacks and body are gone, it is out of the registry, and the handle alone owns it
  // (Thread::Detach deletes it; nothing reads `sched` any more). Written by Run after
  // the workers stopped; read through the handle.
  bool orphaned = false;
  internal::WaitState* joiner ABSL_GUARDED_BY(join_lock) = nullptr;

  GreenThread* reg_prev = nullptr;  // registry list, under SchedulerImpl::reg_mu_
  GreenThread* reg_next = nullptr;
  GreenThread* next_runnable = nullptr;  // global queue link
  std::vector<void*> locals;             // green-thread local storage

  // Reset: as if newly constructed, for reuse from a worker's pool (cheaper than
  // destroying and constructing). Keep in step with the fields above.
  void Reset() {
    id = 0;
    name.clear();
    sched = nullptr;
    body = nullptr;
    result = ThreadResult{};
    stacks = nullptr;
    ctx = nullptr;
    fiber = SanitizerFiber{};
    state.store(ThreadState::kRunnable, std::memory_order_relaxed);
    reason.store(WaitReason::kNone, std::memory_order_relaxed);
    wait_object.store(nullptr, std::memory_order_relaxed);
    blocked_since_ns.store(0, std::memory_order_relaxed);
    worker.store(-1, std::memory_order_relaxed);
    trace_sampled.store(false, std::memory_order_relaxed);
    done = false;
    detached.store(false, std::memory_order_relaxed);
    joined = false;
    orphaned = false;
    joiner = nullptr;
    reg_prev = reg_next = nullptr;
    next_runnable = nullptr;
    locals.clear();
  }
};

// The thread's name: SpawnOptions::name, or "thread-<id>".
std::string ThreadName(const GreenThread* t);

class Worker {
 public:
  Worker(SchedulerImpl* sched, int index, bool sole)
      : sched_(sched), index_(index), sole_(sole) {}

  void Loop();
  void RunThread(GreenThread* t);
  // Direct switch (DESIGN.md section 2): the running green thread `self` jumps
  // straight to `next`, taken from this worker's own queues by TakeForDirectSwitch;
  // returns when `self` is resumed. The resumed side calls Resumed first, which saves
  // the previous thread's context and runs its after-switch action.
  JumpResult SwitchTo(GreenThread* self, GreenThread* next);
  [[noreturn]] void SwitchToFinal(GreenThread* self, GreenThread* next);  // exit
  // false: take the loop (safepoint, shutdown, mail, fairness, timers). Inline: it
  // is on every yield, block and exit ([threads.inv.attention]).
  bool DirectSwitchOk() {
    if (attention_.load(std::memory_order_acquire) != 0) return false;
    if (__builtin_expect(--poll_countdown_ != 0, 1)) return true;
    return DirectSwitchPoll();
  }
  bool DirectSwitchPoll();  // every kPollPeriod-th direct switch: timers, global queue
  GreenThread* TakeForDirectSwitch() { return DirectSwitchOk() ? TakeLocal() : nullptr; }
  GreenThread* TakeLocal();  // run-next, else the ring's head
  void Resumed(RawContext from);
  void SwitchedOut(GreenThread* t, RawContext from);
  GreenThread* FindWork(bool steal_runnext);
  GreenThread* Spin();
  void Park();
  bool ParkLocked();  // true: timers are due
  void PushLocal(GreenThread* t);
  void PushLocalOverflow(GreenThread* t);
  void ReadyHere(GreenThread* t);
  bool HasLocalWork() const {
    return runnext_.load() != nullptr || !runq_.Empty() || mailbox_size_.load() > 0;
  }
  int RunTimers(int64_t now);

  SchedulerImpl* sched_;
  const int index_;
  // The scheduler's only worker: nobody else touches runq_ and runnext_, so this
  // worker takes from them with plain loads and stores ([threads.inv.sole-worker]).
  const bool sole_;
  std::thread os_thread_;
  LocalRunQueue runq_;
  std::atomic<GreenThread*> runnext_{nullptr};
  TimerHeap timers_;
  // Threads sent here by MigrateTo; only this worker takes them.
  SpinLock mailbox_lock_;
  std::vector<GreenThread*> mailbox_ ABSL_GUARDED_BY(mailbox_lock_);
  std::atomic<int> mailbox_size_{0};
  // [threads.inv.attention] Bits for what only the loop serves: kStopBit while a
  // stop is requested, kShutdownBit while shutting down (both set on every worker by
  // SchedulerImpl::SetStopRequested / SetShutdown, after the flag they mirror), and
  // kMailBit while mailbox_ is not empty (under mailbox_lock_). DirectSwitchOk reads
  // this one word instead of the three sources; the loop reads the sources.
  static constexpr uint32_t kStopBit = 1, kShutdownBit = 2, kMailBit = 4;
  std::atomic<uint32_t> attention_{0};
  // Direct switches until the next look at timers and the global queue.
  static constexpr uint32_t kPollPeriod = 16;
  uint32_t poll_countdown_ = kPollPeriod;
  // Set by DirectSwitchPoll when it declined for the global queue: FindWork takes
  // from it first, whatever tick_ says.
  bool global_turn_ = false;
  RawContext sched_ctx_ = nullptr;
  SanitizerFiber fiber_;
  std::atomic<GreenThread*> current_{nullptr};
  // The green thread whose context the jump in progress saves, when that jump goes
  // straight to another green thread (nullptr: the jump comes from the loop).
  GreenThread* switching_from_ = nullptr;
  internal::AfterSwitch after_fn_ = nullptr;
  void* after_arg_ = nullptr;
  std::vector<StackPair*> pool_;
  std::vector<GreenThread*> thread_pool_;  // reusable control blocks
  // This worker's share of SchedulerStats::spawned and ::live (summed by Stats;
  // written only by this worker, so no read-modify-write instructions).
  std::atomic<uint64_t> spawned_here_{0};
  std::atomic<int64_t> live_delta_{0};
  void AddRelaxed(std::atomic<int64_t>* c, int64_t d) {
    c->store(c->load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  uint32_t tick_ = 0;
  uint64_t rng_ = 0;
  trace::Sampler trace_sampler_;  // which blockings the timeline records
  std::atomic<void*> user_data_{nullptr};
  std::atomic<int64_t> run_started_ns_{0};
  // Switches into a green thread on this worker (written by this worker only).
  std::atomic<uint64_t> switches_{0};
  void CountSwitch() {
    switches_.store(switches_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // A spinner's view of one victim's occupied run-next slot: which victim, its switch
  // count and when first seen so (RunnextStuck).
  bool RunnextStuck(Worker* v);
  Worker* rn_victim_ = nullptr;
  uint64_t rn_switches_ = 0;
  int64_t rn_seen_ns_ = 0;
  AltStack altstack_;

  // Parking and safepoints, under SchedulerImpl::mu_.
  bool parked_ = false;
  bool notified_ = false;
  bool at_safepoint_ = false;
  // NoSwitchBegin/End's count ([threads.inv.no-switch]); only this worker's OS thread
  // touches it, and only while a green thread runs that cannot switch away.
  int no_switch_depth_ = 0;
  bool exited_ = false;  // its loop has ended: it runs nothing more ([threads.inv.stw])
  OsCondVar cv_;
};

class SchedulerImpl {
 public:
  SchedulerImpl(heap::Arena* arena, const SchedulerOptions& options);
  ~SchedulerImpl();

  absl::Status Run(std::function<int64_t()> main);
  GreenThread* Spawn(ThreadBody&& body, const SpawnOptions& options);
  ThreadResult Join(GreenThread* t);
  void Detach(GreenThread* t);

  void ReadyExternal(GreenThread* t);
  // WakeOne: after publishing work that this worker may not run itself (global
  // queue, another worker); pairs with parking ([threads.inv.no-lost-wake]).
  void WakeOne();
  // WakeOneHint: after a running worker readied a thread into its own queues. The
  // worker runs that thread itself at its next switch, so the wake only adds
  // parallelism and needs no StoreLoad fence: plain loads, best effort.
  void WakeOneHint();
  void WakeWorker(Worker* w);
  void GlobalPush(GreenThread* t);
  void GlobalPushBatch(GreenThread** ts, int n);
  GreenThread* GlobalGet(Worker* w);
  bool HasWorkAnywhere() const;

  void StopTheWorld();
  void ResumeTheWorld();
  // SafepointStop counts `w` as stopped until the world resumes. `in_thread`: called
  // by a green thread's poll (not the loop), which passes if it holds the world
  // stopped itself ([threads.inv.poll]).
  void SafepointStop(Worker* w, bool in_thread = false);
  // WatchdogWarning logs that `w` has not stopped, with its thread in the
  // format_thread format. Called under mu_.
  void WatchdogWarning(Worker* w, int64_t waited_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void ForEachThread(const std::function<void(const ThreadInfo&)>& fn) const;
  bool ForEachThreadForFatal(const std::function<void(const ThreadInfo&)>& fn) const;
  // InfoOf: `default_name` holds the made-on-demand default name info.name views.
  ThreadInfo InfoOf(const GreenThread* t, std::string* default_name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reg_mu_);
  std::string DumpThreads() const;
  // FormatThread: one thread in the format_thread format, or the built-in line.
  std::string FormatThread(const ThreadInfo& info, int64_t now) const;

  StackPair* AcquireStacks(Worker* w, size_t native_bytes, size_t managed_max);
  void ReleaseStacks(Worker* w, StackPair* s);
  void FreeStacks(StackPair* s);
  // FinishThread: on the next side of the thread's last switch. `handed_off`: its
  // ThreadEntry already marked it done and claimed its joiner, which runs next.
  void FinishThread(GreenThread* t, bool handed_off);
  void DeleteThread(GreenThread* t);
  // [threads.inv.orphans] At the end of Run, for a thread still named by a joinable
  // handle: Unregister, drop the body, clear `sched`; the handle frees the block.
  void OrphanThread(GreenThread* t);
  // Takes t out of the registry and frees its stacks if it still has them (abandoned).
  void Unregister(GreenThread* t);
  void ThreadRetired(bool attached);

  // Drops `n` pending wakers ([threads.inv.deadlock]). When that leaves none while
  // every worker is parked, nobody else will look again: check for a deadlock here.
  void ReleasePendingWakers(int64_t n = 1);
  // Flags a deadlock (and wakes Run) if every worker is parked, no queue holds work,
  // no timer is armed, no waker is pending and Run still waits for a thread.
  void CheckDeadlockLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Poller* poller();
  BlockingPool* blocking();

  heap::Arena* arena_;
  SchedulerOptions options_;
  int n_workers_;
  NativeStackAllocator native_alloc_;
  ManagedChunkAllocator chunks_;
  std::vector<std::unique_ptr<Worker>> workers_;

  mutable OsMutex gq_mu_;
  GreenThread* gq_head_ ABSL_GUARDED_BY(gq_mu_) = nullptr;
  GreenThread* gq_tail_ ABSL_GUARDED_BY(gq_mu_) = nullptr;
  std::atomic<int64_t> gq_size_{0};

  OsMutex pool_mu_;
  std::vector<StackPair*> global_pool_ ABSL_GUARDED_BY(pool_mu_);

  // Registry list. A SpinLock: held only to link or unlink one thread, except by
  // ForEachThread, which normally runs with the world stopped (no contention).
  mutable SpinLock reg_mu_;
  GreenThread* reg_head_ ABSL_GUARDED_BY(reg_mu_) = nullptr;

  // Parking, safepoints and completion.
  mutable OsMutex mu_;
  OsCondVar run_cv_;
  OsCondVar stw_cv_;
  std::vector<Worker*> idle_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> parked_count_{0};
  std::atomic<int> spinning_{0};
  std::atomic<bool> stop_requested_{false};
  // The worker whose green thread stopped the world (nullptr: none, or the control
  // thread). Under mu_. Its own polls do not stop it ([threads.inv.poll]).
  Worker* stopper_ ABSL_GUARDED_BY(mu_) = nullptr;
  int stopped_ ABSL_GUARDED_BY(mu_) = 0;
  bool deadlock_ ABSL_GUARDED_BY(mu_) = false;
  std::string deadlock_report_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> shutdown_{false};
  bool running_ = false;
  // Store the flag, then mirror it in every worker's attention_ ([threads.inv.attention]).
  void SetStopRequested(bool on);
  void SetShutdown(bool on);
  void SetAttention(uint32_t bit, bool on);

  // [threads.clock]: the registry's blocked-since clock. While a Run is on, the clock
  // thread stores the coarse monotonic time here every kClockTick, except while every
  // worker is parked (it waits; the first worker to unpark stores the time and wakes
  // it). Park reads it instead of the clock: 0 means no clock thread (it could not be
  // started), and Park reads the clock itself.
  static constexpr absl::Duration kClockTick = absl::Milliseconds(4);
  void ClockLoop();
  void StartClock();
  void StopClock();
  std::atomic<int64_t> coarse_now_ns_{0};
  OsCondVar clock_cv_;
  std::thread clock_thread_;

  std::atomic<int64_t> live_{0};
  std::atomic<int64_t> attached_live_{0};
  std::atomic<int64_t> pending_wakers_{0};
  std::atomic<uint64_t> next_id_{1};
  std::atomic<uint64_t> spawned_{0};
  std::atomic<uint64_t> steals_{0};
  std::atomic<uint64_t> parks_{0};

  Scheduler* public_ = nullptr;
  GreenThread* main_ = nullptr;
  ThreadResult main_result_;

  SchedulerImpl* debug_next_ = nullptr;  // weft_debug_schedulers list (scheduler.cc)

  OsMutex ext_mu_;
  std::unique_ptr<Poller> poller_ ABSL_GUARDED_BY(ext_mu_);
  std::unique_ptr<BlockingPool> blocking_ ABSL_GUARDED_BY(ext_mu_);
};

// Runs the destructors of the thread's local-storage values (local_key.cc).
void RunLocalDestructors(GreenThread* t);

namespace internal {
// The worker of the calling OS thread (nullptr off a worker). Opaque.
Worker* CurrentWorker();
}  // namespace internal

}  // namespace weft::threads

#endif  // WEFT_THREADS_SCHEDULER_IMPL_H_
