// trace.h: the timeline recorder behind WEFT_TRACE=file.json.
//
// When the environment variable WEFT_TRACE names a file, every layer records events
// (threads/: spawns, blocks and wakes with the wait reason, worker parking, safepoint
// stops; runtime/: stop-the-world and collection phases) into per-OS-thread ring
// buffers; Flush writes them as a Chrome trace event JSON file that Perfetto and
// chrome://tracing open. When WEFT_TRACE is unset, each recording call is one relaxed
// load of a global flag and a predicted branch ([runtime.trace.off-cost]).
//
// An event is 24 bytes: a TSC read and three stores into the calling OS thread's ring
// (no lock, no system call, no formatting; [runtime.trace.event]). Flush converts TSC
// ticks to CLOCK_MONOTONIC microseconds with the two clocks sampled at Start and at
// Flush (an invariant TSC is assumed, as on every x86-64 CPU with constant_tsc).
//
// Blockings are sampled per worker (trace_sampler.h, [runtime.trace.sample]):
// WEFT_TRACE_SAMPLE=all records every block and wake, =N one blocking in N, and the
// default (`auto`) all of them until a worker blocks more often than about once per
// microsecond. Every other event is always recorded.
//
// Each ring holds kRingEvents events; older ones are overwritten, so memory is bounded
// and a long run keeps its last events.
#ifndef WEFT_RUNTIME_TRACE_H_
#define WEFT_RUNTIME_TRACE_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace weft::trace {

inline constexpr size_t kRingEvents = 1 << 16;

// Kind: what an event is, a constant at its recording sites (the event stores only
// its address, so it must be a static). `detail_name`, if set, turns an event's
// detail code (a wait reason) into the string Flush writes as args.detail.
struct Kind {
  const char* category;
  const char* name;
  const char* (*detail_name)(uint8_t detail) = nullptr;
};

// Sampling of blockings: kSampleAuto, or record one in N (1: all; at most
// kMaxSamplePeriod, trace_sampler.h).
inline constexpr int kSampleAuto = 0;

enum class Phase : uint8_t { kInstant, kBegin, kEnd };

namespace internal {
extern std::atomic<bool> enabled;
// Appends one event to the calling OS thread's ring; returns its TSC time. `arg`
// keeps its low 40 bits; `sample` is at most kMaxSamplePeriod.
uint64_t Record(const Kind& kind, Phase phase, uint64_t arg, uint8_t detail, uint32_t sample);
}  // namespace internal

inline bool Enabled() { return internal::enabled.load(std::memory_order_relaxed); }

// Begin/End: a duration on the calling OS thread. Instant: a point event. `arg` is
// shown as args.value (a green-thread id, a worker, a generation); `detail` as
// args.detail through the kind's detail_name. `sample` > 1 (a sampled blocking: it
// stands for `sample` blockings) is shown as args.sample.
inline void Begin(const Kind& kind, uint64_t arg = 0) {
  if (__builtin_expect(Enabled(), 0)) internal::Record(kind, Phase::kBegin, arg, 0, 1);
}
inline void End(const Kind& kind, uint64_t arg = 0) {
  if (__builtin_expect(Enabled(), 0)) internal::Record(kind, Phase::kEnd, arg, 0, 1);
}
inline void Instant(const Kind& kind, uint64_t arg = 0, uint8_t detail = 0) {
  if (__builtin_expect(Enabled(), 0)) internal::Record(kind, Phase::kInstant, arg, detail, 1);
}

// SampledInstant: the instant of a blocking its worker's Sampler took (call only
// when Enabled()); `sample` is its weight (Sampler::period). Returns the event's time,
// for Sampler::Recorded.
inline uint64_t SampledInstant(const Kind& kind, uint64_t arg, uint8_t detail, uint32_t sample) {
  return internal::Record(kind, Phase::kInstant, arg, detail, sample);
}

// Scoped: Begin now, End at scope exit.
class Scoped {
 public:
  explicit Scoped(const Kind& kind, uint64_t arg = 0) : kind_(kind), arg_(arg) {
    Begin(kind, arg);
  }
  ~Scoped() { End(kind_, arg_); }
  Scoped(const Scoped&) = delete;
  Scoped& operator=(const Scoped&) = delete;

 private:
  const Kind& kind_;
  uint64_t arg_;
};

// NameThisThread names the calling OS thread in the trace (a worker), if enabled.
void NameThisThread(const std::string& name);

// Start enables recording into `path` (tests) with the given sampling of blockings;
// StartFromEnvironment reads WEFT_TRACE and WEFT_TRACE_SAMPLE (`auto`, `all` or N).
void Start(const std::string& path, int sample = kSampleAuto);
void StartFromEnvironment();
// Flush writes every ring to the file named at Start, as one JSON document, and
// returns false (with a logged error) if it cannot. Recording continues.
bool Flush();
// Stop flushes and disables recording.
void Stop();

}  // namespace weft::trace

#endif  // WEFT_RUNTIME_TRACE_H_
