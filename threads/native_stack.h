// native_stack.h: a green thread's C++ stack, carved from the arena.
//
// A NativeStack is a run of kNativeStack blocks. Its lowest page is either a guard
// page (PROT_NONE through heap::OsProtectNone) or, once the process holds as many
// guarded stacks as vm.max_map_count allows (each guard splits a mapping in two
// VMAs), a canary zone checked at every switch ([threads.inv.overflow-detected]).
// The stack grows down from `top` to `limit`.
//
// NativeStackAllocator is thread-safe. Allocate and Free make syscalls only to
// place or remove a guard page; pools (stack_pool.h) keep stacks with their guard.
#ifndef WEFT_THREADS_NATIVE_STACK_H_
#define WEFT_THREADS_NATIVE_STACK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "heap/arena.h"

namespace weft::threads {

struct NativeStack {
  char* run = nullptr;  // head of the arena run (lowest address, the guard/canary page)
  size_t run_bytes = 0;
  char* limit = nullptr;  // lowest usable address
  char* top = nullptr;    // highest address (exclusive)
  bool guarded = false;

  size_t usable_bytes() const { return static_cast<size_t>(top - limit); }
  bool Contains(const void* p) const { return p >= run && p < top; }
};

class NativeStackAllocator {
 public:
  // guard_budget < 0: derive it from vm.max_map_count and /proc/self/maps.
  NativeStackAllocator(heap::Arena* arena, long guard_budget);

  // Allocate returns false (errno set) when the arena or the OS refuses.
  // `bytes` is rounded up to whole blocks.
  bool Allocate(size_t bytes, NativeStack* out);
  void Free(NativeStack* s);

  // CanaryIntact: for unguarded stacks, the canary zone is untouched.
  static bool CanaryIntact(const NativeStack& s);

  long guard_budget() const { return guard_budget_; }
  static long GuardedStacks();  // process-wide count of guarded stacks in use

  // The budget AUTO computes: (max_map_count - mappings now - headroom) / 2.
  static long DefaultGuardBudget();

 private:
  heap::Arena* arena_;
  long guard_budget_;
};

// Zero, so that an untouched canary zone is never resident (see Allocate); an
// overflow that writes only zeros over the whole zone goes unseen by the canary
// (the stack-pointer check at the switch still sees one in progress).
inline constexpr uint64_t kStackCanary = 0;
inline constexpr size_t kCanaryWords = 8;

}  // namespace weft::threads

#endif  // WEFT_THREADS_NATIVE_STACK_H_
