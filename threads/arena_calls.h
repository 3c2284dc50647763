// arena_calls.h: how threads/ takes blocks from the arena (internal).
//
// The arena is thread-safe through absl::Mutex. The system Abseil is not built for
// TSan, so under TSan these calls are also serialised by a pthread mutex that TSan
// can see; elsewhere they go straight to the arena.
#ifndef WEFT_THREADS_ARENA_CALLS_H_
#define WEFT_THREADS_ARENA_CALLS_H_

#include <mutex>

#include "heap/arena.h"

namespace weft::threads {

#if defined(WEFT_TSAN)
inline std::mutex& ArenaCallMutex() {
  static std::mutex mu;
  return mu;
}
inline void* AllocateArenaBlocks(heap::Arena* a, size_t n, heap::BlockType t, void* owner) {
  std::lock_guard<std::mutex> l(ArenaCallMutex());
  void* p = a->AllocateBlocks(n, t);
  if (p != nullptr) a->InfoFor(p).owner = owner;
  return p;
}
inline void FreeArenaBlocks(heap::Arena* a, void* p) {
  std::lock_guard<std::mutex> l(ArenaCallMutex());
  a->FreeBlocks(p);
}
#else
inline void* AllocateArenaBlocks(heap::Arena* a, size_t n, heap::BlockType t, void* owner) {
  void* p = a->AllocateBlocks(n, t);
  if (p != nullptr) a->InfoFor(p).owner = owner;
  return p;
}
inline void FreeArenaBlocks(heap::Arena* a, void* p) { a->FreeBlocks(p); }
#endif

}  // namespace weft::threads

#endif  // WEFT_THREADS_ARENA_CALLS_H_
