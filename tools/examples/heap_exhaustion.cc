// heap_exhaustion.cc: recovering from weft::HeapExhausted, through the public API
// (runtime/weft.h) only.
//
//   heap_exhaustion [--limit_mib=16] [--raise_mib=16] [--target_mib=64] [--chunk_kib=64]
//                   [--workers=0]
//
// The runtime starts with a soft heap limit of --limit_mib. The program keeps
// allocating chunks (a vector of fixnums, each slot holding a value derived from the
// chunk's number and index, plus a small list of pairs), all kept alive on one list,
// until it holds --target_mib. Each time an allocation throws weft::HeapExhausted it
// raises the soft limit by --raise_mib (weft::SetSoftHeapLimit) and retries the same
// chunk. At the end it walks the list and checks every slot of every chunk, so a
// chunk lost or damaged by a failed allocation or a collection near the limit is
// caught. Exits 0 if the limit was hit at least once and nothing was lost, 1 with a
// message otherwise.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/weft.h"

ABSL_FLAG(int, limit_mib, 16, "initial soft heap limit, MiB");
ABSL_FLAG(int, raise_mib, 16, "raise of the soft limit after each HeapExhausted, MiB");
ABSL_FLAG(int, target_mib, 64, "live data to reach, MiB");
ABSL_FLAG(int, chunk_kib, 64, "size of one chunk's vector, KiB");
ABSL_FLAG(int, workers, 0, "runtime workers (0: one per core)");

namespace {

constexpr int kPairsPerChunk = 8;

int64_t SlotValue(int64_t chunk, size_t i) { return chunk * 1'000'003 + static_cast<int64_t>(i); }

// MakeChunk returns (vector . pairs) for chunk number `chunk`: the vector's slot i
// holds SlotValue(chunk, i); pairs is the list (chunk chunk+1 ... chunk+7).
weft::Local MakeChunk(int64_t chunk, size_t slots) {
  weft::Scope scope("chunk");
  weft::Local vector = weft::MakeVector(slots, weft::Local::Nil());
  for (size_t i = 0; i < slots; ++i) {
    weft::Scope step("fill");
    weft::VectorSet(vector, i, weft::Fixnum(SlotValue(chunk, i)));
  }
  weft::Local pairs = weft::Local::Nil();
  for (int j = kPairsPerChunk - 1; j >= 0; --j) {
    weft::Scope step("cons");
    pairs.Set(weft::Cons(weft::Fixnum(chunk + j), pairs));
  }
  return scope.Escape(weft::Cons(vector, pairs));
}

// CheckChunk returns an empty string if `chunk` is intact, else what is wrong.
std::string CheckChunk(weft::Local entry, int64_t chunk, size_t slots) {
  weft::Scope scope("check");
  weft::Local vector = weft::Car(entry);
  if (weft::VectorLength(vector) != slots) {
    return absl::StrCat("chunk ", chunk, " has ", weft::VectorLength(vector), " slots");
  }
  for (size_t i = 0; i < slots; ++i) {
    weft::Scope step("slot");
    int64_t v = weft::FixnumValue(weft::VectorRef(vector, i));
    if (v != SlotValue(chunk, i)) {
      return absl::StrCat("chunk ", chunk, " slot ", i, " holds ", v);
    }
  }
  int j = 0;
  for (weft::Local p = weft::Cdr(entry); !p.IsNil(); p.Set(weft::Cdr(p)), ++j) {
    weft::Scope step("pair");
    if (weft::FixnumValue(weft::Car(p)) != chunk + j) {
      return absl::StrCat("chunk ", chunk, " pair ", j, " is wrong");
    }
  }
  if (j != kPairsPerChunk) return absl::StrCat("chunk ", chunk, " has ", j, " pairs");
  return "";
}

int Main(size_t raise_bytes, size_t target_bytes, size_t chunk_bytes) {
  weft::Scope scope("main");
  // One word of the vector is its header: a vector of chunk_bytes fills its blocks
  // exactly (one more slot would take a whole extra block of a large-object run).
  const size_t slots = chunk_bytes / 8 - 1;
  const int64_t chunks = static_cast<int64_t>(target_bytes / chunk_bytes);
  weft::Local list = weft::Local::Nil();  // chunk n-1, ..., chunk 0
  int exhausted = 0;
  int64_t made = 0;
  while (made < chunks) {
    weft::Scope step("grow");
    try {
      weft::Local entry = MakeChunk(made, slots);
      list.Set(weft::Cons(entry, list));
      ++made;
    } catch (const weft::HeapExhausted& e) {
      // The failed allocation changed nothing: raise the limit and retry the chunk.
      ++exhausted;
      const size_t old_limit = weft::SoftHeapLimit();
      weft::SetSoftHeapLimit(old_limit + raise_bytes);
      std::printf("HeapExhausted after %lld chunks (%s); soft limit %zu -> %zu MiB\n",
                  static_cast<long long>(made), e.what(), old_limit >> 20,
                  weft::SoftHeapLimit() >> 20);
    }
  }
  // Nothing was lost: every chunk is on the list, newest first, intact.
  weft::Collect(-1);
  int64_t chunk = made;
  for (weft::Local p = weft::Local::New(list.get()); !p.IsNil(); p.Set(weft::Cdr(p))) {
    weft::Scope step("verify");
    --chunk;
    if (std::string error = CheckChunk(weft::Car(p), chunk, slots); !error.empty()) {
      std::fprintf(stderr, "heap_exhaustion: FAILED: %s\n", error.c_str());
      return 1;
    }
  }
  if (chunk != 0) {
    std::fprintf(stderr, "heap_exhaustion: FAILED: %lld chunks missing\n",
                 static_cast<long long>(chunk));
    return 1;
  }
  if (exhausted == 0) {
    std::fprintf(stderr,
                 "heap_exhaustion: FAILED: never hit the soft limit (target too small?)\n");
    return 1;
  }
  const weft::Stats stats = weft::GetStats();
  std::printf("heap_exhaustion: %lld chunks of %zu KiB intact after %d HeapExhausted; "
              "soft limit now %llu MiB, heap %llu MiB committed\n",
              static_cast<long long>(made), chunk_bytes >> 10, exhausted,
              static_cast<unsigned long long>(stats.soft_limit_bytes >> 20),
              static_cast<unsigned long long>(stats.heap_committed_bytes >> 20));
  std::printf("collections per generation [%s]\n", absl::StrJoin(stats.collections, ", ").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int limit_mib = absl::GetFlag(FLAGS_limit_mib), raise_mib = absl::GetFlag(FLAGS_raise_mib),
            target_mib = absl::GetFlag(FLAGS_target_mib), chunk_kib = absl::GetFlag(FLAGS_chunk_kib);
  if (limit_mib < 4 || raise_mib < 1 || target_mib < 1 || chunk_kib < 1 ||
      size_t{static_cast<size_t>(chunk_kib)} > size_t{static_cast<size_t>(target_mib)} << 10) {
    std::fprintf(stderr, "heap_exhaustion: bad flags (see --help)\n");
    return 2;
  }
  weft::Options options;
  options.workers = absl::GetFlag(FLAGS_workers);
  options.nursery_bytes = 1 << 20;
  options.heap_initial_bytes = 4 << 20;
  options.heap_soft_limit_bytes = size_t{static_cast<size_t>(limit_mib)} << 20;
  absl::StatusOr<std::unique_ptr<weft::Runtime>> runtime = weft::Runtime::Create(options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "heap_exhaustion: %s\n", runtime.status().ToString().c_str());
    return 1;
  }
  const size_t raise = size_t{static_cast<size_t>(raise_mib)} << 20;
  const size_t target = size_t{static_cast<size_t>(target_mib)} << 20;
  const size_t chunk = size_t{static_cast<size_t>(chunk_kib)} << 10;
  absl::StatusOr<int> code =
      (*runtime)->Run([raise, target, chunk] { return Main(raise, target, chunk); });
  if (!code.ok()) {
    std::fprintf(stderr, "heap_exhaustion: FAILED: %s\n", code.status().ToString().c_str());
    return 1;
  }
  return *code;
}
