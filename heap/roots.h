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

class RootSource {
 public:
  virtual ~RootSource() = default;
  // VisitRoots calls v.Visit / v.VisitRange for every root slot. It may be called
  // more than once per collection (Verify walks the roots too) and must not allocate
  // from the managed heap.
  virtual void VisitRoots(RootVisitor& v) = 0;
};

// NoRoots: a RootSource with no roots.
class NoRoots final : public RootSource {
 public:
  void VisitRoots(RootVisitor&) override {}
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_ROOTS_H_
