// image_loader.h: ImageLoader, which validates the heap inside an image and loads it.
//
// Loading is two steps so that the world is stopped only for the second:
//  - Prepare (any thread, heap untouched) checks everything an ImageReader did not:
//    record layouts re-bound by name to the heap's registry (a missing or different
//    layout is an error), the segment table (block-aligned segments tiling the saved
//    range, sizes, kinds), every object header in every segment (kind, size, space,
//    layout) and every reference in every object and root (a Value, pointing at an
//    object start in some segment: a bitmap of object starts is built first)
//    ([heap.image.untrusted]).
//  - Load (world stopped) allocates old-generation blocks (kOld, kPinned, kLarge runs)
//    wherever the arena has room, copies each segment into its run and relocates
//    every reference by its target segment's displacement in the same pass
//    ([heap.image.relocate]), then adds the runs to the heap's oldest generation and
//    returns the roots. Its only possible failure is the allocation (limits, OS), and
//    then the heap is unchanged.
// The returned root Values are unrooted: the caller must store them in roots before
// the world resumes.
//
// Fixups, for an embedder whose records hold native data or stand for one object of
// the process ([heap.image.fixups]): Prepare finds the records of the layouts to
// list or share while it parses; Load lists the new addresses of the first and
// rewrites every loaded reference (and root) to one of the second as the object the
// embedder gives for its layout, in its one relocation pass.
//
// Inspect is Prepare without a heap, for reading an image offline (`stackscan
// --core`): records are checked against the image's own layout list, and ObjectAt
// then finds any validated object in the image's bytes. Load is not available.
#ifndef WEFT_HEAP_IMAGE_LOADER_H_
#define WEFT_HEAP_IMAGE_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "heap/heap.h"
#include "heap/image_reader.h"

namespace weft::heap::image {

class ImageLoader {
 public:
  // Prepare validates `reader`'s heap against `heap`'s layout registry. `reader`
  // must outlive the loader.
  static absl::StatusOr<ImageLoader> Prepare(const ImageReader& reader, Heap& heap);
  struct Fixups {
    std::vector<uint16_t> list;    // heap layout ids whose loaded records Load lists
    std::vector<uint16_t> shared;  // heap layout ids whose loaded records Load replaces
  };
  static absl::StatusOr<ImageLoader> Prepare(const ImageReader& reader, Heap& heap, Fixups fixups);
  // Inspect validates `reader`'s heap on its own (no heap; Load not allowed).
  static absl::StatusOr<ImageLoader> Inspect(const ImageReader& reader);

  // Load copies the image into `heap` (the one given to Prepare). Call once.
  absl::StatusOr<std::vector<Value>> Load();
  // Load with the fixups given to Prepare: shared_with[i] replaces every reference to
  // a loaded record of layout fixups.shared[i] (an unrooted Value, read with the world
  // stopped); `listed` receives the new addresses of the listed records, in image
  // order (listed_count() of them).
  absl::StatusOr<std::vector<Value>> Load(std::span<const Value> shared_with, std::vector<Value>* listed);
  size_t listed_count() const { return listed_old_.size(); }

  size_t object_bytes() const { return object_bytes_; }  // sum of segment bytes
  size_t object_count() const { return object_count_; }
  size_t root_count() const { return roots_count_; }

  // After Prepare or Inspect: root `i` (references are image addresses).
  Value root(size_t i) const { return Value::FromRaw(roots_[i]); }
  // ObjectAt: the object a reference Value refers to, in the image's bytes, or
  // nullptr when `v` is not a reference to an object start of a segment.
  const Object* ObjectAt(Value v) const;
  // LayoutName: the name of a record's layout (its header's aux, the image's id).
  std::string_view LayoutName(uint16_t image_id) const {
    return image_id < image_layouts_.size() ? image_layouts_[image_id].name : std::string_view();
  }

 private:
  struct Segment {
    size_t section;  // index in the section table (for messages)
    SectionKind kind;
    bool unboxed;
    const char* data;
    uint64_t old_start;
    uint64_t bytes;
    size_t blocks;
    uint64_t displacement = 0;  // new start - old start, modulo 2^64
  };

  // A layout as the image lists it.
  struct ImageLayout {
    bool listed = false;
    std::string_view name;
    uint32_t ref_slots = 0;
    uint32_t raw_bytes = 0;
  };

  ImageLoader(const ImageReader& reader, Heap* heap) : reader_(&reader), heap_(heap) {}
  absl::Status Validate();  // after ReadLayouts (and, for Prepare, SetFixups)
  absl::Status Bad(const std::string& message) const;
  absl::Status ReadLayouts();
  absl::Status ReadSegments();
  absl::Status ParseSegment(size_t s);
  // CheckValue: `raw` is a Value and, if a reference, points at an object start.
  // where() describes the slot for the message.
  absl::Status CheckValue(uint64_t raw, absl::FunctionRef<std::string()> where) const;
  absl::Status CheckReferences(size_t s);
  absl::Status SetFixups(const Fixups& fixups);
  bool IsStart(uint64_t address) const {
    uint64_t w = (address - base_) >> 3;
    return (starts_[w >> 6] >> (w & 63)) & 1;
  }

  const ImageReader* reader_;
  Heap* heap_;  // nullptr after Inspect
  uint64_t base_ = 0, end_ = 0;
  std::vector<Segment> segments_;
  std::vector<uint32_t> block_segment_;  // image block -> segment index
  std::vector<uint64_t> starts_;         // one bit per image word: an object starts
  std::vector<int32_t> layout_map_;      // image layout id -> heap layout id, or -1
  std::vector<ImageLayout> image_layouts_;  // by image layout id
  // Fixups ([heap.image.fixups]), by image layout id: 0 none, 1 listed, 2 + k shared
  // as Fixups::shared[k]. Empty without fixups.
  std::vector<uint16_t> image_role_;
  std::vector<uint64_t> listed_old_;  // image addresses of the listed records
  std::vector<std::pair<uint64_t, uint16_t>> shared_old_;  // (image address, k), ascending
  const uint64_t* roots_ = nullptr;
  size_t roots_count_ = 0;
  size_t object_bytes_ = 0;
  size_t object_count_ = 0;
  size_t shared_count_ = 0;
  bool loaded_ = false;
};

}  // namespace weft::heap::image

#endif  // WEFT_HEAP_IMAGE_LOADER_H_
