#include "runtime/stack_dump.h"

#include <time.h>
#include <ucontext.h>

#include <cstdint>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "heap/object.h"
#include "threads/managed_stack.h"
#include "threads/this_thread.h"

namespace weft {
namespace {

using heap::Object;
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

std::string JsonString(std::string_view s) { return Quote(s, s.size()); }

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

struct Slot {
  size_t index;
  std::string text;
  uint64_t retained = 0;
};

struct Frame {
  std::string name;
  int64_t info = 0;
  std::vector<Slot> slots;
};

struct NativeFrame {
  uintptr_t pc;
  const std::string* symbol;  // owned by the dump's SymbolCache
};

// RetainedBytes: bytes of every object reachable from `v`.
uint64_t RetainedBytes(heap::Value v) {
  if (!v.IsPointer()) return 0;
  absl::flat_hash_set<Object*> seen;
  std::vector<Object*> work = {v.AsObject()};
  uint64_t total = 0;
  while (!work.empty()) {
    Object* o = work.back();
    work.pop_back();
    if (!seen.insert(o).second) continue;
    total += heap::ObjectSize(o);
    heap::ForEachReference(o, [&](heap::Value* s) {
      if (s->IsPointer()) work.push_back(s->AsObject());
    });
  }
  return total;
}

std::vector<Frame> DecodeManagedStack(heap::Heap& heap, threads::ManagedStack* stack,
                                      bool roots) {
  std::vector<Frame> frames;
  frames.push_back(Frame{"(below the first frame)", 0, {}});
  size_t index = 0;
  bool expect_info = false;
  stack->ForEachSegment([&](uint64_t* begin, uint64_t* end) {
    for (uint64_t* p = begin; p < end; ++p, ++index) {
      heap::Value v{*p};
      if (v.IsFrameMarker()) {
        const char* name = reinterpret_cast<const char*>(v.FrameMarkerPayload());
        frames.push_back(Frame{name != nullptr ? name : "?", 0, {}});
        expect_info = true;
        continue;
      }
      if (expect_info) {
        expect_info = false;
        if (v.IsFixnum()) {
          frames.back().info = v.FixnumValue();
          continue;
        }
      }
      Slot s{index, DescribeValue(heap, v)};
      if (roots) s.retained = RetainedBytes(v);
      frames.back().slots.push_back(std::move(s));
    }
  });
  if (frames.front().slots.empty()) frames.erase(frames.begin());
  return frames;
}

// SymbolCache: one dump symbolizes each distinct return address once (100k blocked
// threads share a handful of them).
class SymbolCache {
 public:
  const std::string* Symbolize(uintptr_t pc) {
    auto [it, inserted] = names_.try_emplace(pc);
    if (inserted) {
      char buf[1024];
      // pc is a return address: look up the call instruction before it.
      it->second =
          absl::Symbolize(reinterpret_cast<void*>(pc - 1), buf, sizeof(buf)) ? buf : "??";
    }
    return &it->second;
  }

 private:
  absl::node_hash_map<uintptr_t, std::string> names_;  // pointer-stable values
};

// UnwindFrom walks frame pointers from (pc, rbp) within the stack [sp, hi).
std::vector<NativeFrame> UnwindFrom(SymbolCache& symbols, uintptr_t pc, uintptr_t rbp,
                                   uintptr_t sp, uintptr_t hi) {
  std::vector<NativeFrame> out;
  out.push_back({pc, symbols.Symbolize(pc)});
  for (int depth = 0; depth < 64; ++depth) {
    if (rbp < sp || rbp + 2 * sizeof(uintptr_t) > hi || rbp % sizeof(uintptr_t) != 0) break;
    const uintptr_t* frame = reinterpret_cast<const uintptr_t*>(rbp);
    uintptr_t ret = frame[1];
    if (ret == 0) break;
    out.push_back({ret, symbols.Symbolize(ret)});
    if (frame[0] <= rbp) break;  // frames grow upwards as we unwind
    rbp = frame[0];
  }
  return out;
}

// UnwindSuspended walks frame pointers from a fiber's saved context. Boost.Context's
// x86-64 jump_fcontext leaves, at the saved stack pointer: the FPU control words,
// r12, r13, r14, r15, rbx, rbp, then the return address ([runtime.dump.fcontext]).
std::vector<NativeFrame> UnwindSuspended(SymbolCache& symbols, const threads::ThreadInfo& t) {
#if defined(__x86_64__)
  auto lo = reinterpret_cast<uintptr_t>(t.stack_low);
  auto hi = reinterpret_cast<uintptr_t>(t.stack_high);
  auto sp = reinterpret_cast<uintptr_t>(t.saved_sp);
  if (sp < lo || sp + 8 * sizeof(uintptr_t) > hi) return {};
  const uintptr_t* saved = reinterpret_cast<const uintptr_t*>(sp);
  return UnwindFrom(symbols, saved[7], saved[6], sp, hi);
#else
  return {};
#endif
}

// UnwindSignalContext: the interrupted code of a fatal signal (a native stack
// overflow, whose handler runs on the alternate signal stack), by frame pointers
// from the ucontext's rip and rbp, within the thread's native stack.
std::vector<NativeFrame> UnwindSignalContext(SymbolCache& symbols, const threads::ThreadInfo& t,
                                            const void* uc) {
#if defined(__x86_64__)
  const auto* u = static_cast<const ucontext_t*>(uc);
  auto pc = static_cast<uintptr_t>(u->uc_mcontext.gregs[REG_RIP]);
  auto rbp = static_cast<uintptr_t>(u->uc_mcontext.gregs[REG_RBP]);
  auto sp = static_cast<uintptr_t>(u->uc_mcontext.gregs[REG_RSP]);
  auto lo = reinterpret_cast<uintptr_t>(t.stack_low);
  if (sp < lo) sp = lo;  // the faulting push may have moved rsp into the guard page
  return UnwindFrom(symbols, pc, rbp, sp, reinterpret_cast<uintptr_t>(t.stack_high));
#else
  return {};
#endif
}

std::vector<NativeFrame> UnwindSelf(SymbolCache& symbols) {
  void* pcs[64];
  int n = absl::GetStackTrace(pcs, 64, 1);
  std::vector<NativeFrame> out;
  for (int i = 0; i < n; ++i) {
    auto pc = reinterpret_cast<uintptr_t>(pcs[i]);
    out.push_back({pc, symbols.Symbolize(pc)});
  }
  return out;
}

struct ThreadDump {
  threads::ThreadInfo info;
  std::string name;
  std::vector<Frame> frames;
  std::vector<NativeFrame> native;
  std::string native_note;
};

bool Matches(const threads::ThreadInfo& t, const DumpOptions& o) {
  if (!o.thread_filter.empty() && o.thread_filter != absl::StrCat(t.id) &&
      o.thread_filter != t.name) {
    return false;
  }
  if (!o.state_filter.empty() && o.state_filter != threads::ThreadStateName(t.state)) {
    return false;
  }
  return true;
}

std::string WaitText(const threads::ThreadInfo& t, int64_t now) {
  if (t.wait_reason == threads::WaitReason::kNone) return "";
  std::string s = absl::StrCat(" waiting on ", threads::WaitReasonName(t.wait_reason));
  if (t.wait_object != nullptr) {
    if (t.wait_reason == threads::WaitReason::kFdReadable ||
        t.wait_reason == threads::WaitReason::kFdWritable) {
      absl::StrAppend(&s, " fd ", reinterpret_cast<uintptr_t>(t.wait_object));
    } else {
      absl::StrAppendFormat(&s, " %p", t.wait_object);
    }
  }
  if (t.blocked_since_ns > 0) {
    absl::StrAppendFormat(&s, " for %.3fs", (now - t.blocked_since_ns) / 1e9);
  }
  return s;
}

void AppendThreadText(std::string& out, const ThreadDump& d, const DumpOptions& o,
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
  for (const Frame& f : d.frames) {
    absl::StrAppendFormat(&out, "  frame %s (info %d)\n", f.name, f.info);
    for (const Slot& s : f.slots) {
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

std::string FormatText(const std::vector<ThreadDump>& dumps, const DumpOptions& o,
                       int64_t now) {
  std::string out = absl::StrFormat("weft: %d green threads\n", dumps.size());
  for (const ThreadDump& d : dumps) {
    out += "\n";
    AppendThreadText(out, d, o, now);
  }
  return out;
}

std::string FormatJson(const std::vector<ThreadDump>& dumps, const DumpOptions& o,
                       int64_t now) {
  std::string out = "{\"threads\":[";
  for (size_t i = 0; i < dumps.size(); ++i) {
    const ThreadDump& d = dumps[i];
    const threads::ThreadInfo& t = d.info;
    if (i > 0) out += ",";
    absl::StrAppendFormat(&out, "{\"id\":%d,\"name\":%s,\"state\":\"%s\",\"worker\":%d,"
                          "\"detached\":%s,\"wait\":",
                          t.id, JsonString(d.name), threads::ThreadStateName(t.state),
                          t.worker, t.detached ? "true" : "false");
    if (t.wait_reason == threads::WaitReason::kNone) {
      out += "null";
    } else {
      absl::StrAppendFormat(&out, "{\"reason\":\"%s\",\"object\":\"%p\",\"seconds\":%.3f}",
                            threads::WaitReasonName(t.wait_reason), t.wait_object,
                            t.blocked_since_ns > 0 ? (now - t.blocked_since_ns) / 1e9 : 0.0);
    }
    out += ",\"frames\":[";
    for (size_t j = 0; j < d.frames.size(); ++j) {
      const Frame& f = d.frames[j];
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

std::string DescribeValue(heap::Heap& heap, heap::Value v) {
  if (v.IsFixnum()) return absl::StrCat("fixnum ", v.FixnumValue());
  if (v.IsNil()) return "nil";
  if (v.IsTrue()) return "#t";
  if (v.IsFalse()) return "#f";
  if (v.IsUnbound()) return "unbound";
  if (v.IsChar()) return absl::StrFormat("char U+%04X", static_cast<uint32_t>(v.CharValue()));
  if (v.IsFrameMarker()) return "frame-marker";
  if (!v.IsPointer()) return absl::StrFormat("invalid 0x%x", v.raw);
  Object* o = v.AsObject();
  if (!heap.arena().Contains(o)) return absl::StrFormat("invalid-pointer %p", o);
  int gen = heap.GenerationOf(o);
  switch (o->kind()) {
    case ObjectKind::kPair: return absl::StrFormat("pair %p gen %d", o, gen);
    case ObjectKind::kVector:
      return absl::StrFormat("vector[%d] %p gen %d", o->length(), o, gen);
    case ObjectKind::kString:
      return absl::StrFormat("string %s", Quote(o->string_view(), 40));
    case ObjectKind::kBytes: return absl::StrFormat("bytes[%d] %p gen %d", o->length(), o, gen);
    case ObjectKind::kRecord: {
      const heap::RecordLayout* layout = heap.layouts().Get(o->aux());
      return absl::StrFormat("record %s %p gen %d", layout ? layout->name : "?", o, gen);
    }
    default: return absl::StrFormat("corrupt-object %p", o);
  }
}

namespace {

// DumpOne decodes one thread. `self` is the calling green thread's id (0: none);
// `signal_context` the ucontext of a fatal signal taken on `self`, or nullptr.
ThreadDump DumpOne(heap::Heap& heap, SymbolCache& symbols, const threads::ThreadInfo& t,
                   const DumpOptions& options, uint64_t self, const void* signal_context) {
  ThreadDump d;
  d.info = t;
  d.name = std::string(t.name);
  d.info.name = {};
  if (t.managed_stack != nullptr) {
    d.frames = DecodeManagedStack(heap, t.managed_stack, options.roots);
  }
  if (options.native_backtraces) {
    if (t.id == self && signal_context != nullptr) {
      d.native = UnwindSignalContext(symbols, t, signal_context);
    } else if (t.id == self) {
      d.native = UnwindSelf(symbols);
    } else if (t.saved_sp != nullptr) {
      d.native = UnwindSuspended(symbols, t);
    } else if (t.running_unstopped) {
      d.native_note = absl::StrFormat("running on worker %d, not stopped (no saved context)",
                                      t.worker);
    } else if (t.state == threads::ThreadState::kRunning) {
      d.native_note = "running at a safepoint on another worker (no saved context)";
    }
  }
  return d;
}

uint64_t SelfId() {
  return threads::this_thread::InGreenThread() ? threads::this_thread::Id() : 0;
}

}  // namespace

std::string BuildDump(heap::Heap& heap, threads::Scheduler& scheduler,
                      const DumpOptions& options) {
  std::vector<ThreadDump> dumps;
  uint64_t self = SelfId();
  SymbolCache symbols;
  scheduler.ForEachThread([&](const threads::ThreadInfo& t) {
    if (!Matches(t, options)) return;
    dumps.push_back(DumpOne(heap, symbols, t, options, self, nullptr));
  });
  int64_t now = MonotonicNanos();
  return options.json ? FormatJson(dumps, options, now) : FormatText(dumps, options, now);
}

std::string FormatThread(heap::Heap& heap, const threads::ThreadInfo& t) {
  DumpOptions o;
  std::string out;
  SymbolCache symbols;
  AppendThreadText(out, DumpOne(heap, symbols, t, o, SelfId(), nullptr), o, MonotonicNanos());
  return out;
}

std::string BuildFatalDump(heap::Heap& heap, threads::Scheduler& scheduler,
                           const void* signal_context) {
  std::vector<ThreadDump> dumps;
  uint64_t self = SelfId();
  DumpOptions o;
  SymbolCache symbols;
  bool complete = scheduler.ForEachThreadForFatal([&](const threads::ThreadInfo& t) {
    dumps.push_back(DumpOne(heap, symbols, t, o, self, signal_context));
  });
  if (!complete) return "weft: the green-thread registry stayed locked: no dump\n";
  return FormatText(dumps, o, MonotonicNanos());
}

}  // namespace weft
