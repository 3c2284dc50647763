#include "heap/os_memory.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

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

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
// Linux 6.15: a pidfd naming the calling thread, so process_madvise needs no open
// pidfd (which a fork would leave naming the parent).
constexpr int kPidfdSelfThread = -10000;

std::atomic<bool> guards_unsupported{false};
std::atomic<bool> guard_batch_unsupported{false};
std::atomic<bool> populate_batch_unsupported{false};
std::atomic<bool> populate_unsupported{false};

// AdviseMany gives `advice` to the n ranges with process_madvise on the process
// itself, up to kBatch ranges per syscall. Returns how many leading ranges were
// advised in full; 0 with *batch_unsupported set when the kernel has no such call
// for this advice.
size_t AdviseMany(const OsRange* ranges, size_t n, int advice,
                  std::atomic<bool>* batch_unsupported) {
#if defined(SYS_process_madvise)
  if (batch_unsupported->load(std::memory_order_relaxed)) return 0;
  constexpr size_t kBatch = 16;  // on the caller's stack (a spawning thread's)
  iovec iov[kBatch];
  size_t done = 0;
  while (done < n) {
    size_t k = n - done < kBatch ? n - done : kBatch;
    size_t bytes = 0;
    for (size_t i = 0; i < k; ++i) {
      iov[i] = iovec{ranges[done + i].start, ranges[done + i].size};
      bytes += ranges[done + i].size;
    }
    long r = syscall(SYS_process_madvise, kPidfdSelfThread, iov, k, advice, 0);
    if (r == static_cast<long>(bytes)) {
      done += k;
      continue;
    }
    if (r < 0) {
      // EBADF: no PIDFD_SELF; EINVAL: this advice not taken through process_madvise
      // (before 6.13) or unknown; ENOSYS, EPERM: no call or not allowed. Each would
      // fail again, so stop asking. Anything else (ENOMEM, ...) is this call's.
      if (done == 0 && (errno == EBADF || errno == EINVAL || errno == ENOSYS || errno == EPERM)) {
        batch_unsupported->store(true, std::memory_order_relaxed);
      }
      return done;
    }
    // A partial count: the ranges it covered in full.
    for (size_t i = 0; i < k && r >= static_cast<long>(iov[i].iov_len); ++i) {
      r -= static_cast<long>(iov[i].iov_len);
      ++done;
    }
    return done;
  }
  return done;
#else
  (void)ranges;
  (void)n;
  (void)advice;
  batch_unsupported->store(true, std::memory_order_relaxed);
  return 0;
#endif
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

void OsAdviseHugePages(void* p, size_t size) {
  if (size < kHugePageAdviceMinBytes) return;
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  auto begin = reinterpret_cast<uintptr_t>(p);
  uintptr_t lo = (begin + kHuge - 1) & ~(kHuge - 1);
  uintptr_t hi = (begin + size) & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
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

size_t OsGuardMany(const OsRange* ranges, size_t n) {
  if (n == 0 || guards_unsupported.load(std::memory_order_relaxed)) return 0;
  if (ShouldFail(OsCall::kGuard)) return 0;
  return AdviseMany(ranges, n, MADV_GUARD_INSTALL, &guard_batch_unsupported);
}

void OsPopulate(const OsRange* ranges, size_t n) {
  if (n == 0 || populate_unsupported.load(std::memory_order_relaxed)) return;
  if (ShouldFail(OsCall::kPopulate)) return;
  size_t done = AdviseMany(ranges, n, MADV_POPULATE_WRITE, &populate_batch_unsupported);
  if (done == n || !populate_batch_unsupported.load(std::memory_order_relaxed)) return;
  for (size_t i = done; i < n; ++i) {
    if (madvise(ranges[i].start, ranges[i].size, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) {
      populate_unsupported.store(true, std::memory_order_relaxed);  // before 5.14
      return;
    }
  }
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
