// roots.h: how the collector finds and updates roots.
//
// The runtime implements RootSource (managed stacks, global roots, channel buffers)
// and passes it to Heap::Collect. The collector calls VisitRoots with a RootVisitor
// whose Visit may overwrite the slot: the object it refers to may have moved. A root
// slot may hold any Value; only pointers are references. Every pointer a root holds
// must point to the start of a live object ([heap.inv.roots-exact]).
#ifndef WEFT_HEAP_ROOTS_H_
#define WEFT_HEAP_ROOTS_H_

#include "heap/value.h"

namespace weft::heap {

class RootVisitor {
 public:
  virtual ~RootVisitor() = default;
  // Visit: `slot` is a root; it may be rewritten.
  virtual void Visit(Value* slot) = 0;
  // VisitRange: every slot in [begin, end) is a root.
  virtual void VisitRange(Value* begin, Value* end) {
    for (Value* p = begin; p < end; ++p) Visit(p);
  }
};

// WeakRootVisitor: for weak slots, which the collector updates but does not trace
// ([heap.weak]). Visit returns true when the slot's object survived the collection
// (the slot now holds its address, which may have changed) or the slot holds no
// reference; false when the object is dead: the slot is left as it was and its owner
// must clear it (it points at memory the collection is about to free).
class WeakRootVisitor {
 public:
  virtual ~WeakRootVisitor() = default;
  virtual bool Visit(Value* slot) = 0;
};

class RootSource {
 public:
  virtual ~RootSource() = default;
  // VisitRoots calls v.Visit / v.VisitRange for every root slot. It may be called
  // more than once per collection (Verify walks the roots too) and must not allocate
  // from the managed heap.
  virtual void VisitRoots(RootVisitor& v) = 0;
  // VisitWeakRoots calls v.Visit for every weak slot, after the trace and before
  // any memory is freed. Same rules as VisitRoots. Default: no weak slots.
  virtual void VisitWeakRoots(WeakRootVisitor& v) {}
};

// NoRoots: a RootSource with no roots.
class NoRoots final : public RootSource {
 public:
  void VisitRoots(RootVisitor&) override {}
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_ROOTS_H_
