// Helpers shared by the Boost.Context and Boost.Fiber peers: a monotonic clock,
// this process's resident set and CPU time, and the output format run.py reads
// ("RESULT name value unit" lines and one "checksum: X" line).
#pragma once
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace weft_peer {

inline double now_ns() {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline long resident_kib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  long kib = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kib = std::atol(line + 6);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

inline double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

inline void result(const char* name, double value, const char* unit) {
  std::printf("RESULT %s %.3f %s\n", name, value, unit);
}

inline int finish(long long checksum) {
  std::printf("checksum: %lld\n", checksum);
  return 0;
}

inline int usage(const char* self, const char* modes) {
  std::fprintf(stderr, "usage: %s %s N\n", self, modes);
  return 2;
}

}  // namespace weft_peer
