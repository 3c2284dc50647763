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
  uint64_t tsc;
  const char* category;
  const char* name;
  const char* detail;
  uint64_t arg;
  char phase;
};

// Ring: one OS thread's events. Written only by its thread; read by Flush, which
// tolerates a torn last event by reading `count` with acquire order first.
struct Ring {
  int tid;
  std::string name;  // under rings_mu
  std::atomic<uint64_t> count{0};
  std::unique_ptr<Event[]> events{new Event[kRingEvents]};
};

std::mutex rings_mu;
std::vector<Ring*>* rings = new std::vector<Ring*>();  // leaked: threads may outlive statics
std::string* path = new std::string();
// The two clocks sampled together at Start: Flush maps TSC ticks to nanoseconds.
uint64_t start_tsc = 0;
uint64_t start_ns = 0;

inline uint64_t Tsc() { return __builtin_ia32_rdtsc(); }

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
void Record(char phase, const char* category, const char* name, uint64_t arg,
            const char* detail) {
  Ring* r = ThisRing();
  uint64_t n = r->count.load(std::memory_order_relaxed);
  r->events[n % kRingEvents] = Event{Tsc(), category, name, detail, arg, phase};
  r->count.store(n + 1, std::memory_order_release);
}
}  // namespace internal

void NameThisThread(const std::string& name) {
  if (!Enabled()) return;
  Ring* r = ThisRing();
  std::lock_guard<std::mutex> l(rings_mu);
  r->name = name;
}

void Start(const std::string& file) {
  {
    std::lock_guard<std::mutex> l(rings_mu);
    *path = file;
    if (start_tsc == 0) {
      start_ns = NowNs();
      start_tsc = Tsc();
    }
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
  uint64_t now_ns = NowNs(), now_tsc = Tsc();
  double ns_per_tick = now_tsc > start_tsc
                           ? double(now_ns - start_ns) / double(now_tsc - start_tsc)
                           : 1.0;
  for (Ring* r : *rings) {
    if (!r->name.empty()) {
      std::fprintf(f, "%s{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,"
                   "\"args\":{\"name\":\"%s\"}}",
                   first ? "" : ",\n", pid, r->tid, r->name.c_str());
      first = false;
    }
    uint64_t n = r->count.load(std::memory_order_acquire);
    uint64_t from = n > kRingEvents ? n - kRingEvents : 0;
    for (uint64_t i = from; i < n; ++i) {
      const Event& e = r->events[i % kRingEvents];
      double ts_ns = double(start_ns) + (double(e.tsc) - double(start_tsc)) * ns_per_tick;
      std::fprintf(f, "%s{\"ph\":\"%c\",\"cat\":\"%s\",\"name\":\"%s\",\"pid\":%d,\"tid\":%d,"
                   "\"ts\":%.3f,%s\"args\":{\"value\":%llu",
                   first ? "" : ",\n", e.phase, e.category, e.name, pid, r->tid, ts_ns / 1000.0,
                   e.phase == 'i' ? "\"s\":\"t\"," : "", static_cast<unsigned long long>(e.arg));
      if (e.detail != nullptr) std::fprintf(f, ",\"detail\":\"%s\"", e.detail);
      std::fprintf(f, "}}");
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
