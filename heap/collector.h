// collector.h: one collection (internal to //heap:heap).
//
// A Collector runs one stop-the-world collection of generation g and every younger
// one, with the heap's mutex held, in the phases DESIGN.md lists: prepare, roots,
// dirty cards, transitive closure (an explicit work list: no native recursion, as
// the collector runs on a green thread's small native stack), sweep and free.
// Nursery objects are copied (to young survivor blocks, or promoted to generation 1
// once old enough), or, after a young collection where most of the nursery survived,
// marked in place with their blocks promoted whole; old objects are marked in place, except in blocks chosen for
// evacuation, whose objects are copied into holes or fresh blocks of their own
// generation; large and pinned objects are marked in place.
#ifndef WEFT_HEAP_COLLECTOR_H_
#define WEFT_HEAP_COLLECTOR_H_

#include <array>
#include <cstdint>
#include <vector>

#include "heap/heap.h"

namespace weft::heap {

class Collector {
 public:
  Collector(Heap& heap, int generation, bool compact);
  // Run performs the collection. Requires heap.mu_ held and the world stopped.
  void Run(RootSource& roots);

  // Process: the slot's referent survives; the slot is updated if it moved.
  void Process(Value* slot);
  // ProcessWeak: after the trace, whether the slot's referent survived; updates the
  // slot if it moved ([heap.weak]).
  bool ProcessWeak(Value* slot);

 private:
  struct HoleCursor {
    std::vector<char*> blocks;
    size_t block = 0;
    size_t line = 0;
  };

  void Prepare();
  void ScanRoots(RootSource& roots);
  void ScanDirtyBlock(char* block);
  void ScanDirtyLarge(char* run);
  void Drain();
  // BlockTable: the arena's base and block table held in locals, so that object
  // stores (which may alias any word) do not make the compiler reload them around
  // every copy or mark ([heap.collect.young-drain]).
  struct BlockTable {
    uintptr_t base;
    BlockInfo* table;
    BlockInfo& operator()(const void* p) const {
      return table[(reinterpret_cast<uintptr_t>(p) - base) >> kBlockShift];
    }
  };
  // [heap.collect.parallel] (collector_parallel.cc)
  struct ParallelTrace;
  struct Tracer;
  bool TraceInParallel() const;
  // SweepBlocks sweeps each block (Sweep), on several threads when there are many.
  void SweepBlocks(const std::vector<char*>& blocks);
  void DrainParallel();
  void TraceLoop(Tracer& tracer, ParallelTrace& shared);
  void TraceObject(Object* o, Tracer& tracer, ParallelTrace& shared);
  // Owner: the tracer (of `tracers`) that marks objects in the block `p` lies in
  // ([heap.collect.parallel]).
  int Owner(const void* p, int tracers) const;
  void Claim(Object* r, BlockInfo& info, Tracer& tracer);
  // Send moves tracer's outbox for tracer `to` into that tracer's inbox.
  void Send(Tracer& tracer, int to, ParallelTrace& shared);
  template <bool kFirstChildFirst, typename Visit>
  void DrainWith(Visit visit);
  void DrainYoung();
  // FirstChildFirst: reverses work_[pushed_from, end), the objects one scan pushed
  // ([heap.collect.copy-order]).
  void FirstChildFirst(size_t pushed_from);
  void DrainInPlace();
  void ScanObject(Object* o);
  // Settled: `o` (not forwarded) needs nothing more from this collection: it is not
  // condemned, or it is a copy made by it, or it is marked in place.
  bool Settled(const Object* o, const BlockInfo& info) const;
  // ToRegion: the to-space region an object of `bytes` copied into `generation` uses;
  // a nursery survivor's (generation 0) is the one of its new `age`
  // ([heap.nursery.block-age]).
  Region& ToRegion(int generation, bool boxed, size_t bytes, int age);
  void RecordCard(Value* slot, int holder_generation);
  // Generation: the generation `info`'s objects have for the cards this collection
  // rebuilds: a nursery promoted in place is already generation 1, as copies of its
  // survivors would be ([heap.nursery.in-place]).
  int Generation(const BlockInfo& info) const {
    return in_place_ && info.type == BlockType::kYoung ? 1 : info.generation;
  }
  // PromoteInPlace sweeps a from-space nursery block of an in-place collection and
  // makes it a generation-1 block if anything in it survived.
  void PromoteInPlace(char* block);
  // Mark: `o`, in the block of `info`, survives in place; its references are traced.
  // Returns its size, counted in marked_bytes_; for an object of an old block (at most
  // a block) the caller adds it to the block's live count ([heap.collect.unswept]).
  size_t Mark(Object* o, BlockInfo& info);
  Object* Copy(Object* o, int to_generation, int age, bool from_young);
  void ReportSurvivorOutOfMemory(size_t object_bytes);
  // AllocateTo opens the next to-space region for a copy its region could not take.
  char* AllocateTo(int generation, bool boxed, size_t bytes, bool from_young, int age);
  bool NextHole(HoleCursor& cursor, Region& r);
  void Finish();
  // Sweep turns dead objects into fillers, recomputes line marks and bytes_used,
  // clears marks. Returns the live bytes.
  size_t Sweep(char* block, BlockInfo& info);
  // Age counts one more survived collection and promotes the run when due.
  void Age(char* head, BlockInfo& info, size_t blocks);

  Heap& heap_;
  Arena& arena_;
  const int generation_;
  const bool compact_;
  const int oldest_;
  // Every surviving block of every condemned generation below the oldest, and every
  // nursery survivor, moves up one generation in this collection (promotion age 1
  // for each): promoted blocks keep the cards the trace rebuilt
  // ([heap.cards.uniform-promotion]).
  const bool uniform_promotion_;
  // The nursery is marked in place and its blocks with survivors become old blocks,
  // instead of its survivors being copied ([heap.nursery.in-place]).
  const bool in_place_;
  // The bytes condemned (the nursery's blocks and the condemned old blocks' bytes in
  // use), and so whether several threads trace ([heap.collect.parallel]).
  size_t condemned_bytes_ = 0;
  // Per older generation: the bytes its condemned old blocks held, and what the
  // trace found live in place in them (evacuated survivors not counted): its
  // survival, for [heap.trigger.anticipate].
  std::array<size_t, kMaxGenerations> condemned_old_bytes_ = {};
  std::array<size_t, kMaxGenerations> live_old_bytes_ = {};
  bool parallel_ = false;
  bool parallel_tail_ = false;  // DrainParallel's own sequential evacuation
  std::vector<Object*> work_;
  std::vector<char*> from_young_;
  std::vector<char*> dirty_blocks_;
  std::vector<char*> dirty_large_;
  Region to_[kMaxGenerations][2];        // small objects, by generation and Space
  // Nursery survivors that stay young, by their new age (1 .. promotion_age[0] - 1)
  // and Space: a survivor block holds objects of one age ([heap.nursery.block-age]).
  Region survivors_[kMaxNurseryAge + 1][2];
  Region overflow_[kMaxGenerations][2];  // medium objects into old generations
  HoleCursor holes_[kMaxGenerations][2];
  size_t young_reserve_ = 0;
  uint64_t promoted_bytes_ = 0;
  // Bytes of blocks of generation_ (>= 1) moved up to generation_ + 1 by this
  // collection ([heap.trigger.batch]).
  uint64_t promoted_up_bytes_ = 0;
  uint64_t evacuated_bytes_ = 0;
  uint64_t copied_bytes_ = 0;
  uint64_t marked_bytes_ = 0;
  uint64_t in_place_bytes_ = 0;  // nursery survivors promoted in place
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_COLLECTOR_H_
