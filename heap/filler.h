// filler.h: covering unused space with filler objects.
//
// FillGap covers [from, to) with fillers split at the first and last whole line
// inside it, so that a hole of free lines always starts with its own filler and can
// be reused without breaking the parse of the rest of the block
// ([heap.inv.parseable]). Under WEFT_CHECKED the fillers' bodies are poisoned with
// kPoisonWord so a stale pointer into freed space fails loudly.
#ifndef WEFT_HEAP_FILLER_H_
#define WEFT_HEAP_FILLER_H_

#include <cstdint>

#include "heap/block.h"
#include "heap/object.h"
#include "runtime/check.h"

namespace weft::heap {

inline constexpr uint64_t kPoisonWord = 0xdeadbeefdeadbeefULL;

inline void PoisonWords(void* start, size_t bytes) {
  uint64_t* w = static_cast<uint64_t*>(start);
  for (size_t i = 0; i < bytes / kWordSize; ++i) w[i] = kPoisonWord;
}

inline void FillOne(char* from, char* to) {
  if (from >= to) return;
  if (WEFT_CHECKED_BUILD) PoisonWords(from, to - from);
  WriteFiller(from, to - from);
}

inline void FillGap(char* from, char* to) {
  uintptr_t f = reinterpret_cast<uintptr_t>(from);
  uintptr_t t = reinterpret_cast<uintptr_t>(to);
  uintptr_t first_line = (f + kLineSize - 1) & ~(kLineSize - 1);
  uintptr_t last_line = t & ~(kLineSize - 1);
  if (first_line >= last_line) {
    FillOne(from, to);
    return;
  }
  FillOne(from, reinterpret_cast<char*>(first_line));
  FillOne(reinterpret_cast<char*>(first_line), reinterpret_cast<char*>(last_line));
  FillOne(reinterpret_cast<char*>(last_line), to);
}

// MarkLines sets the line marks of every line overlapping [from, to).
inline void MarkLines(BlockInfo& info, const char* block, const char* from, const char* to) {
  if (from >= to) return;
  size_t first = (from - block) >> kLineShift;
  size_t last = (to - 1 - block) >> kLineShift;
  for (size_t l = first; l <= last && l < kLinesPerBlock; ++l) {
    info.line_marks[l / 64] |= uint64_t{1} << (l % 64);
  }
}

inline bool LineMarked(const BlockInfo& info, size_t line) {
  return (info.line_marks[line / 64] >> (line % 64)) & 1;
}

// NextFreeLines finds the next run of unmarked lines at or after `*line`: on success
// [*first, *end) are its lines and `*line` moves past it.
inline bool NextFreeLines(const BlockInfo& info, size_t* line, size_t* first, size_t* end) {
  size_t l = *line;
  while (l < kLinesPerBlock && LineMarked(info, l)) ++l;
  if (l == kLinesPerBlock) {
    *line = l;
    return false;
  }
  size_t e = l;
  while (e < kLinesPerBlock && !LineMarked(info, e)) ++e;
  *first = l;
  *end = e;
  *line = e;
  return true;
}

}  // namespace weft::heap

#endif  // WEFT_HEAP_FILLER_H_
