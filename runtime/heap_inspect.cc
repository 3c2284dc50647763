#include "runtime/heap_inspect.h"

#include <algorithm>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "heap/object.h"
#include "runtime/dump_format.h"
#include "runtime/stack_dump.h"
#include "threads/managed_stack.h"

namespace weft {
namespace {

using heap::Object;
using heap::ObjectKind;

std::string KindLabel(heap::Heap& heap, Object* o) {
  if (o->kind() == ObjectKind::kRecord) {
    const heap::RecordLayout* layout = heap.layouts().Get(o->aux());
    return absl::StrCat("record ", layout ? layout->name : "?");
  }
  return heap::ObjectKindName(o->kind());
}

std::string EdgeLabel(Object* o, size_t index) {
  switch (o->kind()) {
    case ObjectKind::kPair: return index == 0 ? "car" : "cdr";
    case ObjectKind::kVector: return absl::StrCat("[", index, "]");
    default: return absl::StrCat("field ", index);
  }
}

}  // namespace

std::vector<CensusEntry> BuildCensus(heap::Heap& heap) {
  absl::flat_hash_map<std::pair<std::string, int>, std::pair<uint64_t, uint64_t>> counts;
  heap.ForEachObject([&](Object* o, int gen) {
    auto& c = counts[{KindLabel(heap, o), gen}];
    ++c.first;
    c.second += heap::ObjectSize(o);
  });
  std::vector<CensusEntry> out;
  for (auto& [key, c] : counts) out.push_back({key.first, key.second, c.first, c.second});
  std::sort(out.begin(), out.end(), [](const CensusEntry& a, const CensusEntry& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes
                              : std::tie(a.kind, a.generation) < std::tie(b.kind, b.generation);
  });
  return out;
}

std::string FormatCensus(const std::vector<CensusEntry>& census, bool json) {
  uint64_t objects = 0, bytes = 0;
  for (const CensusEntry& e : census) objects += e.objects, bytes += e.bytes;
  std::string out;
  if (json) {
    out = "{\"census\":[";
    for (size_t i = 0; i < census.size(); ++i) {
      const CensusEntry& e = census[i];
      absl::StrAppendFormat(&out, "%s{\"kind\":\"%s\",\"generation\":%d,\"objects\":%d,"
                            "\"bytes\":%d}",
                            i ? "," : "", e.kind, e.generation, e.objects, e.bytes);
    }
    absl::StrAppendFormat(&out, "],\"objects\":%d,\"bytes\":%d}\n", objects, bytes);
    return out;
  }
  out = absl::StrFormat("%-28s %4s %12s %14s\n", "kind", "gen", "objects", "bytes");
  for (const CensusEntry& e : census) {
    absl::StrAppendFormat(&out, "%-28s %4d %12d %14d\n", e.kind, e.generation, e.objects,
                          e.bytes);
  }
  absl::StrAppendFormat(&out, "%-28s %4s %12d %14d\n", "total", "", objects, bytes);
  return out;
}

std::vector<std::string> BuildPath(heap::Heap& heap, threads::Scheduler& scheduler,
                                   const std::vector<heap::Value*>& globals,
                                   const std::vector<heap::Value*>& channel_values,
                                   const heap::Value* skip, heap::Value target) {
  if (!target.IsPointer()) return {};
  Object* goal = target.AsObject();
  // Breadth first; each reached object remembers its parent step.
  struct Step {
    Object* object;
    int parent;  // index into steps, -1 for a root
    std::string label;
  };
  std::vector<Step> steps;
  absl::flat_hash_map<Object*, int> seen;
  std::deque<int> queue;
  auto reach = [&](Object* o, int parent, std::string label) -> bool {
    if (!seen.emplace(o, static_cast<int>(steps.size())).second) return false;
    steps.push_back({o, parent, std::move(label)});
    queue.push_back(static_cast<int>(steps.size()) - 1);
    return o == goal;
  };
  bool found = false;
  scheduler.ForEachThread([&](const threads::ThreadInfo& t) {
    if (found || t.managed_stack == nullptr) return;
    std::string frame = "(no frame)";
    size_t index = 0;
    t.managed_stack->ForEachSegment([&](uint64_t* begin, uint64_t* end) {
      for (uint64_t* p = begin; p < end && !found; ++p, ++index) {
        heap::Value v{*p};
        if (v.IsFrameMarker()) {
          const char* name = reinterpret_cast<const char*>(v.FrameMarkerPayload());
          frame = name != nullptr ? name : "?";
        } else if (v.IsPointer() && reinterpret_cast<const heap::Value*>(p) != skip) {
          found = reach(v.AsObject(), -1,
                        absl::StrFormat("thread %d \"%s\" frame %s slot [%d]", t.id, t.name,
                                        frame, index));
        }
      }
    });
  });
  for (heap::Value* g : globals) {
    if (found) break;
    if (g->IsPointer() && g != skip) found = reach(g->AsObject(), -1, "global slot");
  }
  for (heap::Value* c : channel_values) {
    if (found) break;
    if (c->IsPointer() && c != skip) found = reach(c->AsObject(), -1, "channel (in flight)");
  }
  while (!found && !queue.empty()) {
    int i = queue.front();
    queue.pop_front();
    Object* o = steps[i].object;
    size_t n = heap::ReferenceCount(o);
    for (size_t k = 0; k < n && !found; ++k) {
      heap::Value v = o->slots()[k];
      if (v.IsPointer()) found = reach(v.AsObject(), i, EdgeLabel(o, k));
    }
  }
  if (!found) return {};
  std::vector<std::string> path;
  int i = seen[goal];
  path.push_back(DescribeValue(heap, target));
  while (i >= 0) {
    const Step& s = steps[i];
    if (s.parent >= 0) {
      path.push_back(absl::StrCat(
          DescribeValue(heap, heap::Value::FromObject(steps[s.parent].object)), " .", s.label));
    } else {
      path.push_back(s.label);
    }
    i = s.parent;
  }
  std::reverse(path.begin(), path.end());
  return path;
}

Object* FindObjectAt(heap::Heap& heap, uintptr_t address) {
  // [runtime.dump.path]: never dereference the address; only compare it.
  if (!heap.arena().Contains(reinterpret_cast<const void*>(address))) return nullptr;
  Object* found = nullptr;
  heap.ForEachObject([&](Object* o, int) {
    if (reinterpret_cast<uintptr_t>(o) == address) found = o;
  });
  return found;
}

std::string FormatPath(const std::string& object, const std::vector<std::string>& path,
                       bool json) {
  if (json) {
    std::string out = absl::StrCat("{\"object\":", JsonString(object),
                                   ",\"reachable\":", path.empty() ? "false" : "true",
                                   ",\"path\":[");
    for (size_t i = 0; i < path.size(); ++i) {
      absl::StrAppend(&out, i ? "," : "", JsonString(path[i]));
    }
    out += "]}\n";
    return out;
  }
  if (path.empty()) {
    return absl::StrCat("unreachable: ", object,
                        ": no root keeps it alive (the next collection of its generation "
                        "frees it)\n");
  }
  std::string out;
  for (const std::string& step : path) absl::StrAppend(&out, step, "\n");
  return out;
}

}  // namespace weft
