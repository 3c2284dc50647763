// mark_bits.h: the collector's mark bits, one per word of a heap block, in the
// arena's mark table beside the block table ([heap.arena.mark-table]) rather than in
// object headers.
//
// [heap.inv.mark-bits] The bit of the word an object starts at is its mark; a large
// object's is bit 0 of its run's head block. Bits are set only during a collection
// (by the trace, and for copies into holes of blocks it sweeps) and every bit of every
// block is clear outside one: the sweep clears a block's bits after reading them, and
// a block freed unswept had none set (nothing in it was marked). Heap::Verify checks
// it. Keeping marks out of the header is what lets a pair have none
// ([heap.inv.pairs]). The parallel trace writes a block's bits only from the block's
// owner, so they are plain stores too ([heap.collect.parallel]).
#ifndef WEFT_HEAP_MARK_BITS_H_
#define WEFT_HEAP_MARK_BITS_H_

#include <cstdint>
#include <cstring>

#include "heap/block.h"

namespace weft::heap {

inline size_t MarkIndex(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & (kBlockSize - 1)) >> kMarkGranuleShift;
}

// `info` is the entry of the block `p` lies in (its run's head for a large object).
inline bool IsMarked(const BlockInfo& info, const void* p) {
  const size_t i = MarkIndex(p);
  return (info.marks[i >> 6] >> (i & 63)) & 1;
}

inline void SetMark(BlockInfo& info, const void* p) {
  const size_t i = MarkIndex(p);
  info.marks[i >> 6] |= uint64_t{1} << (i & 63);
}

// TestAndSetMark: whether `p` was marked; marks it. Single-threaded.
inline bool TestAndSetMark(BlockInfo& info, const void* p) {
  const size_t i = MarkIndex(p);
  const uint64_t bit = uint64_t{1} << (i & 63);
  uint64_t& word = info.marks[i >> 6];
  if (word & bit) return true;
  word |= bit;
  return false;
}

inline void ClearMarks(BlockInfo& info) { std::memset(info.marks, 0, kMarkBytesPerBlock); }

inline bool AnyMarked(const BlockInfo& info) {
  uint64_t any = 0;
  for (size_t i = 0; i < kMarkWordsPerBlock; ++i) any |= info.marks[i];
  return any != 0;
}

}  // namespace weft::heap

#endif  // WEFT_HEAP_MARK_BITS_H_
