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
