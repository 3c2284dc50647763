// write_barrier.h: software card marking.
//
// Every store of a Value into a slot of a heap object that may be in an older
// generation goes through StoreValue (or Heap::WriteBarrier). When the stored value
// is a pointer and the slot's block is not in the nursery, the slot's 512-byte card
// is marked dirty, keeping [heap.inv.old-to-young]. The card byte is written with a
// relaxed atomic store (a plain byte store on x86): concurrent mutators may dirty the
// same card; the collector reads the cards only while the world is stopped.
// Initialising stores into an object just allocated need no barrier: new objects are
// always in generation 0.
#ifndef WEFT_HEAP_WRITE_BARRIER_H_
#define WEFT_HEAP_WRITE_BARRIER_H_

#include <atomic>
#include <cstdint>

#include "heap/arena.h"
#include "heap/block.h"
#include "heap/value.h"
#include "runtime/check.h"

namespace weft::heap {

inline void DirtyCard(BlockInfo& info, const void* slot) {
  uint8_t& card =
      info.cards[(reinterpret_cast<uintptr_t>(slot) >> kCardShift) & (kCardsPerBlock - 1)];
  std::atomic_ref<uint8_t>(card).store(1, std::memory_order_relaxed);
}

// StoreValue: *slot = v, plus the barrier. `slot` must lie inside a heap object.
inline void StoreValue(const Arena& arena, Value* slot, Value v) {
  WEFT_DCHECK(arena.Contains(slot), "weft: write barrier on a slot outside the heap");
  *slot = v;
  if (!v.IsPointer()) return;
  BlockInfo& info = arena.InfoFor(slot);
  if (info.generation != 0) DirtyCard(info, slot);  // [heap.inv.old-to-young]
}

}  // namespace weft::heap

#endif  // WEFT_HEAP_WRITE_BARRIER_H_
