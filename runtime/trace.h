// trace.h: the timeline recorder behind WEFT_TRACE=file.json.
//
// When the environment variable WEFT_TRACE names a file, every layer records events
// (threads/: spawns, blocks and wakes with the wait reason, worker parking, safepoint
// stops; runtime/: stop-the-world and collection phases) into per-OS-thread ring
// buffers; Flush writes them as a Chrome trace event JSON file that Perfetto and
// chrome://tracing open. When WEFT_TRACE is unset, each recording call is one relaxed
// load of a global flag and a predicted branch ([runtime.trace.off-cost]).
//
// An event costs a TSC read and a 48-byte store into the calling OS thread's ring
// (no lock, no system call); Flush converts TSC ticks to CLOCK_MONOTONIC microseconds
// with the two clocks sampled at Start and at Flush (an invariant TSC is assumed, as
// on every x86-64 CPU with constant_tsc).
//
// Names and categories must be string literals (only the pointer is stored). Each ring
// holds kRingEvents events; older ones are overwritten, so memory is bounded and a long
// run keeps its last events.
#ifndef WEFT_RUNTIME_TRACE_H_
#define WEFT_RUNTIME_TRACE_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace weft::trace {

inline constexpr size_t kRingEvents = 1 << 16;

namespace internal {
extern std::atomic<bool> enabled;
void Record(char phase, const char* category, const char* name, uint64_t arg,
            const char* detail);
}  // namespace internal

inline bool Enabled() { return internal::enabled.load(std::memory_order_relaxed); }

// Begin/End: a duration on the calling OS thread. Instant: a point event. `arg` is
// shown as args.value (a green-thread id, a worker, a generation); `detail`, a
// string literal or nullptr, as args.detail (a wait reason).
inline void Begin(const char* category, const char* name, uint64_t arg = 0,
                  const char* detail = nullptr) {
  if (__builtin_expect(Enabled(), 0)) internal::Record('B', category, name, arg, detail);
}
inline void End(const char* category, const char* name, uint64_t arg = 0) {
  if (__builtin_expect(Enabled(), 0)) internal::Record('E', category, name, arg, nullptr);
}
inline void Instant(const char* category, const char* name, uint64_t arg = 0,
                    const char* detail = nullptr) {
  if (__builtin_expect(Enabled(), 0)) internal::Record('i', category, name, arg, detail);
}

// Scoped: Begin now, End at scope exit.
class Scoped {
 public:
  Scoped(const char* category, const char* name, uint64_t arg = 0)
      : category_(category), name_(name), arg_(arg) {
    Begin(category, name, arg);
  }
  ~Scoped() { End(category_, name_, arg_); }
  Scoped(const Scoped&) = delete;
  Scoped& operator=(const Scoped&) = delete;

 private:
  const char* category_;
  const char* name_;
  uint64_t arg_;
};

// NameThisThread names the calling OS thread in the trace (a worker), if enabled.
void NameThisThread(const std::string& name);

// Start enables recording into `path` (tests); StartFromEnvironment reads WEFT_TRACE.
void Start(const std::string& path);
void StartFromEnvironment();
// Flush writes every ring to the file named at Start, as one JSON document, and
// returns false (with a logged error) if it cannot. Recording continues.
bool Flush();
// Stop flushes and disables recording.
void Stop();

}  // namespace weft::trace

#endif  // WEFT_RUNTIME_TRACE_H_
