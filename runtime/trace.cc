#include "runtime/trace.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/log.h"

namespace weft::trace {
namespace internal {
std::atomic<bool> enabled{false};
}  // namespace internal

namespace {

struct Event {
  uint64_t ts_ns;
  const char* category;
  const char* name;
  uint64_t arg;
  char phase;
};

// Ring: one OS thread's events. Written only by its thread; read by Flush, which
// tolerates a torn last event by reading `count` with acquire order first.
struct Ring {
  int tid;
  std::atomic<uint64_t> count{0};
  std::unique_ptr<Event[]> events{new Event[kRingEvents]};
};

std::mutex rings_mu;
std::vector<Ring*>* rings = new std::vector<Ring*>();  // leaked: threads may outlive statics
std::string* path = new std::string();

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Opaque so a green thread that migrated never uses another OS thread's ring.
__attribute__((noinline)) Ring* ThisRing() {
  static thread_local Ring* ring = nullptr;
  if (ring == nullptr) {
    ring = new Ring();
    ring->tid = static_cast<int>(syscall(SYS_gettid));
    std::lock_guard<std::mutex> l(rings_mu);
    rings->push_back(ring);
  }
  return ring;
}

}  // namespace

namespace internal {
void Record(char phase, const char* category, const char* name, uint64_t arg) {
  Ring* r = ThisRing();
  uint64_t n = r->count.load(std::memory_order_relaxed);
  r->events[n % kRingEvents] = Event{NowNs(), category, name, arg, phase};
  r->count.store(n + 1, std::memory_order_release);
}
}  // namespace internal

void Start(const std::string& file) {
  {
    std::lock_guard<std::mutex> l(rings_mu);
    *path = file;
  }
  internal::enabled.store(true);
}

void StartFromEnvironment() {
  const char* env = std::getenv("WEFT_TRACE");
  if (env != nullptr && *env != '\0') Start(env);
}

bool Flush() {
  std::lock_guard<std::mutex> l(rings_mu);
  if (path->empty()) return false;
  std::string tmp = *path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    Log().error("trace: cannot write {}", tmp);
    return false;
  }
  std::fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
  bool first = true;
  int pid = static_cast<int>(getpid());
  for (Ring* r : *rings) {
    uint64_t n = r->count.load(std::memory_order_acquire);
    uint64_t from = n > kRingEvents ? n - kRingEvents : 0;
    for (uint64_t i = from; i < n; ++i) {
      const Event& e = r->events[i % kRingEvents];
      std::fprintf(f, "%s{\"ph\":\"%c\",\"cat\":\"%s\",\"name\":\"%s\",\"pid\":%d,\"tid\":%d,"
                   "\"ts\":%.3f,%s\"args\":{\"value\":%llu}}",
                   first ? "" : ",\n", e.phase, e.category, e.name, pid, r->tid,
                   e.ts_ns / 1000.0, e.phase == 'i' ? "\"s\":\"t\"," : "",
                   static_cast<unsigned long long>(e.arg));
      first = false;
    }
  }
  std::fprintf(f, "\n]}\n");
  bool ok = std::fclose(f) == 0 && std::rename(tmp.c_str(), path->c_str()) == 0;
  if (!ok) Log().error("trace: cannot write {}", *path);
  return ok;
}

void Stop() {
  Flush();
  internal::enabled.store(false);
}

}  // namespace weft::trace
