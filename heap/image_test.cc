// image_test.cc: heap images. Seeded random graphs (every object kind, cycles,
// shared structure, large and pinned objects, records) saved after fragmentation and
// loaded into another heap (another arena: another address range) and into the
// same heap, compared object by object; every bad-image case with its message; the
// atomic write; extra sections. Prints its seed; replay with --seed=N or WEFT_SEED=N.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "heap/heap.h"
#include "heap/fifo_watchdog_testing.h"
#include "heap/heap_testing.h"
#include "heap/image_format.h"
#include "heap/image_loader.h"
#include "heap/image_reader.h"
#include "heap/image_writer.h"

namespace weft::heap::image {
namespace {

using testing::FifoWatchdog;
using testing::TestHeap;
using testing::V;
using testing::VectorRoots;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + name;  // TEST_TMPDIR under Bazel
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// RandomGraph builds a seeded graph in `heap`, with garbage between the live objects,
// then collects so the old generation has holes.
class RandomGraph {
 public:
  RandomGraph(Heap& heap, uint32_t seed) : heap_(heap), rng_(seed) {
    layout_ = *heap.layouts().RegisterLayout("image-node", 2, 12);
    m_ = heap.CreateMutator();
  }
  ~RandomGraph() { heap_.DestroyMutator(m_); }

  void Build(int count) {
    for (int i = 0; i < count; ++i) {
      Object* o = nullptr;
      int kind = Pick(100);
      if (kind < 30) {
        o = m_->AllocatePair(Target(), Target());
      } else if (kind < 45) {
        o = m_->AllocateVector(Pick(12), Value::Nil());
      } else if (kind < 60) {
        o = m_->AllocateString(absl::StrFormat("string %d %s", i, std::string(Pick(90), 'a' + Pick(26))));
      } else if (kind < 70) {
        o = m_->AllocateBytes(Pick(300));
      } else if (kind < 85) {
        o = m_->AllocateRecord(*layout_);
      } else if (kind < 92) {
        o = m_->AllocatePinnedBytes(1 + Pick(100));
      } else if (kind < 95) {
        o = Pick(2) ? m_->AllocateVector(1100 + Pick(3000), Value::Nil())
                    : m_->AllocateBytes(9000 + Pick(40000));
      } else {
        o = m_->AllocateVector(2 + Pick(6), Value::Nil());
      }
      ASSERT_NE(o, nullptr);
      // Fill: references to earlier objects (shared structure), fixnums, immediates.
      size_t refs = ReferenceCount(o);
      for (size_t s = 0; s < refs; ++s) {
        if (o->kind() == ObjectKind::kPair && Pick(2)) continue;
        o->slots()[s] = Target();
      }
      if (o->kind() == ObjectKind::kBytes) {
        for (size_t b = 0; b < o->length(); ++b) o->bytes()[b] = static_cast<char>(rng_());
      }
      if (o->kind() == ObjectKind::kRecord) {
        for (size_t b = 0; b < 12; ++b) o->record_raw()[b] = static_cast<char>(rng_());
      }
      live_.roots.push_back(V(o));
      // Garbage between live objects, so collections leave holes.
      for (int g = Pick(4); g > 0; --g) ASSERT_NE(m_->AllocateVector(Pick(20), Value::Nil()), nullptr);
      if (i % 500 == 499) Collect(false);
    }
    // Cycles: older objects pointing at newer ones (through the write barrier).
    for (int i = 0; i < count / 4; ++i) {
      Value holder = live_.roots[Pick(static_cast<int>(live_.roots.size()))];
      Object* h = holder.AsObject();
      size_t refs = ReferenceCount(h);
      if (refs == 0) continue;
      heap_.WriteBarrier(h, &h->slots()[Pick(static_cast<int>(refs))], live_.roots.back());
    }
    Collect(false);
  }

  // Drop forgets a random half of the live roots (their objects may stay reachable).
  void Drop() {
    std::vector<Value> kept;
    for (Value v : live_.roots) {
      if (Pick(2)) kept.push_back(v);
    }
    live_.roots = kept;
    Collect(false);
    heap_.Verify(&live_);
  }

  void Collect(bool compact) { heap_.CollectFull(live_, compact); }
  std::vector<Value>& roots() { return live_.roots; }
  VectorRoots& root_source() { return live_; }

 private:
  int Pick(int n) { return n <= 0 ? 0 : static_cast<int>(rng_() % static_cast<uint32_t>(n)); }
  Value Target() {
    int p = Pick(10);
    if (p == 0 || live_.roots.empty()) return Value::Fixnum(static_cast<int64_t>(rng_()) - (1 << 30));
    if (p == 1) return Value::Char(U'λ');
    if (p == 2) return Value::Nil();
    if (p == 3) return Value::True();
    return live_.roots[Pick(static_cast<int>(live_.roots.size()))];
  }

  Heap& heap_;
  std::mt19937 rng_;
  const RecordLayout* layout_;
  Mutator* m_;
  VectorRoots live_;
};

// LiveBytes: the bytes of every object reachable from roots.
size_t LiveBytes(const std::vector<Value>& roots, size_t* count = nullptr) {
  std::unordered_map<const Object*, bool> seen;
  std::vector<Object*> stack;
  size_t bytes = 0;
  for (Value v : roots) {
    if (v.IsPointer()) stack.push_back(v.AsObject());
  }
  while (!stack.empty()) {
    Object* o = stack.back();
    stack.pop_back();
    if (!seen.emplace(o, true).second) continue;
    bytes += ObjectSize(o);
    ForEachReference(o, [&](Value* s) {
      if (s->IsPointer()) stack.push_back(s->AsObject());
    });
  }
  if (count != nullptr) *count = seen.size();
  return bytes;
}

// ExpectIsomorphic compares two graphs object by object: same kinds, lengths,
// layouts (by name), raw contents and non-reference slots, and a bijection between
// the objects that maps every reference to its counterpart.
void ExpectIsomorphic(Heap& ha, const std::vector<Value>& a, Heap& hb, const std::vector<Value>& b,
                      bool expect_moved) {
  ASSERT_EQ(a.size(), b.size());
  std::unordered_map<const Object*, const Object*> fwd, back;
  std::vector<std::pair<Value, Value>> work;
  for (size_t i = 0; i < a.size(); ++i) work.emplace_back(a[i], b[i]);
  size_t checked = 0;
  while (!work.empty()) {
    auto [x, y] = work.back();
    work.pop_back();
    ASSERT_EQ(x.IsPointer(), y.IsPointer());
    if (!x.IsPointer()) {
      ASSERT_EQ(x.raw, y.raw);
      continue;
    }
    Object* ox = x.AsObject();
    Object* oy = y.AsObject();
    auto [it, fresh] = fwd.emplace(ox, oy);
    ASSERT_EQ(it->second, oy) << "one object became two";
    auto [bit, bfresh] = back.emplace(oy, ox);
    ASSERT_EQ(bit->second, ox) << "two objects became one";
    if (!fresh) continue;
    ++checked;
    if (expect_moved) {
      ASSERT_NE(ox, oy);
    }
    ASSERT_EQ(ox->kind(), oy->kind());
    if (!ox->IsPair()) ASSERT_EQ(ox->length(), oy->length());  // a pair has no header
    ASSERT_EQ(hb.GenerationOf(oy), hb.oldest_generation());
    BlockType tx = ha.arena().InfoFor(ox).type, ty = hb.arena().InfoFor(oy).type;
    ASSERT_EQ(tx == BlockType::kLarge, ty == BlockType::kLarge);
    ASSERT_EQ(tx == BlockType::kPinned, ty == BlockType::kPinned);
    if (ox->kind() == ObjectKind::kRecord) {
      ASSERT_EQ(ha.layouts().Get(ox->aux())->name, hb.layouts().Get(oy->aux())->name);
    }
    size_t n = ReferenceCount(ox);
    for (size_t i = 0; i < n; ++i) work.emplace_back(ox->slots()[i], oy->slots()[i]);
    size_t raw = ObjectSize(ox) - (n + ox->HeaderWords()) * kWordSize;
    ASSERT_EQ(std::memcmp(reinterpret_cast<char*>(ox->slots() + n), reinterpret_cast<char*>(oy->slots() + n), raw),
              0);
  }
  EXPECT_GT(checked, 0u);
}

// SaveTo saves the objects reachable from `roots` in `heap` as TempPath(name) and
// returns that path.
std::string SaveTo(Heap& heap, const std::vector<Value>& roots, const std::string& name) {
  std::string path = TempPath(name);
  ImageWriter w(heap);
  w.AddHeap(roots);
  absl::Status s = w.Write(path);
  EXPECT_TRUE(s.ok()) << s;
  return path;
}

absl::StatusOr<std::vector<Value>> LoadFile(Heap& heap, const std::string& path) {
  absl::StatusOr<ImageReader> r = ImageReader::ReadFile(path);
  if (!r.ok()) return r.status();
  absl::StatusOr<ImageLoader> l = ImageLoader::Prepare(*r, heap);
  if (!l.ok()) return l.status();
  return l->Load();
}

TEST(ImageTest, RandomGraphRoundTripsIntoAnotherArenaAndTheSameHeap) {
  uint32_t seed = testing::TestSeed();
  TestHeap a;
  RandomGraph g(*a.heap, seed);
  g.Build(3000 / testing::kSanitizerSlowdown);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  g.Drop();
  size_t live_count = 0;
  size_t live = LiveBytes(g.roots(), &live_count);
  HeapStats before = a.heap->Stats();
  ASSERT_GT(before.heap_bytes, live) << "the heap should be fragmented";

  std::string path = TempPath("graph.img");
  ImageWriter w(*a.heap);
  w.AddHeap(g.roots());
  a.heap->Verify(&g.root_source());  // the live heap is as it was
  // [heap.image.layout]: no holes: the segments hold exactly the live objects.
  EXPECT_EQ(w.object_bytes(), live);
  EXPECT_EQ(w.object_count(), live_count);
  ASSERT_TRUE(w.Write(path).ok());
  absl::StatusOr<ImageReader> reader = ImageReader::ReadFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  size_t segment_bytes = 0;
  for (const SectionEntry& s : reader->sections()) {
    if (s.kind <= static_cast<uint32_t>(SectionKind::kPinnedSegment)) segment_bytes += s.bytes;
  }
  EXPECT_EQ(segment_bytes, live);
  std::printf("live %zu bytes in %zu objects, heap %zu bytes, image %zu bytes\n", live, live_count,
              before.heap_bytes, reader->size());

  // Another arena: a different address range, so every reference is relocated.
  {
    HeapOptions o = testing::SmallHeapOptions();
    o.generations = 3;
    TestHeap b(o);
    ASSERT_TRUE(b.heap->layouts().RegisterLayout("other", 0, 0).ok());  // ids differ
    ASSERT_TRUE(b.heap->layouts().RegisterLayout("image-node", 2, 12).ok());
    absl::StatusOr<std::vector<Value>> roots = LoadFile(*b.heap, path);
    ASSERT_TRUE(roots.ok()) << roots.status();
    VectorRoots rb;
    rb.roots = *roots;
    b.heap->Verify(&rb);
    ExpectIsomorphic(*a.heap, g.roots(), *b.heap, rb.roots, true);
    EXPECT_EQ(b.heap->Stats().generation_bytes[3], live);
    // The loaded heap collects like any other.
    b.heap->CollectFull(rb, true);
    b.heap->Verify(&rb);
    ExpectIsomorphic(*a.heap, g.roots(), *b.heap, rb.roots, true);
    b.heap->Collect(0, rb);
    b.heap->Verify(&rb);
  }
  // The same heap: the original objects occupy the range, so the copy lands elsewhere.
  {
    absl::StatusOr<std::vector<Value>> roots = LoadFile(*a.heap, path);
    ASSERT_TRUE(roots.ok()) << roots.status();
    VectorRoots both;
    both.roots = g.roots();
    both.roots.insert(both.roots.end(), roots->begin(), roots->end());
    a.heap->Verify(&both);
    ExpectIsomorphic(*a.heap, g.roots(), *a.heap, *roots, true);
    a.heap->CollectFull(both, false);
    a.heap->Verify(&both);
  }
  std::remove(path.c_str());
}

TEST(ImageTest, SaveAfterCompactionAndReload) {
  uint32_t seed = testing::TestSeed();
  TestHeap a;
  RandomGraph g(*a.heap, seed + 1);
  g.Build(800);
  g.Collect(true);
  std::string path = SaveTo(*a.heap, g.roots(), "compact.img");
  TestHeap b;
  ASSERT_TRUE(b.heap->layouts().RegisterLayout("image-node", 2, 12).ok());
  absl::StatusOr<std::vector<Value>> roots = LoadFile(*b.heap, path);
  ASSERT_TRUE(roots.ok()) << roots.status();
  VectorRoots rb;
  rb.roots = *roots;
  b.heap->Verify(&rb);
  ExpectIsomorphic(*a.heap, g.roots(), *b.heap, rb.roots, true);
  std::remove(path.c_str());
}

// [heap.image.fixups]: an image of closures ("code", a record with raw native data)
// and of a process-wide object ("eof"): the loaded code records are listed, every
// reference to the image's eof (in objects and in roots) becomes the loading heap's
// own eof, which is young, so the rewritten slots must be remembered: a young
// collection that moves it must update them.
TEST(ImageTest, FixupsListRecordsAndShareOneObjectOfTheProcess) {
  uint32_t seed = testing::TestSeed();
  std::mt19937 rng(seed);
  TestHeap a;
  const RecordLayout* code = *a.heap->layouts().RegisterLayout("code", 1, 8);
  const RecordLayout* eof = *a.heap->layouts().RegisterLayout("eof", 0, 0);
  Mutator* m = a.heap->CreateMutator();
  Object* a_eof = m->AllocateRecord(*eof);
  std::vector<Value> roots;
  size_t codes = 0, eof_refs = 0;
  for (int i = 0; i < 300; ++i) {
    Object* v = m->AllocateVector(4, Value::Nil());
    ASSERT_NE(v, nullptr);
    for (size_t s = 0; s < 4; ++s) {
      int what = static_cast<int>(rng() % 3);
      if (what == 0) {
        Object* c = m->AllocateRecord(*code);
        ASSERT_NE(c, nullptr);
        c->slots()[0] = Value::Fixnum(i);
        std::memcpy(c->record_raw(), &i, sizeof(i));
        v->slots()[s] = V(c);
        ++codes;
      } else if (what == 1) {
        v->slots()[s] = V(a_eof);
        ++eof_refs;
      }
    }
    roots.push_back(V(v));
  }
  roots.push_back(V(a_eof));
  a.heap->DestroyMutator(m);
  std::string path = SaveTo(*a.heap, roots, "fixups.img");

  TestHeap b;
  ASSERT_TRUE(b.heap->layouts().RegisterLayout("other", 0, 0).ok());  // ids differ
  const RecordLayout* b_code = *b.heap->layouts().RegisterLayout("code", 1, 8);
  const RecordLayout* b_eof_layout = *b.heap->layouts().RegisterLayout("eof", 0, 0);
  Mutator* mb = b.heap->CreateMutator();
  VectorRoots rb;
  rb.roots.push_back(V(mb->AllocateRecord(*b_eof_layout)));  // young: in the nursery
  b.heap->DestroyMutator(mb);
  ASSERT_EQ(b.heap->GenerationOf(rb.roots[0].AsObject()), 0);

  absl::StatusOr<ImageReader> r = ImageReader::ReadFile(path);
  ASSERT_TRUE(r.ok()) << r.status();
  ImageLoader::Fixups fixups;
  fixups.list = {static_cast<uint16_t>(b_code->id)};
  fixups.shared = {static_cast<uint16_t>(b_eof_layout->id)};
  absl::StatusOr<ImageLoader> l = ImageLoader::Prepare(*r, *b.heap, fixups);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->listed_count(), codes);
  std::vector<Value> listed;
  Value shared_with[] = {rb.roots[0]};
  absl::StatusOr<std::vector<Value>> loaded = l->Load(shared_with, &listed);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(listed.size(), codes);
  EXPECT_EQ(loaded->back(), rb.roots[0]) << "a root to the image's eof is the heap's eof";
  rb.roots.insert(rb.roots.end(), loaded->begin(), loaded->end());
  b.heap->Verify(&rb);

  // Every listed record is a loaded code record, each once, and they are all of them.
  auto check = [&] {
    Value b_eof_now = rb.roots[0];
    absl::flat_hash_set<const Object*> seen_codes;
    size_t seen_eof = 0;
    for (size_t i = 1; i + 1 < rb.roots.size(); ++i) {
      Object* v = rb.roots[i].AsObject();
      for (size_t s = 0; s < 4; ++s) {
        Value x = v->slots()[s];
        if (!x.IsPointer()) continue;
        Object* o = x.AsObject();
        ASSERT_EQ(o->kind(), ObjectKind::kRecord);
        if (o->aux() == b_code->id) {
          seen_codes.insert(o);
        } else {
          ASSERT_EQ(x, b_eof_now) << "a reference to the image's eof was not rewritten";
          ++seen_eof;
        }
      }
    }
    EXPECT_EQ(seen_codes.size(), codes);
    EXPECT_EQ(seen_eof, eof_refs);
    EXPECT_EQ(rb.roots.back(), b_eof_now);
  };
  check();
  absl::flat_hash_set<const Object*> listed_set;
  for (Value x : listed) {
    ASSERT_TRUE(x.IsPointer());
    ASSERT_EQ(x.AsObject()->aux(), b_code->id);
    ASSERT_EQ(b.heap->GenerationOf(x.AsObject()), b.heap->oldest_generation());
    listed_set.insert(x.AsObject());
  }
  EXPECT_EQ(listed_set.size(), codes);
  // The young eof moves; the old slots that refer to it were remembered.
  Object* before = rb.roots[0].AsObject();
  b.heap->Collect(0, rb);
  b.heap->Verify(&rb);
  EXPECT_NE(rb.roots[0].AsObject(), before) << "the young collection should have moved the eof";
  check();
  std::remove(path.c_str());
}


// An image over kHugePageAdviceMinBytes (4 MiB) is read into a buffer advised huge pages:
// the bytes read back exactly.
TEST(ImageTest, AnImageOfSeveralHugePagesReadsBack) {
  TestHeap a;
  Mutator* m = a.heap->CreateMutator();
  std::vector<Value> roots;
  for (int k = 0; k < 6; ++k) {
    Object* b = m->AllocateBytes(size_t{1} << 20);
    ASSERT_NE(b, nullptr);
    for (size_t i = 0; i < b->length(); ++i) b->bytes()[i] = static_cast<char>((i * 131 + k) >> 3);
    roots.push_back(V(b));
  }
  a.heap->DestroyMutator(m);
  std::string path = SaveTo(*a.heap, roots, "huge.img");
  TestHeap b;
  absl::StatusOr<std::vector<Value>> loaded = LoadFile(*b.heap, path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 6u);
  for (int k = 0; k < 6; ++k) {
    Object* o = (*loaded)[k].AsObject();
    ASSERT_EQ(o->length(), size_t{1} << 20);
    for (size_t i = 0; i < o->length(); ++i) {
      ASSERT_EQ(o->bytes()[i], static_cast<char>((i * 131 + k) >> 3)) << k << " " << i;
    }
  }
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------------
// Bad images.

// SmallImage: a pair -> (record, string), saved; returns the file's bytes.
struct SmallImage {
  SmallImage() {
    const RecordLayout* l = *t.heap->layouts().RegisterLayout("point", 1, 8);
    Mutator* m = t.heap->CreateMutator();
    Object* s = m->AllocateString("hello");
    Object* r = m->AllocateRecord(*l);
    r->slots()[0] = V(s);
    Object* p = m->AllocatePair(V(r), V(s));
    Object* big = m->AllocateBytes(20000);
    roots = {V(p), Value::Fixnum(7), V(big)};
    t.heap->DestroyMutator(m);
    path = TempPath("small.img");
    ImageWriter w(*t.heap);
    w.AddHeap(roots);
    EXPECT_TRUE(w.Write(path).ok());
    bytes = ReadAll(path);
  }
  TestHeap t;
  std::vector<Value> roots;
  std::string path;
  std::string bytes;
};

Header* HeaderOf(std::string& b) { return reinterpret_cast<Header*>(b.data()); }
SectionEntry* EntryOf(std::string& b, size_t i) {
  return reinterpret_cast<SectionEntry*>(b.data() + sizeof(Header)) + i;
}
size_t FindKind(std::string& b, SectionKind kind, int nth = 0) {
  for (size_t i = 0; i < HeaderOf(b)->section_count; ++i) {
    if (EntryOf(b, i)->kind == static_cast<uint32_t>(kind) && nth-- == 0) return i;
  }
  ADD_FAILURE() << "no section of kind " << static_cast<int>(kind);
  return 0;
}
// Reseal recomputes every checksum, so that a structural corruption gets past them.
void Reseal(std::string& b) {
  Header* h = HeaderOf(b);
  for (size_t i = 0; i < h->section_count; ++i) {
    SectionEntry* e = EntryOf(b, i);
    if (e->offset + e->bytes <= b.size()) e->checksum = ImageHash64(b.data() + e->offset, e->bytes);
  }
  h->table_checksum = 0;
  Header copy = *h;
  h->table_checksum = ImageHash64(&copy, sizeof(copy)) ^
                      ImageHash64(b.data() + sizeof(Header), h->section_count * sizeof(SectionEntry));
}

// RootAddress: the image address root i refers to (its tag removed).
uint64_t RootAddress(std::string& b, size_t i) {
  uint64_t raw = 0;
  std::memcpy(&raw, b.data() + EntryOf(b, FindKind(b, SectionKind::kRoots))->offset + 8 * i, 8);
  return raw - Value::kPointerTag;
}
// FileOffsetOf: the file offset of image address `address` in the heap segment that
// holds it; that segment's section index goes to *section.
uint64_t FileOffsetOf(std::string& b, uint64_t address, size_t* section) {
  for (size_t k = 0; k < HeaderOf(b)->section_count; ++k) {
    SectionEntry* e = EntryOf(b, k);
    if (e->kind == static_cast<uint32_t>(SectionKind::kHeapSegment) && address >= e->old_start &&
        address < e->old_start + e->bytes) {
      *section = k;
      return e->offset + (address - e->old_start);
    }
  }
  ADD_FAILURE() << "no heap segment holds image address 0x" << std::hex << address;
  return 0;
}

class BadImageTest : public ::testing::Test {
 protected:
  // Load loads `bytes` into a fresh heap with the "point" layout and checks that a
  // failure leaves it untouched.
  absl::Status Load(const std::string& bytes, bool register_layout = true, uint32_t ref_slots = 1) {
    TestHeap t;
    if (register_layout) {
      EXPECT_TRUE(t.heap->layouts().RegisterLayout("point", ref_slots, 8).ok());
    }
    std::string path = TempPath("bad.img");
    WriteAll(path, bytes);
    size_t blocks = t.arena->Stats().blocks_in_use;
    absl::StatusOr<std::vector<Value>> r = LoadFile(*t.heap, path);
    std::remove(path.c_str());
    if (r.ok()) return absl::OkStatus();
    EXPECT_EQ(t.heap->Stats().heap_bytes, 0u) << "a failed load changed the heap";
    EXPECT_EQ(t.arena->Stats().blocks_in_use, blocks);
    t.heap->Verify();
    return r.status();
  }
  std::string Msg(const std::string& what) { return absl::StrFormat("image %s: %s", TempPath("bad.img"), what); }

  SmallImage img;
};

TEST_F(BadImageTest, ValidImageLoads) { EXPECT_TRUE(Load(img.bytes).ok()); }

TEST_F(BadImageTest, Truncated) {
  absl::Status s = Load(img.bytes.substr(0, 40));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), Msg("truncated: 40 bytes, shorter than the 80-byte header"));
  size_t cut = img.bytes.size() - 100;
  s = Load(img.bytes.substr(0, cut));
  EXPECT_EQ(s.message(), Msg(absl::StrFormat("truncated: the header says %d bytes, the file has %d",
                                             img.bytes.size(), cut)));
  EXPECT_EQ(Load("").message(), Msg("truncated: 0 bytes, shorter than the 80-byte header"));
}

TEST_F(BadImageTest, WrongMagicVersionWordSizeByteOrder) {
  std::string b = img.bytes;
  b[0] = 'X';
  EXPECT_EQ(Load(b).message(), Msg("wrong magic at offset 0 (not a Weft heap image)"));
  b = img.bytes;
  HeaderOf(b)->version = 1;  // 3-word pairs, before [heap.inv.pairs]
  EXPECT_EQ(Load(b).message(), Msg("format version 1, this build reads version 2"));
  b = img.bytes;
  HeaderOf(b)->word_size = 4;
  EXPECT_EQ(Load(b).message(), Msg("word size 4 bytes, this build needs 8"));
  b = img.bytes;
  HeaderOf(b)->byte_order = kBigEndian;
  EXPECT_EQ(Load(b).message(), Msg("byte order big-endian, this build needs little-endian"));
}

TEST_F(BadImageTest, ChecksumMismatch) {
  std::string b = img.bytes;
  size_t i = FindKind(b, SectionKind::kHeapSegment);
  SectionEntry e = *EntryOf(b, i);
  b[e.offset + 9] ^= 0x40;
  uint64_t computed = ImageHash64(b.data() + e.offset, e.bytes);
  EXPECT_EQ(Load(b).message(),
            Msg(absl::StrFormat("section %d (heap segment) at file offset %d: checksum mismatch (stored "
                                "%016x, computed %016x)",
                                i, e.offset, e.checksum, computed)));
  b = img.bytes;
  EntryOf(b, 0)->flags ^= 2;  // the table, without resealing
  absl::Status s = Load(b);
  EXPECT_NE(s.message().find("checksum mismatch in the header or section table"), std::string::npos) << s;
}

// [heap.image.untrusted]: every byte of an image is covered by a checksum or must be
// zero padding, so changing any single byte anywhere is refused. (The soak found a
// changed padding byte that loaded.) The reader alone decides it, so this runs the
// whole file through ImageReader::FromBytes once per byte.
TEST_F(BadImageTest, EverySingleChangedByteIsRefused) {
  for (size_t at = 0; at < img.bytes.size(); ++at) {
    std::string b = img.bytes;
    b[at] ^= static_cast<char>(0x5a);
    absl::StatusOr<ImageReader> r = ImageReader::FromBytes(b, "flipped");
    ASSERT_FALSE(r.ok()) << "a change of the byte at offset " << at << " was accepted";
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
}

TEST_F(BadImageTest, NonZeroPaddingBetweenSections) {
  // An 11-byte opaque section is followed by 5 bytes of padding.
  ImageWriter w(*img.t.heap);
  w.AddHeap(img.roots);
  ASSERT_TRUE(w.AddSection(SectionKind::kOpaque, "notes", "hello notes").ok());
  std::string path = TempPath("padded.img");
  ASSERT_TRUE(w.Write(path).ok());
  std::string b = ReadAll(path);
  std::remove(path.c_str());
  size_t notes = FindKind(b, SectionKind::kOpaque);
  size_t at = EntryOf(b, notes)->offset + 11;
  ASSERT_LT(at, b.size());
  ASSERT_TRUE(ImageReader::FromBytes(b, "padded").ok());
  for (size_t k = at; k < at + 5; ++k) {
    std::string c = b;
    c[k] = 1;
    absl::StatusOr<ImageReader> r = ImageReader::FromBytes(c, "padded");
    ASSERT_FALSE(r.ok()) << "padding byte " << k << " changed and accepted";
    EXPECT_EQ(r.status().message(),
              absl::StrFormat("image padded: byte at file offset %d lies in no section and is not "
                              "zero (padding between sections is zero)",
                              k));
  }
}

TEST_F(BadImageTest, SectionsOutOfTheFileOrOverlapping) {
  std::string b = img.bytes;
  EntryOf(b, 1)->bytes = b.size();
  Reseal(b);
  EXPECT_EQ(Load(b).message(),
            Msg(absl::StrFormat("section 1 (%s) at file offset %d, %d bytes, lies outside the payload area "
                                "[%d, %d)",
                                SectionKindName(EntryOf(b, 1)->kind), EntryOf(b, 1)->offset, b.size(),
                                sizeof(Header) + HeaderOf(b)->section_count * sizeof(SectionEntry), b.size())));
  b = img.bytes;
  EntryOf(b, 1)->offset = EntryOf(b, 0)->offset;
  Reseal(b);
  EXPECT_EQ(Load(b).message(), Msg(absl::StrFormat("sections 0 and 1 overlap in the file (offsets %d and %d)",
                                                   EntryOf(b, 0)->offset, EntryOf(b, 0)->offset)));
  b = img.bytes;
  EntryOf(b, 2)->kind = 99;
  Reseal(b);
  EXPECT_EQ(Load(b).message(), Msg("section 2 has unknown kind 99"));
}

TEST_F(BadImageTest, SegmentsOverlappingOrOutOfRange) {
  std::string b = img.bytes;
  size_t s0 = FindKind(b, SectionKind::kHeapSegment, 0);
  size_t s1 = FindKind(b, SectionKind::kHeapSegment, 1);
  EntryOf(b, s1)->old_start = EntryOf(b, s0)->old_start;
  Reseal(b);
  absl::Status s = Load(b);
  EXPECT_EQ(s.message(), Msg(absl::StrFormat("segments (sections %d and %d) overlap at image address 0x%x",
                                             std::min(s0, s1), std::max(s0, s1), EntryOf(b, s0)->old_start)))
      << s;
  b = img.bytes;
  Header* h = HeaderOf(b);
  EntryOf(b, s1)->old_start = h->saved_end;
  Reseal(b);
  EXPECT_EQ(Load(b).message(),
            Msg(absl::StrFormat("heap segment (section %d) at image addresses [0x%x, 0x%x) is out of the saved "
                                "range [0x%x, 0x%x) or not block-aligned",
                                s1, h->saved_end, h->saved_end + EntryOf(b, s1)->bytes, h->saved_base,
                                h->saved_end)));
}

TEST_F(BadImageTest, ReferencesOutsideSegmentsOrNotAtAnObjectStart) {
  // The pair is the boxed segment's last object: root 0 points at it.
  std::string b = img.bytes;
  size_t roots = FindKind(b, SectionKind::kRoots);
  uint64_t pair = RootAddress(b, 0);
  size_t seg = 0;
  uint64_t slot_offset = FileOffsetOf(b, pair, &seg);  // the car: a pair has no header
  uint64_t outside = HeaderOf(b)->saved_end + 64 + 1;
  std::memcpy(b.data() + slot_offset, &outside, 8);
  Reseal(b);
  EXPECT_EQ(Load(b).message(),
            Msg(absl::StrFormat("slot 0 of the pair at image address 0x%x (section %d) refers to image "
                                "address 0x%x, outside every segment",
                                pair, seg, outside - 1)));
  b = img.bytes;
  uint64_t car;
  std::memcpy(&car, b.data() + slot_offset, 8);
  uint64_t inside = car + 8;
  std::memcpy(b.data() + slot_offset, &inside, 8);
  Reseal(b);
  absl::Status s = Load(b);
  EXPECT_NE(s.message().find(absl::StrFormat("slot 0 of the pair at image address 0x%x (section %d) refers to "
                                             "image address 0x%x, which is not an object start",
                                             pair, seg, inside - 1)),
            std::string::npos)
      << s;
  b = img.bytes;
  uint64_t not_a_value = 0x1235;  // tag 0b101
  std::memcpy(b.data() + slot_offset + 8, &not_a_value, 8);
  Reseal(b);
  EXPECT_EQ(Load(b).message(),
            Msg(absl::StrFormat("slot 1 of the pair at image address 0x%x (section %d) holds "
                                "0x0000000000001235, which is not a Value",
                                pair, seg)));
  // In the car, the same word is no Value and no header: the object is refused.
  b = img.bytes;
  std::memcpy(b.data() + slot_offset, &not_a_value, 8);
  Reseal(b);
  EXPECT_NE(Load(b).message().find("invalid header 0x0000000000001235"), std::string::npos);
  b = img.bytes;
  std::memcpy(b.data() + EntryOf(b, roots)->offset, &outside, 8);
  Reseal(b);
  EXPECT_EQ(Load(b).message(),
            Msg(absl::StrFormat("root 0 refers to image address 0x%x, outside every segment", outside - 1)));
}

TEST_F(BadImageTest, BadObjectHeader) {
  std::string b = img.bytes;
  size_t seg = FindKind(b, SectionKind::kHeapSegment, 0);
  SectionEntry* e = EntryOf(b, seg);
  uint64_t junk = 0x12340077;  // tagged as a header, of kind 14
  std::memcpy(b.data() + e->offset, &junk, 8);
  Reseal(b);
  EXPECT_EQ(Load(b).message(),
            Msg(absl::StrFormat("object at image address 0x%x (heap segment, section %d, offset 0): invalid "
                                "header 0x0000000012340077",
                                e->old_start, seg)));
  b = img.bytes;
  e = EntryOf(b, seg);
  uint64_t pair_header = MakeHeader(ObjectKind::kPair, 0);  // pairs have none
  std::memcpy(b.data() + e->offset, &pair_header, 8);
  Reseal(b);
  EXPECT_NE(Load(b).message().find("invalid header"), std::string::npos);
  b = img.bytes;
  e = EntryOf(b, seg);
  uint64_t reserved = MakeHeader(ObjectKind::kVector, 0) | (uint64_t{1} << 8);
  std::memcpy(b.data() + e->offset, &reserved, 8);
  Reseal(b);
  EXPECT_NE(Load(b).message().find("reserved header bits set"), std::string::npos);
  b = img.bytes;
  e = EntryOf(b, seg);
  uint64_t huge = MakeHeader(ObjectKind::kVector, 0xffffff00u);
  std::memcpy(b.data() + e->offset, &huge, 8);
  Reseal(b);
  absl::Status s = Load(b);
  EXPECT_NE(s.message().find("overruns its segment"), std::string::npos) << s;
}

TEST_F(BadImageTest, UnknownOrDifferentLayout) {
  EXPECT_EQ(Load(img.bytes, false).message(),
            Msg("record layout 'point' (id 0 in the image) is not registered here"));
  EXPECT_EQ(Load(img.bytes, true, 2).message(),
            Msg("record layout 'point' has 1 ref slots and 8 raw bytes in the image but 2 and 8 here"));
}

TEST_F(BadImageTest, RecordOfALayoutTheImageDoesNotList) {
  // Root 0 is the pair; its car is the record: give its header a layout id the
  // image's layout list does not have.
  std::string b = img.bytes;
  size_t section = 0;
  uint64_t car = 0;
  std::memcpy(&car, b.data() + FileOffsetOf(b, RootAddress(b, 0), &section), 8);
  uint64_t record = car - 1;
  uint64_t at = FileOffsetOf(b, record, &section);
  uint64_t header = 0;
  std::memcpy(&header, b.data() + at, 8);
  ASSERT_EQ(reinterpret_cast<const Object*>(&header)->kind(), ObjectKind::kRecord);
  uint64_t changed = MakeHeader(ObjectKind::kRecord, reinterpret_cast<const Object*>(&header)->length(), 9);
  std::memcpy(b.data() + at, &changed, 8);
  Reseal(b);
  absl::Status s = Load(b);
  EXPECT_NE(s.message().find(absl::StrFormat("record of layout id 9, which the image does not list")),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find(absl::StrFormat("0x%x", record)), std::string::npos) << s;
}

TEST_F(BadImageTest, AddressesThatBelongToNoSegment) {
  std::string b = img.bytes;
  Header* h = HeaderOf(b);
  uint64_t end = h->saved_end;
  h->saved_end += kBlockSize;
  Reseal(b);
  EXPECT_EQ(Load(b).message(),
            Msg(absl::StrFormat("image addresses [0x%x, 0x%x) at the end of the saved range belong to no segment",
                                end, end + kBlockSize)));
  b = img.bytes;
  h = HeaderOf(b);
  uint64_t base = h->saved_base;
  h->saved_base -= kBlockSize;
  Reseal(b);
  absl::Status s = Load(b);
  EXPECT_NE(s.message().find(absl::StrFormat("image addresses [0x%x, 0x%x) before segment (section",
                                             base - kBlockSize, base)),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("belong to no segment"), std::string::npos) << s;
}

TEST(ImageTest, FixupsRejectALayoutBothListedAndShared) {
  SmallImage img;
  TestHeap b;
  const RecordLayout* l = *b.heap->layouts().RegisterLayout("point", 1, 8);
  absl::StatusOr<ImageReader> r = ImageReader::ReadFile(img.path);
  ASSERT_TRUE(r.ok()) << r.status();
  ImageLoader::Fixups both;
  both.list = {static_cast<uint16_t>(l->id)};
  both.shared = {static_cast<uint16_t>(l->id)};
  absl::StatusOr<ImageLoader> loader = ImageLoader::Prepare(*r, *b.heap, both);
  ASSERT_FALSE(loader.ok());
  EXPECT_EQ(loader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loader.status().message().find("shared twice, also listed"), std::string::npos) << loader.status();
}

TEST_F(BadImageTest, MissingFile) {
  absl::StatusOr<ImageReader> r = ImageReader::ReadFile(TempPath("no-such.img"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            absl::StrFormat("image %s: cannot open: No such file or directory", TempPath("no-such.img")));
}

// [heap.image.regular-file]: a directory and a FIFO are refused by name, and the FIFO,
// which has no writer, without blocking. Before the fix the open of the FIFO blocked
// for ever; here a FifoWatchdog then opens the write end (after 10 s) so that the
// test fails instead of hanging.
TEST_F(BadImageTest, NotARegularFileIsRefusedWithoutBlocking) {
  std::string dir = TempPath("a-directory.img");
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(std::filesystem::create_directory(dir));
  absl::StatusOr<ImageReader> d = ImageReader::ReadFile(dir);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << d.status();
  EXPECT_EQ(d.status().message(), absl::StrFormat("image %s: not a regular file", dir));
  std::filesystem::remove_all(dir);

  std::string fifo = TempPath("a-fifo.img");
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  FifoWatchdog watchdog(fifo);
  absl::Status status = ImageReader::ReadFile(fifo).status();
  watchdog.Stop();
  EXPECT_FALSE(watchdog.released()) << "ReadFile blocked in the open of a FIFO with no writer";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), absl::StrFormat("image %s: not a regular file", fifo));
  ::unlink(fifo.c_str());
}

TEST_F(BadImageTest, HardLimitLeavesTheHeapUntouched) {
  HeapOptions o = testing::SmallHeapOptions();
  o.soft_limit_bytes = o.hard_limit_bytes = size_t{2} << 20;
  o.nursery_bytes = size_t{256} << 10;
  o.initial_bytes = size_t{1} << 20;
  TestHeap t(o);
  ASSERT_TRUE(t.heap->layouts().RegisterLayout("point", 1, 8).ok());
  // Fill most of the heap first.
  Mutator* m = t.heap->CreateMutator();
  VectorRoots keep;
  for (int i = 0; i < 1000; ++i) {
    Object* x = m->AllocateBytes(30000);
    if (x == nullptr) break;
    keep.roots.push_back(V(x));
  }
  t.heap->DestroyMutator(m);
  size_t heap_bytes = t.heap->Stats().heap_bytes;
  absl::StatusOr<std::vector<Value>> r = LoadFile(*t.heap, img.path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("loading needs"), std::string::npos) << r.status();
  EXPECT_EQ(t.heap->Stats().heap_bytes, heap_bytes);
  t.heap->Verify(&keep);
}

// [heap.limits.hard]: the spare nursery blocks a young collection keeps are committed
// memory. A load that fits only without them gives them back first; the arena never
// holds more than the hard limit.
TEST(ImageLimitTest, LoadCountsSpareNurseryBlocksAgainstTheHardLimit) {
  const std::string path = TempPath("spares.img");
  {
    TestHeap src;
    Mutator* m = src.heap->CreateMutator();
    Object* big = m->AllocateVector(352000, Value::Fixnum(3));  // 86 blocks
    std::vector<Value> roots = {V(big)};
    src.heap->DestroyMutator(m);
    ImageWriter w(*src.heap);
    w.AddHeap(roots);
    ASSERT_TRUE(w.Write(path).ok());
  }
  HeapOptions o = testing::SmallHeapOptions();
  // 86 blocks of image + 10 blocks of region slack in the copy reserve (promotion_age[0]
  // = 2: RegionSlackBytes) fit under 3 MiB (96 blocks); the image and 12 or more spare
  // nursery blocks would pass it.
  o.soft_limit_bytes = o.hard_limit_bytes = size_t{3} << 20;
  o.nursery_bytes = size_t{512} << 10;
  o.initial_bytes = size_t{1} << 20;
  TestHeap t(o);
  Mutator* m = t.heap->CreateMutator();
  VectorRoots none;
  for (int i = 0; i < 600; ++i) ASSERT_NE(m->AllocateVector(100, Value::Nil()), nullptr);
  t.heap->DestroyMutator(m);
  t.heap->Collect(0, none);  // empties the nursery: its blocks stay as spares
  size_t committed = t.arena->Stats().blocks_in_use * kBlockSize;
  ASSERT_GE(committed, size_t{384} << 10) << "the young collection kept too few spare blocks";
  absl::StatusOr<std::vector<Value>> r = LoadFile(*t.heap, path);
  std::remove(path.c_str());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(t.arena->Stats().blocks_in_use * kBlockSize, o.hard_limit_bytes);
  VectorRoots loaded;
  loaded.roots = *r;
  t.heap->Verify(&loaded);
  EXPECT_EQ(loaded.roots[0].AsObject()->at(351999).FixnumValue(), 3);
}

// ---------------------------------------------------------------------------------
// The container: atomic writes and extra sections.

TEST(ImageWriteTest, FailedWriteLeavesNoFileAndKeepsTheOldOne) {
  SmallImage img;
  std::string dir = TempPath("atomic");
  std::filesystem::create_directories(dir);
  std::string path = dir + "/x.img";
  WriteAll(path, "previous contents");
  ImageWriter w(*img.t.heap);
  w.AddHeap(img.roots);
  w.FailWritesAfterBytesForTesting(1000);
  absl::Status s = w.Write(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), absl::StrFormat("image %s: write failed at offset 1000: No space left on device "
                                         "(injected by the test hook)",
                                         path));
  EXPECT_EQ(ReadAll(path), "previous contents");
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u) << "a temporary file was left behind";
  // A directory in the way: the rename fails, nothing is left behind.
  std::string blocked = dir + "/blocked.img";
  std::filesystem::create_directories(blocked + "/inner");
  ImageWriter w2(*img.t.heap);
  w2.AddHeap(img.roots);
  s = w2.Write(blocked);
  EXPECT_NE(s.message().find("cannot rename the temporary file over it"), std::string::npos) << s;
  files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2u);
  // An existing file is replaced whole.
  ImageWriter w3(*img.t.heap);
  w3.AddHeap(img.roots);
  ASSERT_TRUE(w3.Write(path).ok());
  EXPECT_TRUE(ImageReader::ReadFile(path).ok());
  std::filesystem::remove_all(dir);
}

TEST(ImageWriteTest, ExtraSectionsRoundTrip) {
  SmallImage img;
  ImageWriter w(*img.t.heap);
  w.AddHeap(img.roots);
  ASSERT_TRUE(w.AddSection(SectionKind::kOpaque, "notes", "hello notes").ok());
  ASSERT_TRUE(w.AddSection(SectionKind::kThreads, "threads", std::string(13, 't')).ok());
  ASSERT_TRUE(w.AddSection(SectionKind::kManagedStacks, "stacks", "").ok());
  EXPECT_EQ(w.AddSection(SectionKind::kRoots, "r", "").message(),
            "image writer: AddSection takes threads, managed stacks or opaque sections, not roots");
  EXPECT_FALSE(w.AddSection(SectionKind::kOpaque, std::string(24, 'n'), "").ok());
  std::string path = TempPath("extra.img");
  ASSERT_TRUE(w.Write(path).ok());
  absl::StatusOr<ImageReader> r = ImageReader::ReadFile(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->FindSection(SectionKind::kOpaque, "notes"), "hello notes");
  EXPECT_EQ(*r->FindSection(SectionKind::kThreads, "threads"), std::string(13, 't'));
  EXPECT_EQ(*r->FindSection(SectionKind::kManagedStacks, "stacks"), "");
  EXPECT_EQ(r->FindSection(SectionKind::kOpaque, "nope").status().code(), absl::StatusCode::kNotFound);
  // The heap in it still loads.
  TestHeap b;
  ASSERT_TRUE(b.heap->layouts().RegisterLayout("point", 1, 8).ok());
  absl::StatusOr<ImageLoader> l = ImageLoader::Prepare(*r, *b.heap);
  ASSERT_TRUE(l.ok()) << l.status();
  absl::StatusOr<std::vector<Value>> roots = l->Load();
  ASSERT_TRUE(roots.ok());
  VectorRoots rb;
  rb.roots = *roots;
  b.heap->Verify(&rb);
  ExpectIsomorphic(*img.t.heap, img.roots, *b.heap, rb.roots, true);
  std::remove(path.c_str());
}

// Write reads only the writer's own buffers, never the heap: weft::SaveImage runs it
// on a blocking-pool helper while the world runs or is stopped for a collection
// ([heap.image.save]). So it works with the heap gone (the layouts section too, which
// Write once built from the heap's registry: under ASan a use after free).
TEST(ImageWriteTest, WriteReadsNothingOfTheHeap) {
  auto t = std::make_unique<TestHeap>();
  const RecordLayout* l = *t->heap->layouts().RegisterLayout("point", 1, 8);
  Mutator* m = t->heap->CreateMutator();
  Object* s = m->AllocateString("hello");
  Object* r = m->AllocateRecord(*l);
  r->slots()[0] = V(s);
  std::memcpy(r->record_raw(), "rawbytes", 8);
  Object* p = m->AllocatePair(V(r), V(s));
  t->heap->DestroyMutator(m);
  std::vector<Value> roots = {V(p), Value::Fixnum(7)};
  ImageWriter w(*t->heap);
  w.AddHeap(roots);
  t.reset();  // the heap and its arena are gone
  std::string path = TempPath("no-heap.img");
  absl::Status st = w.Write(path);
  ASSERT_TRUE(st.ok()) << st;

  TestHeap b;
  ASSERT_TRUE(b.heap->layouts().RegisterLayout("other", 0, 0).ok());
  ASSERT_TRUE(b.heap->layouts().RegisterLayout("point", 1, 8).ok());
  absl::StatusOr<std::vector<Value>> loaded = LoadFile(*b.heap, path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[1].FixnumValue(), 7);
  Object* lp = (*loaded)[0].AsObject();
  Object* lr = lp->slots()[0].AsObject();
  Object* ls = lp->slots()[1].AsObject();
  ASSERT_EQ(lr->kind(), ObjectKind::kRecord);
  EXPECT_EQ(b.heap->layouts().Get(lr->aux())->name, "point");
  EXPECT_EQ(lr->slots()[0].AsObject(), ls);
  EXPECT_EQ(std::string(lr->record_raw(), 8), "rawbytes");
  EXPECT_EQ(std::string(ls->bytes(), ls->length()), "hello");
  std::remove(path.c_str());
}

TEST(ImageHashTest, DetectsEverySingleBitFlipOfASmallBuffer) {
  std::string s = "the quick brown fox jumps over the lazy dog, 0123456789";
  uint64_t h = ImageHash64(s.data(), s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      s[i] ^= static_cast<char>(1 << bit);
      EXPECT_NE(ImageHash64(s.data(), s.size()), h) << i << ":" << bit;
      s[i] ^= static_cast<char>(1 << bit);
    }
  }
  EXPECT_NE(ImageHash64(s.data(), s.size() - 1), h);
}

}  // namespace
}  // namespace weft::heap::image
