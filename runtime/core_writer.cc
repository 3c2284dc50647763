#include "runtime/core_writer.h"

#include <vector>

#include "heap/image_writer.h"
#include "heap/object.h"
#include "runtime/stack_dump.h"

namespace weft {
namespace {

// InHeapBlock: `o` lies in one of the heap's blocks (not a stack or free block).
bool InHeapBlock(heap::Heap& heap, const heap::Object* o) {
  if (!heap.arena().Contains(o)) return false;
  switch (heap.arena().InfoFor(o).type) {
    case heap::BlockType::kYoung:
    case heap::BlockType::kOld:
    case heap::BlockType::kLarge:
    case heap::BlockType::kPinned: return true;
    default: return false;
  }
}

// Savable: a reference the image writer may follow. A slot of the process that died
// may hold anything, stale or interior; a reference outside the heap's blocks, or to
// a word that is no valid header, is kept out of the image (its slot is printed from
// `raw`). A "pair" (any other first word) must hold two Values whose references lead
// into heap blocks, or the image writer would follow garbage.
bool Savable(heap::Heap& heap, heap::Value v) {
  heap::Object* o = v.AsObject();
  if (!InHeapBlock(heap, o) || !o->IsObject()) return false;
  if (!o->IsPair()) return true;
  for (heap::Value w : {o->car(), o->cdr()}) {
    if (!w.IsValue() || (w.IsPointer() && !InHeapBlock(heap, w.AsObject()))) return false;
  }
  return true;
}

std::string EncodeThreads(const Dump& dump) {
  CoreEncoder e;
  e.U32(static_cast<uint32_t>(dump.threads.size()));
  for (const ThreadDump& d : dump.threads) {
    const threads::ThreadInfo& t = d.info;
    e.U64(t.id);
    e.Str(d.name);
    e.U8(static_cast<uint8_t>(t.state));
    e.U8(static_cast<uint8_t>(t.wait_reason));
    e.U8((t.detached ? kCoreDetached : 0) | (t.running_unstopped ? kCoreRunningUnstopped : 0));
    e.I32(t.worker);
    e.U64(reinterpret_cast<uint64_t>(t.wait_object));
    e.I64(t.blocked_since_ns);
    e.Str(d.native_note);
    e.U32(static_cast<uint32_t>(d.native.size()));
    for (const DumpNativeFrame& f : d.native) {
      e.U64(f.pc);
      e.Str(*f.symbol);
    }
  }
  return e.Take();
}

}  // namespace

absl::Status WriteCore(RuntimeImpl& rt, const CoreRequest& request) {
  heap::Heap& heap = rt.heap();
  Dump dump;
  if (!TakeFatalDump(heap, rt.scheduler(), request.signal_context, request.self_pcs, &dump)) {
    return absl::UnavailableError("the green-thread registry stayed locked");
  }
  // [runtime.core.heap]: a heap caught in a collection holds forwarding headers and
  // half-copied objects; save none of it rather than follow them.
  bool heap_saved = !heap.CollectingForFatal();
  std::vector<heap::Value> roots;
  CoreEncoder stacks;
  stacks.U32(static_cast<uint32_t>(dump.threads.size()));
  for (const ThreadDump& d : dump.threads) {
    stacks.U64(d.info.id);
    stacks.U32(static_cast<uint32_t>(d.frames.size()));
    for (const DumpFrame& f : d.frames) {
      stacks.Str(f.name);
      stacks.I64(f.info);
      stacks.U32(static_cast<uint32_t>(f.slots.size()));
      for (const DumpSlot& s : f.slots) {
        heap::Value v = heap::Value::FromRaw(s.raw);
        uint64_t root = kCoreNoRoot;
        int generation = 0;
        if (!v.IsPointer() || (heap_saved && Savable(heap, v))) {
          root = roots.size();
          roots.push_back(v);
          if (v.IsPointer()) generation = heap.GenerationOf(v.AsObject());
        }
        stacks.U64(s.index);
        stacks.U64(s.raw);
        stacks.U64(root);
        stacks.I32(generation);
      }
    }
  }
  uint64_t stack_roots = roots.size();
  std::vector<heap::Value*> globals;
  if (heap_saved && rt.GlobalSlotsForFatal(&globals)) {
    for (heap::Value* g : globals) {
      if (!g->IsPointer() || Savable(heap, *g)) roots.push_back(*g);
    }
  }
  // Values in flight in channels ([runtime.channels.in-flight]) count as global roots
  // of the core: reachable, so kept, though no slot names them.
  if (heap_saved) {
    VisitChannelValuesForFatal(&rt, [&](heap::Value* v) {
      if (!v->IsPointer() || Savable(heap, *v)) roots.push_back(*v);
    });
  }

  CoreEncoder core;
  core.U32(kCoreVersion);
  core.U8(static_cast<uint8_t>(request.cause));
  core.U8(heap_saved ? 1 : 0);
  core.I64(request.pid);
  core.I64(dump.now_ns);
  core.U64(stack_roots);
  core.U64(roots.size() - stack_roots);
  core.Str(request.message);

  heap::image::ImageWriter writer(heap);
  writer.AddHeap(roots);  // [heap.image.save]: restores every header it forwards
  using heap::image::SectionKind;
  absl::Status s = writer.AddSection(SectionKind::kOpaque, kCoreSection, core.Take());
  if (s.ok()) s = writer.AddSection(SectionKind::kThreads, kCoreThreadsSection, EncodeThreads(dump));
  if (s.ok()) s = writer.AddSection(SectionKind::kManagedStacks, kCoreStacksSection, stacks.Take());
  if (s.ok()) s = writer.Write(request.path);
  return s;
}

}  // namespace weft
