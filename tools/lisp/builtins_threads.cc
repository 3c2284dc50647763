// builtins_threads.cc: green threads, channels, mutexes, wait groups and heap control.
//
// Native objects (weft::Thread, Channel, Mutex, WaitGroup) live in Interp's tables;
// Lisp sees records whose raw bytes hold the table index. A spawned thread's
// uncaught error ends that thread only: join re-raises it in the joiner, and one that
// no join observed is reported when the program ends (and fails the run).
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tools/lisp/interp.h"
#include "tools/lisp/printer.h"

namespace weft::lisp {

Local Interp::SpawnThread(Ctx& c, Local thunk, std::string name) {
  // [lisp.limits]: counts spawns (entries are reused, so the table's size does not).
  const uint64_t number = NextThreadNumber();
  if (max_threads > 0 && number > uint64_t(max_threads)) {
    RaiseNative(c.ts, "thread-limit", absl::StrCat("thread limit exceeded (", max_threads, " spawns)"));
  }
  auto entry = std::make_unique<ThreadEntry>();
  entry->name = name.empty() ? absl::StrCat("thread-", number) : std::move(name);
  ThreadEntry* e = entry.get();
  size_t index = AddThread(std::move(entry));
  Local record = WrapThread(index);
  auto* start = new weft::Global(thunk);
  SpawnOptions options;
  options.name = e->name;
  options.native_stack_bytes = thread_native_stack;
  size_t stack = thread_native_stack;
  Interp* self = this;
  e->thread = Spawn(
      [self, start, index, e, stack]() -> Local {
        Scope s(e->name.c_str());
        ThreadState ts;
        self->InitThreadState(&ts, stack);
        ts.thread_index = index;
        e->id.store(CurrentThreadId());
        Local proc = start->Get();
        delete start;
        std::optional<LispError> failure;
        try {
          try {
            return s.Escape(CallFromNative(&ts, proc, Args()));
          } catch (const TypeError& ex) {
            throw self->FromNative(&ts, ex);
          } catch (const StackOverflow& ex) {
            throw self->FromNative(&ts, ex);
          } catch (const HeapExhausted& ex) {
            throw self->FromNative(&ts, ex);
          } catch (const ChannelClosed& ex) {
            throw self->FromNative(&ts, ex);
          }
        } catch (const LispError& ex) {
          failure = ex;
        }
        // Keep the condition for join; the report for the end of the run.
        Local condition = self->Materialize(&ts, *failure);
        e->result = std::make_unique<weft::Global>(condition);
        e->failure_report = Interp::Report(*failure, absl::StrCat(" in thread ", e->name));
        e->failed = true;
        return s.Escape(condition);
      },
      options);
  e->id.store(e->thread.id());
  return record;
}

void Interp::JoinEntry(ThreadEntry* e) {
  e->join_mu.Lock();
  struct Unlock {
    Mutex* m;
    ~Unlock() { m->Unlock(); }
  } unlock{&e->join_mu};
  if (e->joined) return;
  try {
    Local r = e->thread.Join();
    if (!e->failed) e->result = std::make_unique<weft::Global>(r);
  } catch (const std::exception& ex) {
    // Thread bodies catch every Lisp error; this is a native failure.
    if (!e->failed) {
      e->failed = true;
      e->failure_report = absl::StrCat("error in thread ", e->name, ": ", ex.what(), "\n");
      e->result = std::make_unique<weft::Global>(MakeCondition("error", ex.what(), NilLocal()));
    }
  }
  e->joined = true;
}

namespace {

Interp& In(Ctx& c) { return c.interp(); }

size_t NativeArg(Ctx& c, const char* proc, Args a, int i, RecordType type, const char* expected) {
  if (!In(c).IsRecordOf(a[size_t(i)], type)) TypeFail(c, proc, i + 1, expected, a[size_t(i)]);
  return In(c).NativeIndex(a[size_t(i)]);
}

// (spawn thunk [name])
Local SpawnP(Ctx& c, Args a) {
  if (!In(c).IsProcedure(a[0])) TypeFail(c, "spawn", 1, "a procedure", a[0]);
  std::string name;
  if (a.size() > 1) {
    if (a[1].kind() == Kind::kString) {
      name = std::string(StringView(a[1]));
    } else if (In(c).IsSymbol(a[1])) {
      name = In(c).SymbolName(In(c).SymbolId(a[1]));
    } else {
      TypeFail(c, "spawn", 2, "a string or symbol name", a[1]);
    }
  }
  return In(c).SpawnThread(c, a[0], std::move(name));
}

// (join t): the thread's result; re-raises its uncaught error.
Local Join(Ctx& c, Args a) {
  Interp& in = In(c);
  size_t index = NativeArg(c, "join", a, 0, in.thread_type(), "a thread");
  ThreadEntry* e = in.ThreadAt(index);
  if (!e->thread.valid()) in.RaiseNative(c.ts, "thread-error", "join: cannot join the main thread");
  in.JoinEntry(e);
  Local r = e->result->Get();
  if (e->failed) {
    e->failure_observed = true;
    in.RaiseObject(c.ts, r,
                   absl::StrCat("thread ", e->name, " failed: ",
                                in.IsCondition(r) ? std::string(StringView(RecordRef(r, 1)))
                                                     : ToMessageString(in, r, c.ts)));
  }
  return r;
}

Local YieldP(Ctx& c, Args a) {
  weft::Yield();
  return In(c).Void();
}

Local Sleep(Ctx& c, Args a) {
  int64_t ms = ArgFixnum(c, "sleep", a, 0);
  if (ms < 0) TypeFail(c, "sleep", 1, "a non-negative number of milliseconds", a[0]);
  In(c).ChargeSleep(c.ts, ms);
  weft::SleepFor(absl::Milliseconds(ms));
  return In(c).Void();
}

Local CurrentThread(Ctx& c, Args a) { return In(c).WrapThread(c.ts->thread_index); }

Local ThreadName(Ctx& c, Args a) {
  size_t index = NativeArg(c, "thread-name", a, 0, In(c).thread_type(), "a thread");
  return MakeString(In(c).ThreadAt(index)->name);
}

Local IsThread(Ctx& c, Args a) { return BoolLocal(c, In(c).IsRecordOf(a[0], In(c).thread_type())); }

// (make-channel [capacity])
Local MakeChannel(Ctx& c, Args a) {
  int64_t cap = a.empty() ? 0 : ArgFixnum(c, "make-channel", a, 0);
  if (cap < 0) TypeFail(c, "make-channel", 1, "a non-negative capacity", a[0]);
  return In(c).NewChannel(Channel::Make(size_t(cap)));
}

Channel ChannelArg(Ctx& c, const char* proc, Args a) {
  return In(c).ChannelAt(NativeArg(c, proc, a, 0, In(c).channel_type(), "a channel"));
}

Local Send(Ctx& c, Args a) {
  Channel ch = ChannelArg(c, "send", a);
  ch.Send(a[1]);
  return In(c).Void();
}

Local Recv(Ctx& c, Args a) {
  Channel ch = ChannelArg(c, "recv", a);
  std::optional<Local> v = ch.Recv();
  return v ? *v : In(c).Eof();
}

Local Close(Ctx& c, Args a) {
  In(c).CloseChannel(c.ts, NativeArg(c, "close", a, 0, In(c).channel_type(), "a channel"));
  return In(c).Void();
}

Local IsChannel(Ctx& c, Args a) { return BoolLocal(c, In(c).IsRecordOf(a[0], In(c).channel_type())); }

Local MakeMutex(Ctx& c, Args a) { return In(c).NewMutex(); }

Mutex* MutexArg(Ctx& c, const char* proc, Args a) {
  return In(c).MutexAt(NativeArg(c, proc, a, 0, In(c).mutex_type(), "a mutex"));
}

Local MutexLock(Ctx& c, Args a) {
  MutexArg(c, "mutex-lock!", a)->Lock();
  return In(c).Void();
}
// Unlocking an unlocked mutex is an error: weft::Mutex refuses it with TypeError and
// changes nothing. (Like Go, any thread may unlock a locked mutex.)
Local MutexUnlock(Ctx& c, Args a) {
  Mutex* m = MutexArg(c, "mutex-unlock!", a);
  try {
    m->Unlock();
  } catch (const TypeError&) {  // weft::Mutex refuses an unlock of an unlocked mutex
    In(c).RaiseNative(c.ts, "mutex-error", "mutex-unlock!: the mutex is not locked");
  }
  return In(c).Void();
}

Local MakeWaitGroup(Ctx& c, Args a) { return In(c).NewWaitGroup(); }

WaitGroup* WaitGroupArg(Ctx& c, const char* proc, Args a) {
  return In(c).WaitGroupAt(NativeArg(c, proc, a, 0, In(c).waitgroup_type(), "a wait group"));
}

Local WaitGroupAdd(Ctx& c, Args a) {
  size_t wg = NativeArg(c, "wait-group-add", a, 0, In(c).waitgroup_type(), "a wait group");
  In(c).WaitGroupAdd(c.ts, wg, a.size() > 1 ? ArgFixnum(c, "wait-group-add", a, 1) : 1);
  return In(c).Void();
}
Local WaitGroupDone(Ctx& c, Args a) {
  In(c).WaitGroupAdd(c.ts, NativeArg(c, "wait-group-done", a, 0, In(c).waitgroup_type(), "a wait group"), -1);
  return In(c).Void();
}
Local WaitGroupWait(Ctx& c, Args a) {
  WaitGroupArg(c, "wait-group-wait", a)->Wait();
  return In(c).Void();
}

// ---------------------------------------------------------------------------------
// Heap control.

Local CollectP(Ctx& c, Args a) {
  int gen = a.empty() ? -1 : int(ArgFixnum(c, "collect", a, 0));
  weft::Collect(gen);
  return In(c).Void();
}

Local Entry(Interp& in, const char* key, Local value) { return Cons(in.SymbolNamed(key), value); }

Local ListOf(const std::vector<uint64_t>& v) {
  Local r = NilLocal();
  for (size_t i = v.size(); i-- > 0;) r = Cons(FxMake(int64_t(std::min<uint64_t>(v[i], kFixnumMax))), r);
  return r;
}

Local Fx(uint64_t v) { return FxMake(int64_t(std::min<uint64_t>(v, kFixnumMax))); }

// (heap-stats): an association list of weft::GetStats().
Local HeapStats(Ctx& c, Args a) {
  Interp& in = In(c);
  Stats s = weft::GetStats();
  uint64_t collections = 0;
  for (uint64_t n : s.collections) collections += n;
  const std::array<size_t, 4> tables = In(c).NativeTableSizes();
  std::vector<std::pair<const char*, std::function<Local()>>> fields = {
      {"bytes-allocated", [&] { return Fx(s.bytes_allocated); }},
      {"generation-bytes", [&] { return ListOf(s.generation_bytes); }},
      {"collections", [&] { return ListOf(s.collections); }},
      {"total-collections", [&] { return Fx(collections); }},
      {"promoted-bytes", [&] { return Fx(s.promoted_bytes); }},
      {"promoted-in-place-bytes", [&] { return Fx(s.promoted_in_place_bytes); }},
      {"total-pause-us", [&] { return Fx(uint64_t(absl::ToInt64Microseconds(s.total_pause))); }},
      {"max-pause-us", [&] { return Fx(uint64_t(absl::ToInt64Microseconds(s.max_pause))); }},
      {"pause-histogram", [&] { return ListOf(s.pause_histogram); }},
      {"heap-committed-bytes", [&] { return Fx(s.heap_committed_bytes); }},
      {"free-retained-bytes", [&] { return Fx(s.free_retained_bytes); }},
      {"soft-limit-bytes", [&] { return Fx(s.soft_limit_bytes); }},
      {"threads-runnable", [&] { return Fx(s.threads_runnable); }},
      {"threads-running", [&] { return Fx(s.threads_running); }},
      {"threads-blocked", [&] { return Fx(s.threads_blocked); }},
      {"threads-sleeping", [&] { return Fx(s.threads_sleeping); }},
      {"threads-total-spawned", [&] { return Fx(s.threads_total_spawned); }},
      {"context-switches", [&] { return Fx(s.context_switches); }},
      {"steals", [&] { return Fx(s.steals); }},
      {"cleanups-registered", [&] { return Fx(s.cleanups_registered); }},
      {"cleanups-run", [&] { return Fx(s.cleanups_run); }},
      // [lisp.native-tables]: entries in use.
      {"channels", [&] { return Fx(uint64_t(tables[0])); }},
      {"mutexes", [&] { return Fx(uint64_t(tables[1])); }},
      {"wait-groups", [&] { return Fx(uint64_t(tables[2])); }},
      {"threads", [&] { return Fx(uint64_t(tables[3])); }},
  };
  Local result = NilLocal();
  for (size_t i = fields.size(); i-- > 0;) {
    Scope sc("heap-stats");
    result.Set(Cons(Entry(in, fields[i].first, fields[i].second()), result));
  }
  return result;
}

Local SetSoftLimit(Ctx& c, Args a) {
  int64_t bytes = ArgFixnum(c, "set-soft-heap-limit!", a, 0);
  if (bytes < 0) TypeFail(c, "set-soft-heap-limit!", 1, "a non-negative byte count", a[0]);
  weft::SetSoftHeapLimit(size_t(bytes));
  return In(c).Void();
}

Local SoftLimit(Ctx& c, Args a) { return Fx(weft::SoftHeapLimit()); }

Local DumpStacksP(Ctx& c, Args a) {
  In(c).Write(weft::DumpStacks());
  return In(c).Void();
}

// (heap-census): weft::HeapCensus as a list of (kind generation objects bytes), one
// per object kind and generation, most bytes first; kind is a string ("pair",
// "vector", "string", "record procedure").
Local HeapCensusP(Ctx& c, Args a) {
  const std::vector<CensusEntry> census = weft::HeapCensus();  // before we allocate
  Local result = NilLocal();
  for (size_t i = census.size(); i-- > 0;) {
    Scope sc("heap-census");
    const CensusEntry& e = census[i];
    Local entry = Cons(Fx(e.bytes), NilLocal());
    entry = Cons(Fx(e.objects), entry);
    entry = Cons(FxMake(e.generation), entry);
    entry = Cons(MakeString(e.kind), entry);
    result.Set(Cons(entry, result));
  }
  return result;
}

// (path-from-root obj): weft::PathFromRoot as a list of strings, the root first
// ("thread 2 \"keeper\" frame loop slot [9]", "global slot", "channel (in flight)"),
// then each object on the way with the field it follows ("vector[3] 0x... gen 1
// .[2]"), then obj itself; #f when obj is not a heap object or only this call's
// argument keeps it.
Local PathFromRootP(Ctx& c, Args a) {
  const std::vector<std::string> path = weft::PathFromRoot(a[0]);
  if (path.empty()) return BoolLocal(c, false);
  Local result = NilLocal();
  for (size_t i = path.size(); i-- > 0;) {
    Scope sc("path-from-root");
    result.Set(Cons(MakeString(path[i]), result));
  }
  return result;
}

const Prim kThreadPrims[] = {
    {"spawn", 1, 2, SpawnP},
    {"join", 1, 1, Join},
    {"yield", 0, 0, YieldP},
    {"sleep", 1, 1, Sleep},
    {"current-thread", 0, 0, CurrentThread},
    {"thread-name", 1, 1, ThreadName},
    {"thread?", 1, 1, IsThread},
    {"make-channel", 0, 1, MakeChannel},
    {"send", 2, 2, Send},
    {"recv", 1, 1, Recv},
    {"close", 1, 1, Close},
    {"channel?", 1, 1, IsChannel},
    {"make-mutex", 0, 0, MakeMutex},
    {"mutex-lock!", 1, 1, MutexLock},
    {"mutex-unlock!", 1, 1, MutexUnlock},
    {"make-wait-group", 0, 0, MakeWaitGroup},
    {"wait-group-add", 1, 2, WaitGroupAdd},
    {"wait-group-done", 1, 1, WaitGroupDone},
    {"wait-group-wait", 1, 1, WaitGroupWait},
};

const Prim kHeapPrims[] = {
    {"collect", 0, 1, CollectP},
    {"heap-stats", 0, 0, HeapStats},
    {"set-soft-heap-limit!", 1, 1, SetSoftLimit},
    {"soft-heap-limit", 0, 0, SoftLimit},
    {"dump-stacks", 0, 0, DumpStacksP},
    {"heap-census", 0, 0, HeapCensusP},
    {"path-from-root", 1, 1, PathFromRootP},
};

}  // namespace

std::span<const Prim> ThreadPrims() { return kThreadPrims; }
std::span<const Prim> HeapPrims() { return kHeapPrims; }

}  // namespace weft::lisp
