#include "runtime/dump_format.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/huge_page_string.h"

namespace weft {
namespace {

using heap::ObjectKind;

std::string Quote(std::string_view s, size_t max) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  out += '"';
  return out;
}

std::string WaitText(const threads::ThreadInfo& t, int64_t now) {
  if (t.wait_reason == threads::WaitReason::kNone) return "";
  std::string s = absl::StrCat(" waiting on ", threads::WaitReasonName(t.wait_reason));
  // An fd wait's object is the descriptor, printed even when it is 0 (standard input),
  // as the JSON prints it.
  if (t.wait_reason == threads::WaitReason::kFdReadable ||
      t.wait_reason == threads::WaitReason::kFdWritable) {
    absl::StrAppend(&s, " fd ", reinterpret_cast<uintptr_t>(t.wait_object));
  } else if (t.wait_object != nullptr) {
    absl::StrAppendFormat(&s, " %p", t.wait_object);
  }
  if (t.blocked_since_ns > 0) {
    absl::StrAppendFormat(&s, " for %.3fs", (now - t.blocked_since_ns) / 1e9);
  }
  return s;
}

// EstimateBytes: a little more than the dump's formatted size, so that the output is
// reserved once ([runtime.dump.huge-pages]). `per_item` is the format's overhead for
// a frame, slot or native frame besides its text (the JSON keys cost more).
size_t EstimateBytes(const Dump& dump, const DumpStyle& o, size_t per_item) {
  size_t bytes = 256;
  for (const ThreadDump& d : dump.threads) {
    bytes += 160 + 2 * d.name.size() + d.native_note.size();
    for (const DumpFrame& f : d.frames) {
      bytes += per_item + 2 * f.name.size();
      for (const DumpSlot& s : f.slots) bytes += per_item + 2 * s.text.size() + (o.roots ? 48 : 0);
    }
    if (o.native_backtraces) {
      for (const DumpNativeFrame& n : d.native) bytes += per_item + n.symbol->size();
    }
  }
  return bytes;
}

std::string FormatText(const Dump& dump, const DumpStyle& o, std::string_view preamble) {
  std::string out;
  ReserveHugePages(&out, preamble.size() + EstimateBytes(dump, o, 32));
  out += preamble;
  absl::StrAppendFormat(&out, "weft: %d green threads\n", dump.threads.size());
  for (const ThreadDump& d : dump.threads) {
    out += "\n";
    AppendThreadText(out, d, o, dump.now_ns);
  }
  return out;
}

std::string FormatJson(const Dump& dump, const DumpStyle& o, std::string_view members) {
  std::string out;
  ReserveHugePages(&out, members.size() + EstimateBytes(dump, o, 64));
  out += "{";
  out += members;
  out += "\"threads\":[";
  for (size_t i = 0; i < dump.threads.size(); ++i) {
    const ThreadDump& d = dump.threads[i];
    const threads::ThreadInfo& t = d.info;
    if (i > 0) out += ",";
    absl::StrAppendFormat(&out, "{\"id\":%d,\"name\":%s,\"state\":\"%s\",\"worker\":%d,"
                          "\"detached\":%s,\"wait\":",
                          t.id, JsonString(d.name), threads::ThreadStateName(t.state),
                          t.worker, t.detached ? "true" : "false");
    if (t.wait_reason == threads::WaitReason::kNone) {
      out += "null";
    } else {
      // No object (a sleep) is null, as the text prints none.
      absl::StrAppendFormat(
          &out, "{\"reason\":\"%s\",\"object\":%s,\"seconds\":%.3f",
          threads::WaitReasonName(t.wait_reason),
          t.wait_object == nullptr ? "null" : absl::StrFormat("\"%p\"", t.wait_object),
          t.blocked_since_ns > 0 ? (dump.now_ns - t.blocked_since_ns) / 1e9 : 0.0);
      // An fd wait's object is the descriptor: the number, as the text prints it.
      if (t.wait_reason == threads::WaitReason::kFdReadable ||
          t.wait_reason == threads::WaitReason::kFdWritable) {
        absl::StrAppend(&out, ",\"fd\":", reinterpret_cast<uintptr_t>(t.wait_object));
      }
      out += "}";
    }
    out += ",\"frames\":[";
    for (size_t j = 0; j < d.frames.size(); ++j) {
      const DumpFrame& f = d.frames[j];
      if (j > 0) out += ",";
      absl::StrAppendFormat(&out, "{\"name\":%s,\"info\":%d,\"slots\":[", JsonString(f.name),
                            f.info);
      for (size_t k = 0; k < f.slots.size(); ++k) {
        if (k > 0) out += ",";
        absl::StrAppendFormat(&out, "{\"index\":%d,\"value\":%s", f.slots[k].index,
                              JsonString(f.slots[k].text));
        if (o.roots) absl::StrAppendFormat(&out, ",\"retained_bytes\":%d", f.slots[k].retained);
        out += "}";
      }
      out += "]}";
    }
    out += "],\"native\":[";
    for (size_t j = 0; j < d.native.size(); ++j) {
      if (j > 0) out += ",";
      absl::StrAppendFormat(&out, "{\"pc\":\"0x%x\",\"symbol\":%s}", d.native[j].pc,
                            JsonString(*d.native[j].symbol));
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

}  // namespace

std::string JsonString(std::string_view s) { return Quote(s, s.size()); }

bool MatchesFilters(uint64_t id, std::string_view name, threads::ThreadState state,
                    std::string_view thread_filter, std::string_view state_filter) {
  if (!thread_filter.empty() && thread_filter != std::string_view(absl::StrCat(id)) &&
      thread_filter != name) {
    return false;
  }
  return state_filter.empty() || state_filter == threads::ThreadStateName(state);
}

void AppendThreadText(std::string& out, const ThreadDump& d, const DumpStyle& o,
                      int64_t now) {
  const threads::ThreadInfo& t = d.info;
  absl::StrAppendFormat(&out, "thread %d \"%s\" %s%s, worker %d%s\n", t.id, d.name,
                        threads::ThreadStateName(t.state), WaitText(t, now), t.worker,
                        t.detached ? ", detached" : "");
  if (t.running_unstopped) {
    absl::StrAppendFormat(&out, "  managed stack: not read (running on worker %d, not stopped)\n",
                          t.worker);
  } else if (d.frames.empty()) {
    out += "  managed stack: empty\n";
  }
  for (const DumpFrame& f : d.frames) {
    absl::StrAppendFormat(&out, "  frame %s (info %d)\n", f.name, f.info);
    for (const DumpSlot& s : f.slots) {
      absl::StrAppendFormat(&out, "    [%d] %s", s.index, s.text);
      if (o.roots) absl::StrAppendFormat(&out, "  (keeps %d bytes alive)", s.retained);
      out += "\n";
    }
  }
  if (o.native_backtraces) {
    if (!d.native_note.empty()) absl::StrAppendFormat(&out, "  native: %s\n", d.native_note);
    for (size_t i = 0; i < d.native.size(); ++i) {
      // "  #%-2d 0x%x %s": StrAppend, as this runs once per frame of every thread.
      absl::StrAppend(&out, "  #", i, i < 10 ? "  0x" : " 0x", absl::Hex(d.native[i].pc), " ",
                      *d.native[i].symbol, "\n");
    }
  }
}

std::string FormatDump(const Dump& dump, const DumpStyle& style, std::string_view text_preamble,
                       std::string_view json_members) {
  return style.json ? FormatJson(dump, style, json_members)
                    : FormatText(dump, style, text_preamble);
}

std::string DescribeImmediate(heap::Value v) {
  if (v.IsFixnum()) return absl::StrCat("fixnum ", v.FixnumValue());
  if (v.IsNil()) return "nil";
  if (v.IsTrue()) return "#t";
  if (v.IsFalse()) return "#f";
  if (v.IsUnbound()) return "unbound";
  if (v.IsChar()) return absl::StrFormat("char U+%04X", static_cast<uint32_t>(v.CharValue()));
  if (v.IsFrameMarker()) return "frame-marker";
  return absl::StrFormat("invalid 0x%x", v.raw);
}

std::string DescribeObject(const ObjectFacts& f) {
  const void* p = reinterpret_cast<const void*>(f.address);
  switch (f.kind) {
    case ObjectKind::kPair: return absl::StrFormat("pair %p gen %d", p, f.generation);
    case ObjectKind::kVector:
      return absl::StrFormat("vector[%d] %p gen %d", f.length, p, f.generation);
    case ObjectKind::kString: return absl::StrFormat("string %s", Quote(f.string, 40));
    case ObjectKind::kBytes:
      return absl::StrFormat("bytes[%d] %p gen %d", f.length, p, f.generation);
    case ObjectKind::kRecord:
      return absl::StrFormat("record %s %p gen %d",
                             f.record_name.empty() ? std::string("?") : std::string(f.record_name), p, f.generation);
    default: return absl::StrFormat("corrupt-object %p", p);
  }
}

uint64_t RetainedBytes(heap::Value v,
                       absl::FunctionRef<const heap::Object*(heap::Value)> resolve) {
  if (!v.IsPointer()) return 0;
  absl::flat_hash_set<const heap::Object*> seen;
  std::vector<heap::Value> work = {v};
  uint64_t total = 0;
  while (!work.empty()) {
    heap::Value next = work.back();
    work.pop_back();
    const heap::Object* o = resolve(next);
    if (o == nullptr || !seen.insert(o).second) continue;
    total += heap::ObjectSize(o);
    size_t n = heap::ReferenceCount(o);
    for (size_t i = 0; i < n; ++i) {
      if (o->slots()[i].IsPointer()) work.push_back(o->slots()[i]);
    }
  }
  return total;
}

}  // namespace weft
