// interp.h: the Weft Lisp interpreter's shared state and conventions.
//
// Interp owns everything native about a program: the symbol table, the global
// variables, the compiled code (Lambda and Node trees) and the tables of native
// objects (threads, channels, mutexes, wait groups) that Lisp records point at by index.
// It lives as long as the runtime that runs the program.
//
// Handle discipline [lisp.handles]: every managed value the interpreter touches is in
// a Local (a slot of the current green thread's managed stack) or a Global. A Value or a
// StringView is never held across a call that may allocate. Node::Eval returns a Local
// in the innermost scope; a procedure activation opens a Scope named after the
// procedure, so the stack-scan tool shows Weft Lisp frames by name and line.
//
// Raw words [lisp.raw-words]: the evaluator's inline fast paths (eval.cc: RawOperand
// reads, if tests, raw value arguments, tail binding) read a Value from a slot, or a
// pair field of one, and consume it (compare, add, push into a slot) with no call in
// between that could be a safepoint; where several arguments are evaluated, their
// words are read only after the last one returned. No raw word outlives the
// expression that read it (tools/lisp/DESIGN.md "Speed").
//
// Bounded loops [lisp.bounded-loop]: every API call that returns a Local pushes a slot
// in the innermost scope, so a native loop that runs Lisp code or allocates per
// iteration (tail calls, do, map, ...) runs each iteration in its own Scope
// (RunBounded). Loop state lives in slots made before the loop and is updated with
// Local::Set; an iteration's Scope never escapes, so it leaves the stack as it found
// it and a billion iterations run in constant managed stack.
//
// Tail calls [lisp.tail]: a call node compiled in tail position does not call a
// closure; it binds the arguments into the activation's slots (or, when the callee
// needs more slots than there are, packs the closure's environment and them into a
// vector in tail_env), stores the callee's code in Ctx::code and returns an empty
// Local. CallClosure then runs the next iteration in a fresh Scope: constant managed
// stack.
//
// Frames [lisp.frames]: each lambda, let, do or guard frame is either a heap frame or
// a stack frame, decided per top-level form once it is compiled: a frame is a heap
// frame when a lambda nested in it refers to one of its variables. A heap frame is a
// managed vector: slot 0 is the enclosing heap frame (the closure's environment at
// lambda entry, nil at top level), slots 1..n its variables, addressed as (depth,
// index). A stack frame's variables are slots of the activation (Ctx::vars: Locals
// made when the procedure is called), so calling a procedure whose variables no
// closure captures allocates nothing. Globals are native GlobalVar cells.
//
// Aliasing [lisp.alias]: Eval may return a Local that is an activation slot (a stack
// variable) or shared; code never Sets a Local it did not make itself.
//
// Limits [lisp.limits]: an embedder running untrusted programs (the fuzzer) bounds
// them with Interp::max_steps, max_threads and max_sleep_ms. A step is one run of a
// closure body (a call or a tail call), one iteration of `do`, or one element visited
// by a builtin that walks a list or calls a procedure per element (so a circular list
// cannot loop forever), or made by one that builds a list from a count or an object
// (make-list, iota, vector->list, string->list: else a huge count runs until the heap
// limit, which under GC stress costs time quadratic in the list's length). Counting
// is one decrement and compare of the green thread's ThreadState::steps_left
// (CountStep); exhausting a limit raises a catchable error
// (step-limit, thread-limit, sleep-limit). Once steps_left is exhausted every further
// step raises again, so a handler cannot run on. The heap is bounded by the runtime's
// own limits (weft::Options), which raise heap-exhausted.
#ifndef WEFT_TOOLS_LISP_INTERP_H_
#define WEFT_TOOLS_LISP_INTERP_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/weft.h"

namespace weft::lisp {

class Interp;
struct Lambda;
struct Node;
struct Ctx;

// Immediate encodings, read once from the runtime at start-up so that hot paths can
// test booleans and nil inline. fixnum_shift is true when a fixnum's word is its value
// shifted left by one (checked, not assumed); otherwise the out-of-line API is used.
struct Immediates {
  uint64_t nil = 0, f = 0, t = 0, unbound = 0;
  bool fixnum_shift = false;
};
extern Immediates g_imm;

inline bool Truthy(Local v) { return v.get().raw != g_imm.f; }
inline bool IsNilRaw(Local v) { return v.get().raw == g_imm.nil; }
inline bool IsUnboundRaw(Local v) { return v.get().raw == g_imm.unbound; }
inline Local NewBool(bool b) { return Local::New(Value{b ? g_imm.t : g_imm.f}); }
inline Local NilLocal() { return Local::New(Value{g_imm.nil}); }
inline int64_t FxValue(Local v) {
  return g_imm.fixnum_shift ? static_cast<int64_t>(v.get().raw) >> 1 : FixnumValue(v);
}
// FxMake: v must already be in [kFixnumMin, kFixnumMax].
inline Local FxMake(int64_t v) {
  return g_imm.fixnum_shift ? Local::New(Value{static_cast<uint64_t>(v) << 1}) : Fixnum(v);
}

// Prim: a builtin procedure. args are Locals in the caller's frame.
using Args = std::span<const Local>;
struct Prim {
  const char* name;
  int min_args;
  int max_args;  // -1: any number
  Local (*fn)(Ctx& c, Args args);
};

// GlobalVar: a top-level variable. prim is the builtin it holds while it still holds
// the one installed at start-up (calls then skip the lookup), else null. lambda is the
// code of the closure it holds when that closure's environment is empty (a top-level
// define), else null: a call then needs neither the value nor its record, since the
// code and the (empty) environment are all a call reads of a closure. Both are set by
// Interp::SetGlobal, which every assignment of value goes through.
struct GlobalVar {
  std::string name;
  Global value;  // Unbound until defined
  std::atomic<const Prim*> prim{nullptr};
  std::atomic<const Lambda*> lambda{nullptr};
};

// Lambda: the compiled code of a lambda expression; closures point at it.
struct Lambda {
  std::string name;  // procedure name, or "lambda@file:line"
  std::string file;
  int line = 0;
  int nparams = 0;     // required parameters
  bool rest = false;   // one more parameter takes the remaining arguments as a list
  int frame_size = 0;  // params (+ rest) + internal defines
  bool heap_frame = false;  // the parameters live in a heap frame
  int nslots = 0;           // activation slots (the stack frames of its body)
  // fast_arity: nparams when a call with that many arguments binds them straight into
  // fresh activation slots (no heap frame, no rest list, nslots <= kInlineSlots), else
  // -1. Set by Compiler::Finalize with heap_frame and nslots.
  int fast_arity = -1;
  Node* body = nullptr;
};
// The activation slots a call keeps inline (eval.cc Slots).
inline constexpr int kInlineSlots = 8;


struct HandlerLink;

// ThreadState: per green thread (thread_local would follow the worker, not the green
// thread, so it is passed explicitly in Ctx).
// Shared constant slots of a thread, made in its outermost scope: small fixnums,
// then #t, #f, nil and the unspecified object ([lisp.alias]: nobody Sets them).
inline constexpr int kCachedFixnums = 16;
inline constexpr int kConstTrue = kCachedFixnums, kConstFalse = kCachedFixnums + 1,
                     kConstNil = kCachedFixnums + 2, kConstVoid = kCachedFixnums + 3,
                     kConstCount = kCachedFixnums + 4;

struct ThreadState {
  Interp* interp = nullptr;
  Local consts[kConstCount];
  const char* stack_limit = nullptr;  // native stack guard
  Ctx* top = nullptr;                 // the innermost frame (backtraces)
  HandlerLink* handlers = nullptr;    // innermost with-exception-handler
  std::unique_ptr<Global> pending;    // the object being raised (see LispError)
  size_t thread_index = 0;            // in Interp's thread table
  int64_t steps_left = INT64_MAX;     // [lisp.limits]: Interp::max_steps, or no limit
};

// Ctx: the evaluation context of one procedure activation, which is also its frame
// in the thread's backtrace list (ThreadState::top, linked on the native stack while
// the activation runs). A procedure activation names its frame by its code (the
// backtrace reads the name and file from the Lambda only when it prints them); a
// native frame (a top-level form, a call from native code; NativeCtx) has no code
// and is named by name and file. The frame is also the activation's tail-call state
// ([lisp.tail]): a tail call stores the callee's code in `code` (the activation runs
// it next; nothing raises between the request and the next iteration but the packed
// case's binding, which then names the callee) and sets `packed` when tail_env holds
// packed arguments. A Ctx is never copied: NoteLine writes the line into it.
struct Ctx {
  ThreadState* ts;
  Scope* scope;    // the current iteration's Scope (a live Scope of this green thread)
  Local tail_env;  // [lisp.tail]: the activation's current environment
  Local* vars;     // the activation's slots ([lisp.frames])
  size_t nvars;
  Ctx* parent;        // the next frame out
  const Lambda* code; // the procedure running (or requested by a tail call); null: native
  const char* name;   // native frames only (code null)
  const char* file;   // native frames only
  int line;           // the line running
  bool packed;        // [lisp.tail]: tail_env holds [environment, args...]
  Interp& interp() const { return *ts->interp; }
  // New is Local::New without its lookup of the current thread's managed stack: the
  // activation's Scope knows the stack, and Scope::New pushes into the innermost
  // scope of the thread, exactly where Local::New would ([runtime.handles.fast]).
  Local New(Value v) const { return scope->New(v); }
};
// NativeCtx: the context and frame of code that is not a procedure, named `name` in
// `file`, pushing through `scope`.
inline Ctx NativeCtx(ThreadState* ts, Scope* scope, const char* name, const char* file) {
  return Ctx{ts, scope, Local(), nullptr, 0, nullptr, nullptr, name, file, 0, false};
}

// The thread's shared constant slots ([lisp.alias]: never Set what these return).
inline Local BoolLocal(Ctx& c, bool b) { return c.ts->consts[b ? kConstTrue : kConstFalse]; }
inline Local VoidConst(Ctx& c) { return c.ts->consts[kConstVoid]; }
inline Local NilConst(Ctx& c) { return c.ts->consts[kConstNil]; }
// FxMake(c, v): as FxMake(v), through c's Scope.
inline Local FxMake(Ctx& c, int64_t v) {
  return g_imm.fixnum_shift ? c.New(Value{static_cast<uint64_t>(v) << 1}) : Fixnum(v);
}

// LispError: a Weft Lisp condition in flight. When has_object, the raised object is in
// the raising thread's ThreadState::pending; otherwise the condition is native (kind +
// message) and is built as a managed value only where it is caught.
class LispError : public std::exception {
 public:
  const char* what() const noexcept override { return message.c_str(); }
  bool has_object = false;
  std::string kind;     // symbol name: error, type-error, unbound-variable, ...
  std::string message;  // the report string
  std::shared_ptr<std::vector<std::string>> backtrace;
};

// Native objects wrapped in records ("thread", "channel", "mutex", "wait-group"): the
// record's raw bytes hold the index into the table.
struct ThreadEntry {
  std::string name;
  Thread thread;
  std::atomic<int64_t> id{0};
  bool joined = false;
  bool failed = false;                // ended with an uncaught condition
  bool failure_observed = false;      // a join re-raised it
  std::string failure_report;         // message + backtrace, printed if never joined
  std::unique_ptr<Global> result;     // after join: the result or the condition
  Mutex join_mu;                      // one joiner at a time
  int records = 0;                    // live `thread` records naming it (Interp::mu_)
};

class ImageWalk;

class Interp {
 public:
  // Init registers the record types and builtins; call on a green thread.
  explicit Interp(std::string program_name);
  ~Interp();

  // Output. Program output goes to out (stdout), diagnostics to err (stderr).
  void Write(std::string_view text);
  void WriteErr(std::string_view text);

  // Load reads, compiles and runs every top-level form of `text`. Returns the exit
  // status: 0, or 1 after an uncaught error (reported with its backtrace) or a failed
  // check. ReadErrors are reported like uncaught errors.
  int LoadFile(const std::string& path);
  int RunText(std::string_view text, const std::string& file);
  // Repl reads forms from stdin and prints their values.
  int Repl();
  // EvalToString runs the forms of `text` and returns the last value as `write`
  // prints it, or "error: KIND: MESSAGE" / the ReadError text (for tests).
  std::string EvalToString(std::string_view text);

  // Images (image.cc; tools/lisp/DESIGN.md "Images"). SaveImage writes the global
  // environment and the sources that defined it; LoadImage, on a fresh Interp before
  // any program ran, recompiles those sources without evaluating them and binds the
  // saved globals. Each returns 0, or prints "weft: image FILE: ..." and returns 1.
  int SaveImage(const std::string& path);
  int LoadImage(const std::string& path);

  // Symbols.
  uint32_t Intern(std::string_view name);
  const std::string& SymbolName(uint32_t id);  // stable: names are never removed
  Local SymbolObject(uint32_t id);  // the interned record
  Local SymbolNamed(std::string_view name) { return SymbolObject(Intern(name)); }
  bool IsSymbol(Local v) const;
  uint32_t SymbolId(Local v);

  // Globals.
  GlobalVar* LookupGlobal(std::string_view name);  // created Unbound when missing
  // SetGlobal assigns a global and keeps its call caches (GlobalVar) right.
  void SetGlobal(GlobalVar* var, Local v);
  void DefinePrim(const Prim* prim);

  // Code.
  Lambda* NewLambda();
  Node* Own(std::unique_ptr<Node> node);

  // Procedures.
  bool IsClosure(Local v) const;
  bool IsPrim(Local v) const;
  bool IsProcedure(Local v) const { return IsClosure(v) || IsPrim(v); }
  Local MakeClosure(const Lambda* lambda, Local env);
  const Lambda* ClosureLambda(Local closure);
  const Prim* PrimOf(Local prim);
  std::string ProcedureName(Local proc);

  // Conditions: record "condition" with slots kind (symbol), message (string),
  // irritants (list), payload.
  Local MakeCondition(std::string_view kind, std::string_view message, Local irritants);
  bool IsCondition(Local v) const;
  // Materialize turns a caught error into the Lisp object a handler receives.
  Local Materialize(ThreadState* ts, const LispError& e);
  // FromNative converts a runtime exception (TypeError, HeapExhausted, StackOverflow,
  // ChannelClosed) into a native LispError with the current backtrace.
  LispError FromNative(ThreadState* ts, const std::exception& e);
  // CatchErrors runs `body` and returns the error it raised, if any: a LispError, or a
  // runtime exception converted by FromNative. `guard` and `with-exception-handler`
  // catch exactly this set; anything else (a broken invariant) propagates.
  template <typename Body>
  std::optional<LispError> CatchErrors(ThreadState* ts, Body&& body) {
    try {
      body();
    } catch (const LispError& e) {
      return e;
    } catch (const TypeError& e) {
      return FromNative(ts, e);
    } catch (const StackOverflow& e) {
      return FromNative(ts, e);
    } catch (const HeapExhausted& e) {
      return FromNative(ts, e);
    } catch (const ChannelClosed& e) {
      return FromNative(ts, e);
    }
    return std::nullopt;
  }
  // Raise* throw LispError with the current backtrace.
  [[noreturn]] void RaiseNative(ThreadState* ts, std::string_view kind, std::string message);
  [[noreturn]] void RaiseObject(ThreadState* ts, Local object, std::string report);
  std::shared_ptr<std::vector<std::string>> Backtrace(ThreadState* ts);

  // Distinguished objects.
  Local Eof() { return eof_.Get(); }
  Local Void() { return void_.Get(); }
  bool IsEof(Local v) const { return IsRecordOf(v, eof_type_); }
  bool IsVoid(Local v) const { return IsRecordOf(v, void_type_); }

  // Native object tables.
  size_t NativeIndex(Local v);
  RecordType thread_type() const { return thread_type_; }
  RecordType channel_type() const { return channel_type_; }
  RecordType mutex_type() const { return mutex_type_; }
  RecordType waitgroup_type() const { return waitgroup_type_; }
  uint32_t closure_type_id() const { return closure_type_.id; }
  uint32_t prim_type_id() const { return prim_type_.id; }
  bool IsRecordOf(Local v, RecordType t) const {
    return v.kind() == Kind::kRecord && RecordTypeOf(v).id == t.id;
  }
  // Threads: an entry per spawned thread (entry 0 is main). A `thread` record names
  // it; every record counts, and the entry is released once no record is left and
  // the thread has been joined with nothing left to report ([lisp.native-tables]).
  size_t AddThread(std::unique_ptr<ThreadEntry> t);
  ThreadEntry* ThreadAt(size_t i);  // nullptr for a released entry
  size_t ThreadCount();             // entries ever allocated, released ones included
  Local WrapThread(size_t index);
  uint64_t NextThreadNumber() {
    std::lock_guard<std::mutex> lock(mu_);
    return ++threads_spawned_;
  }
  // Channels, mutexes and wait groups: a record whose raw bytes index a table
  // entry; the entry is released (and reused) when a collection finds the record
  // dead ([lisp.native-tables]).
  Local NewChannel(Channel ch);
  Channel ChannelAt(size_t i);
  Local NewMutex();
  Mutex* MutexAt(size_t i);
  Local NewWaitGroup();
  WaitGroup* WaitGroupAt(size_t i);
  // Misuses the runtime treats as fatal, checked here first so that a program gets a
  // channel-error / wait-group-error condition (found by lisp_fuzzer): closing a
  // closed channel, a wait group's count going below zero.
  void CloseChannel(ThreadState* ts, size_t i);
  void WaitGroupAdd(ThreadState* ts, size_t i, int64_t n);
  // NativeTableSizes: entries in use in the channel, mutex, wait-group and thread
  // tables.
  std::array<size_t, 4> NativeTableSizes();

  // Checks.
  void CheckFailed() { check_failures_.fetch_add(1); }
  int check_failures() const { return check_failures_.load(); }

  // Thread bodies (builtins_threads.cc).
  Local SpawnThread(Ctx& c, Local thunk, std::string name);
  // JoinEntry waits for a spawned thread (once) and stores its result.
  void JoinEntry(ThreadEntry* e);
  // FinishThreads joins every spawned thread (also those spawned meanwhile), then
  // prints each uncaught thread error that no join observed and returns how many.
  // Call at the end of main, before the Interp is destroyed (on a green thread: its
  // Globals must die there).
  int FinishThreads();

  // The native stack size of spawned threads (main's comes from Options).
  size_t thread_native_stack = 256 << 10;
  size_t main_native_stack = 0;
  bool stress = false;  // --gc-stress given: programs may scale down

  const std::string& program_name() const { return program_name_; }
  // Report formats an uncaught error: "error<where>: message" and the backtrace.
  static std::string Report(const LispError& e, const std::string& where);
  // InitThreadState prepares ts for the calling green thread; its constant slots go
  // in the innermost scope, which must outlive ts.
  void InitThreadState(ThreadState* ts, size_t native_stack_bytes);
  // exit_on_error: an uncaught error in the main program ends the process at once
  // (other threads may be blocked forever); the CLI sets it, tests do not.
  bool exit_on_error = false;
  // [lisp.limits]; 0: no limit. Set before running anything.
  int64_t max_steps = 0;     // steps per green thread
  size_t max_threads = 0;    // spawns in the whole run
  int64_t max_sleep_ms = 0;  // the total of every sleep and select timeout
  // ChargeSleep takes ms from the max_sleep_ms budget or raises sleep-limit.
  void ChargeSleep(ThreadState* ts, int64_t ms);
  // Program output (display, write) and diagnostics; the fuzzer discards them.
  std::FILE* out_file = stdout;
  std::FILE* err_file = stderr;

 private:
  friend class ImageWalk;
  void RegisterBuiltins();
  template <typename Table, typename T>
  Local WrapEntry(RecordType type, Table& table, std::vector<size_t>& free, T value);
  int RunForms(std::string_view text, const std::string& file, bool repl);

  std::string program_name_;
  RecordType symbol_type_, closure_type_, prim_type_, condition_type_, eof_type_, void_type_;
  RecordType thread_type_, channel_type_, mutex_type_, waitgroup_type_;
  weft::Global eof_, void_, heap_condition_;

  std::mutex mu_;  // guards the tables below; never held across a safepoint
  std::deque<std::string> symbol_names_;
  std::unordered_map<std::string, uint32_t> symbol_ids_;
  std::vector<std::unique_ptr<weft::Global>> symbol_objects_;
  std::unordered_map<std::string, GlobalVar*> global_index_;
  std::deque<GlobalVar> globals_;
  std::vector<std::unique_ptr<Lambda>> lambdas_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<ThreadEntry>> threads_;
  // [lisp.native-tables]: entries are reused through the free lists; deques keep the
  // addresses MutexAt and WaitGroupAt return stable.
  struct ChannelEntry {
    Channel ch;
    bool closed = false;
  };
  // count never exceeds wg's own count: WaitGroupAdd adds positive amounts to wg
  // first and negative ones to count first, so checking count keeps wg's >= 0.
  struct WaitGroupEntry {
    WaitGroup wg;
    int64_t count = 0;
  };
  std::vector<ChannelEntry> channels_;
  std::deque<Mutex> mutexes_;
  std::deque<WaitGroupEntry> waitgroups_;
  std::vector<size_t> free_channels_, free_mutexes_, free_waitgroups_, free_threads_;
  uint64_t threads_spawned_ = 0;  // names "thread-N" stay unique when entries are reused
  std::atomic<int> check_failures_{0};
  std::atomic<int64_t> slept_ms_{0};  // charged against max_sleep_ms
  std::mutex out_mu_;
  // Images: every program text run (file, text), in order, and the builtins by name.
  std::vector<std::pair<std::string, std::string>> sources_;
  std::unordered_map<std::string, const Prim*> prims_by_name_;
};

// ---------------------------------------------------------------------------------
// Evaluation (eval.cc).

// RunBounded calls step(scope) in a fresh Scope named `name` until it returns true
// [lisp.bounded-loop].
// RunChunked is the same without the per-iteration Scope: step opens its own.
template <class F>
void RunChunked(F&& step) {
  while (!step()) {
  }
}
template <class F>
void RunBounded(const char* name, F&& step) {
  RunChunked([&] {
    Scope s(name);
    return step(s);
  });
}
// The same, taking the stack from `parent` (a live Scope of the calling green thread)
// instead of looking the thread up per iteration.
template <class F>
void RunBounded(const Scope& parent, const char* name, F&& step) {
  RunChunked([&] {
    Scope s(parent, name);
    return step(s);
  });
}

// Apply calls any procedure with evaluated arguments and returns its result in the
// caller's frame. With tail set and a closure, it requests a tail call instead
// ([lisp.tail]) and returns an empty Local.
Local Apply(Ctx& c, Local proc, Args args, bool tail = false);
// CallClosure calls the closure whose code is `lambda` and whose environment is `env`
// (slot 0 of its record) with `args`.
Local CallClosure(Ctx& c, const Lambda* lambda, Local env, Args args);
// CheckNativeStack raises stack-overflow when the native stack runs low.
[[noreturn]] void NativeStackOverflow(ThreadState* ts);
inline void CheckNativeStack(ThreadState* ts) {
  if (static_cast<const char*>(__builtin_frame_address(0)) < ts->stack_limit) NativeStackOverflow(ts);
}
// CountStep counts one step against the thread's budget [lisp.limits].
[[noreturn]] void StepLimitExceeded(ThreadState* ts);
inline void CountStep(ThreadState* ts) {
  if (--ts->steps_left < 0) StepLimitExceeded(ts);
}
// StepAndPoll counts a step and is a safepoint ([lisp.safepoint]): at the start of a
// closure body and of a `do` iteration, where what follows may allocate anyway, so no
// raw value is live there.
inline void StepAndPoll(ThreadState* ts) {
  CountStep(ts);
  weft::Safepoint();
}
// RunThunk calls a procedure of no arguments from native code (a new thread's body).
Local CallFromNative(ThreadState* ts, Local proc, Args args);

// ---------------------------------------------------------------------------------
// Builtin helpers (builtins.cc).

[[noreturn]] void TypeFail(Ctx& c, const char* proc, int argno, const char* expected, Local got);
int64_t ArgFixnum(Ctx& c, const char* proc, Args args, int i);
void ArgKind(Ctx& c, const char* proc, Args args, int i, Kind kind, const char* expected);
// Builtin tables, registered by Interp::RegisterBuiltins.
std::span<const Prim> CorePrims();
std::span<const Prim> ListPrims();
std::span<const Prim> StringPrims();
std::span<const Prim> ThreadPrims();
std::span<const Prim> HeapPrims();

// Equality used by eqv?, equal?, case, assoc, member. Equal counts steps on ts when
// given ([lisp.limits]).
bool Eqv(Local a, Local b);
bool Equal(Interp& in, Local a, Local b, ThreadState* ts = nullptr);

}  // namespace weft::lisp

#endif  // WEFT_TOOLS_LISP_INTERP_H_
