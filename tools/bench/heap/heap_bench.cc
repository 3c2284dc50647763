// heap_bench.cc: heap micro-benchmarks.
//
//   bazel run -c opt //tools/bench/heap:heap_bench
//
// BM_Alloc*: ns per object through Mutator (inline bump fast path; the amortised
//   slow path and young collections of an all-garbage nursery included).
// BM_YoungCollection4MiB/<live KiB>: pause of one nursery collection of a full 4 MiB
//   nursery holding that much live data (linked 48-byte vectors).
// BM_YoungPromotion4MiB/<live KiB>/<in place>: the same, with every survivor promoted
//   (promotion age 1), by copying (0) or in place (1: heap/DESIGN.md
//   [heap.nursery.in-place]).
// BM_WalkPairTree/<depth>/<copied>: a left-first walk of a tree of pairs, as built or
//   after a young collection copied it.
// BM_PromotePairTreeInPlace/<depth>/<gc threads>: pause of a young collection that
//   promotes a nursery holding one tree of pairs in place.
// BM_FullCollection*: throughput of a full collection, bytes/s of live old data.
// BM_WriteBarrier*: ns per reference store with the card-marking barrier.
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>

#include "heap/arena.h"
#include "heap/heap.h"

namespace weft::heap {
namespace {

class Roots final : public RootSource {
 public:
  std::vector<Value> roots;
  void VisitRoots(RootVisitor& v) override {
    if (!roots.empty()) v.VisitRange(roots.data(), roots.data() + roots.size());
  }
};

class Host final : public CollectionHost {
 public:
  Host(Heap* heap, RootSource* roots) : heap_(heap), roots_(roots) {}
  void RequestCollection(int generation) override { heap_->Collect(generation, *roots_); }

 private:
  Heap* heap_;
  RootSource* roots_;
};

struct Bench {
  explicit Bench(HeapOptions o = {}) {
    ArenaOptions ao;
    ao.reserve_bytes = size_t{8} << 30;
    ao.cached_free_bytes = size_t{64} << 20;
    arena.reset(*Arena::Create(ao));
    heap = std::move(*Heap::Create(o, arena.get()));
    host = std::make_unique<Host>(heap.get(), &roots);
    heap->SetHost(host.get());
    m = heap->CreateMutator();
  }
  ~Bench() {
    heap->DestroyMutator(m);
    heap.reset();
  }
  std::unique_ptr<Arena> arena;
  std::unique_ptr<Heap> heap;
  Roots roots;
  std::unique_ptr<Host> host;
  Mutator* m;
};

void BM_AllocTwoWordObject(benchmark::State& state) {
  Bench b;
  for (auto _ : state) {
    Object* o = b.m->AllocateVector(1, Value::Fixnum(1));
    benchmark::DoNotOptimize(o);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocTwoWordObject);

void BM_AllocPair(benchmark::State& state) {
  Bench b;
  Value last = Value::Nil();
  for (auto _ : state) {
    Object* o = b.m->AllocatePair(Value::Fixnum(1), Value::Nil());
    last = Value::FromObject(o);
    benchmark::DoNotOptimize(last);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocPair);

// FillNursery fills a 4 MiB nursery (less a 64 KiB margin) with 48-byte vectors, the
// first `live` of them chained from roots[0].
void FillNursery(Bench& b, size_t live) {
  size_t bytes = 0;
  for (size_t i = 0; bytes + 48 <= (size_t{4} << 20) - (size_t{64} << 10); ++i) {
    Object* v = b.m->AllocateVector(5, Value::Fixnum(static_cast<int64_t>(i)));
    if (i < live) {
      v->at(0) = b.roots.roots[0];
      b.roots.roots[0] = Value::FromObject(v);
    }
    bytes += 48;
  }
}

// Live: a chain of 48-byte vectors (header + 5 slots) totalling `live` bytes; the
// rest of the 4 MiB nursery is garbage.
// TimeYoungCollections: each iteration empties the heap up to `clear_generation`
// (untimed), fills the 4 MiB nursery holding state.range(0) KiB live, and times one
// nursery collection.
HeapStats TimeYoungCollections(benchmark::State& state, HeapOptions o, int clear_generation) {
  o.nursery_bytes = size_t{4} << 20;
  Bench b(o);
  b.heap->SetHost(nullptr);
  size_t objects = (static_cast<size_t>(state.range(0)) << 10) / 48;
  b.roots.roots.push_back(Value::Nil());
  for (auto _ : state) {
    state.PauseTiming();
    b.roots.roots[0] = Value::Nil();
    b.heap->Collect(clear_generation, b.roots);
    FillNursery(b, objects);
    state.ResumeTiming();
    b.heap->Collect(0, b.roots);
  }
  state.counters["live_bytes"] = static_cast<double>(objects * 48);
  return b.heap->Stats();
}

void BM_YoungCollection4MiB(benchmark::State& state) {
  HeapOptions o;
  o.promotion_age = {7, 2, 2, 2, 2, 2};  // survivors stay young: a pure copy
  TimeYoungCollections(state, o, 0);
}
BENCHMARK(BM_YoungCollection4MiB)
    ->Arg(0)
    ->Arg(256)
    ->Arg(1024)
    ->Arg(2048)
    ->Arg(4000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_YoungPromotion4MiB(benchmark::State& state) {
  HeapOptions o;
  o.promotion_age.fill(1);
  o.promote_in_place_percent = state.range(1) != 0 ? 1 : 0;
  // Clearing generation 1 frees what the last round promoted.
  HeapStats s = TimeYoungCollections(state, o, 1);
  state.counters["in_place_collections"] = static_cast<double>(s.in_place_collections);
  state.counters["young_collections"] = static_cast<double>(s.collections[0]);
}
BENCHMARK(BM_YoungPromotion4MiB)
    ->Args({1024, 0})
    ->Args({1024, 1})
    ->Args({4000, 0})
    ->Args({4000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// BuildPairTree: a complete tree of `depth` (node (left . right), leaf (() . ())),
// children first as a program builds it, the left subtree held in b.roots.
Value BuildPairTree(Bench& b, int depth) {
  Value left = Value::Nil(), right = Value::Nil();
  if (depth > 0) {
    b.roots.roots.push_back(BuildPairTree(b, depth - 1));
    right = BuildPairTree(b, depth - 1);
    left = b.roots.roots.back();
    b.roots.roots.pop_back();
  }
  return Value::FromObject(b.m->AllocatePair(left, right));
}

long WalkLeftFirst(Object* node) {
  if (node->car().IsNil()) return 1;
  return 1 + WalkLeftFirst(node->car().AsObject()) + WalkLeftFirst(node->cdr().AsObject());
}

// BM_WalkPairTree/<depth>/<copied>: one left-first walk of a tree of pairs, as built
// (0: allocation order, children before parents) or after a young collection copied
// it (1: heap/DESIGN.md [heap.collect.copy-order]). Depth 20 is 48 MiB of pairs.
void BM_WalkPairTree(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  HeapOptions o;
  o.nursery_bytes = o.max_nursery_bytes = size_t{256} << 20;
  o.promotion_age = {7, 2, 2, 2, 2, 2};  // a young collection copies within the nursery
  o.promote_in_place_percent = 0;
  o.soft_limit_bytes = o.hard_limit_bytes = size_t{2} << 30;
  Bench b(o);
  b.heap->SetHost(nullptr);
  b.roots.roots.push_back(BuildPairTree(b, depth));
  if (state.range(1) != 0) b.heap->Collect(0, b.roots);
  long nodes = 0;
  for (auto _ : state) {
    nodes = WalkLeftFirst(b.roots.roots[0].AsObject());
    benchmark::DoNotOptimize(nodes);
  }
  if (nodes != (long{2} << depth) - 1) state.SkipWithError("wrong node count");
  state.SetItemsProcessed(state.iterations() * nodes);
}
BENCHMARK(BM_WalkPairTree)
    ->Args({20, 0})
    ->Args({20, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// BM_PromotePairTreeInPlace/<depth>/<gc threads>: pause of a young collection that
// promotes in place a nursery holding one tree of pairs as a program builds it
// (children before parents), the work of binary-trees' big young collections
// (heap/DESIGN.md [heap.collect.copy-order]: the order marking in place visits
// slots). Depth 20 is 32 MiB of pairs.
void BM_PromotePairTreeInPlace(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  HeapOptions o;
  o.nursery_bytes = o.max_nursery_bytes = size_t{64} << 20;
  o.promotion_age.fill(1);
  o.promote_in_place_percent = 50;
  o.gc_threads = static_cast<int>(state.range(1));
  o.soft_limit_bytes = o.hard_limit_bytes = size_t{2} << 30;
  Bench b(o);
  b.heap->SetHost(nullptr);
  // A dense collection first: a nursery is promoted in place while one of the last
  // Heap::kDenseWindow collections was dense, and every timed one is.
  b.roots.roots.push_back(BuildPairTree(b, 4));
  b.heap->Collect(0, b.roots);
  long nodes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    b.roots.roots.clear();
    b.heap->Collect(1, b.roots);  // frees the last round's tree
    b.roots.roots.push_back(BuildPairTree(b, depth));
    state.ResumeTiming();
    b.heap->Collect(0, b.roots);
    state.PauseTiming();
    nodes = WalkLeftFirst(b.roots.roots[0].AsObject());
    state.ResumeTiming();
  }
  if (nodes != (long{2} << depth) - 1) state.SkipWithError("wrong node count");
  const HeapStats s = b.heap->Stats();
  if (s.in_place_collections < static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("a timed collection did not promote in place");
  }
  state.SetItemsProcessed(state.iterations() * nodes);
}
BENCHMARK(BM_PromotePairTreeInPlace)
    ->Args({20, 1})
    ->Args({20, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A binary tree of 48-byte vectors promoted to the oldest generation.
void BuildOldTree(Bench& b, size_t bytes) {
  b.roots.roots.assign(1, Value::Nil());
  size_t nodes = bytes / 48;
  std::vector<Value>& r = b.roots.roots;
  // Build level by level through the roots vector (index = node).
  r.reserve(nodes + 1);
  for (size_t i = 0; i < nodes; ++i) {
    r.push_back(Value::FromObject(b.m->AllocateVector(5, Value::Fixnum(static_cast<int64_t>(i)))));
  }
  for (size_t i = 1; i <= nodes; ++i) {
    Object* o = r[i].AsObject();
    if (2 * i <= nodes) o->at(0) = r[2 * i];
    if (2 * i + 1 <= nodes) o->at(1) = r[2 * i + 1];
  }
  r[0] = r[1];
  r.resize(1);
  for (int i = 0; i < 8; ++i) b.heap->Collect(i % 2 == 0 ? 0 : b.heap->oldest_generation(), b.roots);
}

void FullCollection(benchmark::State& state, bool compact) {
  HeapOptions o;
  o.soft_limit_bytes = o.hard_limit_bytes = size_t{2} << 30;
  o.promotion_age = {1, 1, 1, 1, 1, 1};
  Bench b(o);
  b.heap->SetHost(nullptr);
  size_t live = static_cast<size_t>(state.range(0)) << 20;
  BuildOldTree(b, live);
  for (auto _ : state) b.heap->CollectFull(b.roots, compact);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * live));
}
void BM_FullCollectionMark(benchmark::State& state) { FullCollection(state, false); }
void BM_FullCollectionCompact(benchmark::State& state) { FullCollection(state, true); }
BENCHMARK(BM_FullCollectionMark)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FullCollectionCompact)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_WriteBarrierOldHolder(benchmark::State& state) {
  Bench b;
  b.heap->SetHost(nullptr);
  b.roots.roots.push_back(Value::FromObject(b.m->AllocateVector(1024, Value::Nil())));
  b.roots.roots.push_back(Value::FromObject(b.m->AllocatePair(Value::Nil(), Value::Nil())));
  b.heap->Collect(0, b.roots);
  b.heap->Collect(0, b.roots);
  Object* holder = b.roots.roots[0].AsObject();
  Value v = b.roots.roots[1];
  size_t i = 0;
  for (auto _ : state) {
    b.heap->WriteBarrier(holder, &holder->at(i & 1023), v);
    ++i;
  }
  benchmark::DoNotOptimize(holder->at(5));
}
BENCHMARK(BM_WriteBarrierOldHolder);

void BM_WriteBarrierYoungHolder(benchmark::State& state) {
  Bench b;
  b.heap->SetHost(nullptr);
  Object* holder = b.m->AllocateVector(1024, Value::Nil());
  Value v = Value::FromObject(b.m->AllocatePair(Value::Nil(), Value::Nil()));
  size_t i = 0;
  for (auto _ : state) {
    b.heap->WriteBarrier(holder, &holder->at(i & 1023), v);
    ++i;
  }
  benchmark::DoNotOptimize(holder->at(5));
}
BENCHMARK(BM_WriteBarrierYoungHolder);

void BM_PlainStore(benchmark::State& state) {
  Bench b;
  b.heap->SetHost(nullptr);
  Object* holder = b.m->AllocateVector(1024, Value::Nil());
  Value v = Value::FromObject(b.m->AllocatePair(Value::Nil(), Value::Nil()));
  size_t i = 0;
  for (auto _ : state) {
    holder->at(i & 1023) = v;
    benchmark::ClobberMemory();
    ++i;
  }
}
BENCHMARK(BM_PlainStore);

}  // namespace
}  // namespace weft::heap
