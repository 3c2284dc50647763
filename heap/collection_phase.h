// collection_phase.h: the phases of one collection, and the observer the heap tells
// about them.
//
// The heap knows nothing of the runtime's tracer; the runtime implements
// CollectionObserver and registers it with Heap::SetCollectionObserver, so that
// WEFT_TRACE shows each collection's phases ([heap.collect.phases], DESIGN.md).
#ifndef WEFT_HEAP_COLLECTION_PHASE_H_
#define WEFT_HEAP_COLLECTION_PHASE_H_

#include <cstdint>

namespace weft::heap {

// In the order one collection runs them.
enum class CollectionPhase : uint8_t {
  kPrepare,     // close every allocation region, pick the condemned blocks
  kRoots,       // scan the roots (managed stacks, global roots)
  kRemembered,  // scan the dirty cards of older blocks and large objects
  kTrace,       // copy or mark everything reachable (the transitive closure)
  kWeak,        // update or clear the weak slots
  kFinish,      // sweep, free the from-space, age and promote, adapt the nursery
};
inline constexpr int kCollectionPhaseCount = 6;

// CollectionPhaseName: "prepare", "roots", "remembered", "trace", "weak", "finish".
const char* CollectionPhaseName(CollectionPhase phase);

// CollectionObserver: called on the collecting thread, with the world stopped, at the
// start and end of each phase, in order, for every collection. It must not allocate
// from the heap or touch heap objects; it should be cheap (a trace event).
class CollectionObserver {
 public:
  virtual ~CollectionObserver() = default;
  virtual void PhaseBegin(CollectionPhase phase, int generation) = 0;
  virtual void PhaseEnd(CollectionPhase phase, int generation) = 0;
};

}  // namespace weft::heap

#endif  // WEFT_HEAP_COLLECTION_PHASE_H_
