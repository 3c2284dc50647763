#include "threads/native_stack.h"

#include <cerrno>
#include <cstdio>

#include "heap/os_memory.h"
#include "threads/arena_calls.h"
#include "runtime/check.h"

namespace weft::threads {
namespace {

std::atomic<long> guarded_stacks{0};
std::atomic<long> region_stacks{0};

long ReadLong(const char* path) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  long v = -1;
  if (std::fscanf(f, "%ld", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

long CountMappings() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return 0;
  long lines = 0;
  int c;
  while ((c = std::fgetc(f)) != EOF) lines += (c == '\n');
  std::fclose(f);
  return lines;
}

}  // namespace

long NativeStackAllocator::DefaultGuardBudget() {
  long max_maps = ReadLong("/proc/sys/vm/max_map_count");
  if (max_maps <= 0) max_maps = 65530;
  // Each guard page splits the arena mapping: at most two more VMAs per stack. Keep
  // a quarter of the limit (and at least 4096) for the heap, libraries and malloc.
  long headroom = std::max(max_maps / 4, 4096L);
  long budget = (max_maps - CountMappings() - headroom) / 2;
  return budget > 0 ? budget : 0;
}

long NativeStackAllocator::GuardedStacks() { return guarded_stacks.load(); }
long NativeStackAllocator::GuardRegionStacks() { return region_stacks.load(); }

NativeStackAllocator::NativeStackAllocator(heap::Arena* arena, bool guard_regions,
                                           long guard_budget)
    : arena_(arena),
      guard_regions_(guard_regions),
      guard_budget_(guard_budget < 0 ? DefaultGuardBudget() : guard_budget) {}

bool NativeStackAllocator::Allocate(size_t bytes, NativeStack* out) {
  return AllocateMany(bytes, out, 1) == 1;
}

size_t NativeStackAllocator::AllocateMany(size_t bytes, NativeStack* out, size_t n) {
  size_t blocks = (bytes + heap::kBlockSize - 1) / heap::kBlockSize;
  if (blocks == 0) blocks = 1;
  const size_t page = heap::OsPageSize();
  size_t got = 0;
  for (; got < n; ++got) {
    char* run = static_cast<char*>(
        AllocateArenaBlocks(arena_, blocks, heap::BlockType::kNativeStack, nullptr));
    if (run == nullptr) break;
    NativeStack& s = out[got];
    s = NativeStack{};
    s.run = run;
    s.run_bytes = blocks * heap::kBlockSize;
    s.top = run + s.run_bytes;
    s.limit = run + page;
  }
  if (got == 0) return 0;
  const int arena_errno = errno;  // what the caller reads when got < n
  constexpr size_t kChunk = 16;  // on the spawning thread's stack: keep it small
  heap::OsRange ranges[kChunk];
  for (size_t first = 0; first < got; first += kChunk) {
    const size_t k = got - first < kChunk ? got - first : kChunk;
    // [threads.inv.overflow-detected]: a guard region, else a guard page while the
    // VMA budget lasts, else a canary. The batch places the leading guards; each
    // stack it did not reach tries on its own (OsGuard knows when guards are gone).
    size_t batched = 0;
    if (guard_regions_ && k > 1) {
      for (size_t i = 0; i < k; ++i) ranges[i] = heap::OsRange{out[first + i].run, page};
      batched = heap::OsGuardMany(ranges, k);
    }
    for (size_t i = 0; i < k; ++i) {
      NativeStack& s = out[first + i];
      if (i < batched || (guard_regions_ && heap::OsGuard(s.run, page))) {
        region_stacks.fetch_add(1, std::memory_order_relaxed);
        s.guard = StackGuard::kRegion;
      } else if (guarded_stacks.fetch_add(1) < guard_budget_ &&
                 heap::OsProtectNone(s.run, page)) {
        s.guard = StackGuard::kProtected;
      } else {
        guarded_stacks.fetch_sub(1);
        s.guard = StackGuard::kCanary;
        // The canary is zero: fresh or decommitted memory already reads as zero, so
        // only a reused, dirty zone is written and an untouched zone costs no
        // resident page (reading it maps the shared zero page).
        uint64_t* canary = reinterpret_cast<uint64_t*>(s.limit);
        for (size_t w = 0; w < kCanaryWords; ++w) {
          if (canary[w] != kStackCanary) canary[w] = kStackCanary;
        }
      }
    }
    // [threads.stacks.prefault]: the first frames of every thread land in the top
    // page; fault it in now, with the batch's others, rather than one trap each.
    for (size_t i = 0; i < k; ++i) ranges[i] = heap::OsRange{out[first + i].top - page, page};
    heap::OsPopulate(ranges, k);
  }
  errno = arena_errno;
  return got;
}

void NativeStackAllocator::Free(NativeStack* s) {
  if (s->run == nullptr) return;
  // The arena expects its blocks readable and writable, with no guard left.
  if (s->guard == StackGuard::kRegion) {
    WEFT_CHECK(heap::OsUnguard(s->run, heap::OsPageSize()),
               "weft: could not unprotect a native stack guard page");
    region_stacks.fetch_sub(1, std::memory_order_relaxed);
  } else if (s->guard == StackGuard::kProtected) {
    WEFT_CHECK(heap::OsCommit(s->run, heap::OsPageSize()),
               "weft: could not unprotect a native stack guard page");
    guarded_stacks.fetch_sub(1);
  }
  FreeArenaBlocks(arena_, s->run);
  *s = NativeStack{};
}

bool NativeStackAllocator::CanaryIntact(const NativeStack& s) {
  if (s.guarded()) return true;
  const uint64_t* canary = reinterpret_cast<const uint64_t*>(s.limit);
  for (size_t i = 0; i < kCanaryWords; ++i) {
    if (canary[i] != kStackCanary) return false;
  }
  return true;
}

}  // namespace weft::threads
