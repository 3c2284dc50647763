// heap_verifier.cc: Heap::Verify, the whole-heap consistency check.
//
// Two passes. The first walks every heap block object by object, checking the block
// table entry, the parse, the headers and bytes_used, and records every object start.
// The second checks every reference (in objects, roots, global roots and mutator
// scratch slots) points at a recorded object start, and every reference from an
// older generation to a younger one lies in a dirty card.
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "heap/filler.h"
#include "heap/heap.h"
#include "heap/mark_bits.h"
#include "runtime/check.h"

namespace weft::heap {

class HeapVerifier {
 public:
  explicit HeapVerifier(Heap& heap) : heap_(heap), arena_(*heap.arena_) {}

  void Run(RootSource* roots) {
    arena_.Verify();
    size_t bytes = 0;
    for (char* b : heap_.young_blocks_) bytes += WalkBlock(b, BlockType::kYoung);
    for (char* b : heap_.old_blocks_) bytes += WalkBlock(b, BlockType::kOld);
    for (char* b : heap_.pinned_blocks_) bytes += WalkBlock(b, BlockType::kPinned);
    for (char* r : heap_.large_runs_) bytes += WalkLarge(r);
    // [heap.nursery.spare]: spare nursery blocks are empty kYoung blocks outside
    // heap_bytes, no more than the nursery's blocks.
    WEFT_CHECK(heap_.SpareBytes() <= heap_.nursery_bytes_,
               "weft: heap verify: more spare nursery blocks than the nursery holds");
    for (char* b : heap_.spare_young_blocks_) {
      const BlockInfo& info = arena_.InfoFor(b);
      WEFT_CHECK(info.type == BlockType::kYoung && info.owner == nullptr,
                 "weft: heap verify: spare nursery block is not a free young block");
    }
    WEFT_CHECK(bytes == heap_.heap_bytes_, "weft: heap verify: heap_bytes disagrees with blocks");
    for (Object* o : objects_) CheckReferences(o);
    if (roots != nullptr) {
      RootChecker checker(*this);
      roots->VisitRoots(checker);
      WeakChecker weak(*this);
      roots->VisitWeakRoots(weak);
    }
    for (Value* slot : heap_.global_roots_) CheckTarget(*slot);
    for (Mutator* m : heap_.mutators_) {
      for (Value v : m->scratch_) CheckTarget(v);
    }
  }

 private:
  class RootChecker final : public RootVisitor {
   public:
    explicit RootChecker(HeapVerifier& v) : v_(v) {}
    void Visit(Value* slot) override { v_.CheckTarget(*slot); }

   private:
    HeapVerifier& v_;
  };

  class WeakChecker final : public WeakRootVisitor {
   public:
    explicit WeakChecker(HeapVerifier& v) : v_(v) {}
    bool Visit(Value* slot) override {
      v_.CheckTarget(*slot);
      return true;
    }

   private:
    HeapVerifier& v_;
  };

  void CheckBlockInfo(const BlockInfo& info, BlockType type) {
    WEFT_CHECK(info.type == type, "weft: heap verify: block on the wrong list for its type");
    WEFT_CHECK(info.generation <= heap_.oldest_generation(),
               "weft: heap verify: block generation out of range");
    WEFT_CHECK(type != BlockType::kYoung || info.generation == 0,
               "weft: heap verify: nursery block not in generation 0");
    WEFT_CHECK(type != BlockType::kYoung || info.reserved < heap_.options_.promotion_age[0],
               "weft: heap verify: nursery block older than the promotion age");  // [heap.nursery.block-age]
    WEFT_CHECK(type != BlockType::kOld || info.generation >= 1,
               "weft: heap verify: old block in generation 0");
    WEFT_CHECK((info.flags & (kBlockEvacuate | kBlockEvacFailed | kBlockToSpace)) == 0,
               "weft: heap verify: collection flag left on a block");
    WEFT_CHECK(!AnyMarked(info), "weft: heap verify: mark bit left set");  // [heap.inv.mark-bits]
  }

  void CheckObject(Object* o, const BlockInfo& info, char* limit) {
    WEFT_CHECK(!o->IsForwarded(), "weft: heap verify: forwarding header outside a collection");
    // A header of a valid kind with its reserved bits zero, or a pair's car ([heap.inv.pairs]).
    WEFT_CHECK(o->IsObject(), "weft: heap verify: invalid object header");
    size_t size = ObjectSize(o);
    WEFT_CHECK(size > 0 && reinterpret_cast<char*>(o) + size <= limit,
               "weft: heap verify: object overruns its block");
    WEFT_CHECK(!(info.flags & kBlockUnboxed) || !KindHasReferences(o->kind()),
               "weft: heap verify: object with references in an unboxed block");
  }

  size_t WalkBlock(char* block, BlockType type) {
    BlockInfo& info = arena_.InfoFor(block);
    CheckBlockInfo(info, type);
    WEFT_CHECK(info.run_blocks == 1, "weft: heap verify: small-object block in a multi-block run");
    const Region* r = static_cast<const Region*>(info.owner);
    size_t used = 0;
    char* end = block + kBlockSize;
    // [heap.inv.parseable]
    for (char* p = block; p < end;) {
      if (r != nullptr && p == r->cursor) {
        WEFT_CHECK(r->end <= end && r->end >= r->cursor,
                   "weft: heap verify: open region outside its block");
        p = r->end;
        continue;
      }
      Object* o = reinterpret_cast<Object*>(p);
      CheckObject(o, info, end);
      size_t size = ObjectSize(o);
      if (o->kind() != ObjectKind::kFiller) {
        used += size;
        starts_.insert(o);
        objects_.push_back(o);
        bool in_open_region = r != nullptr && p >= r->start && p < r->cursor;
        if (type != BlockType::kYoung && !in_open_region) {
          // [heap.inv.lines]: a line holding an object is never handed out as a hole.
          for (size_t l = size_t(p - block) >> kLineShift; l <= size_t(p + size - 1 - block) >> kLineShift;
               ++l) {
            WEFT_CHECK(LineMarked(info, l), "weft: heap verify: live object on a free line");
          }
        }
      }
      p += size;
    }
    if (r != nullptr) used -= r->cursor - r->start;  // counted when the region closes
    WEFT_CHECK(used == info.bytes_used, "weft: heap verify: bytes_used disagrees with objects");
    return kBlockSize;
  }

  size_t WalkLarge(char* run) {
    BlockInfo& head = arena_.InfoFor(run);
    CheckBlockInfo(head, BlockType::kLarge);
    for (size_t i = 1; i < head.run_blocks; ++i) {
      const BlockInfo& b = arena_.InfoFor(run + i * kBlockSize);
      WEFT_CHECK(b.generation == head.generation && b.flags == head.flags,
                 "weft: heap verify: large run blocks disagree");
    }
    Object* o = reinterpret_cast<Object*>(run);
    CheckObject(o, head, run + head.run_blocks * kBlockSize);
    WEFT_CHECK(ObjectSize(o) > kMaxSmallObjectBytes, "weft: heap verify: small object in a large run");
    WEFT_CHECK(head.bytes_used == ObjectSize(o), "weft: heap verify: large run bytes_used wrong");
    starts_.insert(o);
    objects_.push_back(o);
    return head.run_blocks * kBlockSize;
  }

  void CheckTarget(Value v) {
    if (!v.IsPointer()) return;
    WEFT_CHECK(starts_.contains(v.AsObject()),
               "weft: heap verify: reference to something that is not a live object");
  }

  void CheckReferences(Object* o) {
    int gen = arena_.InfoFor(o).generation;
    Value* s = o->slots();
    size_t n = ReferenceCount(o);
    for (size_t i = 0; i < n; ++i) {
      Value v = s[i];
      if (!v.IsPointer()) continue;
      CheckTarget(v);
      if (arena_.InfoFor(v.AsObject()).generation < gen) {
        const BlockInfo& slot_block = arena_.InfoFor(&s[i]);
        size_t card = (reinterpret_cast<uintptr_t>(&s[i]) >> kCardShift) & (kCardsPerBlock - 1);
        // [heap.inv.old-to-young]
        WEFT_CHECK(slot_block.cards[card] != 0,
                   "weft: heap verify: old-to-young reference in a clean card");
      }
    }
  }

  Heap& heap_;
  Arena& arena_;
  absl::flat_hash_set<const Object*> starts_;
  std::vector<Object*> objects_;
};

void Heap::Verify(RootSource* roots) {
  MutexLock lock(&mu_);
  VerifyLocked(roots);
}

void Heap::VerifyLocked(RootSource* roots) {
  HeapVerifier v(*this);
  v.Run(roots);
}

}  // namespace weft::heap
