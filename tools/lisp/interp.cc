#include "tools/lisp/interp.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tools/lisp/ast.h"
#include "tools/lisp/compiler.h"
#include "tools/lisp/printer.h"
#include "tools/lisp/reader.h"

namespace weft::lisp {

Immediates g_imm;

namespace {

constexpr size_t kBacktraceMax = 40;
constexpr size_t kNativeStackMargin = 48 << 10;

template <class T>
T ReadRaw(Local record) {
  T v;
  std::memcpy(&v, RecordRaw(record), sizeof v);
  return v;
}

template <class T>
void WriteRaw(Local record, T v) {
  std::memcpy(RecordRaw(record), &v, sizeof v);
}

}  // namespace

Interp::Interp(std::string program_name) : program_name_(std::move(program_name)) {
  Scope s("init");
  g_imm.nil = Local::Nil().get().raw;
  g_imm.f = Boolean(false).get().raw;
  g_imm.t = Boolean(true).get().raw;
  g_imm.unbound = Unbound().get().raw;
  g_imm.fixnum_shift = Fixnum(5).get().raw == 10 && Fixnum(-3).get().raw == static_cast<uint64_t>(-6) &&
                       Fixnum(kFixnumMax).get().raw == static_cast<uint64_t>(kFixnumMax) << 1;
  symbol_type_ = RegisterRecordType("symbol", 0, 4);
  closure_type_ = RegisterRecordType("procedure", 1, 8);
  prim_type_ = RegisterRecordType("primitive", 0, 8);
  condition_type_ = RegisterRecordType("condition", 4, 0);
  eof_type_ = RegisterRecordType("eof", 0, 0);
  void_type_ = RegisterRecordType("unspecified", 0, 0);
  thread_type_ = RegisterRecordType("thread", 0, 8);
  channel_type_ = RegisterRecordType("channel", 0, 8);
  mutex_type_ = RegisterRecordType("mutex", 0, 8);
  waitgroup_type_ = RegisterRecordType("wait-group", 0, 8);
  eof_.Set(MakeRecord(eof_type_));
  void_.Set(MakeRecord(void_type_));
  heap_condition_.Set(MakeCondition("heap-exhausted", "heap exhausted", NilLocal()));
  RegisterBuiltins();
}

Interp::~Interp() = default;

void Interp::Write(std::string_view text) {
  std::lock_guard<std::mutex> lock(out_mu_);
  std::fwrite(text.data(), 1, text.size(), out_file);
  std::fflush(out_file);
}

void Interp::WriteErr(std::string_view text) {
  std::lock_guard<std::mutex> lock(out_mu_);
  std::fflush(out_file);
  std::fwrite(text.data(), 1, text.size(), err_file);
  std::fflush(err_file);
}

// ---------------------------------------------------------------------------------
// Symbols and globals.

uint32_t Interp::Intern(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = symbol_ids_.find(std::string(name));
  if (it != symbol_ids_.end()) return it->second;
  uint32_t id = uint32_t(symbol_names_.size());
  symbol_names_.emplace_back(name);
  symbol_objects_.push_back(nullptr);
  symbol_ids_.emplace(std::string(name), id);
  return id;
}

const std::string& Interp::SymbolName(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  return symbol_names_[id];  // a std::vector<std::string> element's buffer: see below
}

Local Interp::SymbolObject(uint32_t id) {
  weft::Global* g = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    g = symbol_objects_[id].get();
  }
  if (g) return g->Get();
  // Make the record outside the lock (allocation is a safepoint), then publish it
  // unless another thread won the race.
  Local sym = MakeRecord(symbol_type_);
  WriteRaw<uint32_t>(sym, id);
  auto fresh = std::make_unique<weft::Global>(sym);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!symbol_objects_[id]) symbol_objects_[id] = std::move(fresh);
    g = symbol_objects_[id].get();
  }
  if (fresh) return g->Get();  // lost the race; fresh dies here, on a green thread
  return sym;
}

bool Interp::IsSymbol(Local v) const { return IsRecordOf(v, symbol_type_); }
uint32_t Interp::SymbolId(Local v) { return ReadRaw<uint32_t>(v); }

GlobalVar* Interp::LookupGlobal(std::string_view name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = global_index_.find(std::string(name));
    if (it != global_index_.end()) return it->second;
  }
  Local unbound = Unbound();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = global_index_.find(std::string(name));
  if (it != global_index_.end()) return it->second;
  GlobalVar& var = globals_.emplace_back();
  var.name = std::string(name);
  var.value.Set(unbound);
  global_index_.emplace(var.name, &var);
  return &var;
}

void Interp::SetGlobal(GlobalVar* var, Local v) {
  const Lambda* lambda = nullptr;
  if (IsClosure(v) && IsNilRaw(RecordRef(v, 0))) lambda = ClosureLambda(v);
  // A caller that loads a cache first and then evaluates the arguments calls what
  // the global held when the call began (as when the value is read first); a racing
  // reader sees the old or the new code, each complete in itself.
  var->prim.store(nullptr, std::memory_order_relaxed);
  var->lambda.store(nullptr, std::memory_order_release);
  var->value.Set(v);
  if (lambda) var->lambda.store(lambda, std::memory_order_release);
}

void Interp::DefinePrim(const Prim* prim) {
  Scope s("init");
  Local p = MakeRecord(prim_type_);
  WriteRaw<const Prim*>(p, prim);
  GlobalVar* var = LookupGlobal(prim->name);
  var->value.Set(p);
  var->prim.store(prim);
  prims_by_name_[prim->name] = prim;
}

Lambda* Interp::NewLambda() {
  std::lock_guard<std::mutex> lock(mu_);
  lambdas_.push_back(std::make_unique<Lambda>());
  return lambdas_.back().get();
}

Node* Interp::Own(std::unique_ptr<Node> node) {
  std::lock_guard<std::mutex> lock(mu_);
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

// ---------------------------------------------------------------------------------
// Procedures.

bool Interp::IsClosure(Local v) const { return IsRecordOf(v, closure_type_); }
bool Interp::IsPrim(Local v) const { return IsRecordOf(v, prim_type_); }

Local Interp::MakeClosure(const Lambda* lambda, Local env) {
  Local c = MakeRecord(closure_type_);
  RecordSet(c, 0, env);
  WriteRaw<const Lambda*>(c, lambda);
  return c;
}

const Lambda* Interp::ClosureLambda(Local closure) { return ReadRaw<const Lambda*>(closure); }
const Prim* Interp::PrimOf(Local prim) { return ReadRaw<const Prim*>(prim); }

std::string Interp::ProcedureName(Local proc) {
  if (IsClosure(proc)) return ClosureLambda(proc)->name;
  if (IsPrim(proc)) return PrimOf(proc)->name;
  return "?";
}

// ---------------------------------------------------------------------------------
// Conditions and errors.

Local Interp::MakeCondition(std::string_view kind, std::string_view message, Local irritants) {
  Local c = MakeRecord(condition_type_);
  RecordSet(c, 0, SymbolNamed(kind));
  RecordSet(c, 1, MakeString(message));
  RecordSet(c, 2, irritants);
  return c;
}

bool Interp::IsCondition(Local v) const { return IsRecordOf(v, condition_type_); }

std::shared_ptr<std::vector<std::string>> Interp::Backtrace(ThreadState* ts) {
  auto bt = std::make_shared<std::vector<std::string>>();
  size_t total = 0;
  for (Ctx* f = ts->top; f; f = f->parent) ++total;
  size_t i = 0;
  for (Ctx* f = ts->top; f; f = f->parent, ++i) {
    if (i == kBacktraceMax - 10 && total > kBacktraceMax) {
      bt->push_back(absl::StrCat("  ... ", total - kBacktraceMax, " more frames"));
      // Skip to the outermost 10.
      size_t skip = total - kBacktraceMax;
      for (size_t k = 0; k < skip && f; ++k) f = f->parent;
      if (!f) break;
    }
    if (f->code) {
      bt->push_back(absl::StrCat("  in ", f->code->name, " at ", f->code->file, ":", f->line));
    } else {
      bt->push_back(absl::StrCat("  in ", f->name, " at ", f->file, ":", f->line));
    }
  }
  return bt;
}

void Interp::RaiseNative(ThreadState* ts, std::string_view kind, std::string message) {
  LispError e;
  e.kind = std::string(kind);
  e.message = std::move(message);
  e.backtrace = Backtrace(ts);
  throw e;
}

void Interp::RaiseObject(ThreadState* ts, Local object, std::string report) {
  if (!ts->pending) ts->pending = std::make_unique<weft::Global>();
  ts->pending->Set(object);
  LispError e;
  e.has_object = true;
  if (IsCondition(object)) {
    Local kind = RecordRef(object, 0);
    e.kind = IsSymbol(kind) ? SymbolName(SymbolId(kind)) : "error";
  } else {
    e.kind = "raise";
  }
  e.message = std::move(report);
  e.backtrace = Backtrace(ts);
  throw e;
}

LispError Interp::FromNative(ThreadState* ts, const std::exception& ex) {
  LispError e;
  if (dynamic_cast<const TypeError*>(&ex)) {
    e.kind = "type-error";
  } else if (dynamic_cast<const StackOverflow*>(&ex)) {
    e.kind = "stack-overflow";
  } else if (dynamic_cast<const HeapExhausted*>(&ex)) {
    e.kind = "heap-exhausted";
  } else if (dynamic_cast<const ChannelClosed*>(&ex)) {
    e.kind = "channel-closed";
  } else {
    e.kind = "error";
  }
  e.message = ex.what();
  e.backtrace = Backtrace(ts);
  return e;
}

Local Interp::Materialize(ThreadState* ts, const LispError& e) {
  if (e.has_object) return ts->pending->Get();
  if (e.kind == "heap-exhausted") {
    // The heap skips full collections while the last one showed the live data does
    // not fit ([heap.limits.futile]); the unwinding just freed that data, so collect
    // before allocating the condition and running the handler.
    weft::Collect(-1);
  }
  try {
    Scope s("condition");
    return s.Escape(MakeCondition(e.kind, e.message, NilLocal()));
  } catch (const HeapExhausted&) {
    return heap_condition_.Get();
  }
}

// ---------------------------------------------------------------------------------
// Limits ([lisp.limits]).

void StepLimitExceeded(ThreadState* ts) {
  ts->steps_left = 0;  // the next step raises again
  ts->interp->RaiseNative(ts, "step-limit", absl::StrCat("step limit exceeded (", ts->interp->max_steps, " steps)"));
}

void Interp::ChargeSleep(ThreadState* ts, int64_t ms) {
  if (max_sleep_ms <= 0) return;
  // Charge at most one more than the limit, so the total cannot overflow.
  int64_t charge = std::min(ms, max_sleep_ms + 1);
  if (slept_ms_.fetch_add(charge) + charge > max_sleep_ms) {
    RaiseNative(ts, "sleep-limit", absl::StrCat("sleep limit exceeded (", max_sleep_ms, " ms in all)"));
  }
}

// ---------------------------------------------------------------------------------
// Native objects.

size_t Interp::NativeIndex(Local v) { return size_t(ReadRaw<uint64_t>(v)); }

namespace {

// Takes an entry for `value` in `table`, reusing a released one first. Caller holds
// the table's lock.
template <typename Table, typename T>
size_t TakeEntry(Table& table, std::vector<size_t>& free, T value) {
  if (!free.empty()) {
    size_t i = free.back();
    free.pop_back();
    table[i] = std::move(value);
    return i;
  }
  table.push_back(std::move(value));
  return table.size() - 1;
}

}  // namespace

size_t Interp::AddThread(std::unique_ptr<ThreadEntry> t) {
  std::lock_guard<std::mutex> lock(mu_);
  return TakeEntry(threads_, free_threads_, std::move(t));
}

// [lisp.native-tables]: a thread entry may be named by several records
// ((current-thread) makes a new one each time), so each counts; the last one to die
// releases the entry if the thread was joined and has no unobserved failure to report
// at the end of the run. The record is made before the count is taken (making it may
// throw HeapExhausted) and the cleanup registered right after: no safepoint between.
Local Interp::WrapThread(size_t index) {
  Local r = MakeRecord(thread_type_);
  WriteRaw<uint64_t>(r, index);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++threads_.at(index)->records;
  }
  weft::AddCleanup(r, [this, index] {
    std::unique_ptr<ThreadEntry> released;  // destroyed after the lock
    std::lock_guard<std::mutex> lock(mu_);
    ThreadEntry* e = threads_.at(index).get();
    if (--e->records > 0 || !e->joined || (e->failed && !e->failure_observed)) return;
    released = std::move(threads_[index]);
    free_threads_.push_back(index);
  });
  return r;
}

ThreadEntry* Interp::ThreadAt(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.at(i).get();
}
size_t Interp::ThreadCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}
// [lisp.native-tables]: the record is made before the entry is taken (making it may
// throw HeapExhausted, and then nothing leaks), and the cleanup that releases the
// entry is registered right after: no safepoint in between.
template <typename Table, typename T>
Local Interp::WrapEntry(RecordType type, Table& table, std::vector<size_t>& free, T value) {
  Local r = MakeRecord(type);
  size_t index;
  {
    std::lock_guard<std::mutex> lock(mu_);
    index = TakeEntry(table, free, std::move(value));
  }
  WriteRaw<uint64_t>(r, index);
  // Runs after the collection that found the record dead: only native work (the
  // entry's destructor frees the channel's in-flight slots, which is allowed).
  weft::AddCleanup(r, [this, &table, &free, index] {
    // Moved out under the lock, destroyed after it: the entry's destructor may
    // free memory, and a moved-from entry costs nothing (a default-constructed
    // Mutex or WaitGroup would allocate new state just to be dropped).
    std::optional<T> released;
    {
      std::lock_guard<std::mutex> lock(mu_);
      released.emplace(std::move(table[index]));
      free.push_back(index);
    }
  });
  return r;
}

Local Interp::NewChannel(Channel ch) {
  return WrapEntry(channel_type_, channels_, free_channels_, ChannelEntry{std::move(ch)});
}
Channel Interp::ChannelAt(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  return channels_.at(i).ch;
}
void Interp::CloseChannel(ThreadState* ts, size_t i) {
  Channel ch;  // stays invalid unless this call is the one that closes
  {
    std::lock_guard<std::mutex> lock(mu_);
    ChannelEntry& e = channels_.at(i);
    if (!e.closed) {
      e.closed = true;
      ch = e.ch;
    }
  }
  if (!ch.valid()) RaiseNative(ts, "channel-error", "close: the channel is already closed");
  ch.Close();
}
Local Interp::NewMutex() { return WrapEntry(mutex_type_, mutexes_, free_mutexes_, Mutex()); }
Mutex* Interp::MutexAt(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  return &mutexes_.at(i);
}
Local Interp::NewWaitGroup() {
  return WrapEntry(waitgroup_type_, waitgroups_, free_waitgroups_, WaitGroupEntry{});
}
WaitGroup* Interp::WaitGroupAt(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  return &waitgroups_.at(i).wg;
}
void Interp::WaitGroupAdd(ThreadState* ts, size_t i, int64_t n) {
  // WaitGroup::Add readies waiters, so it runs outside mu_ (WaitGroupEntry says why
  // checking count is enough).
  WaitGroup* wg;
  bool ok;
  {
    std::lock_guard<std::mutex> lock(mu_);
    WaitGroupEntry& e = waitgroups_.at(i);
    wg = &e.wg;
    ok = n >= 0 ? e.count <= kFixnumMax - n : e.count >= -n;
    if (ok && n < 0) e.count += n;
  }
  if (!ok) {
    RaiseNative(ts, "wait-group-error",
                n < 0 ? "wait-group: the count would go below zero" : "wait-group: the count would overflow");
  }
  wg->Add(n);
  if (n > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    waitgroups_.at(i).count += n;
  }
}
std::array<size_t, 4> Interp::NativeTableSizes() {
  std::lock_guard<std::mutex> lock(mu_);
  return {channels_.size() - free_channels_.size(), mutexes_.size() - free_mutexes_.size(),
          waitgroups_.size() - free_waitgroups_.size(), threads_.size() - free_threads_.size()};
}

int Interp::FinishThreads() {
  // Joining may let threads spawn more, into new or reused entries: repeat until a
  // pass joins nothing. Entry 0 is main. A released entry was joined already.
  for (bool again = true; again;) {
    again = false;
    for (size_t i = 1; i < ThreadCount(); ++i) {
      ThreadEntry* t = ThreadAt(i);
      if (t == nullptr || t->joined) continue;
      JoinEntry(t);
      again = true;
    }
  }
  int failures = 0;
  for (size_t i = 1; i < ThreadCount(); ++i) {
    ThreadEntry* t = ThreadAt(i);
    if (t != nullptr && t->failed && !t->failure_observed) {
      WriteErr(t->failure_report);
      ++failures;
    }
  }
  return failures;
}

// ---------------------------------------------------------------------------------
// Running programs.

std::string Interp::Report(const LispError& e, const std::string& where) {
  std::string out = absl::StrCat("error", where, ": ", e.message, "\n");
  if (e.backtrace && !e.backtrace->empty()) {
    out += "backtrace:\n";
    for (const auto& line : *e.backtrace) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

void Interp::InitThreadState(ThreadState* ts, size_t native_stack_bytes) {
  ts->interp = this;
  ts->steps_left = max_steps > 0 ? max_steps : INT64_MAX;
  for (int i = 0; i < kCachedFixnums; ++i) ts->consts[i] = FxMake(i);
  ts->consts[kConstTrue] = NewBool(true);
  ts->consts[kConstFalse] = NewBool(false);
  ts->consts[kConstNil] = NilLocal();
  ts->consts[kConstVoid] = Void();
  const char* here = static_cast<const char*>(__builtin_frame_address(0));
  ts->stack_limit = native_stack_bytes > kNativeStackMargin + (16 << 10)
                        ? here - (native_stack_bytes - kNativeStackMargin)
                        : here - native_stack_bytes / 2;
}

int Interp::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    WriteErr(absl::StrCat(program_name_, ": cannot open ", path, ": ", std::strerror(errno), "\n"));
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return RunText(ss.str(), path);
}

int Interp::RunText(std::string_view text, const std::string& file) {
  sources_.emplace_back(file, std::string(text));  // for SaveImage
  return RunForms(text, file, false);
}

int Interp::Repl() {
  bool tty = isatty(0);
  std::string pending;
  int last = 0;
  for (;;) {
    if (tty) Write(pending.empty() ? "weft> " : "  ... ");
    std::string line;
    bool ok = false;
    RunBlocking([&] { ok = bool(std::getline(std::cin, line)); });
    if (!ok) break;
    pending += line;
    pending += "\n";
    // Try to read complete forms; keep the text when the last form is incomplete.
    bool incomplete = false;
    try {
      Reader probe(pending, "<stdin>");
      Datum d;
      while (probe.Read(&d)) {
      }
    } catch (const ReadError& e) {
      incomplete = e.incomplete;
    }
    if (incomplete) continue;
    last = RunForms(pending, "<stdin>", true);
    pending.clear();
  }
  if (tty) Write("\n");
  return last;
}

std::string Interp::EvalToString(std::string_view text) {
  Scope outer("eval");
  ThreadState ts;
  InitThreadState(&ts, main_native_stack ? main_native_stack : (64 << 10));
  if (ThreadCount() == 0) {
    auto main = std::make_unique<ThreadEntry>();
    main->name = "main";
    main->id.store(CurrentThreadId());
    AddThread(std::move(main));
  }
  Reader reader(text, "<test>");
  Compiler compiler(*this, "<test>");
  std::string result;
  Scope s("toplevel");
  Ctx c = NativeCtx(&ts, &s, "toplevel", "<test>");
  ts.top = &c;
  try {
    try {
      Datum d;
      while (reader.Read(&d)) {
        Scope form("form");
        Node* n = compiler.CompileToplevel(d);
        c.scope = &form;
        result = ToString(*this, n->Eval(NilLocal(), c), true, kPrintLimit, &ts);
        c.scope = &s;
      }
    } catch (const TypeError& e) {
      throw FromNative(&ts, e);
    } catch (const StackOverflow& e) {
      throw FromNative(&ts, e);
    } catch (const HeapExhausted& e) {
      throw FromNative(&ts, e);
    }
  } catch (const ReadError& e) {
    result = e.what();
  } catch (const LispError& e) {
    result = absl::StrCat("error: ", e.kind, ": ", e.message);
  }
  return result;
}

int Interp::RunForms(std::string_view text, const std::string& file, bool repl) {
  Scope outer("weft");
  ThreadState ts;
  InitThreadState(&ts, main_native_stack ? main_native_stack : (64 << 10));
  if (ThreadCount() == 0) {
    auto main = std::make_unique<ThreadEntry>();
    main->name = "main";
    main->id.store(CurrentThreadId());
    AddThread(std::move(main));
  }
  ts.thread_index = 0;
  Reader reader(text, file);
  Compiler compiler(*this, file);
  int status = 0;
  bool done = false;
  RunChunked([&] {
    Scope s("toplevel");
    Ctx c = NativeCtx(&ts, &s, "toplevel", file.c_str());
    ts.top = &c;
    try {
      try {
        Datum d;
        if (!reader.Read(&d)) {
          done = true;
        } else {
          c.line = d.line;
          s.SetInfo(d.line);
          Node* n = compiler.CompileToplevel(d);
          Local r = n->Eval(NilLocal(), c);
          if (repl && !IsVoid(r)) Write(ToString(*this, r, true, kPrintLimit, &ts) + "\n");
        }
      } catch (const TypeError& e) {
        throw FromNative(&ts, e);
      } catch (const StackOverflow& e) {
        throw FromNative(&ts, e);
      } catch (const HeapExhausted& e) {
        throw FromNative(&ts, e);
      } catch (const ChannelClosed& e) {
        throw FromNative(&ts, e);
      }
    } catch (const ReadError& e) {
      WriteErr(absl::StrCat(e.what(), "\n"));
      status = 1;
      done = !repl;
    } catch (const LispError& e) {
      WriteErr(Report(e, ""));
      status = 1;
      done = !repl;
      if (!repl && exit_on_error) {
        std::fflush(nullptr);
        _exit(1);
      }
    }
    ts.top = nullptr;
    return done;
  });
  if (!repl && check_failures() > 0) {
    WriteErr(absl::StrCat(file, ": ", check_failures(), " check", check_failures() == 1 ? "" : "s", " failed\n"));
    status = 1;
  }
  return status;
}

}  // namespace weft::lisp
