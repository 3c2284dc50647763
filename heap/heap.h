// heap.h: the garbage-collected heap.
//
// A Heap allocates objects (heap/object.h) in blocks of a caller-owned Arena, through
// per-worker Mutators (heap/mutator.h), and collects them when the caller says so:
// precisely (roots come from a RootSource), stopping the world (the caller stops it),
// generationally (a copying nursery plus 1..6 older Immix-style generations, marked in
// place and defragmented by evacuation) and moving. DESIGN.md has the phases and the
// invariants cited in the code as [heap.inv.*].
//
// The heap knows nothing about threads. It is driven like this:
//  - Heap::Create(options, arena); SetHost(host) with a CollectionHost;
//  - each worker: m = CreateMutator(); m->Allocate...(); DestroyMutator(m) at exit;
//  - every store of a Value into an existing object: WriteBarrier (or StoreValue);
//  - when an allocation slow path needs a collection it calls
//    host->RequestCollection(gen) with no heap lock held; the host stops every
//    worker at a safepoint and calls Collect(gen, roots) (or CollectFull), then
//    returns; the slow path retries. Without a host the heap simply grows, and the
//    caller calls Collect itself;
//  - an allocation that fails returns nullptr with Mutator::last_failure().
// Thread-safety: Mutators may allocate concurrently from different threads (the slow
// path takes the heap's mutex). Collect, Verify, ForEachObject and TakeCensus require
// the world to be stopped: no Mutator may be allocating or storing meanwhile.
#ifndef WEFT_HEAP_HEAP_H_
#define WEFT_HEAP_HEAP_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "heap/mutex.h"
#include "heap/allocation_failure.h"
#include "heap/arena.h"
#include "heap/collection_phase.h"
#include "heap/gc_workers.h"
#include "heap/heap_options.h"
#include "heap/heap_stats.h"
#include "heap/layout_registry.h"
#include "heap/mutator.h"
#include "heap/nursery_sizer.h"
#include "heap/object.h"
#include "heap/region.h"
#include "heap/roots.h"
#include "heap/value.h"
#include "heap/write_barrier.h"

namespace weft::heap {

class CollectionHost {
 public:
  virtual ~CollectionHost() = default;
  // RequestCollection: called from an allocating thread's slow path, holding no heap
  // lock. The host should stop the world and call Heap::Collect(generation or older,
  // roots) before returning. It may also return without collecting; the slow path
  // then grows the heap if the limits allow, or fails.
  virtual void RequestCollection(int generation) = 0;
  // Poll: called from an allocating thread's slow path each time it is about to take
  // a block (or a large or pinned object), holding no heap lock, with the request's
  // values in the mutator's scratch slots ([heap.poll]). The host may stop the thread
  // here for a collection another thread requested, so that a thread that allocates
  // keeps reaching safepoints even while it fills the nursery without collecting.
  virtual void Poll() {}
};

class Heap {
 public:
  // While any of the last kDenseWindow collections found its nursery dense (at least
  // promote_in_place_percent of what was allocated since the one before survived),
  // collections promote the nursery in place ([heap.nursery.in-place]).
  static constexpr int kDenseWindow = 3;

  // Create: InvalidArgument when the options do not Validate or arena is null.
  static absl::StatusOr<std::unique_ptr<Heap>> Create(const HeapOptions& options, Arena* arena);
  // ~Heap returns every block to the arena. Every Mutator must be destroyed first.
  ~Heap();
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  Mutator* CreateMutator();
  // DestroyMutator: closes its regions; `m` must not be used afterwards.
  void DestroyMutator(Mutator* m);
  void SetHost(CollectionHost* host);
  // SetCollectionObserver: `observer` (or nullptr) hears every collection's phases
  // (heap/collection_phase.h). Set it before the first collection; it must outlive
  // the heap's collections.
  void SetCollectionObserver(CollectionObserver* observer) { observer_ = observer; }

  LayoutRegistry& layouts() { return layouts_; }
  const HeapOptions& options() const { return options_; }
  Arena& arena() const { return *arena_; }
  int oldest_generation() const { return options_.generations; }

  // WriteBarrier: *slot = v, where `slot` lies inside `holder`.
  void WriteBarrier(Object* holder, Value* slot, Value v) {
    WEFT_DCHECK(reinterpret_cast<char*>(slot) >= reinterpret_cast<char*>(holder->slots()) &&
                    reinterpret_cast<char*>(slot) <
                        reinterpret_cast<char*>(holder) + ObjectSize(holder),
                "weft: write barrier slot is not inside its holder");
    StoreValue(*arena_, slot, v);
  }

  // Collect collects `generation` and every younger one (clamped to
  // [0, oldest_generation()]). compact: evacuate every condemned old block (with
  // generation == oldest, a compacting full collection; the image writer needs it).
  // Requires the world stopped. Under WEFT_CHECKED, Verify runs before and after.
  void Collect(int generation, RootSource& roots, bool compact = false);
  // CollectionsOf: how many collections of `generation` or an older one have run.
  uint64_t CollectionsOf(int generation) const;
  // CollectUnlessDone: Collect(generation, roots) unless a collection of `generation`
  // or an older one has run since CollectionsOf(generation) returned `seen`, which
  // then served the request ([heap.collect.coalesce]). Returns whether it collected.
  // Requires the world stopped.
  bool CollectUnlessDone(int generation, uint64_t seen, RootSource& roots);
  void CollectFull(RootSource& roots, bool compact = true) {
    Collect(oldest_generation(), roots, compact);
  }

  // SetSoftLimit: clamped to [nursery_bytes, hard_limit_bytes]. Raising it lets a
  // failed allocation be retried.
  void SetSoftLimit(size_t bytes);
  size_t soft_limit() const;

  // Global roots: `slot` is visited by every collection until removed.
  void AddGlobalRoot(Value* slot);
  void RemoveGlobalRoot(Value* slot);

  // Verify checks every heap invariant (DESIGN.md) and aborts on the first broken
  // one. `roots` (optional) are checked too. Requires the world stopped.
  void Verify(RootSource* roots = nullptr);

  HeapStats Stats() const;
  // ForEachObject calls fn(object, generation) for every object (fillers excluded;
  // objects not yet found dead included). Requires the world stopped; fn must not
  // allocate.
  void ForEachObject(absl::FunctionRef<void(Object*, int)> fn);
  Census TakeCensus();
  // Image loading (heap/image_loader.h). ImageRun: one block run the loader fills.
  struct ImageRun {
    BlockType type;  // kOld (one block), kPinned (one block) or kLarge
    bool unboxed;
    size_t blocks;
    char* start = nullptr;  // set by AllocateImageRuns
  };
  // AllocateImageRuns allocates every run, in the oldest generation, or none:
  // ResourceExhausted naming the limit passed or the OS refusal. The runs are not
  // part of the heap until AdoptImageRuns. Requires the world stopped.
  absl::Status AllocateImageRuns(std::span<ImageRun> runs);
  // AdoptImageRuns adds runs from AllocateImageRuns, filled by the loader (objects,
  // fillers, line marks and bytes_used set), to the oldest generation.
  void AdoptImageRuns(std::span<const ImageRun> runs);

  // GenerationOf: the generation of a heap object.
  int GenerationOf(const Object* o) const { return arena_->InfoFor(o).generation; }
  // CollectingForFatal: whether a collection is under way, read without the lock. For
  // a fatal-error report only: the Weft core writer saves no heap caught in the middle
  // of a collection (forwarding headers, half-copied objects).
  bool CollectingForFatal() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return in_collection_; }
  // NeverMoves: whether `o` is in a pinned block or a large run.
  bool NeverMoves(const Object* o) const;

 private:
  friend class Mutator;
  friend class Collector;
  friend class HeapVerifier;

  enum class Admission { kOk, kNeedYoung, kOverSoft, kOverHard, kOsRefused };
  static constexpr int64_t kFutileBackoff = 10;
  static constexpr int64_t kMinFutileBackoffNs = 2'000'000;
  // FutileLocked: whether a request over a limit must fail without collecting
  // ([heap.limits.futile]).
  bool FutileLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  struct Request {
    size_t bytes = 0;
    bool collected_young = false;
    bool collected_full = false;
    int os_errno = 0;
  };

  Heap(const HeapOptions& options, Arena* arena);

  // The slow paths, called by Mutator.
  char* AllocateSmall(Mutator* m, size_t bytes, Space space);
  char* AllocateLarge(Mutator* m, size_t bytes, Space space);
  char* AllocatePinned(Mutator* m, size_t bytes);
  // BumpPinnedHole allocates from the next pinned holes that fit, or returns nullptr.
  char* BumpPinnedHole(size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // StressTick counts a slow-path allocation and maybe requests a collection.
  void StressTick(Mutator* m);
  // PollHost lets the host stop this thread before a slow path takes a block [heap.poll].
  void PollHost();
  Admission Admit(size_t block_bytes, bool young_block, const Request& req)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // HandleAdmission runs collections as the admission asks, without the lock.
  // Returns false when the request must fail.
  bool HandleAdmission(Admission a, Request& req) ABSL_LOCKS_EXCLUDED(mu_);
  char* Fail(Mutator* m, Admission a, const Request& req);
  int ChooseGeneration() ABSL_LOCKS_EXCLUDED(mu_);
  size_t YoungReserve(size_t extra_young_bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RegionSlackBytes: a partly filled block for each to-space region a young
  // collection may open ([heap.limits.reserve]).
  size_t RegionSlackBytes() const;
  // GrownTrigger: the bytes past which an older generation of `bytes` (its size
  // after its collection, or a batch just moved into it) is next collected
  // ([heap.trigger.growth]): max(initial_bytes, nursery_bytes, bytes grown by
  // old_growth_percent).
  size_t GrownTrigger(size_t bytes) const;
  // FitsHardLimit: whether `bytes` more of heap blocks (none of them new memory when
  // `from_spare`: a spare nursery block is reused) plus `reserve` stay within the
  // hard limit, counting spare nursery blocks as the committed memory they are. When
  // they do not, the spares go back to the arena first and the answer is for a heap
  // without them ([heap.limits.hard]).
  bool FitsHardLimit(size_t bytes, bool from_spare, size_t reserve)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // TakeYoungBlock returns a nursery block, a spare one if any ([heap.nursery.spare]),
  // with its BlockInfo reset to an empty generation-0 block, or nullptr when the
  // arena refuses (errno set).
  char* TakeYoungBlock(bool unboxed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // KeepOrFreeYoungBlock keeps an emptied nursery block as a spare while the spares
  // are fewer than the nursery's blocks, else frees it to the arena.
  void KeepOrFreeYoungBlock(char* block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ReleaseSpareBlocks frees spare nursery blocks beyond `keep`.
  void ReleaseSpareBlocks(size_t keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RetainFreeBlocks sets how much freed memory the arena keeps committed: the
  // largest footprint of the last kRetainWindow older collections' spans
  // ([heap.arena.retain]), and returns it. Called by a collection before it frees
  // anything.
  size_t RetainFreeBlocks(int generation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // BoundRetainedBlocks, once the collection has freed: cuts `keep` so that the heap
  // and what the arena keeps for it together stay within the hard limit.
  void BoundRetainedBlocks(size_t keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The arena's cache size as configured: the floor of what RetainFreeBlocks keeps.
  size_t BaseCachedFreeBytes() const { return arena_->options().cached_free_bytes; }
  size_t SpareBytes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return spare_young_blocks_.size() * kBlockSize;
  }
  // NurseryLimit: the largest nursery the soft and hard limits allow now (never
  // below options_.nursery_bytes) ([heap.nursery.adaptive]).
  size_t NurseryLimit() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AdaptNursery resizes the nursery after a collection that found `survived` of
  // the `allocated` bytes mutators allocated since the last one still alive
  // (nursery_sizer_), within the limits (NurseryLimit).
  void AdaptNursery(size_t allocated, size_t survived) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // CloseRegion writes fillers over the unused end of `r` and accounts its bytes.
  void CloseRegion(Region& r, bool mutator) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseMutatorRegions() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OpenRegion(Region& r, char* start, char* end, bool stress);
  void FreeRun(char* run, size_t blocks, bool poison) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void VerifyLocked(RootSource* roots) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForEachObjectLocked(absl::FunctionRef<void(Object*, int)> fn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::array<size_t, kMaxGenerations> GenerationBytesLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const HeapOptions options_;
  Arena* const arena_;
  LayoutRegistry layouts_;
  // Set before mutators run; read without mu_ by Poll ([heap.poll]).
  std::atomic<CollectionHost*> host_{nullptr};
  CollectionObserver* observer_ = nullptr;  // read by the collector, world stopped

  mutable Mutex mu_;
  std::vector<Mutator*> mutators_ ABSL_GUARDED_BY(mu_);
  // The blocks the heap holds, by type. Large runs are listed by their head.
  std::vector<char*> young_blocks_ ABSL_GUARDED_BY(mu_);
  std::vector<char*> old_blocks_ ABSL_GUARDED_BY(mu_);
  std::vector<char*> large_runs_ ABSL_GUARDED_BY(mu_);
  std::vector<char*> pinned_blocks_ ABSL_GUARDED_BY(mu_);
  Region pinned_region_ ABSL_GUARDED_BY(mu_);
  // Generation-0 pinned blocks with free lines (rebuilt by every collection), and
  // how far pinned allocation has reused them.
  std::vector<char*> pinned_holes_ ABSL_GUARDED_BY(mu_);
  size_t pinned_hole_block_ ABSL_GUARDED_BY(mu_) = 0;
  size_t pinned_hole_line_ ABSL_GUARDED_BY(mu_) = 0;
  size_t heap_bytes_ ABSL_GUARDED_BY(mu_) = 0;       // blocks held, in bytes
  size_t young_since_gc_ ABSL_GUARDED_BY(mu_) = 0;   // allocated since the last GC
  // Bit i: the i-th last collection found its nursery dense (survival at least
  // promote_in_place_percent; see kDenseWindow), judged against the bytes mutators
  // allocated since the collection before (stats_.bytes_allocated then).
  uint64_t allocated_at_last_gc_ ABSL_GUARDED_BY(mu_) = 0;
  // Helpers for a collection's parallel trace; null with gc_threads = 1
  // ([heap.collect.parallel]).
  std::unique_ptr<GcWorkers> gc_workers_;
  uint32_t recent_dense_ ABSL_GUARDED_BY(mu_) = 0;
  // The fraction that survived the last collection of each generation: index 0 of
  // the bytes allocated before the last young collection, index g >= 1 of
  // generation g's bytes in its old blocks when it was last condemned; < 0 before the
  // first. Predicts what a collection moves up ([heap.trigger.anticipate]).
  std::array<double, kMaxGenerations> survival_ ABSL_GUARDED_BY(mu_) = {-1, -1, -1, -1,
                                                                        -1, -1, -1};
  // The nursery's current size, in [options_.nursery_bytes, max], whole blocks
  // ([heap.nursery.adaptive]), and its spare blocks ([heap.nursery.spare]).
  size_t nursery_bytes_ ABSL_GUARDED_BY(mu_);
  // The size rule: survival, capped by the pause target at the measured copy rate.
  NurserySizer nursery_sizer_ ABSL_GUARDED_BY(mu_);
  std::vector<char*> spare_young_blocks_ ABSL_GUARDED_BY(mu_);
  uint64_t nursery_resizes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t soft_limit_ ABSL_GUARDED_BY(mu_);
  // After a full collection that left the heap over the soft limit, skip further
  // full collections until this much more has been promoted ([heap.limits.futile]).
  bool full_gc_futile_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t futile_promoted_mark_ ABSL_GUARDED_BY(mu_) = 0;
  // While futile, one more full collection is allowed once the last one ended at
  // least kFutileBackoff x its pause ago (and kMinFutileBackoffNs): a program that
  // sheds data recovers, and collection time stays bounded to a tenth of the run.
  int64_t last_full_end_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_full_pause_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::array<size_t, kMaxGenerations> trigger_bytes_ ABSL_GUARDED_BY(mu_) = {};
  std::vector<Value*> global_roots_ ABSL_GUARDED_BY(mu_);
  HeapStats stats_ ABSL_GUARDED_BY(mu_);
  // [heap.arena.retain]: the largest footprint (heap bytes plus spare nursery bytes)
  // met by any collection since each of the last kRetainWindow older collections;
  // the slot `retain_slot_` is the current span.
  static constexpr size_t kRetainWindow = 4;
  std::array<size_t, kRetainWindow> footprint_peaks_ ABSL_GUARDED_BY(mu_) = {};
  size_t retain_slot_ ABSL_GUARDED_BY(mu_) = 0;
  bool in_collection_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t stress_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

// Block flags the heap keeps in BlockInfo::flags of its blocks.
inline constexpr uint8_t kBlockUnboxed = 1;      // holds no objects with references
inline constexpr uint8_t kBlockEvacuate = 2;     // being evacuated by this collection
inline constexpr uint8_t kBlockEvacFailed = 4;   // evacuation fell back to marking
inline constexpr uint8_t kBlockToSpace = 8;      // filled by this collection
// BlockInfo::reserved of a heap block: collections of its generation it survived.

}  // namespace weft::heap

#endif  // WEFT_HEAP_HEAP_H_
