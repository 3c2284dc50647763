// image_corpus_gen DIR: writes the image loader fuzzer's seed corpus into DIR: a few
// small valid images (every object kind, a record of each fuzzer layout, a cycle,
// a large and a pinned object, an extra section) and a few corrupted copies
// (truncated, bad magic, a flipped payload bit, a reference moved off an object
// start). Run once; the output is committed under tests/fuzz/corpus/image_loader/.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "heap/arena.h"
#include "heap/heap.h"
#include "heap/image_format.h"
#include "heap/image_writer.h"

namespace {

using namespace weft::heap;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: image_corpus_gen DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  ArenaOptions ao;
  ao.reserve_bytes = size_t{1} << 30;
  std::unique_ptr<Arena> arena(*Arena::Create(ao));
  HeapOptions ho;
  ho.nursery_bytes = size_t{256} << 10;
  ho.generations = 2;
  ho.initial_bytes = size_t{1} << 20;
  ho.soft_limit_bytes = ho.hard_limit_bytes = size_t{64} << 20;
  auto heap = std::move(*Heap::Create(ho, arena.get()));
  const RecordLayout* point = *heap->layouts().RegisterLayout("point", 1, 8);
  const RecordLayout* node = *heap->layouts().RegisterLayout("node", 3, 5);
  Mutator* m = heap->CreateMutator();
  auto save = [&](const std::string& name, std::vector<Value> roots, bool extra) {
    image::ImageWriter w(*heap);
    w.AddHeap(roots);
    if (extra) (void)w.AddSection(image::SectionKind::kOpaque, "note", "seed corpus");
    std::string path = dir + "/" + name;
    if (!w.Write(path).ok()) std::abort();
    return ReadAll(path);
  };
  // 1. empty: no objects, two immediate roots.
  save("valid_empty", {Value::Nil(), Value::Fixnum(3)}, false);
  // 2. small: a pair, a string, a record, a cycle.
  Object* s = m->AllocateString("hello image");
  Object* r = m->AllocateRecord(*point);
  r->slots()[0] = Value::FromObject(s);
  Object* p = m->AllocatePair(Value::FromObject(r), Value::FromObject(s));
  Object* n = m->AllocateRecord(*node);
  n->slots()[0] = Value::FromObject(n);
  n->slots()[1] = Value::FromObject(p);
  n->slots()[2] = Value::Char(U'x');
  std::string small = save("valid_small", {Value::FromObject(p), Value::FromObject(n)}, true);
  // 3. every kind: vectors, bytes, pinned bytes, a large byte array.
  Object* v = m->AllocateVector(4, Value::FromObject(p));
  Object* b = m->AllocateBytes(17);
  Object* pin = m->AllocatePinnedBytes(9);
  Object* big = m->AllocateBytes(9000);
  v->slots()[3] = Value::FromObject(b);
  save("valid_kinds", {Value::FromObject(v), Value::FromObject(pin), Value::FromObject(big)}, false);
  heap->DestroyMutator(m);
  // Corrupted copies of the small image.
  WriteAll(dir + "/bad_truncated", small.substr(0, small.size() / 2));
  std::string magic = small;
  magic[1] = 'X';
  WriteAll(dir + "/bad_magic", magic);
  std::string flipped = small;
  flipped[flipped.size() - 20] ^= 4;
  WriteAll(dir + "/bad_checksum", flipped);
  // A root moved 8 bytes into its object; the fuzzer's reseal gets it past the checksums.
  std::string moved = small;
  image::Header h;
  std::memcpy(&h, moved.data(), sizeof(h));
  for (size_t i = 0; i < h.section_count; ++i) {
    image::SectionEntry e;
    std::memcpy(&e, moved.data() + sizeof(h) + i * sizeof(e), sizeof(e));
    if (e.kind == static_cast<uint32_t>(image::SectionKind::kRoots)) {
      uint64_t root;
      std::memcpy(&root, moved.data() + e.offset, 8);
      root += 8;
      std::memcpy(moved.data() + e.offset, &root, 8);
    }
  }
  WriteAll(dir + "/bad_root_not_at_start", moved);
  std::printf("wrote the image corpus to %s\n", dir.c_str());
  return 0;
}
