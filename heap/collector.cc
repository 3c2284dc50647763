#include "heap/collector.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>

#include "heap/filler.h"
#include "heap/mark_bits.h"
#include "runtime/check.h"
#include "runtime/stderr_write.h"
#include "runtime/log.h"

namespace weft::heap {
namespace {

// Objects above this go to an old generation's overflow region (a fresh block), not
// into holes of free lines, which are mostly a line or two long (Immix's medium
// objects).
constexpr size_t kMediumObjectBytes = 2 * kLineSize;
// An old block less full than this is evacuated by a collection of its generation.
constexpr size_t kEvacuateBelowBytes = kBlockSize / 4;
// Copy moves objects up to this size word by word instead of calling memcpy.
constexpr size_t kSmallCopyBytes = 64;

bool AnyCardDirty(const BlockInfo& info) {
  uint64_t words[kCardsPerBlock / 8];
  std::memcpy(words, info.cards, sizeof(words));
  uint64_t any = 0;
  for (uint64_t w : words) any |= w;
  return any != 0;
}

bool HasFreeLine(const BlockInfo& info) {
  for (uint64_t w : info.line_marks) {
    if (w != ~uint64_t{0}) return true;
  }
  return false;
}

class CollectingVisitor final : public RootVisitor {
 public:
  explicit CollectingVisitor(Collector& c) : c_(c) {}
  void Visit(Value* slot) override { c_.Process(slot); }
  void VisitRange(Value* begin, Value* end) override {
    for (Value* p = begin; p < end; ++p) c_.Process(p);
  }

 private:
  Collector& c_;
};

class WeakVisitor final : public WeakRootVisitor {
 public:
  explicit WeakVisitor(Collector& c) : c_(c) {}
  bool Visit(Value* slot) override { return c_.ProcessWeak(slot); }

 private:
  Collector& c_;
};

// ThreadCpuMs: the calling OS thread's CPU time. A collection runs on one worker's
// thread from start to end.
double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

void Heap::Collect(int generation, RootSource& roots, bool compact) {
  generation = std::clamp(generation, 0, oldest_generation());
  MutexLock lock(&mu_);
  WEFT_CHECK(!in_collection_, "weft: Collect called during a collection");
  if (WEFT_CHECKED_BUILD) {
    CloseMutatorRegions();
    VerifyLocked(&roots);
  }
  in_collection_ = true;
  Collector collector(*this, generation, compact);
  try {
    collector.Run(roots);
  } catch (const std::exception& e) {
    // [heap.inv.collect-nothrow]: objects are half moved and blocks half swept;
    // nothing can use this heap again, so the process ends with what went wrong
    // rather than unwinding into code that would read it.
    weft::Log().critical("weft: a collection of generation {} failed part-way: {}", generation,
                         e.what());
    WEFT_CHECK(false, "weft: a collection failed part-way; the heap is inconsistent");
  }
  in_collection_ = false;
  if (WEFT_CHECKED_BUILD) VerifyLocked(&roots);
}

uint64_t Heap::CollectionsOf(int generation) const {
  generation = std::clamp(generation, 0, oldest_generation());
  MutexLock lock(&mu_);
  uint64_t n = 0;
  for (int g = generation; g < kMaxGenerations; ++g) n += stats_.collections[g];
  return n;
}

// [heap.collect.coalesce]: two threads that fill the nursery at once both ask for a
// collection; the one that stops the world second finds the first one's done.
bool Heap::CollectUnlessDone(int generation, uint64_t seen, RootSource& roots) {
  if (CollectionsOf(generation) != seen) return false;
  Collect(generation, roots);
  return true;
}

Collector::Collector(Heap& heap, int generation, bool compact)
    : heap_(heap),
      arena_(*heap.arena_),
      generation_(generation),
      compact_(compact),
      oldest_(heap.oldest_generation()),
      uniform_promotion_(UniformPromotion(heap.options_, generation, oldest_)),
      in_place_(!WEFT_CHECKED_BUILD && heap.recent_dense_ != 0 &&
                heap.options_.promotion_age[0] == 1) {}

void Collector::Run(RootSource& roots) {
  auto start = std::chrono::steady_clock::now();
  double start_cpu_ms = ThreadCpuMs();
  size_t before = heap_.heap_bytes_;
  // [heap.collect.phases]: each phase is told to the observer (the runtime's tracer).
  CollectionObserver* const observer = heap_.observer_;
  auto phase = [&](CollectionPhase p, auto&& body) {
    if (observer != nullptr) observer->PhaseBegin(p, generation_);
    body();
    if (observer != nullptr) observer->PhaseEnd(p, generation_);
  };
  phase(CollectionPhase::kPrepare, [&] {
    Prepare();
    condemned_bytes_ += from_young_.size() * kBlockSize;
    parallel_ = TraceInParallel();
  });
  phase(CollectionPhase::kRoots, [&] { ScanRoots(roots); });
  phase(CollectionPhase::kRemembered, [&] {
    for (char* b : dirty_blocks_) ScanDirtyBlock(b);
    for (char* r : dirty_large_) ScanDirtyLarge(r);
  });
  phase(CollectionPhase::kTrace, [&] { Drain(); });
  // [heap.weak]: after the closure (nothing more will be copied or marked) and
  // before Finish frees the from-space and sweeps.
  phase(CollectionPhase::kWeak, [&] {
    WeakVisitor weak(*this);
    roots.VisitWeakRoots(weak);
  });
  phase(CollectionPhase::kFinish, [&] {
    const size_t keep = heap_.RetainFreeBlocks(generation_);  // at the peak, before it frees
    Finish();
    heap_.BoundRetainedBlocks(keep);
  });
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
  double cpu_ms = ThreadCpuMs() - start_cpu_ms;
  // Every copy is a nursery survivor or an evacuation. Only young pauses are copy
  // rate samples, timed in the collecting thread's CPU time: an older collection's
  // pause is mostly marking, and a descheduled collector is not a slower copy
  // ([heap.nursery.adaptive]).
  size_t survived = copied_bytes_ - evacuated_bytes_ + in_place_bytes_;
  if (generation_ == 0 && !in_place_) {
    heap_.nursery_sizer_.RecordYoungCollection(survived, cpu_ms);
  }
  // [heap.nursery.in-place]: recent survival predicts survival.
  const int percent = heap_.options_.promote_in_place_percent;
  const uint64_t allocated = heap_.stats_.bytes_allocated - heap_.allocated_at_last_gc_;
  heap_.allocated_at_last_gc_ = heap_.stats_.bytes_allocated;
  const bool dense = percent > 0 && allocated > 0 &&
                     survived * 100 >= static_cast<uint64_t>(percent) * allocated;
  heap_.recent_dense_ =
      ((heap_.recent_dense_ << 1) | (dense ? 1 : 0)) & ((1u << Heap::kDenseWindow) - 1);
  heap_.AdaptNursery(heap_.young_since_gc_, survived);
  // [heap.trigger.anticipate]
  if (allocated > 0) {
    heap_.survival_[0] = static_cast<double>(survived) / static_cast<double>(allocated);
  }
  for (int g = 1; g <= generation_; ++g) {
    if (condemned_old_bytes_[g] > 0) {
      heap_.survival_[g] = static_cast<double>(live_old_bytes_[g]) /
                           static_cast<double>(condemned_old_bytes_[g]);
    }
  }
  heap_.young_since_gc_ = 0;
  HeapStats& s = heap_.stats_;
  ++s.collections[generation_];
  s.promoted_bytes += promoted_bytes_;
  s.evacuated_bytes += evacuated_bytes_;
  if (in_place_) ++s.in_place_collections;
  if (parallel_) ++s.parallel_collections;
  s.promoted_in_place_bytes += in_place_bytes_;
  s.total_pause_ms += ms;
  s.max_pause_ms = std::max(s.max_pause_ms, ms);
  s.last_pause_ms = ms;
  s.pauses.Add(ms);
  if (generation_ == oldest_) {
    auto end = std::chrono::steady_clock::now();
    heap_.last_full_end_ns_ =
        std::chrono::duration_cast<std::chrono::nanoseconds>(end.time_since_epoch()).count();
    heap_.last_full_pause_ns_ =
        std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
  }
  weft::Log().debug(
      "gc #{} gen {}{}: {}->{} KiB heap, {} KiB copied, {} KiB marked, {} KiB promoted, "
      "{} KiB evacuated, {:.3f} ms ({:.3f} ms CPU); nursery next {} KiB",
      s.collections[generation_], generation_,
      compact_ ? " compact" : (parallel_ ? " in place, parallel" : (in_place_ ? " in place" : "")),
      before >> 10,
      heap_.heap_bytes_ >> 10, copied_bytes_ >> 10, marked_bytes_ >> 10, promoted_bytes_ >> 10,
      evacuated_bytes_ >> 10, ms, cpu_ms, heap_.nursery_bytes_ >> 10);
}

void Collector::Prepare() {
  heap_.CloseMutatorRegions();
  from_young_.swap(heap_.young_blocks_);
  if (in_place_) {
    // The trace records these blocks' old-to-young slots as it would in to-space
    // blocks of generation 1 ([heap.nursery.in-place]).
    // bytes_used counts the marked bytes, so blocks nothing survived in go back
    // unswept.
    for (char* b : from_young_) {
      BlockInfo& info = arena_.InfoFor(b);
      std::memset(info.cards, 0, kCardsPerBlock);
      info.bytes_used = 0;
    }
  }
  young_reserve_ = from_young_.size() * kBlockSize + from_young_.size() * kBlockSize / 3 +
                   heap_.RegionSlackBytes();
  size_t hard = heap_.options_.hard_limit_bytes;
  size_t budget = hard > heap_.heap_bytes_ + young_reserve_
                      ? hard - heap_.heap_bytes_ - young_reserve_
                      : 0;
  // Evacuation candidates: sparse blocks (by their last sweep), when a generation
  // has at least two of them, so that evacuating packs them; every condemned block
  // when compacting.
  int sparse[kMaxGenerations][2] = {};
  for (char* b : heap_.old_blocks_) {
    const BlockInfo& info = arena_.InfoFor(b);
    if (info.generation <= generation_ && info.bytes_used < kEvacuateBelowBytes) {
      ++sparse[info.generation][(info.flags & kBlockUnboxed) ? 1 : 0];
    }
  }
  for (char* b : heap_.old_blocks_) {
    BlockInfo& info = arena_.InfoFor(b);
    int space = (info.flags & kBlockUnboxed) ? 1 : 0;
    if (info.generation <= generation_) {
      std::memset(info.cards, 0, sizeof(info.cards));  // rebuilt by the trace
      bool candidate = compact_ || (info.bytes_used < kEvacuateBelowBytes &&
                                    sparse[info.generation][space] >= 2);
      size_t cost = info.bytes_used + info.bytes_used / 3;
      condemned_bytes_ += info.bytes_used;
      condemned_old_bytes_[info.generation] += info.bytes_used;
      if (candidate && cost <= budget) {
        info.flags |= kBlockEvacuate;
        budget -= cost;
      } else if (HasFreeLine(info)) {
        holes_[info.generation][space].blocks.push_back(b);
      }
      // From here it counts the bytes marked in it (and copied into its holes, as
      // their regions close): a block nothing survived in is freed unswept.
      info.bytes_used = 0;
    } else if (space == 0 && AnyCardDirty(info)) {
      dirty_blocks_.push_back(b);  // never a hole target: it is walked
    } else if (HasFreeLine(info)) {
      holes_[info.generation][space].blocks.push_back(b);
    }
  }
  for (char* run : heap_.large_runs_) {
    BlockInfo& head = arena_.InfoFor(run);
    if (head.flags & kBlockUnboxed) continue;
    if (head.generation <= generation_) {
      for (size_t i = 0; i < head.run_blocks; ++i) {
        std::memset(arena_.InfoFor(run + i * kBlockSize).cards, 0, kCardsPerBlock);
      }
    } else {
      for (size_t i = 0; i < head.run_blocks; ++i) {
        if (AnyCardDirty(arena_.InfoFor(run + i * kBlockSize))) {
          dirty_large_.push_back(run);
          break;
        }
      }
    }
  }
}

void Collector::ScanRoots(RootSource& roots) {
  CollectingVisitor v(*this);
  roots.VisitRoots(v);
  for (Value* slot : heap_.global_roots_) Process(slot);
  for (Mutator* m : heap_.mutators_) {
    for (Value& s : m->scratch_) Process(&s);
  }
}

void Collector::Process(Value* slot) {
  Value v = *slot;
  if (!v.IsPointer()) return;
  Object* o = v.AsObject();
  if (o->IsForwarded()) {
    *slot = Value::FromObject(o->forwarding_address());
    return;
  }
  BlockInfo& info = arena_.InfoFor(o);
  if (Settled(o, info)) return;
  WEFT_DCHECK(o->IsObject(), "weft: reference to something that is not an object");
  switch (info.type) {
    case BlockType::kYoung: {
      if (in_place_) {  // [heap.nursery.in-place]
        SetMark(info, o);
        info.bytes_used += static_cast<uint32_t>(ObjectSize(o));
        if (KindHasReferences(o->kind())) work_.push_back(o);
        return;
      }
      int age = info.reserved + 1;  // [heap.nursery.block-age]
      Object* n = age >= heap_.options_.promotion_age[0] ? Copy(o, 1, 0, true)
                                                         : Copy(o, 0, age, true);
      // [heap.limits.reserve] guarantees room for every nursery survivor within the
      // heap's limits, so only the OS can refuse here (overcommit off, ulimit -v).
      if (n == nullptr) ReportSurvivorOutOfMemory(ObjectSize(o));
      WEFT_CHECK(n != nullptr, "weft: heap: out of memory copying nursery survivors");
      *slot = Value::FromObject(n);
      return;
    }
    case BlockType::kOld:
      if (info.flags & kBlockEvacuate) {
        if (Object* n = Copy(o, info.generation, 0, false); n != nullptr) {
          *slot = Value::FromObject(n);
          return;
        }
        info.flags |= kBlockEvacFailed;  // no room: this block is swept instead
      }
      info.bytes_used += static_cast<uint32_t>(Mark(o, info));  // [heap.collect.unswept]
      return;
    case BlockType::kLarge:
    case BlockType::kPinned:
      Mark(o, info);
      return;
    default:
      WEFT_CHECK(false, "weft: heap reference into a block that is not a heap block");
  }
}

bool Collector::ProcessWeak(Value* slot) {
  Value v = *slot;
  if (!v.IsPointer()) return true;
  Object* o = v.AsObject();
  if (o->IsForwarded()) {
    *slot = Value::FromObject(o->forwarding_address());
    return true;
  }
  // Anything not settled is in a condemned block and was not reached.
  return Settled(o, arena_.InfoFor(o));
}

bool Collector::Settled(const Object* o, const BlockInfo& info) const {
  return info.generation > generation_ || (info.flags & kBlockToSpace) || IsMarked(info, o);
}

Region& Collector::ToRegion(int generation, bool boxed, size_t bytes, int age) {
  if (generation == 0) return survivors_[age][boxed ? 0 : 1];
  bool medium = generation >= 1 && bytes > kMediumObjectBytes;
  return (medium ? overflow_ : to_)[generation][boxed ? 0 : 1];
}

size_t Collector::Mark(Object* o, BlockInfo& info) {
  SetMark(info, o);  // [heap.inv.mark-bits]
  const size_t bytes = ObjectSize(o);  // a large object may pass 4 GiB
  marked_bytes_ += bytes;
  if (KindHasReferences(o->kind())) work_.push_back(o);
  return bytes;
}

// The fatal check that follows has a constant message; this line says how big the
// heap was, so a user can tell a machine limit (ulimit -v, overcommit) from a leak.
// Written with write(2) alone: the world is stopped and the allocator may be broken.
void Collector::ReportSurvivorOutOfMemory(size_t object_bytes) {
  ArenaStats a = arena_.Stats();
  WriteStderr("weft: heap: the OS refused memory for a ");
  WriteStderrDecimal(object_bytes);
  WriteStderr("-byte nursery survivor in a collection of generation ");
  WriteStderrDecimal(static_cast<uint64_t>(generation_));
  WriteStderr(" after copying ");
  WriteStderrDecimal(copied_bytes_);
  WriteStderr(" bytes; the arena has ");
  WriteStderrDecimal(a.committed_bytes);
  WriteStderr(" bytes committed of ");
  WriteStderrDecimal(a.reserved_bytes);
  WriteStderr(" reserved (check ulimit -v and vm.overcommit_memory)\n");
}

Object* Collector::Copy(Object* o, int to_generation, int age, bool from_young) {
  size_t size = ObjectSize(o);
  bool boxed = KindHasReferences(o->kind());
  // The open to-space region first (inline); AllocateTo opens the next one.
  char* p = ToRegion(to_generation, boxed, size, age).Bump(size);
  if (p == nullptr) p = AllocateTo(to_generation, boxed, size, from_young, age);
  if (p == nullptr) return nullptr;
  if (size <= kSmallCopyBytes) {
    // Most objects are a few words: a word loop beats a call to memcpy.
    const uint64_t* from = reinterpret_cast<const uint64_t*>(o);
    uint64_t* to = reinterpret_cast<uint64_t*>(p);
    for (size_t i = 0; i < size / sizeof(uint64_t); ++i) to[i] = from[i];
  } else {
    std::memcpy(p, o, size);
  }
  Object* n = reinterpret_cast<Object*>(p);
  // A copy into a hole of a block this collection sweeps must survive the sweep.
  // A young collection sweeps no block, so its copies are never marked.
  if (generation_ > 0) {
    BlockInfo& dest = arena_.InfoFor(p);
    if (dest.generation <= generation_ && !(dest.flags & kBlockToSpace)) SetMark(dest, p);
  }
  if (!from_young) {
    // The copy keeps its block's age, so evacuation does not delay promotion.
    BlockInfo& dest_info = arena_.InfoFor(p);
    dest_info.reserved = std::max(dest_info.reserved, arena_.InfoFor(o).reserved);
  }
  o->Forward(n);
  if (boxed) work_.push_back(n);
  copied_bytes_ += size;
  if (from_young && to_generation > 0) promoted_bytes_ += size;
  if (!from_young) evacuated_bytes_ += size;
  return n;
}

bool Collector::NextHole(HoleCursor& c, Region& r) {
  while (c.block < c.blocks.size()) {
    char* b = c.blocks[c.block];
    size_t first, end;
    if (!NextFreeLines(arena_.InfoFor(b), &c.line, &first, &end)) {
      ++c.block;
      c.line = 0;
      continue;
    }
    // The hole starts with its own filler ([heap.inv.parseable]); reuse it.
    heap_.OpenRegion(r, b + first * kLineSize, b + end * kLineSize, false);
    return true;
  }
  return false;
}

char* Collector::AllocateTo(int gen, bool boxed, size_t bytes, bool from_young, int age) {
  int space = boxed ? 0 : 1;
  bool medium = gen >= 1 && bytes > kMediumObjectBytes;
  Region& r = ToRegion(gen, boxed, bytes, age);  // full: its caller tried it
  heap_.CloseRegion(r, false);
  if (gen >= 1 && !medium) {
    while (NextHole(holes_[gen][space], r)) {
      if (char* p = r.Bump(bytes); p != nullptr) return p;
      heap_.CloseRegion(r, false);
    }
  }
  // [heap.limits.reserve]: evacuation never eats into the nursery's copy reserve.
  // A survivor block reuses a spare nursery block when there is one.
  bool from_spare = gen == 0 && !heap_.spare_young_blocks_.empty();
  if (!heap_.FitsHardLimit(kBlockSize, from_spare, from_young ? 0 : young_reserve_)) {
    return nullptr;
  }
  char* block = gen == 0 ? heap_.TakeYoungBlock(!boxed)
                         : static_cast<char*>(arena_.AllocateBlocks(1, BlockType::kOld));
  if (block == nullptr) return nullptr;
  BlockInfo& info = arena_.InfoFor(block);
  info.generation = static_cast<uint8_t>(gen);
  info.flags = kBlockToSpace | (boxed ? 0 : kBlockUnboxed);
  if (gen == 0) info.reserved = static_cast<uint8_t>(age);  // [heap.nursery.block-age]
  (gen == 0 ? heap_.young_blocks_ : heap_.old_blocks_).push_back(block);
  heap_.heap_bytes_ += kBlockSize;
  heap_.OpenRegion(r, block, block + kBlockSize, false);
  return r.Bump(bytes);
}

void Collector::RecordCard(Value* slot, int holder_generation) {
  Value v = *slot;
  if (!v.IsPointer()) return;
  if (Generation(arena_.InfoFor(v.AsObject())) < holder_generation) {
    DirtyCard(arena_.InfoFor(slot), slot);  // [heap.inv.old-to-young]
  }
}

void Collector::ScanObject(Object* o) {
  int gen = Generation(arena_.InfoFor(o));
  Value* s = o->slots();
  size_t n = ReferenceCount(o);
  for (size_t i = 0; i < n; ++i) {
    if (!s[i].IsPointer()) continue;  // fixnums and immediates: nothing to do
    Process(&s[i]);
    if (gen > 0) RecordCard(&s[i], gen);
  }
}

void Collector::Drain() {
  if (parallel_ && !parallel_tail_) {
    DrainParallel();
    return;
  }
  if (in_place_) {
    DrainInPlace();
    return;
  }
  if (generation_ == 0) {
    DrainYoung();
    return;
  }
  while (!work_.empty()) {
    Object* o = work_.back();
    work_.pop_back();
    const size_t pushed_from = work_.size();
    ScanObject(o);
    FirstChildFirst(pushed_from);
  }
}

// [heap.collect.copy-order] The children an object's scan copied (or marked) were
// pushed in slot order; reversing them makes the stack pop the first child first, so
// its subtree is copied right after the children, before the later siblings' subtrees.
inline void Collector::FirstChildFirst(size_t pushed_from) {
  if (work_.size() - pushed_from > 1) std::reverse(work_.begin() + pushed_from, work_.end());
}

// DrainWith empties the work list, calling visit(slot, holder_generation, table) for
// every pointer slot of every object on it (ScanObject's loop, with the table in
// locals). kFirstChildFirst: pop an object's children first to last (a copy's
// layout) rather than last to first (the faster walk of data built children first,
// for marking in place): [heap.collect.copy-order].
template <bool kFirstChildFirst, typename Visit>
void Collector::DrainWith(Visit visit) {
  const uintptr_t base = arena_.base();
  const BlockTable info_for{base, &arena_.InfoFor(reinterpret_cast<const void*>(base))};
  while (!work_.empty()) {
    Object* o = work_.back();
    work_.pop_back();
    const int holder_generation = Generation(info_for(o));
    const size_t pushed_from = work_.size();
    Value* s = o->slots();
    const size_t n = ReferenceCount(o);
    for (size_t i = 0; i < n; ++i) {
      if (s[i].IsPointer()) visit(&s[i], holder_generation, info_for);
    }
    if constexpr (kFirstChildFirst) FirstChildFirst(pushed_from);
  }
}

// [heap.collect.young-drain] The transitive closure of a nursery collection that
// copies, in one loop with the block table in locals. Only nursery blocks are copied
// here; everything else a young collection condemns (generation-0 large and pinned
// objects) goes through Process. Same result as ScanObject on every work item.
void Collector::DrainYoung() {
  const int promote_at = heap_.options_.promotion_age[0];
  DrainWith<true>([this, promote_at](Value* slot, int holder_generation, const BlockTable& info_for) {
    Object* r = slot->AsObject();
    const uint64_t header = r->header;
    if ((header & 7) == kForwardTag) {
      *slot = Value::FromObject(reinterpret_cast<Object*>(header & ~uint64_t{7}));
    } else if (const BlockInfo& ri = info_for(r);
               ri.type == BlockType::kYoung && !(ri.flags & kBlockToSpace)) {
      WEFT_DCHECK(r->IsObject(), "weft: reference to something that is not an object");
      const size_t words = ObjectSizeInWords(r);
      const size_t bytes = words * kWordSize;
      const bool boxed = KindHasReferences(r->kind());
      int age = ri.reserved + 1;  // [heap.nursery.block-age]
      const int to_generation = age >= promote_at ? 1 : 0;
      if (to_generation == 1) age = 0;
      char* p = nullptr;
      if (bytes <= kSmallCopyBytes) p = ToRegion(to_generation, boxed, bytes, age).Bump(bytes);
      if (p == nullptr) {
        Object* moved = Copy(r, to_generation, age, true);  // opens the next region
        if (moved == nullptr) ReportSurvivorOutOfMemory(bytes);
        WEFT_CHECK(moved != nullptr, "weft: heap: out of memory copying nursery survivors");
        *slot = Value::FromObject(moved);
      } else {
        const uint64_t* from = reinterpret_cast<const uint64_t*>(r);
        uint64_t* to = reinterpret_cast<uint64_t*>(p);
        to[0] = header;
        for (size_t w = 1; w < words; ++w) to[w] = from[w];
        r->header = reinterpret_cast<uint64_t>(p) | kForwardTag;
        Object* moved = reinterpret_cast<Object*>(p);
        if (boxed) work_.push_back(moved);
        copied_bytes_ += bytes;
        if (to_generation > 0) promoted_bytes_ += bytes;
        *slot = Value::FromObject(moved);
      }
    } else {
      Process(slot);
    }
    if (holder_generation > 0) RecordCard(slot, holder_generation);
  });
}

// [heap.nursery.in-place] The closure of a collection that promotes the nursery in
// place: nursery objects, and old objects in blocks not being evacuated, are marked
// inline, with the block table in locals as in DrainYoung; everything else goes
// through Process. Same result as ScanObject on every work item, in another order
// ([heap.collect.copy-order]).
void Collector::DrainInPlace() {
  DrainWith<false>([this](Value* slot, int holder_generation, const BlockTable& info_for) {
    Object* r = slot->AsObject();
    BlockInfo& ri = info_for(r);
    if (ri.type == BlockType::kYoung) {
      if (!TestAndSetMark(ri, r)) {
        WEFT_DCHECK(r->IsObject(), "weft: reference to something that is not an object");
        ri.bytes_used += static_cast<uint32_t>(ObjectSizeInWords(r) * kWordSize);
        if (KindHasReferences(r->kind())) work_.push_back(r);
      }
      // The nursery counts as generation 1 ([heap.nursery.in-place]).
      if (holder_generation > 1) DirtyCard(info_for(slot), slot);
      return;
    }
    if (ri.type == BlockType::kOld && !(ri.flags & kBlockEvacuate)) {
      // Process's kOld case without its forwarding and evacuation checks: nothing in a
      // block not being evacuated is forwarded.
      if (!Settled(r, ri)) {
        WEFT_DCHECK(r->IsObject(), "weft: reference to something that is not an object");
        ri.bytes_used += static_cast<uint32_t>(Mark(r, ri));  // [heap.collect.unswept]
      }
      if (holder_generation > 0 && Generation(ri) < holder_generation) {
        DirtyCard(info_for(slot), slot);  // [heap.inv.old-to-young]
      }
      return;
    }
    Process(slot);
    if (holder_generation > 0) RecordCard(slot, holder_generation);
  });
}

void Collector::ScanDirtyBlock(char* block) {
  BlockInfo& info = arena_.InfoFor(block);
  uint8_t cards[kCardsPerBlock];
  std::memcpy(cards, info.cards, kCardsPerBlock);
  std::memset(info.cards, 0, kCardsPerBlock);
  int gen = info.generation;
  char* end = block + kBlockSize;
  for (char* p = block; p < end;) {
    Object* o = reinterpret_cast<Object*>(p);
    size_t size = ObjectSize(o);
    WEFT_DCHECK(size > 0 && o->IsObject(), "weft: old block not parseable");
    size_t first = (p - block) >> kCardShift;
    size_t last = (p + size - 1 - block) >> kCardShift;
    bool dirty = false;
    for (size_t c = first; c <= last && !dirty; ++c) dirty = cards[c] != 0;
    if (dirty && KindHasReferences(o->kind())) {
      Value* s = o->slots();
      size_t n = ReferenceCount(o);
      for (size_t i = 0; i < n; ++i) {
        size_t c = (reinterpret_cast<char*>(&s[i]) - block) >> kCardShift;
        if (cards[c] == 0) continue;
        Process(&s[i]);
        RecordCard(&s[i], gen);
      }
    }
    p += size;
  }
  if (!parallel_) Drain();  // in parallel, once after every dirty card
}

void Collector::ScanDirtyLarge(char* run) {
  BlockInfo& head = arena_.InfoFor(run);
  Object* o = reinterpret_cast<Object*>(run);
  Value* slots = o->slots();
  Value* slots_end = slots + ReferenceCount(o);
  int gen = head.generation;
  for (size_t b = 0; b < head.run_blocks; ++b) {
    char* block = run + b * kBlockSize;
    BlockInfo& info = arena_.InfoFor(block);
    uint8_t cards[kCardsPerBlock];
    std::memcpy(cards, info.cards, kCardsPerBlock);
    std::memset(info.cards, 0, kCardsPerBlock);
    for (size_t c = 0; c < kCardsPerBlock; ++c) {
      if (cards[c] == 0) continue;
      Value* lo = std::max(slots, reinterpret_cast<Value*>(block + c * kCardSize));
      Value* hi = std::min(slots_end, reinterpret_cast<Value*>(block + (c + 1) * kCardSize));
      for (Value* s = lo; s < hi; ++s) {
        Process(s);
        RecordCard(s, gen);
      }
    }
  }
  if (!parallel_) Drain();
}

size_t Collector::Sweep(char* block, BlockInfo& info) {
  // [heap.collect.full-block] The trace found the whole block live: nothing to fill,
  // every line in use. A checked build walks it anyway and checks the count. (A
  // pinned block's bytes_used counts what was allocated in it, not what was marked.)
  const bool full = info.bytes_used == kBlockSize && info.type != BlockType::kPinned &&
                    !(info.flags & kBlockEvacFailed);
  if (full && !WEFT_CHECKED_BUILD) {
    std::memset(info.line_marks, 0xff, sizeof(info.line_marks));
    ClearMarks(info);  // [heap.inv.mark-bits]
    return kBlockSize;
  }
  std::memset(info.line_marks, 0, sizeof(info.line_marks));
  size_t live = 0;
  char* dead = nullptr;
  char* end = block + kBlockSize;
  for (char* p = block; p < end;) {
    Object* o = reinterpret_cast<Object*>(p);
    size_t size;
    if (o->IsForwarded()) {
      size = ObjectSize(o->forwarding_address());  // evacuated before a fallback
      if (dead == nullptr) dead = p;
    } else {
      size = ObjectSize(o);
      WEFT_CHECK(size > 0 && o->IsObject(), "weft: heap block not parseable in sweep");
      if (IsMarked(info, p)) {
        if (dead != nullptr) FillGap(dead, p);
        dead = nullptr;
        live += size;
        MarkLines(info, block, p, p + size);  // [heap.inv.lines]
      } else if (dead == nullptr) {
        dead = p;
      }
    }
    p += size;
  }
  if (dead != nullptr) FillGap(dead, end);
  ClearMarks(info);  // [heap.inv.mark-bits]
  WEFT_CHECK(!full || live == kBlockSize, "weft: heap: a block the trace counted full is not");
  info.bytes_used = static_cast<uint32_t>(live);
  return live;
}

void Collector::Age(char* head, BlockInfo& info, size_t blocks) {
  int gen = info.generation;
  if (gen >= oldest_) return;
  if (++info.reserved < heap_.options_.promotion_age[gen]) return;
  info.reserved = 0;
  bool boxed = !(info.flags & kBlockUnboxed);
  for (size_t i = 0; i < blocks; ++i) {
    BlockInfo& b = arena_.InfoFor(head + i * kBlockSize);
    b.generation = static_cast<uint8_t>(gen + 1);
    // Its references into generation gen are now old-to-young: conservatively
    // dirty every card; the next scan cleans them ([heap.inv.old-to-young]). Unless
    // all of gen moved up with it ([heap.cards.uniform-promotion]).
    if (boxed && !uniform_promotion_) std::memset(b.cards, 1, kCardsPerBlock);
  }
  if (gen == 0) promoted_bytes_ += info.bytes_used;
  if (gen == generation_ && gen >= 1) promoted_up_bytes_ += info.bytes_used;
}

// [heap.nursery.in-place]
void Collector::PromoteInPlace(char* block) {
  BlockInfo& info = arena_.InfoFor(block);
  const size_t live = info.bytes_used;  // swept in Finish when anything was live
  if (live == 0) {
    heap_.KeepOrFreeYoungBlock(block);
    return;
  }
  arena_.Retype(block, BlockType::kOld);
  info.generation = 1;
  info.reserved = 0;
  info.flags &= kBlockUnboxed;  // its cards are the trace's (cleared in Prepare)
  in_place_bytes_ += live;
  promoted_bytes_ += live;
  heap_.old_blocks_.push_back(block);
  // As a to-space block of promoted copies would: it survived this collection.
  if (generation_ >= 1) Age(block, info, 1);
}

void Collector::Finish() {
  for (int g = 0; g < kMaxGenerations; ++g) {
    for (int s = 0; s < 2; ++s) {
      heap_.CloseRegion(to_[g][s], false);
      if (g <= kMaxNurseryAge) heap_.CloseRegion(survivors_[g][s], false);
      heap_.CloseRegion(overflow_[g][s], false);
    }
  }
  // The nursery's from-space is empty now (poisoned under WEFT_CHECKED); it stays
  // committed as spare nursery blocks ([heap.nursery.spare]).
  if (!in_place_) {
    for (char* b : from_young_) heap_.KeepOrFreeYoungBlock(b);
  }
  for (char* b : heap_.young_blocks_) arena_.InfoFor(b).flags &= ~kBlockToSpace;

  // Every condemned block with something live in it is swept first (by several
  // threads when there are many: [heap.collect.parallel]); the loops below read the
  // live bytes each sweep left in bytes_used.
  std::vector<char*> sweep;
  for (char* b : heap_.old_blocks_) {
    const BlockInfo& info = arena_.InfoFor(b);
    if (!(info.flags & kBlockToSpace) && info.generation <= generation_ &&
        info.bytes_used != 0 &&
        !((info.flags & kBlockEvacuate) && !(info.flags & kBlockEvacFailed))) {
      sweep.push_back(b);
    }
  }
  if (in_place_) {
    for (char* b : from_young_) {
      if (arena_.InfoFor(b).bytes_used != 0) sweep.push_back(b);
    }
  }
  SweepBlocks(sweep);

  std::vector<char*> keep;
  for (char* b : heap_.old_blocks_) {
    BlockInfo& info = arena_.InfoFor(b);
    if (info.flags & kBlockToSpace) {
      info.flags &= ~kBlockToSpace;
      // Filled by this collection: with evacuated objects of a condemned generation
      // (which survived it, so they age), or with promoted nursery objects.
      if (info.generation <= generation_) Age(b, info, 1);
      keep.push_back(b);
      continue;
    }
    if (info.generation > generation_) {
      keep.push_back(b);
      continue;
    }
    bool evacuated = (info.flags & kBlockEvacuate) && !(info.flags & kBlockEvacFailed);
    info.flags &= ~(kBlockEvacuate | kBlockEvacFailed);
    if (evacuated || info.bytes_used == 0) {  // swept above when anything was live
      heap_.FreeRun(b, 1, /*poison=*/true);
      continue;
    }
    live_old_bytes_[info.generation] += info.bytes_used;
    Age(b, info, 1);
    keep.push_back(b);
  }
  heap_.old_blocks_.swap(keep);
  // After the old blocks' sweep, which must not see them again.
  if (in_place_) {
    for (char* b : from_young_) PromoteInPlace(b);
  }

  keep.clear();
  for (char* run : heap_.large_runs_) {
    BlockInfo& info = arena_.InfoFor(run);
    if (info.generation > generation_) {
      keep.push_back(run);
      continue;
    }
    if (!IsMarked(info, run)) {
      heap_.FreeRun(run, info.run_blocks, /*poison=*/true);
      continue;
    }
    ClearMarks(info);
    Age(run, info, info.run_blocks);
    keep.push_back(run);
  }
  heap_.large_runs_.swap(keep);

  keep.clear();
  for (char* b : heap_.pinned_blocks_) {
    BlockInfo& info = arena_.InfoFor(b);
    if (info.generation > generation_) {
      keep.push_back(b);
      continue;
    }
    if (Sweep(b, info) == 0) {
      heap_.FreeRun(b, 1, /*poison=*/true);
      continue;
    }
    Age(b, info, 1);
    keep.push_back(b);
  }
  heap_.pinned_blocks_.swap(keep);
  // Pinned allocation reuses the free lines of nursery-generation pinned blocks.
  heap_.pinned_holes_.clear();
  heap_.pinned_hole_block_ = heap_.pinned_hole_line_ = 0;
  for (char* b : heap_.pinned_blocks_) {
    const BlockInfo& info = arena_.InfoFor(b);
    if (info.generation == 0 && HasFreeLine(info)) heap_.pinned_holes_.push_back(b);
  }

  std::array<size_t, kMaxGenerations> bytes = heap_.GenerationBytesLocked();
  for (int g = 1; g <= generation_; ++g) {
    heap_.trigger_bytes_[g] = heap_.GrownTrigger(bytes[g]);  // [heap.trigger.growth]
  }
  if (generation_ >= 1 && generation_ < oldest_) {
    // [heap.trigger.batch]: the batch just traced and moved up does not set off a
    // collection of its new generation at once.
    size_t& next = heap_.trigger_bytes_[generation_ + 1];
    next = std::max(next, heap_.GrownTrigger(promoted_up_bytes_));
  }
  if (generation_ == oldest_) {
    // [heap.limits.futile]
    heap_.full_gc_futile_ =
        heap_.heap_bytes_ + heap_.options_.nursery_bytes > heap_.soft_limit_;
    heap_.futile_promoted_mark_ = heap_.stats_.promoted_bytes + promoted_bytes_;
  }
}

}  // namespace weft::heap
