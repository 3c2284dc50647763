// dump_bench.cc: how long DumpStacks takes with many green threads alive.
//
//   bazel run //tools/bench/runtime:dump_bench -- [THREADS] [REPS]
//
// Spawns THREADS (default 100000) green threads, each blocked on a channel receive
// inside a named scope holding one local, then times REPS (default 3) dumps of each
// kind: text with native backtraces (the SIGQUIT / fatal / stackscan --native
// format), text without, and JSON. Prints one line per kind: median [min - max] in
// ms, and the dump's size. Goal: 100k threads in under 1 s (runtime/DESIGN.md).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/weft.h"

namespace {

double Millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// ThreadCpuMs: CPU time of the calling OS thread (the dump runs on it with the world
// stopped, so this is the dump's CPU cost even on a loaded machine).
double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void Time(const char* what, int reps, const weft::DumpOptions& o) {
  std::vector<double> ms, cpu;
  size_t bytes = 0;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = ThreadCpuMs();
    std::string d = weft::DumpStacks(o);
    cpu.push_back(ThreadCpuMs() - c0);
    ms.push_back(Millis(std::chrono::steady_clock::now() - t0));
    bytes = d.size();
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf("%-30s wall %7.1f ms [%.1f - %.1f]  cpu %7.1f ms  %zu bytes\n", what,
              ms[ms.size() / 2], ms.front(), ms.back(), cpu[cpu.size() / 2], bytes);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  weft::Options o;
  o.workers = 2;
  o.control_socket = false;
  auto rt = weft::Runtime::Create(o);
  if (!rt.ok()) {
    std::fprintf(stderr, "%s\n", rt.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<int> r = (*rt)->Run([&] {
    weft::Scope scope("dump-bench");
    weft::Channel ch = weft::Channel::Make();
    std::vector<weft::Thread> threads;
    threads.reserve(n);
    for (int i = 0; i < n; ++i) {
      threads.push_back(weft::Spawn(
          [ch, i]() mutable {
            weft::Scope s("blocked-frame");
            weft::Local v = weft::Fixnum(i);
            ch.Recv();
            (void)v;
            return s.Escape(s.Nil());
          },
          {.name = "blocked"}));
    }
    // Let every thread reach its receive.
    while (weft::GetStats().threads_blocked < static_cast<uint64_t>(n)) weft::Yield();
    std::printf("dump_bench: %d green threads blocked, median of %d dumps\n", n, reps);
    weft::DumpOptions text;
    Time("text, native backtraces", reps, text);
    text.native_backtraces = false;
    Time("text, no native backtraces", reps, text);
    weft::DumpOptions json;
    json.json = true;
    Time("json, native backtraces", reps, json);
    ch.Close();
    for (weft::Thread& t : threads) t.Join();
    return 0;
  });
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    return 1;
  }
  return *r;
}
