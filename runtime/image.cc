// image.cc: weft::SaveImage and weft::LoadImage, the public face of heap images
// (heap/image_writer.h, heap/image_loader.h). The world is stopped only while the
// heap is read (save) or changed (load); file I/O and validation run outside the pause.
// The part that touches only bytes and the file system (a save's checksums, write,
// fsync and rename; a load's open, read and container checks) runs on a blocking-pool
// helper (threads/blocking.h), so the caller's worker runs other green threads
// meanwhile ([runtime.stw.image]).
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "heap/image_loader.h"
#include "heap/image_reader.h"
#include "heap/image_writer.h"
#include "heap/write_barrier.h"
#include "runtime/runtime_impl.h"
#include "runtime/trace.h"
#include "threads/blocking.h"

namespace weft {
namespace {
constexpr trace::Kind kSaveImageKind{"heap", "save-image"};
constexpr trace::Kind kLoadImageKind{"heap", "load-image"};
}  // namespace

absl::Status SaveImage(const std::string& path, std::span<const Local> roots) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  heap::image::ImageWriter writer(rt.heap());
  rt.WithWorldStopped([&] {
    trace::Scoped save(kSaveImageKind);
    // Read inside the pause: no collection can move the objects meanwhile.
    std::vector<heap::Value> values;
    values.reserve(roots.size());
    for (const Local& l : roots) values.push_back(ToHeap(l.get()));
    writer.AddHeap(values);
  });
  // The image is in the writer's own buffers now (AddHeap copied every object and the
  // layouts it needs): Write reads nothing of the heap, so it runs on a helper while
  // this thread is parked, whatever the other threads do to the heap meanwhile
  // (mutate it, collect and move what was saved: the image is the copy of the pause).
  return threads::RunBlocking([&] { return writer.Write(path); });
}

absl::StatusOr<LoadedImage> LoadImage(const std::string& path, const ImageLoadOptions& options) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  // Open, read and check the container (sizes, every checksum) on a helper: only the
  // reader's own buffer is touched. The layouts and objects are checked here, against
  // this heap's registry, before the pause.
  absl::StatusOr<heap::image::ImageReader> reader =
      threads::RunBlocking([&] { return heap::image::ImageReader::ReadFile(path); });
  if (!reader.ok()) return reader.status();
  heap::image::ImageLoader::Fixups fixups;
  for (const RecordType& t : options.list) fixups.list.push_back(static_cast<uint16_t>(t.id));
  for (const auto& [t, object] : options.share) fixups.shared.push_back(static_cast<uint16_t>(t.id));
  absl::StatusOr<heap::image::ImageLoader> loader =
      heap::image::ImageLoader::Prepare(*reader, rt.heap(), std::move(fixups));
  if (!loader.ok()) return loader.status();
  // The slots and the listing vector exist before the pause, so rooting the loaded
  // objects cannot fail.
  LoadedImage out;
  out.roots.reserve(loader->root_count());
  for (size_t i = 0; i < loader->root_count(); ++i) out.roots.push_back(Local::Nil());
  if (!options.list.empty()) {
    // At the soft limit this allocation throws; LoadImage answers with a Status, as it
    // does when the load itself finds no room.
    try {
      out.listed = MakeVector(loader->listed_count(), Local::Nil());
    } catch (const HeapExhausted& e) {
      return absl::ResourceExhaustedError(
          absl::StrCat("image ", path, ": no room for the list of loaded records: ", e.what()));
    }
  }
  absl::Status status;
  rt.WithWorldStopped([&] {
    trace::Scoped load(kLoadImageKind);
    std::vector<heap::Value> shared_with, listed;
    for (const auto& [t, object] : options.share) shared_with.push_back(ToHeap(object.get()));
    absl::StatusOr<std::vector<heap::Value>> roots = loader->Load(shared_with, &listed);
    if (!roots.ok()) {
      status = roots.status();
      return;
    }
    for (size_t i = 0; i < roots->size(); ++i) out.roots[i].SetValue(FromHeap((*roots)[i]));
    // The listed records are in the oldest generation: storing them is never an
    // old-to-young store, but goes through the barrier like any other.
    if (listed.empty()) return;
    heap::Object* vector = ToHeap(out.listed.get()).AsObject();
    for (size_t i = 0; i < listed.size(); ++i) {
      heap::StoreValue(rt.heap().arena(), &vector->at(i), listed[i]);
    }
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<Local>> LoadImage(const std::string& path) {
  absl::StatusOr<LoadedImage> loaded = LoadImage(path, ImageLoadOptions{});
  if (!loaded.ok()) return loaded.status();
  return std::move(loaded->roots);
}

}  // namespace weft
