// os_memory.h: the arena's boundary with the operating system.
//
// Every mmap/mprotect/madvise the heap and the stacks make goes through these
// functions, so a test can make the Nth call of a kind fail (fault injection) and
// check that each failure ends in a clean error. Each returns false (or nullptr) and
// sets errno on failure; none of them logs.
#ifndef WEFT_HEAP_OS_MEMORY_H_
#define WEFT_HEAP_OS_MEMORY_H_

#include <cstddef>

namespace weft::heap {

enum class OsCall {
  kReserve = 0,
  kCommit,
  kDecommit,
  kProtect,
  kRelease,
  kGuard,
  kPopulate,
  kCount
};

// A page-aligned range, for the calls that take many at once.
struct OsRange {
  void* start;
  size_t size;
};

// OsReserve maps `size` bytes of address space with no access and no commit charge
// (PROT_NONE, MAP_NORESERVE). Returns nullptr on failure.
void* OsReserve(size_t size);
// OsCommit makes [p, p+size) readable and writable. Pages are zero on first touch.
bool OsCommit(void* p, size_t size);
// OsDecommit returns the pages' memory to the OS (RSS falls); the range stays
// readable and writable and reads back as zero.
bool OsDecommit(void* p, size_t size);
// OsAdviseHugePages asks for transparent huge pages (MADV_HUGEPAGE) on the whole
// 2 MiB pages inside [p, p+size) when size is at least kHugePageAdviceMinBytes (a
// smaller buffer is left alone). [p, p+size) must be one anonymous mapping the caller
// owns (a malloc block this large is). Advice only: not counted, never failed by
// injection, and where the kernel refuses it nothing changes. For large buffers
// written once in full (an image read, a dump's text): a first touch costs
// microseconds per 4 KiB page on a virtual machine, and 2 MiB pages take 512 times
// fewer.
inline constexpr size_t kHugePageAdviceMinBytes = size_t{4} << 20;
void OsAdviseHugePages(void* p, size_t size);
// OsProtectNone makes [p, p+size) inaccessible (guard pages).
bool OsProtectNone(void* p, size_t size);
// OsGuard makes any access to [p, p+size) fault, like OsProtectNone, but with the
// kernel's guard regions (MADV_GUARD_INSTALL, Linux 6.13+): page-table markers that
// split no mapping, so they do not count against vm.max_map_count. They survive
// OsDecommit. Returns false with errno EINVAL where the kernel has none (then every
// later call fails the same way at once, with no syscall; OsGuardsSupported tells).
bool OsGuard(void* p, size_t size);
// OsUnguard removes the guard regions OsGuard placed in [p, p+size); the pages read
// back as zero. Counted as an OsCall::kGuard call, like OsGuard.
bool OsUnguard(void* p, size_t size);
// OsGuardsSupported: false once the kernel has refused a guard region as unknown.
bool OsGuardsSupported();
// OsGuardMany is OsGuard over n ranges in one syscall where the kernel takes advice
// for the process itself in a batch (process_madvise on PIDFD_SELF, Linux 6.15+).
// Returns how many of the leading ranges now have a guard; for the rest (all of them
// where the batch call is missing or failed) the caller falls back to OsGuard, which
// gives the reason. One OsCall::kGuard call.
size_t OsGuardMany(const OsRange* ranges, size_t n);
// OsPopulate faults in every page of the n ranges, writable, now: in one syscall for
// all of them where the kernel can (as OsGuardMany), else one madvise
// (MADV_POPULATE_WRITE, Linux 5.14+) per range, else not at all. Advisory: a page
// left out faults in on first touch as before, so it reports nothing. A page fault
// costs far more than the same page populated with others (about 12 us against
// 0.9 us on a PVM guest, threads/DESIGN.md [threads.stacks.prefault]).
// One OsCall::kPopulate call; an injected fault skips the population.
void OsPopulate(const OsRange* ranges, size_t n);
// OsRelease unmaps a range obtained from OsReserve (or part of it).
bool OsRelease(void* p, size_t size);

// Fault injection, for tests: the `nth` call (1-based, counted from now) of `call`
// fails with ENOMEM; 0 disables. Thread-safe.
void OsInjectFault(OsCall call, int nth);
// OsCallCount reports how many calls of `call` were made since the process started.
long OsCallCount(OsCall call);

size_t OsPageSize();

}  // namespace weft::heap

#endif  // WEFT_HEAP_OS_MEMORY_H_
