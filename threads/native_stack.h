// native_stack.h: a green thread's C++ stack, carved from the arena.
//
// A NativeStack is a run of kNativeStack blocks. Its lowest page is a guard: a kernel
// guard region (heap::OsGuard, Linux 6.13+), which splits no mapping so every stack
// can have one; else a PROT_NONE page (heap::OsProtectNone) while the process holds
// fewer of those than vm.max_map_count allows (each splits a mapping in two VMAs);
// else a canary zone checked at every switch ([threads.inv.overflow-detected]).
// The stack grows down from `top` to `limit`.
//
// NativeStackAllocator is thread-safe. Allocate and Free make syscalls only to
// place or remove a guard and to populate a new stack's top page; the scheduler's
// pools keep stacks with their guard. AllocateMany does both for a batch of stacks
// in one syscall each where the kernel allows ([threads.stacks.prefault]).
#ifndef WEFT_THREADS_NATIVE_STACK_H_
#define WEFT_THREADS_NATIVE_STACK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "heap/arena.h"

namespace weft::threads {

// How a stack's lowest page catches an overflow.
enum class StackGuard : uint8_t {
  kCanary,     // checked at every switch out of the thread
  kProtected,  // PROT_NONE: faults at once, costs two VMAs
  kRegion,     // kernel guard region: faults at once, costs no VMA
};

struct NativeStack {
  char* run = nullptr;  // head of the arena run (lowest address, the guard/canary page)
  size_t run_bytes = 0;
  char* limit = nullptr;  // lowest usable address
  char* top = nullptr;    // highest address (exclusive)
  StackGuard guard = StackGuard::kCanary;

  bool guarded() const { return guard != StackGuard::kCanary; }

  size_t usable_bytes() const { return static_cast<size_t>(top - limit); }
  bool Contains(const void* p) const { return p >= run && p < top; }
};

class NativeStackAllocator {
 public:
  // guard_regions: try heap::OsGuard first. guard_budget bounds the PROT_NONE
  // fallback; < 0: derive it from vm.max_map_count and /proc/self/maps.
  NativeStackAllocator(heap::Arena* arena, bool guard_regions, long guard_budget);

  // Allocate returns false (errno set) when the arena or the OS refuses.
  // `bytes` is rounded up to whole blocks.
  bool Allocate(size_t bytes, NativeStack* out);
  // AllocateMany allocates up to n stacks of `bytes` into out[0, n) and returns how
  // many: fewer only when the arena refuses (errno set). Their guards go in with
  // one syscall and their top pages are populated with one more, where the kernel
  // takes advice in batches (heap::OsGuardMany, heap::OsPopulate).
  size_t AllocateMany(size_t bytes, NativeStack* out, size_t n);
  void Free(NativeStack* s);

  // CanaryIntact: for unguarded stacks, the canary zone is untouched.
  static bool CanaryIntact(const NativeStack& s);

  long guard_budget() const { return guard_budget_; }
  // Process-wide counts of stacks in use with a PROT_NONE page (what the budget
  // bounds) and with a guard region.
  static long GuardedStacks();
  static long GuardRegionStacks();

  // The budget AUTO computes: (max_map_count - mappings now - headroom) / 2.
  static long DefaultGuardBudget();

 private:
  heap::Arena* arena_;
  bool guard_regions_;
  long guard_budget_;
};

// Zero, so that an untouched canary zone is never resident (see Allocate); an
// overflow that writes only zeros over the whole zone goes unseen by the canary
// (the stack-pointer check at the switch still sees one in progress).
inline constexpr uint64_t kStackCanary = 0;
inline constexpr size_t kCanaryWords = 8;

}  // namespace weft::threads

#endif  // WEFT_THREADS_NATIVE_STACK_H_
