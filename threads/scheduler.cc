#include "threads/scheduler.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/check.h"
#include "runtime/fatal_try_lock.h"
#include "runtime/log.h"
#include "runtime/stderr_write.h"
#include "runtime/trace.h"
#include "threads/blocking_pool.h"
#include "threads/overflow.h"
#include "threads/poller.h"
#include "threads/scheduler_impl.h"
#include "threads/this_thread.h"
#include "threads/wait_queue.h"

#if defined(WEFT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace weft::threads {

namespace bctx = boost::context::detail;
using internal::WaitState;

// ---------------------------------------------------------------------------
// Names.

const char* ThreadStateName(ThreadState s) {
  switch (s) {
    case ThreadState::kRunnable: return "runnable";
    case ThreadState::kRunning: return "running";
    case ThreadState::kBlocked: return "blocked";
    case ThreadState::kSleeping: return "sleeping";
    case ThreadState::kDone: return "done";
  }
  return "unknown";
}

const char* WaitReasonName(WaitReason r) {
  switch (r) {
    case WaitReason::kNone: return "none";
    case WaitReason::kYield: return "yield";
    case WaitReason::kMutex: return "mutex";
    case WaitReason::kCondVar: return "condvar";
    case WaitReason::kChannelSend: return "channel send";
    case WaitReason::kChannelReceive: return "channel receive";
    case WaitReason::kSelect: return "select";
    case WaitReason::kSleep: return "sleep";
    case WaitReason::kJoin: return "join";
    case WaitReason::kWaitGroup: return "waitgroup";
    case WaitReason::kSemaphore: return "semaphore";
    case WaitReason::kFdReadable: return "fd readable";
    case WaitReason::kFdWritable: return "fd writable";
    case WaitReason::kBlockingCall: return "blocking call";
  }
  return "unknown";
}

// Timeline events ([runtime.trace]).
namespace {
const char* WaitReasonDetail(uint8_t r) { return WaitReasonName(static_cast<WaitReason>(r)); }
constexpr trace::Kind kSpawnKind{"threads", "spawn"};
constexpr trace::Kind kBlockKind{"threads", "block", &WaitReasonDetail};
constexpr trace::Kind kWakeKind{"threads", "wake", &WaitReasonDetail};
constexpr trace::Kind kWorkerParkedKind{"threads", "worker-parked"};
constexpr trace::Kind kSafepointStopKind{"threads", "safepoint-stop"};

// The wake of `t`, made runnable, if its blocking was recorded ([runtime.trace.sample]).
inline void TraceWake(GreenThread* t) {
  if (trace::Enabled() && t->trace_sampled.load(std::memory_order_relaxed)) {
    t->trace_sampled.store(false, std::memory_order_relaxed);
    WaitReason why = t->reason.load(std::memory_order_relaxed);
    trace::Instant(kWakeKind, t->id, static_cast<uint8_t>(why));
  }
}
}  // namespace

// ---------------------------------------------------------------------------
// Options.

absl::Status SchedulerOptions::Validate() const {
  auto bad = [](const char* name, const std::string& range) {
    return absl::InvalidArgumentError(
        absl::StrCat("SchedulerOptions.", name, " out of range: must be in ", range));
  };
  if (workers < 0 || workers > 256) return bad("workers", "[0, 256] (0: one per CPU)");
  if (native_stack_bytes < heap::kBlockSize || native_stack_bytes > (size_t{64} << 20)) {
    return bad("native_stack_bytes", "[32768, 67108864]");
  }
  if (managed_stack_max_bytes < kMinManagedStackBytes ||
      managed_stack_max_bytes > (size_t{1} << 30)) {
    return bad("managed_stack_max_bytes", "[512, 1073741824]");
  }
  if (guard_page_budget < -1) return bad("guard_page_budget", "[-1, inf) (-1: automatic)");
  if (stack_pool_per_worker < 0 || stack_pool_per_worker > (1 << 20)) {
    return bad("stack_pool_per_worker", "[0, 1048576]");
  }
  if (stack_pool_global < 0 || stack_pool_global > (1 << 24)) {
    return bad("stack_pool_global", "[0, 16777216]");
  }
  if (spin_before_park < absl::ZeroDuration() || spin_before_park > absl::Seconds(1)) {
    return bad("spin_before_park", "[0, 1s]");
  }
  if (safepoint_watchdog <= absl::ZeroDuration() || safepoint_watchdog > absl::Hours(1)) {
    return bad("safepoint_watchdog", "(0, 1h]");
  }
  if (blocking_threads_max < 1 || blocking_threads_max > 4096) {
    return bad("blocking_threads_max", "[1, 4096]");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Current worker and thread. Opaque on purpose: a green thread may resume on another
// OS thread after any switch, so no caller may keep the thread_local's address
// ([threads.inv.no-tls-across-switch]).

namespace {
thread_local Worker* tls_worker = nullptr;

// [threads.inv.no-switch]: the one check of every way a green thread leaves its CPU.
inline void CheckSwitchAllowed(const Worker* w) {
  WEFT_CHECK(w->no_switch_depth_ == 0,
             "weft: a green thread blocked, yielded or stopped inside a NoSafepointScope");
}

// After-switch actions short enough to run on the next green thread's stack
// (section 2 of DESIGN.md); defined below.
void YieldAfter(void* p);
void UnlockAfter(void* p);
}  // namespace

namespace internal {

__attribute__((noinline)) Worker* CurrentWorker() {
  asm volatile("" ::: "memory");
  return tls_worker;
}

__attribute__((noinline)) GreenThread* CurrentThread() {
  asm volatile("" ::: "memory");
  Worker* w = tls_worker;
  return w == nullptr ? nullptr : w->current_.load(std::memory_order_relaxed);
}

int64_t MonoNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Millisecond-resolution clock for the registry's blocked-since times, read by the
// clock thread ([threads.clock]) rather than by every park: a few ns (vDSO, no TSC
// read), but two of them were about 8 % of a ping-pong round trip.
int64_t CoarseNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t DeadlineFromNow(int64_t relative_ns) {
  if (relative_ns < 0) relative_ns = 0;
  int64_t now = MonoNowNs();
  if (relative_ns > TimerHeap::kNever - now) return TimerHeap::kNever - 1;
  return now + relative_ns;
}

// Worker currently running `t`'s code: the caller's own worker.
namespace {

struct ParkFrame {
  AfterSwitch after;
  void* arg;
  WaitState* ws;
  TimerNode timer;
  GreenThread* self;
  std::atomic<bool> after_done{false};
};

// Runs on the scheduler stack: arm the timer first, then release the caller's lock
// ([threads.inv.publish-after-save]).
void ParkAfter(void* p) {
  ParkFrame* f = static_cast<ParkFrame*>(p);
  // Copy first: once the timer is armed it may fire, and the thread run and leave
  // Park, at once ([threads.inv.ready-after-unlock]).
  AfterSwitch after = f->after;
  void* arg = f->arg;
  if (f->timer.deadline_ns > 0) {
    f->self->sched->pending_wakers_.fetch_add(1);
    CurrentWorker()->timers_.Add(&f->timer);
  }
  if (after != nullptr) after(arg);
  // Last touch of the frame: Park does not return before it.
  f->after_done.store(true, std::memory_order_release);
}

}  // namespace

namespace {
void NoAfter(void*) {}
}  // namespace


void Park(ThreadState state, WaitReason reason, const void* object, AfterSwitch after,
          void* arg, WaitState* ws, int64_t deadline_ns) {
  Worker* w = CurrentWorker();
  WEFT_CHECK(w != nullptr, "weft: blocking threads/ call outside a green thread");
  CheckSwitchAllowed(w);
  GreenThread* self = w->current_.load(std::memory_order_relaxed);
  self->reason.store(reason, std::memory_order_relaxed);
  self->wait_object.store(object, std::memory_order_relaxed);
  if (state != ThreadState::kRunnable) {
    // [threads.clock]: the clock thread's time, not a clock read per park.
    int64_t now = w->sched_->coarse_now_ns_.load(std::memory_order_relaxed);
    self->blocked_since_ns.store(now != 0 ? now : CoarseNowNs(), std::memory_order_relaxed);
  }
  // [runtime.trace.off-cost]: the arguments are computed inside the branch.
  // [runtime.trace.sample]: the choice travels with the thread to its waker, so it is
  // made before the thread is published.
  if (trace::Enabled() && state != ThreadState::kRunnable) {
    bool sampled = w->trace_sampler_.Take();
    self->trace_sampled.store(sampled, std::memory_order_relaxed);
    if (sampled) {
      w->trace_sampler_.Recorded(trace::SampledInstant(
          kBlockKind, self->id, static_cast<uint8_t>(reason), w->trace_sampler_.period()));
    }
  }
  self->state.store(state, std::memory_order_release);
  if (deadline_ns == 0 && (after == nullptr || after == &UnlockSpinAfter ||
                           after == &YieldAfter || after == &UnlockAfter)) {
    // Fast path: a short action that touches nothing of this frame (its last access
    // is the store that publishes the thread), so it needs no ParkFrame and Park need
    // not wait for it. Switch directly to a runnable thread of this worker if there
    // is one (the action then runs on that thread's stack, in Resumed), else
    // through the loop, which also serves every safepoint and fairness turn
    // TakeForDirectSwitch declines.
    w->after_fn_ = after != nullptr ? after : &NoAfter;
    w->after_arg_ = arg;
    GreenThread* next = w->TakeForDirectSwitch();
    JumpResult r = next != nullptr ? w->SwitchTo(self, next)
                                   : Jump(w->sched_ctx_, nullptr, &self->fiber, w->fiber_);
    // Resumed, possibly on another worker: by its loop, or directly by the thread
    // that ran there before us, whose after-switch action Resumed runs.
    static_cast<Worker*>(r.data)->Resumed(r.from);
  } else {
    ParkFrame frame{after, arg, ws, TimerNode{}, self, {}};
    if (deadline_ns > 0) {
      WEFT_CHECK(ws != nullptr, "weft: Park with a deadline needs a WaitState");
      frame.timer.deadline_ns = deadline_ns;
      frame.timer.arg = ws;
    }
    w->after_fn_ = &ParkAfter;
    w->after_arg_ = &frame;
    JumpResult r = Jump(w->sched_ctx_, nullptr, &self->fiber, w->fiber_);
    static_cast<Worker*>(r.data)->Resumed(r.from);
    // A waker may have resumed us on another worker while the after-switch action
    // is still running on the old one; it uses this frame until it says it is done
    // ([threads.inv.ready-after-unlock]).
    while (!frame.after_done.load(std::memory_order_acquire)) __builtin_ia32_pause();
    if (deadline_ns > 0 && TimerHeap::Cancel(&frame.timer)) {
      self->sched->ReleasePendingWakers();
    }
  }
  self->blocked_since_ns.store(0, std::memory_order_relaxed);
  self->reason.store(WaitReason::kNone, std::memory_order_relaxed);
  self->wait_object.store(nullptr, std::memory_order_relaxed);
}

void Ready(GreenThread* t) {
  Worker* w = CurrentWorker();
  TraceWake(t);
  t->state.store(ThreadState::kRunnable, std::memory_order_relaxed);
  if (w != nullptr && w->sched_ == t->sched) {
    w->ReadyHere(t);
  } else {
    t->sched->ReadyExternal(t);
  }
}

void ReadyAtTail(GreenThread* t) {
  Worker* w = CurrentWorker();
  if (w == nullptr || w->sched_ != t->sched) {
    Ready(t);
    return;
  }
  TraceWake(t);
  t->state.store(ThreadState::kRunnable, std::memory_order_relaxed);
  w->PushLocal(t);
  if (!w->sole_) w->sched_->WakeOneHint();
}

void UnlockSpinAfter(void* l) { static_cast<SpinLock*>(l)->Unlock(); }

void AddPendingWaker(GreenThread* t, int delta) {
  if (delta >= 0) {
    t->sched->pending_wakers_.fetch_add(delta);
  } else {
    t->sched->ReleasePendingWakers(-delta);
  }
}

}  // namespace internal

using internal::CurrentThread;
using internal::CurrentWorker;
using internal::MonoNowNs;

// ---------------------------------------------------------------------------
// Thread entry and exit.

std::string DefaultThreadName(uint64_t id) {
  return std::string("thread-").append(DecimalDigits(id).view());
}

std::string ThreadName(const GreenThread* t) {
  if (!t->name.empty()) return t->name;
  return DefaultThreadName(t->id);
}

namespace {

void LogUncaught(GreenThread* self) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(self->result.exception);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  Log().error("green thread '{}' (id {}) ended with an uncaught exception: {}", ThreadName(self),
              self->id, what);
}

void FinishAfter(void* p) {
  GreenThread* t = static_cast<GreenThread*>(p);
  t->sched->FinishThread(t, /*handed_off=*/false);
}

// The exit of a thread that handed off to its joiner, which runs next.
void FinishHandedOffAfter(void* p) {
  GreenThread* t = static_cast<GreenThread*>(p);
  t->sched->FinishThread(t, /*handed_off=*/true);
}

void ThreadEntry(bctx::transfer_t tr) {
  Worker* w = static_cast<Worker*>(tr.data);
  GreenThread* self = w->current_.load(std::memory_order_relaxed);
  FinishEntry(&self->fiber, nullptr);
  w->Resumed(tr.fctx);
  try {
    self->result.value = self->body();
  } catch (...) {
    self->result.exception = std::current_exception();
    LogUncaught(self);
  }
  self->body = nullptr;
  // Local-storage destructors run on the thread's own stack.
  if (!self->locals.empty()) RunLocalDestructors(self);
  Worker* now = CurrentWorker();
  CheckSwitchAllowed(now);
  now->after_fn_ = &FinishAfter;
  now->after_arg_ = self;
  // Hand off to the joiner if one waits: claiming its WaitState makes it ours alone
  // (in no queue), so it may run next here, directly ([threads.inv.run-once]). The
  // thread is marked done under the same hold of its join lock: the joiner, the only
  // reader left (a joined thread cannot be detached), runs only after
  // FinishHandedOffAfter, so it never sees a done thread whose stacks are in use. Else
  // switch directly to a runnable thread of this worker; else through the loop. The
  // after-switch action runs on whichever side comes next.
  GreenThread* next = nullptr;
  if (now->DirectSwitchOk()) {
    {
      SpinLockHolder h(&self->join_lock);
      WaitState* j = self->joiner;
      if (j != nullptr && j->Claim()) {
        j->fired = 0;
        next = j->thread;
        self->done = true;  // [threads.inv.join]
        now->after_fn_ = &FinishHandedOffAfter;
        TraceWake(next);
        next->state.store(ThreadState::kRunnable, std::memory_order_relaxed);
      }
    }
    if (next == nullptr) next = now->TakeLocal();
  }
  if (next != nullptr) now->SwitchToFinal(self, next);
  JumpFinal(now->sched_ctx_, nullptr, now->fiber_);
}

void YieldAfter(void* p) {
  GreenThread* t = static_cast<GreenThread*>(p);
  t->state.store(ThreadState::kRunnable, std::memory_order_relaxed);
  CurrentWorker()->PushLocal(t);
}

uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

// ---------------------------------------------------------------------------
// Worker.

void Worker::RunThread(GreenThread* t) {
  WEFT_DCHECK(t->ctx != nullptr, "weft: running a thread with no saved context");
  current_.store(t, std::memory_order_relaxed);
  t->worker.store(index_, std::memory_order_relaxed);
  t->state.store(ThreadState::kRunning, std::memory_order_relaxed);
  run_started_ns_.store(1, std::memory_order_relaxed);
  CountSwitch();
  RawContext ctx = t->ctx;
  SetObserved(t->ctx, RawContext{nullptr});
  JumpResult r = Jump(ctx, this, &fiber_, t->fiber);
  // Back from the thread running here last: t, or one t switched to directly.
  GreenThread* last = current_.load(std::memory_order_relaxed);
  current_.store(nullptr, std::memory_order_relaxed);
  run_started_ns_.store(0, std::memory_order_relaxed);
  SwitchedOut(last, r.from);
}

JumpResult Worker::SwitchTo(GreenThread* self, GreenThread* next) {
  WEFT_DCHECK(next->ctx != nullptr, "weft: running a thread with no saved context");
  current_.store(next, std::memory_order_relaxed);
  next->worker.store(index_, std::memory_order_relaxed);
  next->state.store(ThreadState::kRunning, std::memory_order_relaxed);
  CountSwitch();
  RawContext ctx = next->ctx;
  SetObserved(next->ctx, RawContext{nullptr});
  switching_from_ = self;
  return Jump(ctx, this, &self->fiber, next->fiber);
}

[[noreturn]] void Worker::SwitchToFinal(GreenThread* self, GreenThread* next) {
  current_.store(next, std::memory_order_relaxed);
  next->worker.store(index_, std::memory_order_relaxed);
  next->state.store(ThreadState::kRunning, std::memory_order_relaxed);
  CountSwitch();
  RawContext ctx = next->ctx;
  SetObserved(next->ctx, RawContext{nullptr});
  switching_from_ = self;
  JumpFinal(ctx, this, next->fiber);
}

// [threads.inv.stw]: a stop request is served by the loop (SafepointStop), and so is
// mail; at shutdown the loop ends, abandoning detached threads that still switch among
// themselves. DirectSwitchOk sees all three in attention_; every kPollPeriod-th direct
// switch also gives the loop its turns for due timers and the global queue.
bool Worker::DirectSwitchPoll() {
  poll_countdown_ = kPollPeriod;
  if (timers_.earliest() != TimerHeap::kNever) return false;
  if (sched_->gq_size_.load(std::memory_order_relaxed) > 0) {
    global_turn_ = true;
    return false;
  }
  return true;
}

GreenThread* Worker::TakeLocal() {
  if (sole_) {  // [threads.inv.sole-worker]: no thief can race us
    GreenThread* t = runnext_.load(std::memory_order_relaxed);
    if (t == nullptr) return runq_.PopUnshared();
    runnext_.store(nullptr, std::memory_order_relaxed);
    return t;
  }
  // [threads.inv.run-once]: the exchange or the ring's head CAS makes it ours.
  if (runnext_.load(std::memory_order_relaxed) != nullptr) {
    if (GreenThread* t = runnext_.exchange(nullptr, std::memory_order_acq_rel)) return t;
  }
  return runq_.Pop();
}

void Worker::Resumed(RawContext from) {
  GreenThread* prev = switching_from_;
  if (prev == nullptr) {  // from the loop
    sched_ctx_ = from;
    return;
  }
  switching_from_ = nullptr;
  SwitchedOut(prev, from);
}

// `t` has just been switched out and its context is `from`: save it, then run its
// after-switch action ([threads.inv.publish-after-save]). On the loop's stack or, after
// a direct switch, on the next thread's.
void Worker::SwitchedOut(GreenThread* t, RawContext from) {
  SetObserved(t->ctx, from);
  // [threads.inv.overflow-detected]: beyond the guard budget, check at every switch.
  if (t->stacks != nullptr) {
    const NativeStack& ns = t->stacks->native;
    if (!ns.guarded()) {
      bool sp_ok = reinterpret_cast<char*>(from) >= ns.limit &&
                   reinterpret_cast<char*>(from) < ns.top;
      if (!NativeStackAllocator::CanaryIntact(ns) || !sp_ok) ReportOverflow(t);
    }
  }
  internal::AfterSwitch fn = after_fn_;
  void* arg = after_arg_;
  after_fn_ = nullptr;
  if (fn == &YieldAfter) {  // the commonest action, inline: this worker's ring
    PushLocal(t);
    return;
  }
  WEFT_CHECK(fn != nullptr, "weft: green thread switched out without an after-switch action");
  fn(arg);
}

void Worker::PushLocal(GreenThread* t) {
  if (__builtin_expect(runq_.Push(t), 1)) return;
  PushLocalOverflow(t);
}

// Out of line: its batch array would otherwise grow every Park's stack use.
__attribute__((noinline)) void Worker::PushLocalOverflow(GreenThread* t) {
  if (runq_.Push(t)) return;
  // Full: move half of the ring and t to the global queue.
  GreenThread* batch[LocalRunQueue::kCapacity / 2 + 1];
  uint32_t n = runq_.Grab(batch, LocalRunQueue::kCapacity / 2);
  batch[n++] = t;
  sched_->GlobalPushBatch(batch, static_cast<int>(n));
}

void Worker::ReadyHere(GreenThread* t) {
  if (sole_) {  // [threads.inv.sole-worker]; and there is no other worker to wake
    GreenThread* old = runnext_.load(std::memory_order_relaxed);
    runnext_.store(t, std::memory_order_relaxed);
    if (old != nullptr) PushLocal(old);
    return;
  }
  GreenThread* old = runnext_.exchange(t, std::memory_order_acq_rel);
  if (old != nullptr) PushLocal(old);
  sched_->WakeOneHint();
}

// [threads.timers.order] Expired timers fire in deadline order, and each readies its
// thread at the tail of the running worker's local queue (ReadyAtTail), not in its
// run-next slot,
// where each would push the one before it back behind it: threads whose deadlines
// passed together run in deadline order. (RunTimers may fire another worker's heap:
// a spinning or parking worker fires every due timer.)
int Worker::RunTimers(int64_t now) {
  return timers_.FireExpired(now, [this](TimerNode* n) {
    // Ready before dropping the pending count ([threads.inv.deadlock]).
    internal::Wake(static_cast<WaitState*>(n->arg), -1, &internal::ReadyAtTail);
    sched_->ReleasePendingWakers();
  });
}

GreenThread* Worker::FindWork(bool steal_runnext) {
  ++tick_;
  if ((tick_ % 61 == 0 || global_turn_) &&
      sched_->gq_size_.load(std::memory_order_relaxed) > 0) {
    global_turn_ = false;
    if (GreenThread* t = sched_->GlobalGet(this)) return t;
  }
  if (timers_.earliest() != TimerHeap::kNever) RunTimers(MonoNowNs());
  if (mailbox_size_.load(std::memory_order_acquire) > 0) {
    SpinLockHolder h(&mailbox_lock_);
    if (!mailbox_.empty()) {
      GreenThread* t = mailbox_.front();
      mailbox_.erase(mailbox_.begin());
      mailbox_size_.fetch_sub(1);
      if (mailbox_.empty()) attention_.fetch_and(~kMailBit);
      return t;
    }
  }
  if (GreenThread* t = TakeLocal()) return t;
  if (sched_->gq_size_.load(std::memory_order_acquire) > 0) {
    if (GreenThread* t = sched_->GlobalGet(this)) return t;
  }
  int n = sched_->n_workers_;
  if (n > 1) {
    int start = static_cast<int>(SplitMix(&rng_) % n);
    for (int i = 0; i < n; ++i) {
      Worker* v = sched_->workers_[(start + i) % n].get();
      if (v == this) continue;
      GreenThread* batch[LocalRunQueue::kCapacity / 2];
      uint32_t got = v->runq_.Grab(batch, LocalRunQueue::kCapacity / 2);
      if (got > 0) {
        for (uint32_t k = 1; k < got; ++k) runq_.Push(batch[k]);
        sched_->steals_.fetch_add(1, std::memory_order_relaxed);
        return batch[0];
      }
      if (steal_runnext && v->runnext_.load(std::memory_order_relaxed) != nullptr &&
          RunnextStuck(v)) {
        if (GreenThread* t = v->runnext_.exchange(nullptr, std::memory_order_acq_rel)) {
          sched_->steals_.fetch_add(1, std::memory_order_relaxed);
          return t;
        }
      }
    }
  }
  return nullptr;
}

// A thread readied into a busy worker's run-next slot normally runs there as soon as
// the waker blocks (often within nanoseconds: a channel round trip), so spinners leave
// it alone, as Go does, unless it has stayed put: the victim has not switched for
// kRunnextStealNs since this spinner first saw the slot occupied.
constexpr int64_t kRunnextStealNs = 1000;

bool Worker::RunnextStuck(Worker* v) {
  uint64_t sw = v->switches_.load(std::memory_order_relaxed);
  int64_t now = MonoNowNs();
  if (rn_victim_ != v || rn_switches_ != sw) {
    rn_victim_ = v;
    rn_switches_ = sw;
    rn_seen_ns_ = now;
    return false;
  }
  return now - rn_seen_ns_ >= kRunnextStealNs;
}

GreenThread* Worker::Spin() {
  int64_t budget = absl::ToInt64Nanoseconds(sched_->options_.spin_before_park);
  if (budget <= 0) return nullptr;
  if (2 * sched_->spinning_.load() >= sched_->n_workers_) return nullptr;
  sched_->spinning_.fetch_add(1);
  int64_t deadline = MonoNowNs() + budget;
  GreenThread* t = nullptr;
  for (int iter = 0;; ++iter) {
    if (sched_->stop_requested_.load(std::memory_order_acquire) ||
        sched_->shutdown_.load(std::memory_order_acquire)) {
      break;
    }
    t = FindWork(/*steal_runnext=*/true);
    if (t != nullptr) break;
    if ((iter & 15) == 15) {
      int64_t now = MonoNowNs();
      for (auto& v : sched_->workers_) v->RunTimers(now);
      if (now > deadline) break;
    }
    __builtin_ia32_pause();
  }
  sched_->spinning_.fetch_sub(1);
  return t;
}

void Worker::Park() {
  SchedulerImpl* s = sched_;
  if (ParkLocked()) {
    // Timers were due: fire them with mu_ released (firing readies threads).
    int64_t now = MonoNowNs();
    for (auto& v : s->workers_) v->RunTimers(now);
  }
}

bool Worker::ParkLocked() {
  SchedulerImpl* s = sched_;
  OsMutexLock lock(&s->mu_);
  if (s->stop_requested_.load() || s->shutdown_.load()) return false;
  parked_ = true;
  notified_ = false;
  s->idle_.push_back(this);
  s->parked_count_.fetch_add(1);  // seq_cst: pairs with WakeOne ([threads.inv.no-lost-wake])
  auto unpark = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
    auto it = std::find(s->idle_.begin(), s->idle_.end(), this);
    if (it != s->idle_.end()) s->idle_.erase(it);
    parked_ = false;
    if (s->parked_count_.fetch_sub(1) == s->n_workers_) {
      // Every worker was parked, so the clock thread waits ([threads.clock]): bring
      // the time up to date before this worker runs a thread, and wake it.
      if (s->coarse_now_ns_.load(std::memory_order_relaxed) != 0) {
        s->coarse_now_ns_.store(internal::CoarseNowNs(), std::memory_order_relaxed);
      }
      s->clock_cv_.Signal();
    }
  };
  int64_t earliest = TimerHeap::kNever;
  for (auto& v : s->workers_) earliest = std::min(earliest, v->timers_.earliest());
  if (earliest != TimerHeap::kNever && earliest <= MonoNowNs()) {
    unpark();
    return true;
  }
  if (s->HasWorkAnywhere()) {
    unpark();
    return false;
  }
  s->CheckDeadlockLocked();
  s->parks_.fetch_add(1, std::memory_order_relaxed);
  trace::Scoped parked(kWorkerParkedKind, index_);
  while (!notified_ && !s->shutdown_.load()) {
    if (earliest == TimerHeap::kNever) {
      cv_.Wait(&s->mu_);
    } else {
      int64_t wait = earliest - MonoNowNs();
      if (wait <= 0) break;
      cv_.WaitWithTimeout(&s->mu_, absl::Nanoseconds(wait));
      break;
    }
  }
  // Parked counts as stopped: stay parked until the world resumes.
  while (s->stop_requested_.load()) s->stw_cv_.Wait(&s->mu_);
  unpark();
  return false;
}

void Worker::Loop() {
  tls_worker = this;
  rng_ = 0x1234567ull * (index_ + 1);
  InitThreadFiber(&fiber_);
  altstack_ = InstallAltStack();
  trace::NameThisThread(absl::StrCat("weft worker ", index_));
  if (sched_->options_.on_worker_start) sched_->options_.on_worker_start(index_);
  for (;;) {
    if (sched_->stop_requested_.load(std::memory_order_acquire)) sched_->SafepointStop(this);
    if (sched_->shutdown_.load(std::memory_order_acquire)) break;
    GreenThread* t = FindWork(false);
    if (t == nullptr) t = Spin();
    if (t == nullptr) {
      Park();
      continue;
    }
    RunThread(t);
  }
  // The hook first: it may change what a stopped world reads (the runtime spills and
  // frees this worker's slot cache), so the worker counts as stopped only after it.
  if (sched_->options_.on_worker_stop) sched_->options_.on_worker_stop(index_);
  {
    // [threads.inv.stw]: an exited worker counts as stopped, for a green thread still
    // running elsewhere as Run ends (a detached one) that stops the world.
    OsMutexLock l(&sched_->mu_);
    exited_ = true;
    sched_->stw_cv_.SignalAll();
  }
  RemoveAltStack(altstack_);
  tls_worker = nullptr;
}

// ---------------------------------------------------------------------------
// SchedulerImpl.

// [threads.debug.schedulers]: every live scheduler, for debuggers (tools/gdb/weft.py
// walks it in a live process or a core file). Linked through debug_next_.
namespace {
OsMutex debug_schedulers_mu;
}  // namespace
}  // namespace weft::threads

extern "C" {
weft::threads::SchedulerImpl* weft_debug_schedulers = nullptr;
// [threads.inv.poll]: how many schedulers of this process have a stop requested now;
// runtime/weft.h's inline weft::Safepoint reads it too.
std::atomic<int> weft_stop_requests_in_process{0};
}

namespace weft::threads {

SchedulerImpl::SchedulerImpl(heap::Arena* arena, const SchedulerOptions& options)
    : arena_(arena),
      options_(options),
      n_workers_(options.workers > 0
                     ? options.workers
                     : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
      native_alloc_(arena, options.guard_regions, options.guard_page_budget),
      chunks_(arena) {
  InstallOverflowHandler(arena);
  for (int i = 0; i < n_workers_; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i, n_workers_ == 1));
  }
  OsMutexLock l(&debug_schedulers_mu);
  debug_next_ = weft_debug_schedulers;
  weft_debug_schedulers = this;
}

SchedulerImpl::~SchedulerImpl() {
  {
    OsMutexLock l(&debug_schedulers_mu);
    SchedulerImpl** p = &weft_debug_schedulers;
    while (*p != this) p = &(*p)->debug_next_;
    *p = debug_next_;
  }
  {
    OsMutexLock l(&ext_mu_);
    poller_.reset();
    blocking_.reset();
  }
  for (auto& w : workers_) {
    for (StackPair* s : w->pool_) FreeStacks(s);
    w->pool_.clear();
    for (GreenThread* t : w->thread_pool_) delete t;
    w->thread_pool_.clear();
  }
  OsMutexLock l(&pool_mu_);
  for (StackPair* s : global_pool_) FreeStacks(s);
  global_pool_.clear();
}

Poller* SchedulerImpl::poller() {
  OsMutexLock l(&ext_mu_);
  if (!poller_) poller_ = std::make_unique<Poller>(this);
  return poller_.get();
}

BlockingPool* SchedulerImpl::blocking() {
  OsMutexLock l(&ext_mu_);
  if (!blocking_) blocking_ = std::make_unique<BlockingPool>(options_.blocking_threads_max);
  return blocking_.get();
}

StackPair* SchedulerImpl::AcquireStacks(Worker* w, size_t native_bytes, size_t managed_max) {
  bool pooled_size =
      native_bytes == options_.native_stack_bytes && managed_max == options_.managed_stack_max_bytes;
  if (pooled_size) {
    if (w != nullptr && !w->pool_.empty()) {
      StackPair* s = w->pool_.back();
      w->pool_.pop_back();
      return s;
    }
    OsMutexLock l(&pool_mu_);
    if (!global_pool_.empty()) {
      StackPair* s = global_pool_.back();
      global_pool_.pop_back();
      return s;
    }
  }
  // Both pools are empty: a worker takes a batch of pooled-size stacks, so that their
  // guards and top pages cost one syscall each for all of them rather than a trap
  // per stack on its first run ([threads.stacks.prefault]); the rest wait in its pool.
  size_t want = 1;
  if (pooled_size && w != nullptr) {
    want = std::clamp<size_t>(static_cast<size_t>(options_.stack_pool_per_worker), 1,
                              kStackBatch);
  }
  NativeStack natives[kStackBatch];
  size_t got = native_alloc_.AllocateMany(native_bytes, natives, want);
  WEFT_CHECK(got > 0, "weft: out of memory for a green thread's native stack");
  StackPair* first = nullptr;
  for (size_t i = 0; i < got; ++i) {
    auto* s = new StackPair();
    s->pooled_size = pooled_size;
    s->native = natives[i];
    if (!s->managed.Init(&chunks_, managed_max)) {
      WEFT_CHECK(first != nullptr, "weft: out of memory for a green thread's managed stack");
      for (size_t j = i; j < got; ++j) native_alloc_.Free(&natives[j]);
      delete s;
      break;
    }
    if (first == nullptr) {
      first = s;
    } else {
      w->pool_.push_back(s);
    }
  }
  return first;
}

void SchedulerImpl::FreeStacks(StackPair* s) {
  // [threads.inv.observed-fields]: the pair was hidden from observers before it got
  // here, and an observer holds reg_mu_ from loading a pair to its last read of it, so
  // taking the lock once waits out any observer that loaded this pair earlier.
  { SpinLockHolder l(&reg_mu_); }
#if defined(WEFT_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(s->native.run, s->native.run_bytes);
#endif
  s->managed.Release();
  native_alloc_.Free(&s->native);
  delete s;
}

void SchedulerImpl::ReleaseStacks(Worker* w, StackPair* s) {
#if defined(WEFT_ASAN)
  // Frames abandoned without unwinding leave poisoned redzones behind.
  ASAN_UNPOISON_MEMORY_REGION(s->native.limit, s->native.top - s->native.limit);
#endif
  s->managed.Clear();
  if (s->pooled_size) {
    if (w != nullptr && static_cast<int>(w->pool_.size()) < options_.stack_pool_per_worker) {
      w->pool_.push_back(s);
      return;
    }
    OsMutexLock l(&pool_mu_);
    if (static_cast<int>(global_pool_.size()) < options_.stack_pool_global) {
      global_pool_.push_back(s);
      return;
    }
  }
  FreeStacks(s);
}

GreenThread* SchedulerImpl::Spawn(ThreadBody&& body, const SpawnOptions& options) {
  Worker* w = CurrentWorker();
  GreenThread* t = nullptr;
  if (w != nullptr && !w->thread_pool_.empty()) {
    t = w->thread_pool_.back();
    w->thread_pool_.pop_back();
  } else {
    t = new GreenThread();
  }
  t->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  // An empty name stands for "thread-<id>" (ThreadName): nothing to format here.
  if (!options.name.empty()) t->name = options.name;
  t->sched = this;
  t->body = std::move(body);
  size_t native = options.native_stack_bytes ? options.native_stack_bytes : options_.native_stack_bytes;
  size_t managed =
      options.managed_stack_max_bytes ? options.managed_stack_max_bytes : options_.managed_stack_max_bytes;
  t->stacks = AcquireStacks(w, native, managed);
  NativeStack& ns = t->stacks->native;
  arena_->InfoFor(ns.run).owner = t;
  CreateSanitizerFiber(&t->fiber, ns.limit, ns.usable_bytes());
  t->ctx = MakeContext(ns.top, ns.usable_bytes(), &ThreadEntry);
  if (w != nullptr) {
    w->AddRelaxed(&w->live_delta_, 1);
    w->spawned_here_.store(w->spawned_here_.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
  } else {
    live_.fetch_add(1, std::memory_order_relaxed);
    spawned_.fetch_add(1, std::memory_order_relaxed);
  }
  attached_live_.fetch_add(1, std::memory_order_relaxed);
  {
    SpinLockHolder l(&reg_mu_);
    t->reg_next = reg_head_;
    if (reg_head_ != nullptr) reg_head_->reg_prev = t;
    reg_head_ = t;
  }
  trace::Instant(kSpawnKind, t->id);
  internal::Ready(t);
  return t;
}

void SchedulerImpl::FinishThread(GreenThread* t, bool handed_off) {
  Worker* w = CurrentWorker();
  DestroySanitizerFiber(&t->fiber);
  // [threads.inv.observed-fields]: observers stop seeing the stacks before they go
  // back to the pool (and may be freed).
  StackPair* stacks = t->stacks;
  SetObserved(t->stacks, static_cast<StackPair*>(nullptr));
  SetObserved(t->ctx, RawContext{nullptr});
  ReleaseStacks(w, stacks);
  w->AddRelaxed(&w->live_delta_, -1);
  if (handed_off) {
    // Marked done and its joiner claimed by ThreadEntry; the joiner resumes only once
    // this returns, and deletes t.
    t->state.store(ThreadState::kDone, std::memory_order_release);
    ThreadRetired(true);
    return;
  }
  WaitState* joiner;
  bool detached;
  {
    // [threads.inv.join]: after this unlock a joiner may delete t; read first.
    SpinLockHolder h(&t->join_lock);
    t->state.store(ThreadState::kDone, std::memory_order_release);
    t->done = true;
    joiner = t->joiner;
    detached = t->detached.load(std::memory_order_relaxed);
  }
  if (joiner != nullptr) internal::Wake(joiner, 0);
  if (detached) {
    DeleteThread(t);
  } else {
    ThreadRetired(true);
  }
}

void SchedulerImpl::ThreadRetired(bool attached) {
  if (attached && attached_live_.fetch_sub(1) == 1) {
    OsMutexLock l(&mu_);
    run_cv_.SignalAll();
  }
}

void SchedulerImpl::Unregister(GreenThread* t) {
  {
    SpinLockHolder l(&reg_mu_);
    if (t->reg_prev != nullptr) t->reg_prev->reg_next = t->reg_next;
    if (t->reg_next != nullptr) t->reg_next->reg_prev = t->reg_prev;
    if (reg_head_ == t) reg_head_ = t->reg_next;
  }
  if (t->stacks != nullptr) {  // abandoned at shutdown
    DestroySanitizerFiber(&t->fiber);
    FreeStacks(t->stacks);
    t->stacks = nullptr;
  }
}

void SchedulerImpl::OrphanThread(GreenThread* t) {
  Unregister(t);
  // What DeleteThread would have destroyed with the block goes now, as it did before
  // orphans: the body of a thread that never finished (and what it captured).
  t->body = nullptr;
  t->reg_prev = t->reg_next = nullptr;
  t->next_runnable = nullptr;
  t->sched = nullptr;
  t->orphaned = true;
}

void SchedulerImpl::DeleteThread(GreenThread* t) {
  Unregister(t);
  Worker* w = CurrentWorker();
  if (w != nullptr && w->sched_ == this && w->thread_pool_.size() < 256) {
    t->Reset();
    w->thread_pool_.push_back(t);
    return;
  }
  delete t;
}

namespace {
void UnlockAfter(void* p) { static_cast<SpinLock*>(p)->Unlock(); }
}  // namespace

ThreadResult SchedulerImpl::Join(GreenThread* t) {
  GreenThread* self = CurrentThread();
  WEFT_CHECK(self != nullptr, "weft: Thread::Join outside a green thread");
  WEFT_CHECK(self != t, "weft: a green thread joined itself");
  t->join_lock.Lock();
  t->joined = true;  // [threads.inv.orphans]: the handle is gone; Run may delete t
  if (!t->done) {
    WaitState ws;
    ws.thread = self;
    ws.one_lock = true;  // one waker: t's exit (handoff or FinishThread)
    t->joiner = &ws;
    internal::Park(ThreadState::kBlocked, WaitReason::kJoin, t, &UnlockAfter, &t->join_lock);
    // Woken only by t's exit, after it set done (and read what it needed) under the
    // lock ([threads.inv.join]): no need to take the lock again to see it.
  } else {
    t->join_lock.Unlock();
  }
  ThreadResult r = std::move(t->result);
  DeleteThread(t);
  return r;
}

void SchedulerImpl::Detach(GreenThread* t) {
  bool done;
  {
    SpinLockHolder h(&t->join_lock);
    t->detached.store(true, std::memory_order_relaxed);
    done = t->done;
  }
  if (done) {
    DeleteThread(t);
  } else {
    ThreadRetired(true);
  }
}

void SchedulerImpl::GlobalPush(GreenThread* t) { GlobalPushBatch(&t, 1); }

void SchedulerImpl::GlobalPushBatch(GreenThread** ts, int n) {
  OsMutexLock l(&gq_mu_);
  for (int i = 0; i < n; ++i) {
    ts[i]->next_runnable = nullptr;
    if (gq_tail_ == nullptr) {
      gq_head_ = gq_tail_ = ts[i];
    } else {
      gq_tail_->next_runnable = ts[i];
      gq_tail_ = ts[i];
    }
  }
  gq_size_.fetch_add(n, std::memory_order_release);
}

GreenThread* SchedulerImpl::GlobalGet(Worker* w) {
  OsMutexLock l(&gq_mu_);
  int64_t size = gq_size_.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int64_t take = std::min<int64_t>(size / n_workers_ + 1, LocalRunQueue::kCapacity / 2);
  GreenThread* first = nullptr;
  for (int64_t i = 0; i < take && gq_head_ != nullptr; ++i) {
    GreenThread* t = gq_head_;
    gq_head_ = t->next_runnable;
    if (gq_head_ == nullptr) gq_tail_ = nullptr;
    t->next_runnable = nullptr;
    gq_size_.fetch_sub(1, std::memory_order_relaxed);
    if (first == nullptr) {
      first = t;
    } else if (!w->runq_.Push(t)) {
      // Cannot happen while take <= capacity/2 and the ring had room; be safe.
      t->next_runnable = gq_head_;
      gq_head_ = t;
      if (gq_tail_ == nullptr) gq_tail_ = t;
      gq_size_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  return first;
}

bool SchedulerImpl::HasWorkAnywhere() const {
  if (gq_size_.load() > 0) return true;
  for (auto& w : workers_) {
    if (w->HasLocalWork()) return true;
  }
  return false;
}

void SchedulerImpl::ReleasePendingWakers(int64_t n) {
  // [threads.inv.deadlock]: the last worker to park checks for a deadlock, but only if
  // nothing was pending then. A waker that finishes after every worker parked (Run
  // queueing main, a poller or blocking-pool wake of a thread that blocked again at
  // once) must look itself, or Run would wait forever.
  if (pending_wakers_.fetch_sub(n) != n) return;
  if (parked_count_.load() != n_workers_ || shutdown_.load()) return;
  OsMutexLock l(&mu_);
  CheckDeadlockLocked();
}

void SchedulerImpl::CheckDeadlockLocked() {
  if (deadlock_ || parked_count_.load() != n_workers_ || pending_wakers_.load() != 0 ||
      attached_live_.load() == 0 || shutdown_.load()) {
    return;
  }
  for (auto& v : workers_) {
    if (v->timers_.earliest() != TimerHeap::kNever) return;
  }
  if (HasWorkAnywhere()) return;
  deadlock_ = true;
  deadlock_report_ = DumpThreads();
  run_cv_.SignalAll();
}

void SchedulerImpl::WakeOne() {
  // [threads.inv.no-lost-wake]: the work was published before this seq_cst read.
  if (parked_count_.fetch_add(0) == 0) return;
  if (spinning_.load() > 0) return;
  OsMutexLock l(&mu_);
  if (idle_.empty()) return;
  Worker* w = idle_.back();
  idle_.pop_back();
  w->notified_ = true;
  w->cv_.Signal();
}

void SchedulerImpl::WakeOneHint() {
  // No fence: this worker runs the work itself if nobody else takes it, so a stale
  // zero here (a worker parking at this very moment) costs parallelism, not progress.
  if (parked_count_.load(std::memory_order_relaxed) == 0) return;
  if (spinning_.load(std::memory_order_relaxed) > 0) return;
  OsMutexLock l(&mu_);
  if (idle_.empty()) return;
  Worker* w = idle_.back();
  idle_.pop_back();
  w->notified_ = true;
  w->cv_.Signal();
}

void SchedulerImpl::WakeWorker(Worker* w) {
  parked_count_.fetch_add(0);  // [threads.inv.no-lost-wake]
  OsMutexLock l(&mu_);
  if (!w->parked_) return;
  auto it = std::find(idle_.begin(), idle_.end(), w);
  if (it != idle_.end()) idle_.erase(it);
  w->notified_ = true;
  w->cv_.Signal();
}

void SchedulerImpl::ReadyExternal(GreenThread* t) {
  GlobalPush(t);
  WakeOne();
}

// ---------------------------------------------------------------------------
// Safepoints ([threads.inv.stw]).

void SchedulerImpl::SafepointStop(Worker* w, bool in_thread) {
  OsMutexLock l(&mu_);
  // [threads.inv.poll]: the stopper's own polls (an allocation while it holds the
  // world stopped) pass; its worker's loop never gets here while it does.
  if (!stop_requested_.load() || (in_thread && stopper_ == w)) return;
  trace::Scoped stopped(kSafepointStopKind, w->index_);
  w->at_safepoint_ = true;
  ++stopped_;
  stw_cv_.SignalAll();
  while (stop_requested_.load()) stw_cv_.Wait(&mu_);
  --stopped_;
  w->at_safepoint_ = false;
}

void SchedulerImpl::WatchdogWarning(Worker* v, int64_t waited_ms) {
  std::string culprit = "no green thread (the scheduler loop)\n";
  {
    SpinLockHolder l(&reg_mu_);
    // current_ is only read: the registry lock keeps the control block alive.
    for (GreenThread* t = reg_head_; t != nullptr; t = t->reg_next) {
      if (t != v->current_.load()) continue;
      // Only the registry's atomics and the name (fixed at spawn): the thread runs, and
      // may finish (releasing its stacks) while we look.
      ThreadInfo info;
      std::string name = ThreadName(t);
      info.id = t->id;
      info.name = name;
      info.state = t->state.load(std::memory_order_acquire);
      info.wait_reason = t->reason.load(std::memory_order_relaxed);
      info.wait_object = t->wait_object.load(std::memory_order_relaxed);
      info.worker = t->worker.load(std::memory_order_relaxed);
      info.blocked_since_ns = t->blocked_since_ns.load(std::memory_order_relaxed);
      info.running_unstopped = true;
      culprit = FormatThread(info, internal::CoarseNowNs());
      culprit +=
          "  (a safepoint is any allocation, block, yield or spawn; a loop that does none "
          "of them must poll: weft::Safepoint(), threads::this_thread::Safepoint())\n";
    }
  }
  Log().warn("safepoint watchdog: worker {} has not reached a safepoint after {} ms; running:\n{}",
             v->index_, waited_ms, culprit);
}

void SchedulerImpl::StopTheWorld() {
  Worker* w = CurrentWorker();
  // A caller that is not a worker (the runtime's control thread serving stackscan or
  // SIGQUIT) waits for every worker; a green thread waits for every other one.
  const bool external = w == nullptr;
  WEFT_CHECK(external || w->current_.load() != nullptr,
             "weft: StopTheWorld from a worker's scheduler loop");
  if (!external) CheckSwitchAllowed(w);
  OsMutexLock l(&mu_);
  while (stop_requested_.load()) {
    if (external) {
      stw_cv_.Wait(&mu_);
      continue;
    }
    // Another worker is stopping the world: be stopped until it resumes, then try.
    w->at_safepoint_ = true;
    ++stopped_;
    stw_cv_.SignalAll();
    while (stop_requested_.load()) stw_cv_.Wait(&mu_);
    --stopped_;
    w->at_safepoint_ = false;
  }
  SetStopRequested(true);
  stopper_ = w;
  const int needed = external ? n_workers_ : n_workers_ - 1;
  int64_t waited_ms = 0;
  for (;;) {
    int stopped = 0;
    for (auto& v : workers_) {
      stopped += v.get() != w && (v->parked_ || v->at_safepoint_ || v->exited_);
    }
    // Workers that have exited (Run is ending) run nothing: stopped as well. An
    // external caller does not wait for the rest either once Run is ending.
    if (stopped == needed || (external && shutdown_.load())) break;
    if (stw_cv_.WaitWithTimeout(&mu_, options_.safepoint_watchdog)) {
      waited_ms += absl::ToInt64Milliseconds(options_.safepoint_watchdog);
      for (auto& v : workers_) {
        if (v.get() == w || v->parked_ || v->at_safepoint_ || v->exited_) continue;
        WatchdogWarning(v.get(), waited_ms);
      }
    }
  }
}

void SchedulerImpl::SetStopRequested(bool on) {
  // Called only on a change (under mu_), so the process-wide count stays balanced.
  weft_stop_requests_in_process.fetch_add(on ? 1 : -1);
  stop_requested_.store(on);
  SetAttention(Worker::kStopBit, on);
}

void SchedulerImpl::SetShutdown(bool on) {
  shutdown_.store(on);
  SetAttention(Worker::kShutdownBit, on);
}

void SchedulerImpl::SetAttention(uint32_t bit, bool on) {
  for (auto& w : workers_) {
    if (on) {
      w->attention_.fetch_or(bit);
    } else {
      w->attention_.fetch_and(~bit);
    }
  }
}

void SchedulerImpl::ResumeTheWorld() {
  OsMutexLock l(&mu_);
  WEFT_CHECK(stop_requested_.load(), "weft: ResumeTheWorld without StopTheWorld");
  SetStopRequested(false);
  stopper_ = nullptr;
  stw_cv_.SignalAll();
}

// ---------------------------------------------------------------------------
// Registry.

ThreadInfo SchedulerImpl::InfoOf(const GreenThread* t, std::string* default_name) const {
  ThreadInfo info;
  info.id = t->id;
  if (t->name.empty()) {
    *default_name = ThreadName(t);
    info.name = *default_name;
  } else {
    info.name = t->name;
  }
  info.state = t->state.load(std::memory_order_acquire);
  info.wait_reason = t->reason.load(std::memory_order_relaxed);
  info.wait_object = t->wait_object.load(std::memory_order_relaxed);
  info.worker = t->worker.load(std::memory_order_relaxed);
  info.blocked_since_ns = t->blocked_since_ns.load(std::memory_order_relaxed);
  info.detached = t->detached.load(std::memory_order_relaxed);
  // [threads.inv.observed-fields]
  StackPair* stacks = LoadObserved(t->stacks);
  if (info.state != ThreadState::kDone && stacks != nullptr) {
    info.stack_low = stacks->native.limit;
    info.stack_high = stacks->native.top;
    if (info.state != ThreadState::kRunning) info.saved_sp = LoadObserved(t->ctx);
    info.managed_stack = &stacks->managed;
  }
  return info;
}

void SchedulerImpl::ForEachThread(const std::function<void(const ThreadInfo&)>& fn) const {
  SpinLockHolder l(&reg_mu_);
  for (GreenThread* t = reg_head_; t != nullptr; t = t->reg_next) {
    std::string default_name;  // info.name is a view: alive through fn
    fn(InfoOf(t, &default_name));
  }
}

bool SchedulerImpl::ForEachThreadForFatal(
    const std::function<void(const ThreadInfo&)>& fn) const {
  if (!TryLockForFatal(reg_mu_)) return false;
  const GreenThread* self = CurrentThread();
  for (GreenThread* t = reg_head_; t != nullptr; t = t->reg_next) {
    std::string default_name;
    ThreadInfo info = InfoOf(t, &default_name);
    if (info.state == ThreadState::kRunning && t != self) {
      info.running_unstopped = true;
      info.managed_stack = nullptr;
    }
    fn(info);
  }
  reg_mu_.Unlock();
  return true;
}

std::string SchedulerImpl::FormatThread(const ThreadInfo& i, int64_t now) const {
  if (options_.format_thread) return options_.format_thread(i);
  std::string out;
  absl::StrAppendFormat(&out, "  thread %d '%s' %s", i.id, i.name, ThreadStateName(i.state));
  if (i.wait_reason != WaitReason::kNone) {
    absl::StrAppendFormat(&out, " on %s %p", WaitReasonName(i.wait_reason), i.wait_object);
  }
  if (i.blocked_since_ns != 0) {
    absl::StrAppendFormat(&out, " for %d ms", (now - i.blocked_since_ns) / 1000000);
  }
  absl::StrAppendFormat(&out, " (worker %d)\n", i.worker);
  return out;
}

std::string SchedulerImpl::DumpThreads() const {
  // [threads.hook.format-thread]: the runtime's format is the stack-scan dump's.
  std::string body;
  int n = 0;
  int64_t now = internal::CoarseNowNs();
  ForEachThread([&](const ThreadInfo& i) {
    ++n;
    if (options_.format_thread) body += "\n";
    body += FormatThread(i, now);
  });
  if (!options_.format_thread) return body;
  return absl::StrFormat("weft: %d green threads\n", n) + body;
}

// ---------------------------------------------------------------------------
// Run.

// [threads.clock]
void SchedulerImpl::StartClock() {
  // coarse_now_ns_ stays 0 (parks read the clock) until the clock thread's first store,
  // made under mu_ like the unparking worker's, which stores only over a nonzero time:
  // so a time is never left behind with no thread to keep it.
  try {
    clock_thread_ = std::thread([this] { ClockLoop(); });
  } catch (const std::system_error& e) {
    // Without it, parks read the clock themselves: slower, not wrong.
    Log().warn("weft: could not start the scheduler's clock thread ({}); parks read the clock",
               e.what());
  }
}

void SchedulerImpl::StopClock() {
  if (!clock_thread_.joinable()) return;
  {
    OsMutexLock l(&mu_);  // shutdown_ is set: the loop ends at its next look
    clock_cv_.Signal();
  }
  clock_thread_.join();
  coarse_now_ns_.store(0, std::memory_order_relaxed);
}

void SchedulerImpl::ClockLoop() {
  trace::NameThisThread("weft clock");
  OsMutexLock l(&mu_);
  while (!shutdown_.load()) {
    coarse_now_ns_.store(internal::CoarseNowNs(), std::memory_order_relaxed);
    if (parked_count_.load() == n_workers_) {
      clock_cv_.Wait(&mu_);  // idle: the first worker to unpark wakes it
    } else {
      clock_cv_.WaitWithTimeout(&mu_, kClockTick);
    }
  }
}

absl::Status SchedulerImpl::Run(std::function<int64_t()> main) {
  WEFT_CHECK(!running_, "weft: Scheduler::Run while it is already running");
  WEFT_CHECK(CurrentWorker() == nullptr, "weft: Scheduler::Run from a green thread");
  running_ = true;
  SetShutdown(false);
  {
    OsMutexLock l(&mu_);
    deadlock_ = false;
    deadlock_report_.clear();
    for (auto& w : workers_) w->exited_ = false;
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    try {
      workers_[i]->os_thread_ = std::thread([w = workers_[i].get()] { w->Loop(); });
    } catch (const std::system_error& e) {
      // The OS refused a worker thread (e.g. under `ulimit -v`): stop the ones that
      // started and report it instead of letting std::terminate end the process.
      {
        OsMutexLock l(&mu_);
        SetShutdown(true);
        for (auto& w : workers_) w->cv_.Signal();
      }
      for (size_t j = 0; j < i; ++j) workers_[j]->os_thread_.join();
      SetShutdown(false);
      running_ = false;
      return absl::ResourceExhaustedError(absl::StrCat(
          "weft: could not start worker thread ", i + 1, " of ", workers_.size(), ": ",
          e.what()));
    }
  }
  StartClock();
  SpawnOptions mo;
  mo.name = "main";
  // Counted as a pending waker until main is queued: workers may all park before it
  // is, and must not take that for a deadlock ([threads.inv.deadlock]).
  pending_wakers_.fetch_add(1);
  main_ = Spawn(std::move(main), mo);
  ReleasePendingWakers();
  bool deadlock;
  std::string report;
  {
    OsMutexLock l(&mu_);
    GreenThread* m = main_;
    auto finished = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (deadlock_) return true;
      if (attached_live_.load() != 0) return false;
      SpinLockHolder h(&m->join_lock);
      return m->done;
    };
    while (!finished()) run_cv_.Wait(&mu_);
    deadlock = deadlock_;
    report = deadlock_report_;
    SetShutdown(true);
    for (auto& w : workers_) w->cv_.Signal();
    stw_cv_.SignalAll();
  }
  for (auto& w : workers_) w->os_thread_.join();
  StopClock();
  std::unique_ptr<BlockingPool> blocking;
  {
    OsMutexLock l(&ext_mu_);
    poller_.reset();
    blocking = std::move(blocking_);
  }
  // [threads.inv.blocking-at-shutdown]: a blocking call still in flight (a detached
  // thread's, parked in RunBlocking) runs code that refers to its thread's native
  // stack and, when it ends, readies the thread's control block: both are freed
  // below. Wait for it (and any queued after it): the pool's destructor runs the jobs
  // left and joins its helpers. An ended call readies its thread onto the global
  // queue, which is drained below like the rest; the thread is then abandoned.
  if (blocking) {
    if (size_t busy = blocking->Busy(); busy > 0) {
      Log().info("Run: waiting for {} blocking calls still in flight", busy);
    }
    blocking.reset();
  }
  main_result_ = ThreadResult{};
  {
    SpinLockHolder h(&main_->join_lock);
    if (main_->done) main_result_ = std::move(main_->result);
  }
  // Everything still registered is abandoned: detached threads still alive, and on
  // deadlock every blocked thread. Drain the queues first.
  {
    OsMutexLock l(&gq_mu_);
    gq_head_ = gq_tail_ = nullptr;
    gq_size_.store(0);
  }
  for (auto& w : workers_) {
    {
      SpinLockHolder h(&w->mailbox_lock_);
      w->mailbox_.clear();
      w->mailbox_size_.store(0);
      w->attention_.fetch_and(~Worker::kMailBit);
    }
    w->runnext_.store(nullptr);
    while (w->runq_.Pop() != nullptr) {
    }
  }
  for (auto& w : workers_) w->timers_.Clear();
  // Main stays registered after it ends (nobody joins it; its result was taken
  // above), so it is deleted here too, but it is not a thread left behind. (Run ends
  // before main only on a deadlock, which logs its own report instead.)
  std::vector<GreenThread*> left;
  size_t alive = 0;
  {
    SpinLockHolder l(&reg_mu_);
    for (GreenThread* t = reg_head_; t != nullptr; t = t->reg_next) {
      left.push_back(t);
      if (t != main_) ++alive;
    }
  }
  if (alive > 0 && !deadlock) {
    Log().info("Run: abandoning {} green threads still alive (detached or unjoined)", alive);
  }
  if (deadlock) {
    Log().error("deadlock: all green threads are blocked\n{}", report);
    // [threads.hook.deadlock]: the workers have stopped; the threads still exist.
    if (options_.on_deadlock) options_.on_deadlock();
  }
  for (GreenThread* t : left) {
    // [threads.inv.orphans]: main has no handle, and a detached or joined thread's
    // handle is gone: Run deletes those. Any other thread is still named by a joinable
    // handle, which may outlive this Run and the scheduler: its block becomes the
    // handle's.
    bool handle_gone;
    {
      SpinLockHolder h(&t->join_lock);
      handle_gone = t == main_ || t->detached.load(std::memory_order_relaxed) || t->joined;
    }
    if (handle_gone) {
      DeleteThread(t);
    } else {
      OrphanThread(t);
    }
  }
  main_ = nullptr;
  live_.store(0);
  for (auto& w : workers_) w->live_delta_.store(0);
  attached_live_.store(0);
  pending_wakers_.store(0);
  running_ = false;
  if (deadlock) {
    return absl::FailedPreconditionError(
        absl::StrCat("deadlock: all green threads are blocked\n", report));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Public wrappers.

Scheduler::Scheduler(std::unique_ptr<SchedulerImpl> impl) : impl_(std::move(impl)) {
  impl_->public_ = this;
}
Scheduler::~Scheduler() = default;

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(heap::Arena* arena,
                                                             const SchedulerOptions& options) {
  if (arena == nullptr) return absl::InvalidArgumentError("Scheduler::Create: arena is null");
  absl::Status s = options.Validate();
  if (!s.ok()) return s;
  SchedulerOptions o = options;
  o.native_stack_bytes = (o.native_stack_bytes + heap::kBlockSize - 1) / heap::kBlockSize *
                         heap::kBlockSize;
  return std::unique_ptr<Scheduler>(new Scheduler(std::make_unique<SchedulerImpl>(arena, o)));
}

absl::Status Scheduler::Run(std::function<int64_t()> main) { return impl_->Run(std::move(main)); }
ThreadResult Scheduler::main_result() const { return impl_->main_result_; }
void Scheduler::StopTheWorld() { impl_->StopTheWorld(); }
void Scheduler::ResumeTheWorld() { impl_->ResumeTheWorld(); }
void Scheduler::ForEachThread(const std::function<void(const ThreadInfo&)>& fn) const {
  impl_->ForEachThread(fn);
}
std::string Scheduler::DumpThreads() const { return impl_->DumpThreads(); }
bool Scheduler::ForEachThreadForFatal(const std::function<void(const ThreadInfo&)>& fn) const {
  return impl_->ForEachThreadForFatal(fn);
}
int Scheduler::worker_count() const { return impl_->n_workers_; }
void Scheduler::SetWorkerData(int worker, void* data) {
  WEFT_CHECK(worker >= 0 && worker < impl_->n_workers_, "weft: SetWorkerData: no such worker");
  impl_->workers_[worker]->user_data_.store(data);
}
void* Scheduler::GetWorkerData(int worker) const {
  WEFT_CHECK(worker >= 0 && worker < impl_->n_workers_, "weft: GetWorkerData: no such worker");
  return impl_->workers_[worker]->user_data_.load();
}
SchedulerStats Scheduler::Stats() const {
  SchedulerStats s;
  s.spawned = impl_->spawned_.load();
  int64_t live = impl_->live_.load();
  for (auto& w : impl_->workers_) {
    s.spawned += w->spawned_here_.load(std::memory_order_relaxed);
    live += w->live_delta_.load(std::memory_order_relaxed);
    s.context_switches += w->switches_.load(std::memory_order_relaxed);
  }
  s.live = static_cast<uint64_t>(live);
  s.steals = impl_->steals_.load();
  s.parks = impl_->parks_.load();
  s.guarded_stacks = static_cast<uint64_t>(NativeStackAllocator::GuardedStacks());
  s.guard_region_stacks = static_cast<uint64_t>(NativeStackAllocator::GuardRegionStacks());
  {
    OsMutexLock l(&impl_->ext_mu_);
    if (impl_->poller_) s.fd_waiters = static_cast<uint64_t>(impl_->poller_->Waiters());
  }
  return s;
}
const SchedulerOptions& Scheduler::options() const { return impl_->options_; }

Thread& Thread::operator=(Thread&& o) noexcept {
  WEFT_CHECK(t_ == nullptr, "weft: assigning to a joinable Thread handle");
  t_ = o.t_;
  o.t_ = nullptr;
  return *this;
}

Thread::~Thread() {
  WEFT_CHECK(t_ == nullptr, "weft: Thread handle destroyed while joinable (Join or Detach it)");
}

uint64_t Thread::id() const { return t_ == nullptr ? 0 : t_->id; }

bool Thread::orphaned() const { return t_ != nullptr && t_->orphaned; }

ThreadResult Thread::Join() {
  WEFT_CHECK(t_ != nullptr, "weft: Join of a Thread that is not joinable");
  WEFT_CHECK(!t_->orphaned, "weft: Join of a thread whose Run has ended");
  GreenThread* t = t_;
  t_ = nullptr;
  return t->sched->Join(t);
}

void Thread::Detach() {
  WEFT_CHECK(t_ != nullptr, "weft: Detach of a Thread that is not joinable");
  GreenThread* t = t_;
  t_ = nullptr;
  if (t->orphaned) {  // [threads.inv.orphans]
    delete t;
    return;
  }
  t->sched->Detach(t);
}

Thread Spawn(ThreadBody&& body, const SpawnOptions& options) {
  GreenThread* self = CurrentThread();
  WEFT_CHECK(self != nullptr, "weft: Spawn outside a green thread");
  SchedulerImpl* s = self->sched;
  if (s->stop_requested_.load(std::memory_order_acquire)) s->SafepointStop(CurrentWorker(), true);
  return Thread(s->Spawn(std::move(body), options));
}

// ---------------------------------------------------------------------------
// this_thread.

namespace this_thread {

bool InGreenThread() { return CurrentThread() != nullptr; }

uint64_t Id() {
  GreenThread* t = CurrentThread();
  return t == nullptr ? 0 : t->id;
}

std::string_view Name() {
  GreenThread* t = CurrentThread();
  if (t == nullptr) return std::string_view();
  if (t->name.empty()) {
    // Made on demand; readers of other threads' names hold reg_mu_.
    std::string name = ThreadName(t);
    SpinLockHolder l(&t->sched->reg_mu_);
    t->name = std::move(name);
  }
  return std::string_view(t->name);
}

void Yield() {
  // Park's fast path, specialised: YieldAfter's only access is the push that
  // publishes the thread.
  Worker* w = CurrentWorker();
  GreenThread* self = w == nullptr ? nullptr : w->current_.load(std::memory_order_relaxed);
  WEFT_CHECK(self != nullptr, "weft: Yield outside a green thread");
  CheckSwitchAllowed(w);
  self->reason.store(WaitReason::kYield, std::memory_order_relaxed);
  self->state.store(ThreadState::kRunnable, std::memory_order_release);
  w->after_fn_ = &YieldAfter;
  w->after_arg_ = self;
  GreenThread* next = w->TakeForDirectSwitch();
  JumpResult r = next != nullptr ? w->SwitchTo(self, next)
                                 : Jump(w->sched_ctx_, nullptr, &self->fiber, w->fiber_);
  static_cast<Worker*>(r.data)->Resumed(r.from);
  self->reason.store(WaitReason::kNone, std::memory_order_relaxed);
}

namespace {
struct MigrateFrame {
  GreenThread* self;
  Worker* target;
};
void MigrateAfter(void* p) {
  auto* f = static_cast<MigrateFrame*>(p);
  // Copy first: once queued, the thread may run and its frame go away.
  GreenThread* self = f->self;
  Worker* target = f->target;
  SchedulerImpl* sched = self->sched;
  self->state.store(ThreadState::kRunnable, std::memory_order_relaxed);
  {
    SpinLockHolder h(&target->mailbox_lock_);
    target->mailbox_.push_back(self);
    target->mailbox_size_.fetch_add(1);
    target->attention_.fetch_or(Worker::kMailBit);
  }
  sched->WakeWorker(target);
}
}  // namespace

void MigrateTo(int worker) {
  GreenThread* self = CurrentThread();
  WEFT_CHECK(self != nullptr, "weft: MigrateTo outside a green thread");
  SchedulerImpl* s = self->sched;
  WEFT_CHECK(worker >= 0 && worker < s->n_workers_, "weft: MigrateTo: no such worker");
  MigrateFrame f{self, s->workers_[worker].get()};
  internal::Park(ThreadState::kRunnable, WaitReason::kYield, nullptr, &MigrateAfter, &f);
}

void SleepUntil(absl::Time deadline) {
  // Qualified: unqualified, argument-dependent lookup of an absl::Duration argument
  // found absl::SleepFor, which slept the worker's OS thread and every thread queued on
  // it (SchedulerRunTest.SleepUntilParksOnlyItsThread).
  this_thread::SleepFor(deadline - absl::Now());
}

void SleepFor(absl::Duration d) {
  GreenThread* self = CurrentThread();
  WEFT_CHECK(self != nullptr, "weft: SleepFor outside a green thread");
  if (d <= absl::ZeroDuration()) {
    Yield();
    return;
  }
  if (d == absl::InfiniteDuration()) {
    // No timer: only a deadlock report ends this ([threads.inv.deadlock]).
    internal::Park(ThreadState::kBlocked, WaitReason::kSleep, nullptr, nullptr, nullptr);
    return;
  }
  WaitState ws;
  ws.thread = self;
  int64_t deadline = internal::DeadlineFromNow(absl::ToInt64Nanoseconds(d));
  internal::Park(ThreadState::kSleeping, WaitReason::kSleep, nullptr, nullptr, nullptr, &ws,
                 deadline);
  // [threads.timers.clock]: only the timer wakes a sleep, and only past its deadline.
  WEFT_CHECK(MonoNowNs() >= deadline, "weft: a sleep woke before its deadline");
}

ManagedStack& GetManagedStack() {
  GreenThread* t = CurrentThread();
  WEFT_CHECK(t != nullptr, "weft: GetManagedStack outside a green thread");
  return t->stacks->managed;
}

void Safepoint() {
  // [threads.inv.poll]: one load of a process-wide count while no scheduler stops.
  if (__builtin_expect(weft_stop_requests_in_process.load(std::memory_order_relaxed) == 0, 1)) return;
  Worker* w = CurrentWorker();
  if (w == nullptr) return;
  if (w->sched_->stop_requested_.load(std::memory_order_acquire)) {
    // No thread inside a bracket holds the world stopped (StopTheWorld checks), so
    // this one would stop here.
    CheckSwitchAllowed(w);
    w->sched_->SafepointStop(w, true);
  }
}

void NoSwitchBegin() {
  Worker* w = CurrentWorker();
  WEFT_CHECK(w != nullptr && w->current_.load(std::memory_order_relaxed) != nullptr,
             "weft: NoSafepointScope outside a green thread");
  ++w->no_switch_depth_;
}

void NoSwitchEnd() {
  Worker* w = CurrentWorker();
  WEFT_CHECK(w != nullptr && w->no_switch_depth_ > 0,
             "weft: NoSafepointScope ended on another OS thread than it began (it switched)");
  --w->no_switch_depth_;
}

bool InNoSwitch() {
  Worker* w = CurrentWorker();
  return w != nullptr && w->no_switch_depth_ > 0;
}

int WorkerIndex() {
  Worker* w = CurrentWorker();
  return w == nullptr ? -1 : w->index_;
}

Scheduler* CurrentScheduler() {
  GreenThread* t = CurrentThread();
  return t == nullptr ? nullptr : t->sched->public_;
}

}  // namespace this_thread
}  // namespace weft::threads
