// runtime_impl.h: RuntimeImpl, the object behind weft::Runtime that wires the heap
// and the scheduler together. Private to //runtime.
//
// RuntimeImpl owns, in construction order, the arena (every block of memory), the
// heap and the scheduler. It is the heap's CollectionHost (an allocation slow path
// asks it to stop the world and collect) and its RootSource (the managed stacks of
// every green thread, the global slots, which hold every thread result, and the values
// in flight in its channels). One runtime
// runs at a time in a process ([runtime.inv.one-running]); the running one is
// RuntimeImpl::Current().
#ifndef WEFT_RUNTIME_RUNTIME_IMPL_H_
#define WEFT_RUNTIME_RUNTIME_IMPL_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "heap/arena.h"
#include "heap/heap.h"
#include "heap/mutex.h"
#include "runtime/check.h"
#include "runtime/control_server.h"
#include "runtime/os_mutex.h"
#include "runtime/weft.h"
#include "threads/scheduler.h"
#include "threads/spin_lock.h"

namespace weft {

namespace internal {
// A link of RuntimeImpl::ChannelList (channel.cc's channels derive from it).
struct ChannelLink {
  ChannelLink* prev = this;
  ChannelLink* next = this;
};
}  // namespace internal

class RuntimeImpl final : public heap::CollectionHost, public heap::RootSource {
 public:
  static absl::StatusOr<std::unique_ptr<RuntimeImpl>> Create(const Options& options);
  ~RuntimeImpl() override;

  absl::StatusOr<int> Run(std::function<int()> main);

  // Current: the running runtime. Aborts when called with none running.
  static RuntimeImpl& Current() {
    RuntimeImpl* r = current_.load(std::memory_order_acquire);
    WEFT_CHECK(r != nullptr, "weft: no runtime is running (call from a green thread)");
    return *r;
  }
  static RuntimeImpl* CurrentOrNull() { return current_.load(std::memory_order_acquire); }

  heap::Heap& heap() { return *heap_; }
  threads::Scheduler& scheduler() { return *scheduler_; }
  heap::Arena& arena() { return *arena_; }
  const Options& options() const { return options_; }
  // mutator: the allocation context of the worker running the caller.
  heap::Mutator& mutator();

  // Collect stops the world, collects `generation` (-1: all) and resumes.
  void Collect(int generation, bool compact);
  // WithWorldStopped runs fn with every other worker stopped at a safepoint.
  void WithWorldStopped(const std::function<void()>& fn);

  // heap::CollectionHost.
  void RequestCollection(int generation) override;
  // heap::CollectionHost: an allocation slow path is a safepoint ([heap.poll]).
  void Poll() override;
  // heap::RootSource: managed stacks, global slots, channel contents.
  void VisitRoots(heap::RootVisitor& v) override;

  // heap::RootSource: the objects of registered cleanups ([runtime.cleanup]).
  void VisitWeakRoots(heap::WeakRootVisitor& v) override;

  // Cleanups ([runtime.cleanup]): AddCleanup registers; RunPendingCleanups runs the
  // ones whose objects the last collections found dead (after the world resumed).
  void AddCleanup(heap::Value object, std::function<void()> cleanup);
  void RunPendingCleanups();

  // Global slots: stable addresses visited by every collection.
  heap::Value* NewGlobalSlot(heap::Value initial);
  // FreeGlobalSlot frees a slot in the runtime that made it, which it finds from the
  // slot's chunk: static, so that a Global (or a thread's result) that outlived its
  // runtime can free its slot without touching the destroyed runtime
  // ([runtime.globals.orphans]).
  static void FreeGlobalSlot(heap::Value* slot);
  // GlobalSlots: every global slot in use (for inspection while the world is stopped).
  std::vector<heap::Value*> GlobalSlots() const;
  // GlobalSlotsForFatal: GlobalSlots for a fatal-error report, which may find the
  // lock held by the failing code: false if it stays held for a second.
  bool GlobalSlotsForFatal(std::vector<heap::Value*>* out) const;
  // SlotCache: one worker's free global slots ([runtime.globals.cache]). Used only on
  // its worker's OS thread, and read by GlobalSlots while the world is stopped (a
  // stopped worker is never inside NewGlobalSlot or FreeGlobalSlot: neither has a
  // safepoint).
  struct SlotCache {
    static constexpr int kCapacity = 64;
    int count = 0;
    heap::Value* slots[kCapacity];
  };

  // ThrowAllocationFailure turns the mutator's last failure into the public
  // exception (HeapExhausted, or TypeError for a request too large to represent).
  [[noreturn]] void ThrowAllocationFailure(const heap::AllocationFailure& f);

  Stats GetStats() const;

  // HandleControlRequest answers one SIGQUIT or stackscan request (see
  // control_server.h) from the control thread, with the world stopped through
  // WithWorldStopped ([runtime.stw.resume]): a failure in the pause (a
  // std::bad_alloc) is answered `error: ...` with the world running again.
  std::string HandleControlRequest(const std::string& request);
  // SetControlPauseHookForTesting: fn runs inside every later control request's pause
  // (world stopped), so a test can make the pause fail. Set it before the requests.
  void SetControlPauseHookForTesting(std::function<void()> fn) {
    control_pause_hook_ = std::move(fn);
  }

  // PathTo: who keeps `target` alive: BuildPath (heap_inspect.h) over every root of
  // this runtime (managed stacks, global slots, values in flight), `skip` excepted.
  // The world is stopped.
  std::vector<std::string> PathTo(heap::Value target, const heap::Value* skip);

  // The runtime's live channels ([runtime.channels.in-flight]): channel.cc links a
  // channel once it is fully built and unlinks it before it is torn down, so a walk
  // under `mu` sees only whole channels of this runtime. A circular list through
  // `head`; TryLock for fatal paths.
  struct ChannelList {
    OsMutex mu;
    internal::ChannelLink head ABSL_GUARDED_BY(mu);
  };
  ChannelList& channels() { return channels_; }

  // SlotOf: the managed-stack slot a Local names.
  static const heap::Value* SlotOf(Local v) { return reinterpret_cast<const heap::Value*>(v.slot_); }

  // Throws StackOverflow for the current green thread's managed stack.
  [[noreturn]] void ThrowStackOverflow();

 private:

  RuntimeImpl() = default;
  std::vector<heap::Value*> GlobalSlotsLocked(bool world_stopped) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(globals_mu_);

  static std::atomic<RuntimeImpl*> current_;

  Options options_;
  std::unique_ptr<heap::Arena> arena_;
  std::unique_ptr<heap::Heap> heap_;
  std::unique_ptr<threads::Scheduler> scheduler_;
  std::vector<heap::Mutator*> mutators_;  // one per worker, set while it runs
  std::unique_ptr<ControlServer> control_;  // while Run runs
  std::function<void()> control_pause_hook_;  // tests only
  ChannelList channels_;

  // GlobalChunk: global slots in an aligned block whose first words name the runtime
  // they belong to, so FreeGlobalSlot finds it from the slot's address alone. When the
  // runtime ends with slots of a chunk still in use (a Global outliving it, or held
  // on the stack of a detached thread abandoned at shutdown), the chunk outlives the
  // runtime with `owner` null, and the last of those slots to be freed frees it
  // ([runtime.globals.orphans]).
  struct alignas(4096) GlobalChunk {
    static constexpr size_t kBytes = 4096;
    static constexpr size_t kSlots = (kBytes - 2 * sizeof(void*)) / sizeof(heap::Value);
    std::atomic<RuntimeImpl*> owner;
    std::atomic<size_t> orphans{0};  // slots in use when the owner ended
    heap::Value slots[kSlots];
    static GlobalChunk* Of(const heap::Value* slot) {
      return reinterpret_cast<GlobalChunk*>(reinterpret_cast<uintptr_t>(slot) & ~(kBytes - 1));
    }
  };
  void FreeOwnGlobalSlot(heap::Value* slot);
  // DetachGlobals: at destruction, frees the chunks with no slot in use and orphans
  // the others.
  void DetachGlobals();
  // Every thread result that is a reference takes and frees a global slot
  // ([runtime.inv.result-slot]), so a worker keeps its own free slots
  // ([runtime.globals.cache]) and takes this lock only to refill or spill its cache
  // in batches, or for the collector's and the census's walks. A spin lock: its other
  // critical sections are a batch move (a chunk's allocation at worst).
  mutable threads::SpinLock globals_mu_;
  std::vector<GlobalChunk*> global_chunks_ ABSL_GUARDED_BY(globals_mu_);  // owned
  std::vector<heap::Value*> free_globals_ ABSL_GUARDED_BY(globals_mu_);
  void AddGlobalChunkLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(globals_mu_);
  void RefillSlotCache(SlotCache* c);
  void SpillSlotCache(SlotCache* c, int keep);
  std::vector<std::unique_ptr<SlotCache>> slot_caches_;  // one per worker, while it runs

  // [runtime.cleanup]: never held across a safepoint (registration allocates
  // nothing managed), so a stopped worker never holds it.
  struct Cleanup {
    heap::Value object;  // a weak slot
    std::function<void()> fn;
  };
  mutable heap::Mutex cleanup_mu_;
  std::vector<Cleanup> cleanups_ ABSL_GUARDED_BY(cleanup_mu_);
  std::vector<std::function<void()>> pending_cleanups_ ABSL_GUARDED_BY(cleanup_mu_);
  uint64_t cleanups_run_ ABSL_GUARDED_BY(cleanup_mu_) = 0;
  bool running_cleanups_ ABSL_GUARDED_BY(cleanup_mu_) = false;
};

// CurrentMutator: the Mutator of the worker running the caller, or null off a worker.
// An opaque call on purpose, like threads' CurrentWorker: green threads migrate at any
// switch, so the per-worker Mutator must be fetched again after every safepoint, and
// no caller may keep the thread_local's address ([threads.inv.no-tls-across-switch]).
// One allocation is one fetch: the thread cannot migrate during the allocation.
// Defined in objects.cc, whose pair allocators read the thread_local directly.
heap::Mutator* CurrentMutator();
// SetCurrentMutator: this OS thread's worker Mutator (on_worker_start and _stop).
void SetCurrentMutator(heap::Mutator* m);

// Channels of managed values, defined in channel.cc ([runtime.channels.in-flight]).
// VisitChannelValues calls fn for every value in flight in rt's channels: buffered,
// or held by a blocked sender. The world is stopped.
void VisitChannelValues(RuntimeImpl* rt, absl::FunctionRef<void(heap::Value*)> fn);
// VisitChannelValuesForFatal: the same for a fatal report, with the world maybe
// running: never blocks on a lock ([runtime.core]); false when some channel's values
// (or the channel list) could not be read.
bool VisitChannelValuesForFatal(RuntimeImpl* rt, absl::FunctionRef<void(heap::Value*)> fn);
// ForgetChannelWaiters: Run has ended and every green thread with it (detached ones
// abandoned, their stacks freed): drop their wait nodes from rt's channels unread.
void ForgetChannelWaiters(RuntimeImpl* rt);
// DetachChannels: rt is ending; its channels that live on belong to no runtime.
void DetachChannels(RuntimeImpl* rt);

// Value conversions between the public and the heap's representation (same bits).
inline heap::Value ToHeap(Value v) { return heap::Value{v.raw}; }
inline Value FromHeap(heap::Value v) { return Value{v.raw}; }

}  // namespace weft

#endif  // WEFT_RUNTIME_RUNTIME_IMPL_H_
