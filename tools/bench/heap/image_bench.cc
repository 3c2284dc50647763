// image_bench.cc: heap image throughput for a 256 MiB image.
//
//   bazel build -c opt //tools/bench/heap:image_bench
//   bazel-bin/tools/bench/heap/image_bench
//
// The live graph: 48-byte vectors linked in chains (each also pointing at a 40-byte
// string and a fixnum), plus 64 KiB byte arrays (large objects): 256 MiB of live
// objects in all, with as much garbage between them, collected before saving.
// BM_SaveImageCopy: ImageWriter::AddHeap (the stop-the-world part of a save).
// BM_SaveImage: AddHeap + Write (temporary file, fsync, rename).
// BM_LoadImageRead / Prepare / Load: ImageReader::ReadFile (read + checksums),
//   ImageLoader::Prepare (validation: headers, layouts, every reference), Load
//   (allocation, copy + relocation, adoption: the stop-the-world part of a load).
// BM_LoadImage: all three. Throughput is image bytes per second.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "heap/arena.h"
#include "heap/heap.h"
#include "heap/image_loader.h"
#include "heap/image_reader.h"
#include "heap/image_writer.h"

namespace weft::heap::image {
namespace {

constexpr size_t kLiveBytes = size_t{256} << 20;

class Roots final : public RootSource {
 public:
  std::vector<Value> roots;
  void VisitRoots(RootVisitor& v) override {
    if (!roots.empty()) v.VisitRange(roots.data(), roots.data() + roots.size());
  }
};

struct World {
  World() {
    ArenaOptions ao;
    ao.reserve_bytes = size_t{16} << 30;
    ao.cached_free_bytes = size_t{64} << 20;
    arena.reset(*Arena::Create(ao));
    HeapOptions o;
    o.soft_limit_bytes = o.hard_limit_bytes = size_t{4} << 30;
    heap = std::move(*Heap::Create(o, arena.get()));
  }
  std::unique_ptr<Arena> arena;
  std::unique_ptr<Heap> heap;
};

std::string Path() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/weft_image_bench.img";
}

// Source: the saving heap with its 256 MiB graph, built once.
struct Source {
  Source() {
    Mutator* m = w.heap->CreateMutator();
    size_t bytes = 0;
    int chain = 0;
    roots.roots.assign(64, Value::Nil());
    while (bytes < kLiveBytes) {
      if (bytes % (size_t{4} << 20) < 64) {
        Object* big = m->AllocateBytes(size_t{64} << 10);
        roots.roots.push_back(Value::FromObject(big));
        bytes += ObjectSize(big);
      }
      Object* s = m->AllocateString("a string of forty bytes, more or less..");
      Object* v = m->AllocateVector(5, Value::Nil());
      v->slots()[0] = roots.roots[chain];
      v->slots()[1] = Value::FromObject(s);
      v->slots()[2] = Value::Fixnum(static_cast<int64_t>(bytes));
      roots.roots[chain] = Value::FromObject(v);
      chain = (chain + 1) % 64;
      bytes += ObjectSize(s) + ObjectSize(v);
      m->AllocateVector(10, Value::Nil());  // garbage
      if ((bytes & ((size_t{16} << 20) - 1)) < 100) w.heap->Collect(0, roots);
    }
    w.heap->DestroyMutator(m);
    w.heap->CollectFull(roots, false);
    live = bytes;
  }
  World w;
  Roots roots;
  size_t live = 0;
};

Source& TheSource() {
  static Source* s = new Source();
  return *s;
}

void BM_SaveImageCopy(benchmark::State& state) {
  Source& src = TheSource();
  size_t bytes = 0;
  for (auto _ : state) {
    ImageWriter w(*src.w.heap);
    w.AddHeap(src.roots.roots);
    bytes = w.object_bytes();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
  state.counters["image_MiB"] = static_cast<double>(bytes) / (1 << 20);
}
BENCHMARK(BM_SaveImageCopy)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_SaveImage(benchmark::State& state) {
  Source& src = TheSource();
  size_t bytes = 0;
  for (auto _ : state) {
    ImageWriter w(*src.w.heap);
    w.AddHeap(src.roots.roots);
    absl::Status s = w.Write(Path());
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    bytes = w.object_bytes();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes * state.iterations()));
}
BENCHMARK(BM_SaveImage)->Unit(benchmark::kMillisecond)->Iterations(3);

void EnsureImage() {
  static bool written = [] {
    Source& src = TheSource();
    ImageWriter w(*src.w.heap);
    w.AddHeap(src.roots.roots);
    return w.Write(Path()).ok();
  }();
  if (!written) std::abort();
}

void BM_LoadImageRead(benchmark::State& state) {
  EnsureImage();
  size_t size = 0;
  for (auto _ : state) {
    absl::StatusOr<ImageReader> r = ImageReader::ReadFile(Path());
    if (!r.ok()) state.SkipWithError("read failed");
    size = r->size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(size * state.iterations()));
}
BENCHMARK(BM_LoadImageRead)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_LoadImagePrepare(benchmark::State& state) {
  EnsureImage();
  absl::StatusOr<ImageReader> r = ImageReader::ReadFile(Path());
  World w;
  for (auto _ : state) {
    absl::StatusOr<ImageLoader> l = ImageLoader::Prepare(*r, *w.heap);
    if (!l.ok()) state.SkipWithError("prepare failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(r->size() * state.iterations()));
}
BENCHMARK(BM_LoadImagePrepare)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_LoadImageLoad(benchmark::State& state) {
  EnsureImage();
  absl::StatusOr<ImageReader> r = ImageReader::ReadFile(Path());
  for (auto _ : state) {
    state.PauseTiming();
    auto w = std::make_unique<World>();
    absl::StatusOr<ImageLoader> l = ImageLoader::Prepare(*r, *w->heap);
    state.ResumeTiming();
    absl::StatusOr<std::vector<Value>> roots = l->Load();
    if (!roots.ok()) state.SkipWithError("load failed");
    state.PauseTiming();
    w.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(r->size() * state.iterations()));
}
BENCHMARK(BM_LoadImageLoad)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_LoadImage(benchmark::State& state) {
  EnsureImage();
  size_t size = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto w = std::make_unique<World>();
    state.ResumeTiming();
    absl::StatusOr<ImageReader> r = ImageReader::ReadFile(Path());
    absl::StatusOr<ImageLoader> l = ImageLoader::Prepare(*r, *w->heap);
    absl::StatusOr<std::vector<Value>> roots = l->Load();
    if (!roots.ok()) state.SkipWithError("load failed");
    size = r->size();
    state.PauseTiming();
    Roots check;
    check.roots = *roots;
    if (state.iterations() == 0) w->heap->Verify(&check);
    w.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(size * state.iterations()));
}
BENCHMARK(BM_LoadImage)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace weft::heap::image
