#include "runtime/core_reader.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "heap/image_loader.h"
#include "heap/image_reader.h"

namespace weft {
namespace {

using heap::image::ImageLoader;
using heap::image::ImageReader;
using heap::image::SectionKind;

// Minimum encoded bytes of one element, for CoreDecoder::Count (core_format.h).
constexpr size_t kMinThreadBytes = 8 + 4 + 3 + 4 + 8 + 8 + 4 + 4;
constexpr size_t kMinNativeBytes = 8 + 4;
constexpr size_t kMinStackBytes = 8 + 4;
constexpr size_t kMinFrameBytes = 4 + 8 + 4;
constexpr size_t kSlotBytes = 8 + 8 + 8 + 4;

class CoreParser {
 public:
  CoreParser(const std::string& path, const ImageReader& reader, const ImageLoader& image,
             const CoreReadOptions& options)
      : path_(path), reader_(reader), image_(image), options_(options) {}

  absl::StatusOr<Core> Parse() {
    std::string_view sections[3];
    struct Wanted {
      SectionKind kind;
      const char* name;
      const char* what;
    } wanted[3] = {{SectionKind::kOpaque, kCoreSection, "core header"},
                   {SectionKind::kThreads, kCoreThreadsSection, "thread registry"},
                   {SectionKind::kManagedStacks, kCoreStacksSection, "managed stacks"}};
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<std::string_view> s = reader_.FindSection(wanted[i].kind, wanted[i].name);
      if (!s.ok()) {
        return Bad(absl::StrFormat("no %s section (%s, named '%s'): a heap image, not a Weft core",
                                   wanted[i].what,
                                   heap::image::SectionKindName(
                                       static_cast<uint32_t>(wanted[i].kind)),
                                   wanted[i].name));
      }
      sections[i] = *s;
    }
    Core core;
    if (absl::Status s = ParseInfo(sections[0], core.info); !s.ok()) return s;
    std::vector<ThreadDump> threads;
    if (absl::Status s = ParseThreads(sections[1], core, threads); !s.ok()) return s;
    if (absl::Status s = ParseStacks(sections[2], core.info, threads); !s.ok()) return s;
    for (ThreadDump& t : threads) {
      if (Shown(t)) core.dump.threads.push_back(std::move(t));
    }
    return core;
  }

 private:
  bool Shown(const ThreadDump& t) const {
    return MatchesFilters(t.info.id, t.name, t.info.state, options_.thread_filter,
                          options_.state_filter);
  }
  absl::Status Bad(const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrFormat("core %s: %s", path_, message));
  }
  absl::Status Check(const CoreDecoder& d) const {
    return d.ok() ? absl::OkStatus() : Bad(d.error());
  }

  absl::Status ParseInfo(std::string_view bytes, CoreInfo& info) {
    CoreDecoder d(bytes, kCoreSection);
    uint32_t version = d.U32("the version");
    if (d.ok() && version != kCoreVersion) {
      return Bad(absl::StrFormat("core format version %d; this stackscan reads version %d",
                                 version, kCoreVersion));
    }
    uint8_t cause = d.U8("the cause");
    uint8_t heap_saved = d.U8("the heap flag");
    info.pid = d.I64("the pid");
    now_ns_ = d.I64("the time");
    info.stack_roots = d.U64("the stack root count");
    info.global_roots = d.U64("the global root count");
    info.message = std::string(d.Str("the message"));
    if (absl::Status s = Check(d); !s.ok()) return s;
    if (cause != static_cast<uint8_t>(CoreCause::kFatalError) &&
        cause != static_cast<uint8_t>(CoreCause::kDeadlock)) {
      return Bad(absl::StrFormat("section '%s': unknown cause %d", kCoreSection, cause));
    }
    if (heap_saved > 1) {
      return Bad(absl::StrFormat("section '%s': heap flag %d is not 0 or 1", kCoreSection,
                                 heap_saved));
    }
    info.cause = static_cast<CoreCause>(cause);
    info.heap_saved = heap_saved == 1;
    if (info.stack_roots > image_.root_count() ||
        info.global_roots != image_.root_count() - info.stack_roots) {
      return Bad(absl::StrFormat(
          "section '%s' counts %d stack roots and %d global roots, but the image has %d roots",
          kCoreSection, info.stack_roots, info.global_roots, image_.root_count()));
    }
    return absl::OkStatus();
  }

  absl::Status ParseThreads(std::string_view bytes, Core& core, std::vector<ThreadDump>& out) {
    CoreDecoder d(bytes, kCoreThreadsSection);
    uint32_t n = d.Count("the thread count", kMinThreadBytes);
    core.dump.now_ns = now_ns_;
    for (uint32_t i = 0; i < n && d.ok(); ++i) {
      ThreadDump t;
      threads::ThreadInfo& info = t.info;
      info.id = d.U64("a thread id");
      t.name = std::string(d.Str("a thread name"));
      uint8_t state = d.U8("a thread state");
      uint8_t reason = d.U8("a wait reason");
      uint8_t flags = d.U8("thread flags");
      info.worker = d.I32("a worker");
      info.wait_object = reinterpret_cast<const void*>(d.U64("a wait object"));
      info.blocked_since_ns = d.I64("a blocked-since time");
      t.native_note = std::string(d.Str("a native note"));
      uint32_t frames = d.Count("a native frame count", kMinNativeBytes);
      for (uint32_t k = 0; k < frames && d.ok(); ++k) {
        uint64_t pc = d.U64("a native pc");
        std::string_view symbol = d.Str("a native symbol");
        auto it = core.dump.symbols.try_emplace(pc, symbol).first;
        t.native.push_back(DumpNativeFrame{pc, &it->second});
      }
      if (!d.ok()) break;
      auto where = [&] { return absl::StrFormat("thread %d (entry %d of '%s')", info.id, i,
                                                kCoreThreadsSection); };
      if (state > static_cast<uint8_t>(threads::ThreadState::kDone)) {
        return Bad(absl::StrFormat("%s: unknown state %d", where(), state));
      }
      if (reason > static_cast<uint8_t>(threads::WaitReason::kBlockingCall)) {
        return Bad(absl::StrFormat("%s: unknown wait reason %d", where(), reason));
      }
      if ((flags & ~(kCoreDetached | kCoreRunningUnstopped)) != 0) {
        return Bad(absl::StrFormat("%s: unknown flags 0x%x", where(), flags));
      }
      info.state = static_cast<threads::ThreadState>(state);
      info.wait_reason = static_cast<threads::WaitReason>(reason);
      info.detached = (flags & kCoreDetached) != 0;
      info.running_unstopped = (flags & kCoreRunningUnstopped) != 0;
      out.push_back(std::move(t));
    }
    if (absl::Status s = Check(d); !s.ok()) return s;
    if (d.left() != 0) {
      return Bad(absl::StrFormat("section '%s' has %d bytes after its last thread",
                                 kCoreThreadsSection, d.left()));
    }
    return absl::OkStatus();
  }

  absl::Status ParseStacks(std::string_view bytes, const CoreInfo& info,
                           std::vector<ThreadDump>& threads) {
    CoreDecoder d(bytes, kCoreStacksSection);
    uint32_t n = d.Count("the stack count", kMinStackBytes);
    if (d.ok() && n != threads.size()) {
      return Bad(absl::StrFormat("section '%s' has %d stacks for %d threads", kCoreStacksSection,
                                 n, threads.size()));
    }
    for (uint32_t i = 0; i < n && d.ok(); ++i) {
      ThreadDump& t = threads[i];
      // Every stack is validated; only the shown ones pay for --roots' traversals.
      const bool retained = options_.roots && Shown(t);
      uint64_t id = d.U64("a stack's thread id");
      if (d.ok() && id != t.info.id) {
        return Bad(absl::StrFormat("section '%s': stack %d belongs to thread %d, not to thread %d",
                                   kCoreStacksSection, i, id, t.info.id));
      }
      uint32_t frames = d.Count("a frame count", kMinFrameBytes);
      for (uint32_t f = 0; f < frames && d.ok(); ++f) {
        DumpFrame frame;
        frame.name = std::string(d.Str("a frame name"));
        frame.info = d.I64("a frame's info");
        uint32_t slots = d.Count("a slot count", kSlotBytes);
        for (uint32_t k = 0; k < slots && d.ok(); ++k) {
          DumpSlot slot;
          slot.index = d.U64("a slot index");
          slot.raw = d.U64("a slot value");
          uint64_t root = d.U64("a slot's root");
          int32_t generation = d.I32("a slot's generation");
          if (!d.ok()) break;
          std::string where = absl::StrFormat("thread %d frame '%s' slot [%d]", t.info.id,
                                              frame.name, slot.index);
          if (absl::Status s = Describe(info, root, generation, where, retained, slot); !s.ok()) {
            return s;
          }
          frame.slots.push_back(std::move(slot));
        }
        t.frames.push_back(std::move(frame));
      }
    }
    if (absl::Status s = Check(d); !s.ok()) return s;
    if (d.left() != 0) {
      return Bad(absl::StrFormat("section '%s' has %d bytes after its last stack",
                                 kCoreStacksSection, d.left()));
    }
    return absl::OkStatus();
  }

  // Describe: the slot's text, from the image's heap segments ([runtime.core.decode]).
  absl::Status Describe(const CoreInfo& info, uint64_t root, int32_t generation,
                        const std::string& where, bool retained, DumpSlot& slot) {
    heap::Value raw = heap::Value::FromRaw(slot.raw);
    if (root == kCoreNoRoot) {
      if (!raw.IsPointer()) {
        return Bad(absl::StrFormat("%s: the value 0x%x is not in the image's roots", where,
                                   slot.raw));
      }
      const void* p = reinterpret_cast<const void*>(slot.raw - heap::Value::kPointerTag);
      slot.text = info.heap_saved
                      ? absl::StrFormat("invalid-pointer %p", p)
                      : absl::StrFormat("reference %p (heap not saved: the process died in a "
                                        "collection)", p);
      return absl::OkStatus();
    }
    if (root >= info.stack_roots) {
      return Bad(absl::StrFormat("%s: root index %d is out of range (%d stack roots)", where,
                                 root, info.stack_roots));
    }
    heap::Value v = image_.root(root);
    if (!raw.IsPointer()) {
      if (v != raw) {
        return Bad(absl::StrFormat("%s holds 0x%x but its root %d holds 0x%x", where, slot.raw,
                                   root, v.raw));
      }
      slot.text = DescribeImmediate(v);
      return absl::OkStatus();
    }
    const heap::Object* o = image_.ObjectAt(v);
    if (o == nullptr) {
      return Bad(absl::StrFormat("%s: root %d (0x%x) is not a reference to an object of the image",
                                 where, root, v.raw));
    }
    if (generation < 0 || generation > 7) {
      return Bad(absl::StrFormat("%s: generation %d is out of range", where, generation));
    }
    ObjectFacts f;
    f.kind = o->kind();
    f.address = slot.raw - heap::Value::kPointerTag;
    f.generation = generation;
    f.length = o->IsPair() ? 0 : o->length();  // a pair has no header
    if (f.kind == heap::ObjectKind::kString) f.string = o->string_view();
    if (f.kind == heap::ObjectKind::kRecord) f.record_name = image_.LayoutName(o->aux());
    slot.text = DescribeObject(f);
    if (retained) {
      slot.retained = RetainedBytes(v, [&](heap::Value r) { return image_.ObjectAt(r); });
    }
    return absl::OkStatus();
  }

  const std::string& path_;
  const ImageReader& reader_;
  const ImageLoader& image_;
  const CoreReadOptions& options_;
  int64_t now_ns_ = 0;
};

const char* CauseName(CoreCause c) {
  return c == CoreCause::kDeadlock ? "deadlock" : "fatal error";
}

}  // namespace

absl::StatusOr<Core> ReadCore(const std::string& path, const CoreReadOptions& options) {
  absl::StatusOr<ImageReader> reader = ImageReader::ReadFile(path);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<ImageLoader> image = ImageLoader::Inspect(*reader);
  if (!image.ok()) return image.status();
  return CoreParser(path, *reader, *image, options).Parse();
}

std::string CoreTextPreamble(const CoreInfo& info) {
  return absl::StrFormat("weft: core of process %d (%s): %s%s\n", info.pid, CauseName(info.cause),
                         info.message,
                         info.heap_saved ? "" : " [heap not saved: it died in a collection]");
}

std::string CoreJsonMembers(const CoreInfo& info) {
  return absl::StrFormat("\"core\":{\"pid\":%d,\"cause\":\"%s\",\"message\":%s,\"heap_saved\":%s},",
                         info.pid, CauseName(info.cause), JsonString(info.message),
                         info.heap_saved ? "true" : "false");
}

}  // namespace weft
