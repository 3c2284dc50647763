// image_writer.h: ImageWriter, which saves a heap's reachable objects as an image.
//
// AddHeap copies every object reachable from the given roots, with the world stopped,
// into packed segments ([heap.image.layout]): small boxed objects (pairs, vectors,
// records), small unboxed ones (strings, byte arrays) and pinned byte arrays each in
// segments of at most one block, every large object in its own segment; no holes, no
// fillers. References become image addresses (image_format.h). The live heap is left
// as it was: the copy forwards each saved object's header to its image address while
// it runs and restores every header before AddHeap returns ([heap.image.save]).
// AddHeap also copies the record layouts the saved records use, so the writer needs
// nothing of the heap after it. AddSection adds caller-defined sections (a core's
// threads and managed stacks, or opaque named bytes). Write writes the file
// atomically: a temporary file in the same directory, fsync, rename; on any failure
// the temporary is removed and an existing file at `path` is left untouched
// ([heap.image.atomic]). Write reads only the writer's own buffers, never the heap,
// so it may run on any thread while the heap is mutated, collected or gone:
// weft::SaveImage runs it on a blocking-pool helper ([heap.image.save]).
#ifndef WEFT_HEAP_IMAGE_WRITER_H_
#define WEFT_HEAP_IMAGE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "heap/heap.h"
#include "heap/image_format.h"

namespace weft::heap::image {

class ImageWriter {
 public:
  explicit ImageWriter(Heap& heap) : heap_(heap) {}

  // AddHeap saves every object reachable from `roots` (which may hold any Values)
  // and the roots themselves, in order. Call once. Requires the world stopped.
  void AddHeap(std::span<const Value> roots);
  // AddSection adds a section of kind kThreads, kManagedStacks or kOpaque, named
  // `name` (at most 23 bytes). InvalidArgument for another kind or a long name.
  absl::Status AddSection(SectionKind kind, std::string_view name, std::string payload);
  // Write writes the image to `path` atomically. Does not touch the heap: callable
  // on any thread, after AddHeap has returned.
  absl::Status Write(const std::string& path) const;

  // Statistics of AddHeap.
  size_t object_bytes() const { return object_bytes_; }  // sum of saved object sizes
  size_t object_count() const { return object_count_; }
  size_t segment_count() const { return segments_.size(); }

  // For tests: the write fails (as with ENOSPC) after this many bytes.
  void FailWritesAfterBytesForTesting(size_t bytes) { fail_after_ = bytes; }
  // For tests: every Write in the process first calls `hook` with its path, on the
  // thread that writes (nullptr: none). Lets a test hold a write, or see its thread.
  static void SetWriteHookForTesting(void (*hook)(const std::string& path));

 private:
  struct Segment {
    SectionKind kind;
    bool unboxed;
    uint64_t old_start;
    std::vector<char> bytes;  // reserved up front: never reallocated while filled
  };
  enum SpaceIndex { kBoxed = 0, kUnboxed = 1, kPinned = 2 };
  struct Extra {
    SectionKind kind;
    std::string name;
    std::string payload;
  };

  uint64_t Copy(Object* o);
  Value Translate(Value v);

  Heap& heap_;
  uint64_t base_ = 0;
  uint64_t next_block_ = 0;        // next free image block
  int open_[3] = {-1, -1, -1};     // the open segment per SpaceIndex
  std::vector<Segment> segments_;
  std::vector<Object*> originals_;  // saved objects, in copy order
  std::vector<uint64_t> first_words_;  // their first words before forwarding
  std::vector<char*> copies_;       // their copies
  std::vector<uint64_t> roots_;
  std::vector<bool> layouts_used_;  // while AddHeap runs
  std::string layouts_;             // the record layouts section, built by AddHeap
  std::vector<Extra> extras_;
  size_t object_bytes_ = 0;
  size_t object_count_ = 0;
  size_t fail_after_ = SIZE_MAX;
};

}  // namespace weft::heap::image

#endif  // WEFT_HEAP_IMAGE_WRITER_H_
