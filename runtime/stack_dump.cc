#include "runtime/stack_dump.h"

#include <time.h>
#include <ucontext.h>

#include <cstdint>
#include <vector>

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

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Resolve: a slot's object in the live heap, or nullptr outside the arena.
const Object* Resolve(heap::Heap& heap, heap::Value v) {
  if (!v.IsPointer() || !heap.arena().Contains(v.AsObject())) return nullptr;
  return v.AsObject();
}

std::vector<DumpFrame> DecodeManagedStack(heap::Heap& heap, threads::ManagedStack* stack,
                                          bool roots) {
  std::vector<DumpFrame> frames;
  frames.push_back(DumpFrame{"(below the first frame)", 0, {}});
  size_t index = 0;
  bool expect_info = false;
  stack->ForEachSegment([&](uint64_t* begin, uint64_t* end) {
    for (uint64_t* p = begin; p < end; ++p, ++index) {
      heap::Value v{*p};
      if (v.IsFrameMarker()) {
        const char* name = reinterpret_cast<const char*>(v.FrameMarkerPayload());
        frames.push_back(DumpFrame{name != nullptr ? name : "?", 0, {}});
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
      DumpSlot s{index, DescribeValue(heap, v), 0, v.raw};
      if (roots) {
        s.retained = RetainedBytes(v, [&](heap::Value r) { return Resolve(heap, r); });
      }
      frames.back().slots.push_back(std::move(s));
    }
  });
  if (frames.front().slots.empty()) frames.erase(frames.begin());
  return frames;
}

// SymbolCache: one dump symbolizes each distinct return address once (100k blocked
// threads share a handful of them), into the Dump's `symbols`.
class SymbolCache {
 public:
  explicit SymbolCache(Dump& dump) : names_(dump.symbols) {}
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
  absl::node_hash_map<uintptr_t, std::string>& names_;
};

// UnwindFrom walks frame pointers from (pc, rbp) within the stack [sp, hi).
std::vector<DumpNativeFrame> UnwindFrom(SymbolCache& symbols, uintptr_t pc, uintptr_t rbp,
                                       uintptr_t sp, uintptr_t hi) {
  std::vector<DumpNativeFrame> out;
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
std::vector<DumpNativeFrame> UnwindSuspended(SymbolCache& symbols,
                                             const threads::ThreadInfo& t) {
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
std::vector<DumpNativeFrame> UnwindSignalContext(SymbolCache& symbols,
                                                 const threads::ThreadInfo& t,
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

std::vector<DumpNativeFrame> Symbolized(SymbolCache& symbols, std::span<void* const> pcs) {
  std::vector<DumpNativeFrame> out;
  for (void* p : pcs) {
    auto pc = reinterpret_cast<uintptr_t>(p);
    out.push_back({pc, symbols.Symbolize(pc)});
  }
  return out;
}

std::vector<DumpNativeFrame> UnwindSelf(SymbolCache& symbols) {
  void* pcs[64];
  int n = absl::GetStackTrace(pcs, 64, 1);
  return Symbolized(symbols, std::span<void* const>(pcs, n));
}

// DumpOne decodes one thread. `self` is the calling green thread's id (0: none);
// `signal_context` the ucontext of a fatal signal taken on `self`, or nullptr;
// `self_pcs` self's backtrace if already taken.
ThreadDump DumpOne(heap::Heap& heap, SymbolCache& symbols, const threads::ThreadInfo& t,
                   const DumpStyle& style, uint64_t self, const void* signal_context,
                   std::span<void* const> self_pcs = {}) {
  ThreadDump d;
  d.info = t;
  d.name = std::string(t.name);
  d.info.name = {};
  if (t.managed_stack != nullptr) {
    d.frames = DecodeManagedStack(heap, t.managed_stack, style.roots);
  }
  if (style.native_backtraces) {
    if (t.id == self && signal_context != nullptr) {
      d.native = UnwindSignalContext(symbols, t, signal_context);
    } else if (t.id == self) {
      d.native = self_pcs.empty() ? UnwindSelf(symbols) : Symbolized(symbols, self_pcs);
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

DumpStyle StyleOf(const DumpOptions& o) {
  return DumpStyle{o.json, o.native_backtraces, o.roots};
}

}  // namespace

std::string DescribeValue(heap::Heap& heap, heap::Value v) {
  if (!v.IsPointer()) return DescribeImmediate(v);
  Object* o = v.AsObject();
  if (!heap.arena().Contains(o)) return absl::StrFormat("invalid-pointer %p", o);
  ObjectFacts f;
  f.kind = o->kind();
  f.address = reinterpret_cast<uint64_t>(o);
  f.generation = heap.GenerationOf(o);
  f.length = o->IsPair() ? 0 : o->length();  // a pair has no header
  if (f.kind == ObjectKind::kString) f.string = o->string_view();
  if (f.kind == ObjectKind::kRecord) {
    const heap::RecordLayout* layout = heap.layouts().Get(o->aux());
    if (layout != nullptr) f.record_name = layout->name;
  }
  return DescribeObject(f);
}

std::string BuildDump(heap::Heap& heap, threads::Scheduler& scheduler,
                      const DumpOptions& options) {
  Dump dump;
  uint64_t self = SelfId();
  SymbolCache symbols(dump);
  DumpStyle style = StyleOf(options);
  dump.threads.reserve(scheduler.Stats().live);
  scheduler.ForEachThread([&](const threads::ThreadInfo& t) {
    if (!MatchesFilters(t.id, t.name, t.state, options.thread_filter, options.state_filter)) {
      return;
    }
    dump.threads.push_back(DumpOne(heap, symbols, t, style, self, nullptr));
  });
  dump.now_ns = MonotonicNanos();
  return FormatDump(dump, style);
}

std::string FormatThread(heap::Heap& heap, const threads::ThreadInfo& t) {
  Dump dump;
  DumpStyle style;
  SymbolCache symbols(dump);
  std::string out;
  AppendThreadText(out, DumpOne(heap, symbols, t, style, SelfId(), nullptr), style,
                   MonotonicNanos());
  return out;
}

bool TakeFatalDump(heap::Heap& heap, threads::Scheduler& scheduler, const void* signal_context,
                   std::span<void* const> self_pcs, Dump* dump) {
  uint64_t self = SelfId();
  DumpStyle style;
  SymbolCache symbols(*dump);
  bool complete = scheduler.ForEachThreadForFatal([&](const threads::ThreadInfo& t) {
    dump->threads.push_back(DumpOne(heap, symbols, t, style, self, signal_context, self_pcs));
  });
  dump->now_ns = MonotonicNanos();
  return complete;
}

std::string BuildFatalDump(heap::Heap& heap, threads::Scheduler& scheduler,
                           const void* signal_context) {
  Dump dump;
  if (!TakeFatalDump(heap, scheduler, signal_context, {}, &dump)) {
    return "weft: the green-thread registry stayed locked: no dump\n";
  }
  return FormatDump(dump, DumpStyle{});
}

}  // namespace weft
