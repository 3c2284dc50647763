// block.h: the unit of the arena, and its entry in the block table.
//
// The arena hands out fixed-size blocks of kBlockSize bytes (Immix's 32 KiB), alone or
// as contiguous runs. Each block has one BlockInfo in the block table, found from any
// address inside it in O(1) (Arena::InfoFor). Blocks are divided into kLineSize-byte
// lines (Immix) and kCardSize-byte cards (the write barrier's unit).
#ifndef WEFT_HEAP_BLOCK_H_
#define WEFT_HEAP_BLOCK_H_

#include <cstddef>
#include <cstdint>

namespace weft::heap {

inline constexpr int kBlockShift = 15;
inline constexpr size_t kBlockSize = size_t{1} << kBlockShift;  // 32 KiB
inline constexpr int kLineShift = 7;
inline constexpr size_t kLineSize = size_t{1} << kLineShift;  // 128 bytes
inline constexpr size_t kLinesPerBlock = kBlockSize / kLineSize;  // 256
inline constexpr int kCardShift = 9;
inline constexpr size_t kCardSize = size_t{1} << kCardShift;  // 512 bytes
inline constexpr size_t kCardsPerBlock = kBlockSize / kCardSize;  // 64
// Mark bits: one per 8-byte word of a block, for the object starting there
// ([heap.inv.mark-bits]).
inline constexpr int kMarkGranuleShift = 3;
inline constexpr size_t kMarkWordsPerBlock = (kBlockSize >> kMarkGranuleShift) / 64;  // 64
inline constexpr size_t kMarkBytesPerBlock = kMarkWordsPerBlock * sizeof(uint64_t);  // 512

// What a block is used for. Every block of a run has the run's type.
enum class BlockType : uint8_t {
  kFree = 0,       // on the arena's free list (may be committed or not)
  kYoung,          // nursery: bump-allocated, evacuated by every collection
  kOld,            // older generations: Immix lines, reused and defragmented
  kLarge,          // one large object per run; never moves
  kPinned,         // objects that never move (byte buffers for native code)
  kManagedStack,   // a green thread's managed stack (tagged slots)
  kNativeStack,    // a green thread's native (C++) stack
  kMetadata,       // runtime metadata
};

const char* BlockTypeName(BlockType type);

// IsHeapBlockType: blocks that hold heap objects, the ones the collector marks.
inline bool IsHeapBlockType(BlockType type) {
  return type == BlockType::kYoung || type == BlockType::kOld || type == BlockType::kLarge ||
         type == BlockType::kPinned;
}

// BlockInfo: one block's entry in the block table. The arena owns `type`,
// `run_blocks` and `run_head`; the layer that allocated the block owns the rest.
struct BlockInfo {
  BlockType type;
  uint8_t generation;     // heap blocks: the generation of the objects in it
  uint8_t flags;          // owner-defined
  uint8_t reserved;
  uint32_t run_blocks;    // at a run's head: blocks in the run; elsewhere 0
  uint32_t run_head;      // index of the run's head block (itself for the head)
  uint32_t bytes_used;    // owner-maintained: live or allocated bytes
  void* owner;            // the open allocation region (or stack) using it, if any
  uint64_t line_marks[kLinesPerBlock / 64];  // Immix line marks
  uint8_t cards[kCardsPerBlock];             // card marks: non-zero = dirty
  // Mark bits (heap blocks; see mark_bits.h): kMarkWordsPerBlock words in the arena's
  // mark table, apart from the rest so that the table's pages of blocks that are
  // never marked (stacks) hold no mark words ([heap.arena.mark-table]).
  uint64_t* marks;
  // Keeps sizeof(BlockInfo) off a power of two (136 bytes, not 128). Measured on
  // 2026-12-03: with 128-byte entries binary-trees N=20 ran 4-8 % slower, the time
  // going to the mutator's stores in ConsInto (3 alternating runs of each of 128-,
  // 136-, 184- and 632-byte entries: only 128 was slow); the mechanism is not known.
  uint8_t padding[8];
};
static_assert((sizeof(BlockInfo) & (sizeof(BlockInfo) - 1)) != 0,
              "BlockInfo's size must not be a power of two (see padding)");

}  // namespace weft::heap

#endif  // WEFT_HEAP_BLOCK_H_
