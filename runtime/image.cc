// image.cc: weft::SaveImage and weft::LoadImage, the public face of heap images
// (heap/image_writer.h, heap/image_loader.h). The world is stopped only while the
// heap is read (save) or changed (load); file I/O and validation run outside the pause.
#include <vector>

#include "heap/image_loader.h"
#include "heap/image_reader.h"
#include "heap/image_writer.h"
#include "runtime/runtime_impl.h"
#include "runtime/trace.h"

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
  return writer.Write(path);
}

absl::StatusOr<std::vector<Local>> LoadImage(const std::string& path) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  absl::StatusOr<heap::image::ImageReader> reader = heap::image::ImageReader::ReadFile(path);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<heap::image::ImageLoader> loader =
      heap::image::ImageLoader::Prepare(*reader, rt.heap());
  if (!loader.ok()) return loader.status();
  // The slots exist before the pause, so rooting the loaded objects cannot fail.
  std::vector<Local> locals;
  locals.reserve(loader->root_count());
  for (size_t i = 0; i < loader->root_count(); ++i) locals.push_back(Local::Nil());
  absl::Status status;
  rt.WithWorldStopped([&] {
    trace::Scoped load(kLoadImageKind);
    absl::StatusOr<std::vector<heap::Value>> roots = loader->Load();
    if (!roots.ok()) {
      status = roots.status();
      return;
    }
    for (size_t i = 0; i < roots->size(); ++i) locals[i].SetValue(FromHeap((*roots)[i]));
  });
  if (!status.ok()) return status;
  return locals;
}

}  // namespace weft
