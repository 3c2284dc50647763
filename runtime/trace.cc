#include "runtime/trace.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "runtime/log.h"
#include "runtime/trace_sampler.h"

namespace weft::trace {
namespace internal {
std::atomic<bool> enabled{false};
void ConfigureSampling(int sample, double ticks_per_ns);  // trace_sampler.cc
}  // namespace internal

namespace {

// [runtime.trace.event] One event: 24 bytes, written with three stores.
//   word: arg (bits 0-39) | detail (40-47) | phase (48-49) | sample (50-63)
struct Event {
  uint64_t tsc;
  const Kind* kind;
  uint64_t word;
};
static_assert(sizeof(Event) == 24);
static_assert(kMaxSamplePeriod < (1u << 14));

constexpr uint64_t kArgMask = (uint64_t{1} << 40) - 1;

// Ring: one OS thread's events. Written only by its thread; read by Flush, which reads
// `count` with acquire order first (the oldest slots may be torn if the thread is
// still recording: recording never waits for Flush).
struct Ring {
  int tid = 0;
  std::string name;  // under rings_mu
  std::atomic<uint64_t> count{0};
  Event events[kRingEvents];
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

// TSC ticks per nanosecond, measured over about 200 us (the auto sampling's interval
// is set in ticks). Each clock pair is read back to back, so being descheduled between
// the pairs does not matter.
double TicksPerNs() {
  uint64_t ns0 = NowNs(), tsc0 = Tsc();
  uint64_t ns1 = ns0, tsc1 = tsc0;
  while (ns1 - ns0 < 200000) {
    ns1 = NowNs();
    tsc1 = Tsc();
  }
  return tsc1 > tsc0 ? double(tsc1 - tsc0) / double(ns1 - ns0) : 1.0;
}

// The calling OS thread's ring. Only Record (out of line) and NameThisThread read it:
// code on a green thread never keeps its address across a switch
// ([threads.inv.no-tls-across-switch]).
thread_local Ring* tls_ring = nullptr;

__attribute__((noinline, cold)) Ring* NewRing() {
  Ring* ring = new Ring;  // default-initialised: the events stay untouched until written
  ring->tid = static_cast<int>(syscall(SYS_gettid));
  {
    std::lock_guard<std::mutex> l(rings_mu);
    rings->push_back(ring);
  }
  tls_ring = ring;
  return ring;
}

const char* PhaseString(uint64_t phase) {
  switch (static_cast<Phase>(phase)) {
    case Phase::kBegin: return "B";
    case Phase::kEnd: return "E";
    case Phase::kInstant: break;
  }
  return "i";
}

}  // namespace

namespace internal {
namespace {
// The first event of an OS thread: make its ring, then record.
__attribute__((noinline, cold)) uint64_t AppendOnNewRing(const Kind* kind, uint64_t word);

inline uint64_t Append(const Kind* kind, uint64_t word) {
  Ring* r = tls_ring;
  if (__builtin_expect(r == nullptr, 0)) return AppendOnNewRing(kind, word);
  uint64_t n = r->count.load(std::memory_order_relaxed);
  Event& e = r->events[n % kRingEvents];
  uint64_t tsc = Tsc();
  e.tsc = tsc;
  e.kind = kind;
  e.word = word;
  r->count.store(n + 1, std::memory_order_release);
  return tsc;
}

uint64_t AppendOnNewRing(const Kind* kind, uint64_t word) {
  NewRing();
  return Append(kind, word);
}
}  // namespace

// [runtime.trace.event] Out of line, so the thread_local is read on the OS thread
// running the caller now.
__attribute__((noinline)) uint64_t Record(const Kind& kind, Phase phase, uint64_t arg,
                                          uint8_t detail, uint32_t sample) {
  return Append(&kind, (arg & kArgMask) | uint64_t{detail} << 40 | uint64_t(phase) << 48 |
                           uint64_t{sample} << 50);
}
}  // namespace internal

void NameThisThread(const std::string& name) {
  if (!Enabled()) return;
  Ring* r = tls_ring != nullptr ? tls_ring : NewRing();
  std::lock_guard<std::mutex> l(rings_mu);
  r->name = name;
}

void Start(const std::string& file, int sample) {
  double ticks_per_ns = TicksPerNs();
  {
    std::lock_guard<std::mutex> l(rings_mu);
    *path = file;
    if (start_tsc == 0) {
      start_ns = NowNs();
      start_tsc = Tsc();
    }
  }
  internal::ConfigureSampling(sample, ticks_per_ns);
  internal::enabled.store(true);
}

void StartFromEnvironment() {
  const char* env = std::getenv("WEFT_TRACE");
  if (env == nullptr || *env == '\0') return;
  int sample = kSampleAuto;
  const char* s = std::getenv("WEFT_TRACE_SAMPLE");
  if (s != nullptr && *s != '\0' && std::strcmp(s, "auto") != 0) {
    char* end = nullptr;
    long n = std::strcmp(s, "all") == 0 ? 1 : std::strtol(s, &end, 10);
    if ((end != nullptr && *end != '\0') || n < 1 || n > long{kMaxSamplePeriod}) {
      Log().error("trace: WEFT_TRACE_SAMPLE={} is not auto, all or a number in [1, {}]; "
                  "using auto", s, kMaxSamplePeriod);
    } else {
      sample = static_cast<int>(n);
    }
  }
  Start(env, sample);
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
      uint64_t arg = e.word & kArgMask;
      uint8_t detail = static_cast<uint8_t>(e.word >> 40);
      uint64_t phase = (e.word >> 48) & 3;
      uint64_t sample = e.word >> 50;
      double ts_ns = double(start_ns) + (double(e.tsc) - double(start_tsc)) * ns_per_tick;
      std::fprintf(f, "%s{\"ph\":\"%s\",\"cat\":\"%s\",\"name\":\"%s\",\"pid\":%d,\"tid\":%d,"
                   "\"ts\":%.3f,%s\"args\":{\"value\":%llu",
                   first ? "" : ",\n", PhaseString(phase), e.kind->category, e.kind->name, pid,
                   r->tid, ts_ns / 1000.0,
                   static_cast<Phase>(phase) == Phase::kInstant ? "\"s\":\"t\"," : "",
                   static_cast<unsigned long long>(arg));
      if (e.kind->detail_name != nullptr) {
        std::fprintf(f, ",\"detail\":\"%s\"", e.kind->detail_name(detail));
      }
      if (sample > 1) std::fprintf(f, ",\"sample\":%llu", static_cast<unsigned long long>(sample));
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
