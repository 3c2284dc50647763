#include "heap/os_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace weft::heap {
namespace {

constexpr int kCalls = static_cast<int>(OsCall::kCount);
std::atomic<long> call_count[kCalls];
std::atomic<long> fail_at[kCalls];  // absolute call number that fails; 0 = none

// Counts the call and reports whether fault injection says it must fail.
bool ShouldFail(OsCall call) {
  int i = static_cast<int>(call);
  long n = call_count[i].fetch_add(1, std::memory_order_relaxed) + 1;
  long f = fail_at[i].load(std::memory_order_relaxed);
  if (f != 0 && n == f) {
    errno = ENOMEM;
    return true;
  }
  return false;
}

// Linux 6.13 uapi values, for older headers (Debian 12 ships 6.1's).
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

std::atomic<bool> guards_unsupported{false};

}  // namespace

void* OsReserve(size_t size) {
  if (ShouldFail(OsCall::kReserve)) return nullptr;
  void* p = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

bool OsCommit(void* p, size_t size) {
  if (ShouldFail(OsCall::kCommit)) return false;
  return mprotect(p, size, PROT_READ | PROT_WRITE) == 0;
}

bool OsDecommit(void* p, size_t size) {
  if (ShouldFail(OsCall::kDecommit)) return false;
  return madvise(p, size, MADV_DONTNEED) == 0;
}

bool OsProtectNone(void* p, size_t size) {
  if (ShouldFail(OsCall::kProtect)) return false;
  return mprotect(p, size, PROT_NONE) == 0;
}

bool OsGuard(void* p, size_t size) {
  if (guards_unsupported.load(std::memory_order_relaxed)) {
    errno = EINVAL;
    return false;
  }
  if (ShouldFail(OsCall::kGuard)) return false;
  if (madvise(p, size, MADV_GUARD_INSTALL) == 0) return true;
  // An unknown advice is EINVAL; so is a range that is not page aligned, which our
  // callers never pass. Either way, asking again would fail again.
  if (errno == EINVAL) guards_unsupported.store(true, std::memory_order_relaxed);
  return false;
}

bool OsUnguard(void* p, size_t size) {
  if (ShouldFail(OsCall::kGuard)) return false;
  return madvise(p, size, MADV_GUARD_REMOVE) == 0;
}

bool OsGuardsSupported() { return !guards_unsupported.load(std::memory_order_relaxed); }

bool OsRelease(void* p, size_t size) {
  if (ShouldFail(OsCall::kRelease)) return false;
  return munmap(p, size) == 0;
}

void OsInjectFault(OsCall call, int nth) {
  int i = static_cast<int>(call);
  fail_at[i].store(nth == 0 ? 0 : call_count[i].load() + nth);
}

long OsCallCount(OsCall call) { return call_count[static_cast<int>(call)].load(); }

size_t OsPageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

}  // namespace weft::heap
