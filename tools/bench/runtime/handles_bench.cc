// handles_bench.cc: the cost of the embedding API's basic operations (runtime/weft.h
// only), as Google Benchmark figures.
//
//   bazel run //tools/bench/runtime:handles_bench -- [--weft_workers=N] [benchmark flags]
//
// BM_LocalNew: one Local::New in a scope (the scope is popped every 256 handles).
// BM_ScopePushPop: one Scope opened and closed.
// BM_ConsAlloc: one Cons through the API (allocation, handle, amortised young
//   collections of an all-garbage nursery).
// BM_ScopeNew, BM_ScopeFromParent, BM_ConsInto, BM_CarInto: the same through the
//   fast API ([runtime.handles.fast]): a slot bump from a Scope, a scope opened from
//   its parent, an allocation written into an existing Local, a read into one.
// BM_SetCar/*: one SetCar store with its write barrier: into a young pair, into an
//   old pair (old-to-young, marks a card) and a fixnum into an old pair.
// BM_ChannelPingPong: one round trip of a managed value between two green threads on
//   two unbuffered channels.
// BM_SpawnJoin: Spawn one green thread through the API and Join it.
//
// Every benchmark must run on a green thread, so main creates a Runtime (1 worker
// unless --weft_workers says otherwise) and runs benchmark::RunSpecifiedBenchmarks in
// a green thread with a large native stack (the reporters are not written for the
// default 64 KiB).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <benchmark/benchmark.h>

#include "runtime/weft.h"

namespace {

constexpr int kBatch = 256;

void BM_LocalNew(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Local seven = weft::Fixnum(7);
  while (state.KeepRunningBatch(kBatch)) {
    weft::Scope batch("batch");
    for (int i = 0; i < kBatch; ++i) {
      weft::Local l = weft::Local::New(seven.get());
      benchmark::DoNotOptimize(l);
    }
  }
}
BENCHMARK(BM_LocalNew);

void BM_ScopePushPop(benchmark::State& state) {
  for (auto _ : state) {
    weft::Scope scope("bench");
    benchmark::DoNotOptimize(&scope);
  }
}
BENCHMARK(BM_ScopePushPop);

void BM_ConsAlloc(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Local nil = weft::Local::Nil();
  while (state.KeepRunningBatch(kBatch)) {
    weft::Scope batch("batch");
    for (int i = 0; i < kBatch; ++i) {
      weft::Local pair = weft::Cons(nil, nil);
      benchmark::DoNotOptimize(pair);
    }
  }
}
BENCHMARK(BM_ConsAlloc);

void BM_ScopeNew(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Local seven = scope.Fixnum(7);
  while (state.KeepRunningBatch(kBatch)) {
    weft::Scope batch(scope, "batch");
    for (int i = 0; i < kBatch; ++i) {
      weft::Local l = batch.New(seven.get());
      benchmark::DoNotOptimize(l);
    }
  }
}
BENCHMARK(BM_ScopeNew);

void BM_ScopeFromParent(benchmark::State& state) {
  weft::Scope scope("bench");
  for (auto _ : state) {
    weft::Scope inner(scope, "bench");
    benchmark::DoNotOptimize(&inner);
  }
}
BENCHMARK(BM_ScopeFromParent);

void BM_ConsInto(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Local nil = scope.Nil();
  weft::Local out = scope.Nil();
  for (auto _ : state) {
    weft::ConsInto(nil, nil, out);
    benchmark::DoNotOptimize(out.get());
  }
}
BENCHMARK(BM_ConsInto);

void BM_CarInto(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Local pair = scope.Cons(scope.Fixnum(1), scope.Nil());
  weft::Local out = scope.Nil();
  for (auto _ : state) {
    weft::CarInto(pair, out);
    benchmark::DoNotOptimize(out.get());
  }
}
BENCHMARK(BM_CarInto);

// SetCarBench stores `value` into `pair` repeatedly; neither is allocated in the loop,
// so no collection changes their ages while it runs.
void SetCarBench(benchmark::State& state, weft::Local pair, weft::Local value) {
  for (auto _ : state) {
    weft::SetCar(pair, value);
    benchmark::ClobberMemory();
  }
}

void BM_SetCar_YoungPair(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Collect(-1);
  weft::Local pair = weft::Cons(weft::Local::Nil(), weft::Local::Nil());
  weft::Local young = weft::Cons(weft::Local::Nil(), weft::Local::Nil());
  SetCarBench(state, pair, young);
}
BENCHMARK(BM_SetCar_YoungPair);

void BM_SetCar_OldToYoung(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Local pair = weft::Cons(weft::Local::Nil(), weft::Local::Nil());
  weft::Collect(-1);  // promotes pair out of the nursery (promotion_age 1)
  weft::Collect(-1);
  weft::Local young = weft::Cons(weft::Local::Nil(), weft::Local::Nil());
  SetCarBench(state, pair, young);
}
BENCHMARK(BM_SetCar_OldToYoung);

void BM_SetCar_OldFixnum(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Local pair = weft::Cons(weft::Local::Nil(), weft::Local::Nil());
  weft::Collect(-1);
  weft::Collect(-1);
  SetCarBench(state, pair, weft::Fixnum(3));
}
BENCHMARK(BM_SetCar_OldFixnum);

void BM_ChannelPingPong(benchmark::State& state) {
  weft::Scope scope("bench");
  weft::Channel ping = weft::Channel::Make(), pong = weft::Channel::Make();
  weft::Thread echo = weft::Spawn(
      [ping, pong]() mutable {
        weft::Scope s("echo");
        for (;;) {
          weft::Scope m("message");
          std::optional<weft::Local> v = ping.Recv();
          if (!v) return weft::Local::Nil();
          pong.Send(*v);
        }
      },
      {.name = "echo"});
  weft::Local message = weft::Cons(weft::Fixnum(1), weft::Local::Nil());
  int64_t bad = 0;
  while (state.KeepRunningBatch(kBatch)) {
    weft::Scope batch("batch");
    for (int i = 0; i < kBatch; ++i) {
      ping.Send(message);
      std::optional<weft::Local> back = pong.Recv();
      if (!back || !back->Eq(message)) ++bad;
    }
  }
  ping.Close();
  echo.Join();
  if (bad != 0) state.SkipWithError("ping-pong: a message came back changed or missing");
}
BENCHMARK(BM_ChannelPingPong);

void BM_SpawnJoin(benchmark::State& state) {
  weft::Scope scope("bench");
  int64_t i = 0, sum = 0;
  for (auto _ : state) {
    weft::Scope iteration("spawn");
    weft::Thread t = weft::Spawn([i] { return weft::Fixnum(i); });
    sum += weft::FixnumValue(t.Join());
    ++i;
  }
  if (sum != i * (i - 1) / 2) state.SkipWithError("spawn-join: wrong sum of results");
}
BENCHMARK(BM_SpawnJoin);

}  // namespace

int main(int argc, char** argv) {
  weft::Options options;
  options.workers = 1;
  // --weft_workers=N is ours; the rest go to Google Benchmark.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const char* flag = "--weft_workers=";
    if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) {
      options.workers = std::atoi(argv[i] + std::strlen(flag));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  absl::StatusOr<std::unique_ptr<weft::Runtime>> runtime = weft::Runtime::Create(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "handles_bench: %s\n", runtime.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<int> code = (*runtime)->Run([] {
    weft::Thread runner = weft::Spawn(
        [] {
          benchmark::RunSpecifiedBenchmarks();
          return weft::Local::Nil();
        },
        {.name = "benchmarks", .native_stack_bytes = size_t{8} << 20});
    runner.Join();
    return 0;
  });
  benchmark::Shutdown();
  if (!code.ok()) {
    std::fprintf(stderr, "handles_bench: %s\n", code.status().ToString().c_str());
    return 1;
  }
  return *code;
}
