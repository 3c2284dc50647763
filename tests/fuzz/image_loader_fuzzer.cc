// image_loader_fuzzer: fuzz bytes -> ImageReader -> ImageLoader::Prepare -> Load, into
// one heap kept across inputs. Every input runs twice: as given, and "resealed" (every
// checksum recomputed, when the section table lies inside the input), so structural
// corruption gets past the checksums to the segment, object and reference checks.
// Properties: a rejected image gives an error whose message starts with "image "
// and leaves the heap exactly as it was (bytes, Verify); an accepted one loads,
// verifies, every loaded object is reachable and walkable, and a full collection
// with no roots frees it all again. The resealed run also asks for fixups
// ([heap.image.fixups]): every "point" record listed, every reference to a "node"
// record replaced by a young "node" of the heap; then the listed records are exactly
// the loaded points and no loaded reference leads to an image node.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "heap/arena.h"
#include "heap/heap.h"
#include "heap/image_format.h"
#include "heap/image_loader.h"
#include "heap/image_reader.h"

namespace weft::fuzz {
namespace {

using heap::image::Header;
using heap::image::ImageHash64;
using heap::image::SectionEntry;

class Roots final : public heap::RootSource {
 public:
  std::vector<heap::Value> roots;
  void VisitRoots(heap::RootVisitor& v) override {
    if (!roots.empty()) v.VisitRange(roots.data(), roots.data() + roots.size());
  }
};

struct World {
  World() {
    heap::ArenaOptions ao;
    ao.reserve_bytes = size_t{1} << 30;
    arena.reset(*heap::Arena::Create(ao));
    heap::HeapOptions ho;
    ho.nursery_bytes = size_t{256} << 10;
    ho.generations = 2;
    ho.initial_bytes = size_t{1} << 20;
    ho.soft_limit_bytes = size_t{128} << 20;
    ho.hard_limit_bytes = size_t{256} << 20;
    heap = std::move(*heap::Heap::Create(ho, arena.get()));
    // The layouts the seed corpus uses (tests/fuzz/image_corpus_gen.cc).
    point = *heap->layouts().RegisterLayout("point", 1, 8);
    node = *heap->layouts().RegisterLayout("node", 3, 5);
  }
  const heap::RecordLayout* point = nullptr;
  const heap::RecordLayout* node = nullptr;
  std::unique_ptr<heap::Arena> arena;
  std::unique_ptr<heap::Heap> heap;
};

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "image_loader_fuzzer: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Reseal recomputes the checksums of `b` in place when its table is addressable.
bool Reseal(std::string& b) {
  if (b.size() < sizeof(Header)) return false;
  Header h;
  std::memcpy(&h, b.data(), sizeof(h));
  if (h.section_count > 4096 || sizeof(Header) + uint64_t{h.section_count} * sizeof(SectionEntry) > b.size()) {
    return false;
  }
  for (size_t i = 0; i < h.section_count; ++i) {
    SectionEntry e;
    char* at = b.data() + sizeof(Header) + i * sizeof(SectionEntry);
    std::memcpy(&e, at, sizeof(e));
    if (e.offset <= b.size() && e.bytes <= b.size() - e.offset) {
      e.checksum = ImageHash64(b.data() + e.offset, e.bytes);
      std::memcpy(at, &e, sizeof(e));
    }
  }
  h.table_checksum = 0;
  h.table_checksum = ImageHash64(&h, sizeof(h)) ^
                     ImageHash64(b.data() + sizeof(Header), h.section_count * sizeof(SectionEntry));
  std::memcpy(b.data(), &h, sizeof(h));
  return true;
}

void RunOne(World& w, std::string_view bytes, bool fixups) {
  // The shared "node" of the fixups: young, so rewritten slots must be remembered.
  heap::Value shared = heap::Value::Nil();
  if (fixups) {
    heap::Mutator* m = w.heap->CreateMutator();
    heap::Object* o = m->AllocateRecord(*w.node);
    w.heap->DestroyMutator(m);
    if (o == nullptr) Fail("cannot allocate the shared node", "");
    shared = heap::Value::FromObject(o);
  }
  size_t heap_bytes = w.heap->Stats().heap_bytes;
  auto reader = heap::image::ImageReader::FromBytes(bytes, "fuzz");
  absl::Status status;
  if (!reader.ok()) {
    status = reader.status();
  } else {
    heap::image::ImageLoader::Fixups f;
    if (fixups) {
      f.list = {static_cast<uint16_t>(w.point->id)};
      f.shared = {static_cast<uint16_t>(w.node->id)};
    }
    auto loader = heap::image::ImageLoader::Prepare(*reader, *w.heap, f);
    if (!loader.ok()) {
      status = loader.status();
    } else {
      std::vector<heap::Value> listed;
      heap::Value shared_with[] = {shared};
      auto roots = fixups ? loader->Load(shared_with, &listed) : loader->Load();
      if (!roots.ok()) {
        status = roots.status();
      } else {
        Roots r;
        r.roots = *roots;
        if (fixups) {
          r.roots.push_back(shared);
          r.roots.insert(r.roots.end(), listed.begin(), listed.end());
          for (heap::Value v : listed) {
            if (!v.IsPointer() || v.AsObject()->kind() != heap::ObjectKind::kRecord ||
                v.AsObject()->aux() != w.point->id) {
              Fail("a listed value is not a loaded point", "");
            }
          }
        }
        w.heap->Verify(&r);
        // Walk everything loaded: every reference leads to a readable object.
        size_t objects = 0;
        std::vector<heap::Object*> stack;
        for (heap::Value v : r.roots) {
          if (v.IsPointer()) stack.push_back(v.AsObject());
        }
        size_t budget = loader->object_count() * 8 + 16;
        while (!stack.empty() && budget-- > 0) {
          heap::Object* o = stack.back();
          stack.pop_back();
          ++objects;
          if (!o->IsObject()) Fail("loaded object is not an object", "");
          if (fixups && o->kind() == heap::ObjectKind::kRecord && o->aux() == w.node->id &&
              o != shared.AsObject()) {
            Fail("a reference to an image node survived the fixups", "");
          }
          heap::ForEachReference(o, [&](heap::Value* s) {
            if (s->IsPointer()) stack.push_back(s->AsObject());
          });
        }
        w.heap->CollectFull(r, true);
        w.heap->Verify(&r);
        r.roots.clear();
        w.heap->CollectFull(r, true);
        w.heap->Verify(&r);
        if (w.heap->Stats().heap_bytes != 0) Fail("a collection with no roots kept blocks", "");
        return;
      }
    }
  }
  if (status.message().substr(0, 6) != "image ") Fail("error without the image prefix", std::string(status.message()));
  if (w.heap->Stats().heap_bytes != heap_bytes) Fail("a rejected image changed the heap", std::string(status.message()));
  if (fixups) {
    Roots none;  // the shared node is garbage now: free it, so inputs do not pile up
    w.heap->Collect(0, none);
    w.heap->Verify(&none);
  }
}

}  // namespace
}  // namespace weft::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static weft::fuzz::World* world = new weft::fuzz::World();
  std::string bytes(reinterpret_cast<const char*>(data), size);
  weft::fuzz::RunOne(*world, bytes, false);
  if (weft::fuzz::Reseal(bytes)) weft::fuzz::RunOne(*world, bytes, true);
  return 0;
}
