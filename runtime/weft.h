// weft.h: the whole public embedding API of Weft.
//
// A Runtime owns a block arena, a generational moving heap and a scheduler of green
// threads on N workers. Run(main) runs `main` as the first green thread.
//
// Handle discipline (see runtime/DESIGN.md [runtime.handles]): native code holds
// managed values only in slots of the current green thread's managed stack. A Scope
// pushes a named frame; every Local created while it is the innermost scope lives in
// that frame and dies when the scope ends. A Local is a pointer to a slot, so it stays
// valid across collections (the collector updates the slot when the object moves).
// Raw addresses obtained from a value (StringData, BytesData of a non-pinned buffer)
// are valid only until the next safepoint: any allocation, Collect, channel
// operation, Yield, Sleep, Spawn, Join, lock or Safepoint() may move the object.
//
// Everything below except Runtime::Create/Run/GetStats must be called from a green
// thread of a running runtime.
#ifndef WEFT_RUNTIME_WEFT_H_
#define WEFT_RUNTIME_WEFT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace weft {

class RuntimeImpl;

// ---------------------------------------------------------------------------------
// Options and the runtime.

struct Options {
  int workers = 0;                           // 0: one per core; 1..256
  size_t native_stack_bytes = 64 << 10;      // per green thread; 32 KiB..64 MiB
  size_t managed_stack_max_bytes = 1 << 20;  // per green thread; 4 KiB..1 GiB
  size_t nursery_bytes = 4 << 20;            // 256 KiB..1 GiB
  // The nursery grows up to this while much of it survives young collections and
  // shrinks back to nursery_bytes when little does (heap/DESIGN.md
  // [heap.nursery.adaptive]); 0 or at most nursery_bytes: fixed at nursery_bytes.
  // 0..1 GiB.
  size_t max_nursery_bytes = 32 << 20;
  // With a target, the nursery never grows past the size a young collection would
  // copy within it, were all of it to survive, at the copy rate measured on recent
  // young collections (heap/DESIGN.md [heap.nursery.adaptive]). 0 (the default, see
  // runtime/DESIGN.md [runtime.stw]): no pause cap. 0 or 100us..10s.
  absl::Duration young_pause_target = absl::ZeroDuration();
  int generations = 3;                       // older generations, 1..6
  int promotion_age = 1;                     // survived collections before promotion, 1..7
  // After a collection in which at least this percentage of what the program
  // allocated since the one before survived, the next collection promotes the
  // nursery's blocks in place instead of copying their survivors (heap/DESIGN.md
  // [heap.nursery.in-place]). 0: always copy. 0..100; used when promotion_age is 1.
  int promote_in_place_percent = 25;
  // Threads that trace a collection that moves nothing (one promoting the nursery in
  // place), the collecting worker included; the others are the heap's own, parked
  // between collections (heap/DESIGN.md [heap.collect.parallel]). 0: one per core, at
  // most 8. 0..64.
  int gc_threads = 0;
  size_t heap_initial_bytes = 16 << 20;
  // An older generation is collected once it grows this many percent past its size
  // after its last collection (or past the batch the generation below just moved
  // into it): lower keeps the footprint smaller for more older collections, like
  // Go's GOGC (heap/DESIGN.md [heap.trigger.growth]). 10..1000.
  int old_generation_growth_percent = 50;
  size_t heap_soft_limit_bytes = 0;          // 0: none
  size_t heap_hard_limit_bytes = 0;          // 0: the arena's reservation
  uint64_t gc_stress_every = 0;              // collect every N allocations (also WEFT_GC_STRESS)
  bool dump_stacks_on_sigquit = true;       // SIGQUIT prints every green thread to stderr
  bool control_socket = true;               // `stackscan PID` can ask for dumps
  absl::Duration safepoint_watchdog = absl::Seconds(5);
  // Weft core: when a fatal error (failed check, native stack overflow) ends the
  // process, or Run ends in a deadlock, also write a Weft core here, after the stderr
  // dump: a heap image of every object reachable from the green threads' managed
  // stacks, the global slots and the channels, with the thread registry and those
  // managed stacks.
  // Read it offline with `stackscan --core FILE`. `%p` is replaced by the process id,
  // `%%` by `%`; a relative path is taken from the working directory at Run. Empty:
  // the WEFT_CORE environment variable, same syntax (a bad one is logged and ignored);
  // neither: no core. The core is written by a copy of the process, waited for at
  // most `core_timeout` (then killed: the process still dies, or Run still returns,
  // as without a core). See runtime/DESIGN.md [runtime.core].
  std::string core_path;
  absl::Duration core_timeout = absl::Seconds(30);  // (0, 1h]
};

struct Stats {
  // Heap.
  uint64_t bytes_allocated = 0;
  std::vector<uint64_t> generation_bytes;   // [0] is the nursery
  std::vector<uint64_t> collections;        // per generation collected
  uint64_t promoted_bytes = 0;
  // The part of promoted_bytes promoted without moving: the nursery blocks of a
  // collection after a dense one became old blocks (heap/DESIGN.md [heap.nursery.in-place]).
  uint64_t promoted_in_place_bytes = 0;
  absl::Duration total_pause;
  absl::Duration max_pause;
  // Pauses per bucket, upper bounds in ms: 0.1, 0.25, 0.5, 1, 2, 5, 10, 50, 100, inf.
  std::vector<uint64_t> pause_histogram;
  uint64_t heap_committed_bytes = 0;
  // Freed memory kept resident for reuse, up to the heap's recent peak footprint
  // (heap/DESIGN.md [heap.arena.retain]); ReleaseFreeMemory returns it to the OS.
  uint64_t free_retained_bytes = 0;
  uint64_t soft_limit_bytes = 0;
  uint64_t cleanups_registered = 0;  // AddCleanup entries whose object still lives
  uint64_t cleanups_run = 0;
  // Threads.
  uint64_t threads_runnable = 0, threads_running = 0, threads_blocked = 0,
           threads_sleeping = 0, threads_total_spawned = 0;
  uint64_t context_switches = 0;
  uint64_t steals = 0;
};

class Runtime {
 public:
  // Create validates `options`: a bad option gives InvalidArgument naming the option
  // and its allowed range.
  static absl::StatusOr<std::unique_ptr<Runtime>> Create(const Options& options);
  ~Runtime();  // returns every block to the OS

  // Run runs main as the first green thread and returns main's exit code once it and
  // every non-detached thread have finished. A deadlock (every green thread blocked
  // with nothing to wake one) returns FailedPrecondition listing the threads. An
  // exception escaping main returns Internal with its message.
  absl::StatusOr<int> Run(std::function<int()> main);

  Stats GetStats() const;
  RuntimeImpl* impl() const { return impl_.get(); }

 private:
  explicit Runtime(std::unique_ptr<RuntimeImpl> impl);
  std::unique_ptr<RuntimeImpl> impl_;
};

// ---------------------------------------------------------------------------------
// Values and handles.

// Value: a tagged word. Fixnums and immediates need no allocation. Treat a Value as a
// raw value: never keep one holding a heap reference across a safepoint; keep a Local.
struct Value {
  uint64_t raw;
};

enum class Kind {
  kFixnum, kNil, kBoolean, kChar, kUnbound,
  kPair, kVector, kString, kBytes, kRecord,
};
const char* KindName(Kind kind);

inline constexpr int64_t kFixnumMax = (int64_t{1} << 62) - 1;
inline constexpr int64_t kFixnumMin = -(int64_t{1} << 62);

// The bits of a few values and of a pair, for the inline fast paths below. Private to
// Weft: embedders use the functions, not these (runtime/handles.cc checks them against
// heap/value.h and heap/object.h).
namespace internal {
inline constexpr uint64_t kNilRaw = 3;             // the empty list
inline constexpr uint64_t kFalseRaw = 19;          // #f
inline constexpr uint64_t kUnboundRaw = 27;
inline constexpr uint64_t kFrameMarkerTag = 43;    // a frame marker: payload << 8 | 43
inline constexpr uint64_t kTagMask = 7;
inline constexpr uint64_t kPointerTag = 1;         // a reference: object address + 1
inline constexpr uint64_t kHeaderTag = 7;           // the tag of an object header
// A vector's header: its low byte is kVectorHeaderByte, its length the high 32 bits.
inline constexpr uint64_t kVectorHeaderByte = 0x1f;
inline constexpr int kLengthShift = 32;
// IsPair: v refers to a pair. A pair is [car, cdr], with no header; every other
// object starts with a header word, tagged kHeaderTag (0b111), and a moved object's
// first word is tagged 0b101: no Value has both bits 0 and 2 set, so `& 5` tells a
// car from both, and a stale reference to a moved pair is refused, not read.
inline bool IsPair(Value v) {
  return (v.raw & kTagMask) == kPointerTag &&
         (*reinterpret_cast<const uint64_t*>(v.raw - kPointerTag) & 5) != 5;
}
// PairField: the car (0) or cdr (1) of a pair (read as a word: no Value type punning).
inline Value PairField(Value pair, int i) {
  return Value{reinterpret_cast<const uint64_t*>(pair.raw - kPointerTag)[i]};
}
// Out-of-line slow paths of the inline functions.
[[noreturn, gnu::cold]] void ThrowWrongKind(const char* function, Kind expected, Value got);
[[noreturn, gnu::cold]] void ThrowFixnumOverflow(int64_t v);
[[noreturn, gnu::cold]] void ThrowIndexOutOfRange(const char* function, size_t i, size_t length);
}  // namespace internal

class Scope;

// Local: a slot of the current green thread's managed stack. Copying a Local copies
// the slot's address, not the value: both name the same slot.
class Local {
 public:
  Local() : slot_(nullptr) {}
  // New pushes a slot holding v in the innermost scope. Finds the thread's stack
  // through a thread lookup: in loops prefer Scope::New, which does not.
  static Local New(Value v);
  static Local Nil();

  Value get() const { return *slot_; }
  void Set(Local other) const { *slot_ = *other.slot_; }  // stack slots need no barrier
  void SetValue(Value v) const { *slot_ = v; }
  bool empty() const { return slot_ == nullptr; }

  Kind kind() const;
  bool IsFixnum() const { return (slot_->raw & 1) == 0; }
  bool IsNil() const { return slot_->raw == internal::kNilRaw; }
  bool IsTrue() const { return slot_->raw != internal::kFalseRaw; }  // all but #f
  bool IsPair() const { return internal::IsPair(*slot_); }
  bool Is(Kind k) const { return kind() == k; }
  bool Eq(Local other) const { return slot_->raw == other.slot_->raw; }

 private:
  friend class Scope;
  friend class RuntimeImpl;
  explicit Local(Value* slot) : slot_(slot) {}
  Value* slot_;
};

// Scope: a frame of the managed stack with a name (shown by DumpStacks and used by
// backtraces). Scopes nest strictly (RAII). Escape copies a value into a slot
// reserved just below the frame; that slot stays, in the enclosing frame, only when
// Escape was called, so a scope that does not escape leaves the stack as it found it.
//
// A Scope also keeps the address of its green thread's managed stack (which belongs
// to the thread and never changes, wherever the thread runs), so the handle functions
// below that are members of Scope push a slot with an inline pointer bump and no
// thread lookup ([runtime.handles.fast]). They push into the *innermost* scope of the
// thread, whichever of the thread's Scope objects they are called through: calling
// them through an enclosing scope is the same as calling Local::New. A Scope must be
// used only by the green thread that created it.
class Scope {
 public:
  explicit Scope(const char* name);  // `name` must outlive the scope (a literal)
  // Scope(parent, name): the same, but takes the stack from `parent` (any live scope
  // of the calling green thread) instead of looking the thread up: inline and cheap.
  Scope(const Scope& parent, const char* name)
      : top_(parent.top_), end_(parent.end_), stack_(parent.stack_) {
    Enter(name);
  }
  ~Scope() {
    Value* target = escape_slot_ + (escaped_ ? 1 : 0);
    if (__builtin_expect(*end_ == segment_end_, 1)) {
      *top_ = reinterpret_cast<uint64_t*>(target);  // same segment: just pop
    } else {
      ExitSlow(target);
    }
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  Local Escape(Local v) {
    *escape_slot_ = v.get();
    escaped_ = true;
    return Local(escape_slot_);
  }
  // SetInfo attaches a small integer to the frame (an interpreter's source line);
  // DumpStacks prints it. Inline: interpreters call it on every call and line.
  void SetInfo(int64_t info) { frame_[1] = Value{static_cast<uint64_t>(info) << 1}; }  // a fixnum

  // Fast handle functions: as Local::New, Local::Nil, Fixnum, Cons, Car and Cdr, but
  // the new slot is a pointer bump (an allocation is one thread-free bump too).
  Local New(Value v) const {
    uint64_t* p = *top_;
    if (__builtin_expect(p >= *end_, 0)) return NewSlow(v);
    *top_ = p + 1;
    *p = v.raw;
    return Local(reinterpret_cast<Value*>(p));
  }
  Local Nil() const { return New(Value{internal::kNilRaw}); }
  Local Fixnum(int64_t v) const {
    if (__builtin_expect(v < kFixnumMin || v > kFixnumMax, 0)) internal::ThrowFixnumOverflow(v);
    return New(Value{static_cast<uint64_t>(v) << 1});
  }
  Local Cons(Local car, Local cdr) const;
  Local Car(Local pair) const {
    Value p = pair.get();
    if (__builtin_expect(!internal::IsPair(p), 0)) internal::ThrowWrongKind("car", Kind::kPair, p);
    return New(internal::PairField(p, 0));
  }
  Local Cdr(Local pair) const {
    Value p = pair.get();
    if (__builtin_expect(!internal::IsPair(p), 0)) internal::ThrowWrongKind("cdr", Kind::kPair, p);
    return New(internal::PairField(p, 1));
  }

 private:
  void Enter(const char* name) {
    uint64_t* p = *top_;
    uint64_t* end = *end_;
    if (__builtin_expect(end - p >= 3, 1)) {
      // [escape slot] [frame marker] [info] in one segment ([runtime.frames]).
      p[0] = internal::kUnboundRaw;
      p[1] = (reinterpret_cast<uint64_t>(name) << 8) | internal::kFrameMarkerTag;
      p[2] = 0;  // fixnum 0
      *top_ = p + 3;
      escape_slot_ = reinterpret_cast<Value*>(p);
      frame_ = reinterpret_cast<Value*>(p + 1);
      segment_end_ = end;
    } else {
      EnterSlow(name);
    }
  }
  void EnterSlow(const char* name);
  void ExitSlow(Value* target);
  Local NewSlow(Value v) const;

  uint64_t** top_;           // the managed stack's top and end words
  uint64_t* const* end_;
  void* stack_;              // the threads::ManagedStack, for the slow paths
  Value* escape_slot_;
  Value* frame_;
  uint64_t* segment_end_;    // end of the frame's segment; null: frame straddles two
  bool escaped_ = false;
};

// Writing into an existing Local: the result goes into `out` (any live Local), so a
// loop needs no new slot per step. `out` may be the same Local as an argument.
inline void CarInto(Local pair, Local out) {
  Value p = pair.get();
  if (__builtin_expect(!internal::IsPair(p), 0)) internal::ThrowWrongKind("car", Kind::kPair, p);
  out.SetValue(internal::PairField(p, 0));
}
inline void CdrInto(Local pair, Local out) {
  Value p = pair.get();
  if (__builtin_expect(!internal::IsPair(p), 0)) internal::ThrowWrongKind("cdr", Kind::kPair, p);
  out.SetValue(internal::PairField(p, 1));
}
// ConsInto allocates the pair (car . cdr) into `out`; a safepoint like Cons.
void ConsInto(Local car, Local cdr, Local out);
// FixnumBits: the Value of a fixnum, for SetValue (a fixnum is not a reference: it
// may be kept anywhere). Throws TypeError outside [kFixnumMin, kFixnumMax].
inline Value FixnumBits(int64_t v) {
  if (__builtin_expect(v < kFixnumMin || v > kFixnumMax, 0)) internal::ThrowFixnumOverflow(v);
  return Value{static_cast<uint64_t>(v) << 1};
}

// Raw reads ([runtime.handles.raw] in runtime/DESIGN.md). A walk that allocates
// nothing may read the heap without handles: these take and return Values, so the
// walk keeps them in C++ variables, as compiled code keeps pointers in registers
// between safepoints. A Value read from the heap names its object only until the
// next safepoint, so read inside a NoSafepointScope: while one is alive the green
// thread must reach no safepoint (no allocation, Safepoint(), channel or lock
// operation, Yield, Sleep, Spawn, Join, Collect). Blocking, yielding or stopping
// inside one aborts with a message in every build; allocating inside one aborts in
// `--config=checked`. (A read whose Value goes straight into a Local, with no call in
// between, needs no scope: `scope.New(raw::VectorRef(v.get(), i))`; an interpreter's
// inline paths may hold raw Values the same way as long as nothing between read and
// use can reach a safepoint, as with StringView.) Keep each raw stretch short (microseconds): the thread does not
// poll in it, so a collection another worker requests waits for it to end. A long
// walk alternates raw stretches over bounded pieces with its position kept in Locals
// and a Safepoint() between them (tools/bench/runtime/binary_trees.cc walks its trees
// so). Scopes nest.
class NoSafepointScope {
 public:
  NoSafepointScope();
  ~NoSafepointScope();
  NoSafepointScope(const NoSafepointScope&) = delete;
  NoSafepointScope& operator=(const NoSafepointScope&) = delete;
};

namespace raw {
inline bool IsNil(Value v) { return v.raw == internal::kNilRaw; }
inline bool IsFixnum(Value v) { return (v.raw & 1) == 0; }
inline bool IsPair(Value v) { return internal::IsPair(v); }
// Car and Cdr throw TypeError for a non-pair (also for a stale Value of a moved pair,
// which `--config=checked` makes of every young object at every collection).
inline Value Car(Value pair) {
  if (__builtin_expect(!internal::IsPair(pair), 0)) internal::ThrowWrongKind("car", Kind::kPair, pair);
  return internal::PairField(pair, 0);
}
inline Value Cdr(Value pair) {
  if (__builtin_expect(!internal::IsPair(pair), 0)) internal::ThrowWrongKind("cdr", Kind::kPair, pair);
  return internal::PairField(pair, 1);
}
inline bool IsVector(Value v) {
  return (v.raw & internal::kTagMask) == internal::kPointerTag &&
         (*reinterpret_cast<const uint64_t*>(v.raw - internal::kPointerTag) & 0xff) ==
             internal::kVectorHeaderByte;
}
// VectorLength and VectorRef throw TypeError for a non-vector or an index out of range.
inline size_t VectorLength(Value vector) {
  if (__builtin_expect(!IsVector(vector), 0)) internal::ThrowWrongKind("vector-length", Kind::kVector, vector);
  return *reinterpret_cast<const uint64_t*>(vector.raw - internal::kPointerTag) >> internal::kLengthShift;
}
inline Value VectorRef(Value vector, size_t i) {
  const size_t length = VectorLength(vector);
  if (__builtin_expect(i >= length, 0)) internal::ThrowIndexOutOfRange("vector-ref", i, length);
  return Value{reinterpret_cast<const uint64_t*>(vector.raw - internal::kPointerTag)[1 + i]};
}
}  // namespace raw

// Global: a root held by a long-lived native structure. Made and set on a green
// thread; may be destroyed (or moved over) on a green thread or, once Run has
// returned, on any thread. It may outlive its Runtime: a Runtime detaches the Globals
// still alive when it is destroyed; such a Global holds nil (Get gives nil) and its
// destruction frees only its own slot's memory ([runtime.globals.orphans]).
class Global {
 public:
  Global();
  explicit Global(Local v);
  ~Global();
  Global(const Global&) = delete;
  Global& operator=(const Global&) = delete;
  Global(Global&&) noexcept;
  Global& operator=(Global&&) noexcept;
  Local Get() const;  // a new Local in the innermost scope
  void Set(Local v);

 private:
  void Release();
  Value* slot_;
  void* runtime_;  // the runtime whose root the slot is, so it is freed there
};

// AddCleanup arranges for `cleanup` to run once, after a collection finds `object`
// unreachable (as Go's runtime.AddCleanup and Java's Cleaner; the object is gone by
// then and cannot be revived). Use it to release the native resources a record
// stands for. `object` must be a heap object (TypeError otherwise); an object may
// have several cleanups. The cleanup runs on the green thread whose allocation or
// Collect ran that collection, after the world resumes; it must not allocate from
// the managed heap, block or throw, and must not hold `object` (a Global of it would
// keep it alive forever). Cleanups still pending when the runtime is destroyed are
// dropped without running.
void AddCleanup(Local object, std::function<void()> cleanup);

// ---------------------------------------------------------------------------------
// Objects. Constructors return a new Local in the innermost scope. Type errors
// (Car of a fixnum, an index out of range) throw weft::TypeError.

Local Fixnum(int64_t v);  // throws TypeError outside [kFixnumMin, kFixnumMax]
Local Boolean(bool v);
Local Char(char32_t c);
Local Unbound();
// FixnumValue: the integer a fixnum Local holds; throws TypeError for anything else.
inline int64_t FixnumValue(Local v) {
  const Value x = v.get();
  if (__builtin_expect((x.raw & 1) != 0, 0)) internal::ThrowWrongKind("FixnumValue", Kind::kFixnum, x);
  return static_cast<int64_t>(x.raw) >> 1;  // a fixnum is its value shifted left once
}
char32_t CharValue(Local v);

Local Cons(Local car, Local cdr);
Local Car(Local pair);
Local Cdr(Local pair);
void SetCar(Local pair, Local v);  // write barrier applied
void SetCdr(Local pair, Local v);

Local MakeVector(size_t length, Local fill);
size_t VectorLength(Local vector);
Local VectorRef(Local vector, size_t i);
void VectorSet(Local vector, size_t i, Local v);

Local MakeString(std::string_view utf8);
std::string_view StringView(Local string);  // valid until the next safepoint
size_t StringLength(Local string);          // in bytes

// Byte arrays. Pinned buffers never move: their data pointer stays valid for native
// I/O as long as the buffer is reachable.
Local MakeBytes(size_t length, bool pinned = false);
size_t BytesLength(Local bytes);
uint8_t* BytesData(Local bytes);  // pinned: stable; otherwise until the next safepoint

// User record types: `ref_slots` managed references and `raw_bytes` of raw data.
// Registering a name twice with the same layout returns the same type; with a
// different layout throws TypeError.
struct RecordType {
  uint32_t id;
};
RecordType RegisterRecordType(std::string_view name, uint32_t ref_slots,
                              uint32_t raw_bytes);
Local MakeRecord(RecordType type);  // slots start as nil, raw bytes as zero
RecordType RecordTypeOf(Local record);
std::string_view RecordTypeName(RecordType type);
Local RecordRef(Local record, uint32_t slot);
void RecordSet(Local record, uint32_t slot, Local v);
uint8_t* RecordRaw(Local record);  // valid until the next safepoint

// ---------------------------------------------------------------------------------
// Errors.

// HeapExhausted: an allocation would pass the soft limit even after a full
// collection. The thread may raise the limit (SetSoftHeapLimit) and retry.
class HeapExhausted : public std::exception {
 public:
  HeapExhausted(size_t request, size_t soft_limit, size_t hard_limit);
  const char* what() const noexcept override { return message_.c_str(); }
  size_t request_bytes() const { return request_; }
  size_t soft_limit_bytes() const { return soft_; }
  size_t hard_limit_bytes() const { return hard_; }

 private:
  size_t request_, soft_, hard_;
  std::string message_;
};

// StackOverflow: the managed stack reached managed_stack_max_bytes.
class StackOverflow : public std::exception {
 public:
  explicit StackOverflow(size_t max_bytes);
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// TypeError: a wrong-kind argument, an index out of range, a fixnum overflow.
class TypeError : public std::exception {
 public:
  explicit TypeError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// ---------------------------------------------------------------------------------
// Heap control.

// Collect collects `generation` and every younger one; -1 collects everything.
void Collect(int generation = -1);
void SetSoftHeapLimit(size_t bytes);  // 0 removes it
size_t SoftHeapLimit();
Stats GetStats();
// ReleaseFreeMemory returns to the OS the freed memory the runtime keeps resident
// for reuse (Stats::free_retained_bytes), say after a phase that needed a large heap;
// returns the bytes released. Memory freed later is retained again.
size_t ReleaseFreeMemory();

// ---------------------------------------------------------------------------------
// Heap images (heap/DESIGN.md, "Heap images").

// SaveImage writes every object reachable from `roots`, and the roots themselves in
// order, to the image file `path`: compacted, with its record types by name and
// layout, checksummed, written atomically (a failed write leaves no file, and an
// existing one untouched). Stops the world while it copies (a pause proportional to
// the bytes saved); the file is written after the world resumes, on a helper thread
// (as RunBlocking): the calling green thread waits, the others keep running, and the
// image is the heap as it was in the pause. Errors: the OS's (Unavailable,
// ResourceExhausted for a full disk), naming the file.
absl::Status SaveImage(const std::string& path, std::span<const Local> roots);
// LoadImage loads an image anywhere in this runtime's heap, into the oldest
// generation, and returns its roots as new Locals in the innermost scope, in the
// order SaveImage was given them (keep them in Globals to outlive the scope). The file
// is read on a helper thread (as RunBlocking): the calling green thread waits, the
// others keep running; the world is stopped only to copy the validated image in.
// Record types are re-bound by name: register each (with the same layout) first. An
// image is untrusted: a bad one (truncated, wrong magic/version/word size/byte order,
// checksum mismatch, bad segment or reference, unknown or different record layout)
// returns InvalidArgument naming what is wrong and where (a path that is not a
// regular file, e.g. a FIFO or a directory: "image PATH: not a regular file", at once,
// without waiting for a writer), NotFound for a missing file, ResourceExhausted when the heap limits leave no room; the heap is then
// unchanged. Loaded strings and byte arrays may move later like any old object,
// except pinned ones, which stay pinned.
absl::StatusOr<std::vector<Local>> LoadImage(const std::string& path);

// Fix-ups for an embedder whose records hold native data (a code pointer in raw
// bytes) or stand for one object of the process (an end-of-file object): done in the
// load's own relocation pass, so they cost no walk over the loaded graph.
struct ImageLoadOptions {
  // Every loaded record of these types is listed in LoadedImage::listed.
  std::vector<RecordType> list;
  // Every reference the image holds to a record of `first`'s type (in its objects
  // and its roots) is replaced by `second`, an object of this process; the loaded
  // records of that type are left unreferenced. A type may not be both listed and
  // shared.
  std::vector<std::pair<RecordType, Local>> share;
};
struct LoadedImage {
  std::vector<Local> roots;  // as LoadImage(path) returns them
  Local listed;  // a vector of the listed records in image order (empty if none asked)
};
absl::StatusOr<LoadedImage> LoadImage(const std::string& path, const ImageLoadOptions& options);

// ---------------------------------------------------------------------------------
// Green threads. A thread's body returns a value (its result; an empty Local(), as
// from `return {};`, is nil); an exception escaping it ends that thread only, is
// logged once, and is rethrown by Join.

// SpawnOptions: sizes out of the ranges of the Options of the same name make Spawn
// throw TypeError naming the option and the range.
struct SpawnOptions {
  std::string name;
  size_t native_stack_bytes = 0;       // 0: the runtime's default
  size_t managed_stack_max_bytes = 0;  // 0: the runtime's default
};

namespace internal {
struct ThreadRecord;  // what a thread's handles and its body share (threads_api.cc)
// How many schedulers of this process have a stop-the-world requested now
// (threads/scheduler.cc, [threads.inv.poll]): what the inline Safepoint reads.
extern "C" std::atomic<int> weft_stop_requests_in_process;
void SafepointSlow();
}  // namespace internal

// Thread: a handle on a green thread. Copies share the thread; when the last copy goes
// while the thread was neither joined nor detached, the thread is detached. Using an
// empty (default-made or moved-from) Thread throws TypeError. A handle may outlive its
// Run and its Runtime; Join after Run has ended throws TypeError.
class Thread {
 public:
  Thread() = default;
  Thread(const Thread& other);
  Thread(Thread&& other) noexcept : record_(other.record_) { other.record_ = nullptr; }
  Thread& operator=(const Thread& other);
  Thread& operator=(Thread&& other) noexcept;
  ~Thread();
  int64_t id() const;
  std::string name() const;
  // Join waits for the thread and returns its result, or rethrows its exception.
  Local Join();
  void Detach();
  bool valid() const { return record_ != nullptr; }

 private:
  friend Thread Spawn(std::function<Local()> body, SpawnOptions options);
  internal::ThreadRecord* record_ = nullptr;
};

Thread Spawn(std::function<Local()> body, SpawnOptions options = {});
void Yield();
// Safepoint lets a stop-the-world that another worker requested (a collection, a heap
// image, a stack dump) proceed now, with this thread stopped here. Allocation, channel
// operations (Send, Recv, Select, Close), Mutex::Lock and TryLock, WaitGroup::Wait,
// Yield, Sleep, Spawn and Join are safepoints already (blocking or not); call this in
// a long loop that does none of them (walking a large structure, a numeric loop), or
// every other green thread waits for the loop to end, as a compiler puts a poll on a
// loop's back edge. Inline: one load and a branch when no stop is pending; like any
// safepoint, objects may move here ([runtime.handles]).
inline void Safepoint() {
  if (__builtin_expect(
          internal::weft_stop_requests_in_process.load(std::memory_order_relaxed) != 0, 0)) {
    internal::SafepointSlow();
  }
}
// SleepFor parks the green thread (its worker runs others) and returns no earlier than
// `d` after the call as measured on CLOCK_MONOTONIC (std::chrono::steady_clock), the
// clock every timeout in Weft uses. absl::Now() reads the real-time clock, which may be
// stepped or slewed, through a cycle-counter estimate, so an interval measured with it
// can come out shorter. SleepUntil(t) parks the same way for t - absl::Now(). Call
// them qualified (weft::SleepFor): absl::SleepFor, which sleeps the worker's OS thread
// and every green thread queued on it, is found for an absl::Duration argument too.
void SleepFor(absl::Duration d);
void SleepUntil(absl::Time t);
int64_t CurrentThreadId();
std::string CurrentThreadName();

// Channels of managed values. Copies share one channel.
// ChannelClosed: a send on a closed channel (also one a Select chose), or a second
// Close of a channel (as Go panics on both).
class ChannelClosed : public std::exception {
 public:
  explicit ChannelClosed(const char* what = "weft: send on a closed channel") : what_(what) {}
  const char* what() const noexcept override { return what_; }

 private:
  const char* what_;  // a string literal
};

struct SelectCase;

// Channel: a channel of managed values between green threads. It belongs to the
// runtime that made it (its values in flight are that runtime's roots); using it
// outside that runtime's Run throws TypeError.
class Channel {
 public:
  Channel() = default;
  static Channel Make(size_t capacity = 0);  // 0: unbuffered
  void Send(Local v);            // blocks; throws ChannelClosed
  // Recv blocks; returns the value, or nullopt once the channel is closed and empty.
  std::optional<Local> Recv();
  void Close();                  // throws ChannelClosed if already closed
  size_t capacity() const;
  bool valid() const { return state_ != nullptr; }
  const void* id() const { return state_.get(); }

 private:
  friend int Select(std::span<SelectCase> cases, std::optional<Local>* received,
                    std::optional<absl::Duration> timeout);
  std::shared_ptr<void> state_;
};

// Select waits for the first ready case. Returns its index, or -1 on timeout. For a
// receive, *received is set (nullopt when the channel was closed).
struct SelectCase {
  enum Op { kRecv, kSend } op;
  Channel channel;
  Local value;  // kSend: the value to send
};
int Select(std::span<SelectCase> cases, std::optional<Local>* received,
           std::optional<absl::Duration> timeout = std::nullopt);

// Mutex and WaitGroup block the green thread, not the worker. Copies share one
// object; a moved-from one throws TypeError when used.
class Mutex {
 public:
  Mutex();
  void Lock();
  void Unlock();  // throws TypeError if the mutex is not locked (and changes nothing)
  bool TryLock();

 private:
  std::shared_ptr<void> state_;
};

class WaitGroup {
 public:
  WaitGroup();
  // Add and Done throw TypeError (and change nothing) if the count would go below
  // zero or overflow.
  void Add(int64_t n);
  void Done();
  void Wait();

 private:
  std::shared_ptr<void> state_;
};

// I/O readiness: block this green thread (not the worker) until fd is readable or
// writable, or the deadline passes (returns false). Any number of green threads may
// wait on one fd; readiness wakes every waiter it matches, so true is a hint (another
// reader may take the data first: the read then finds EAGAIN). An fd epoll refuses (a
// regular file, a descriptor not open) is ready at once: the I/O call that follows
// reports its error.
bool WaitReadable(int fd, absl::Time deadline = absl::InfiniteFuture());
bool WaitWritable(int fd, absl::Time deadline = absl::InfiniteFuture());

// RunBlocking runs a blocking native call on a helper thread; the calling green
// thread waits, the others keep running. fn must not touch managed values, and must
// return: a call still running when Run ends (a detached thread's) is waited for
// before Run frees the thread's stack, so one that never returns holds Run.
void RunBlocking(std::function<void()> fn);

// ---------------------------------------------------------------------------------
// Observability.

struct DumpOptions {
  bool json = false;
  bool native_backtraces = true;
  bool roots = false;           // per managed slot: bytes it keeps alive
  std::string thread_filter;    // id or name; empty: all
  std::string state_filter;     // e.g. "blocked"; empty: all
};
// DumpStacks returns the dump of every green thread (see runtime/DESIGN.md). It
// allocates nothing in the managed heap; callable from a green thread.
std::string DumpStacks(const DumpOptions& options = {});

// The heap census: live and not-yet-collected objects by kind and generation.
struct CensusEntry {
  std::string kind;  // "pair", "vector", "string", "bytes", "record Point", ...
  int generation;
  uint64_t objects;
  uint64_t bytes;
};
std::vector<CensusEntry> HeapCensus();
std::string HeapCensusText(bool json = false);

// PathFromRoot: who keeps `v` alive: the chain of references from a root to it, one
// step per line, starting with the root (`thread 3 "worker" frame loop slot [5]`,
// `global slot` or `channel (in flight)`) and ending with the object. Empty when v is
// not a heap object or nothing reachable keeps it.
std::vector<std::string> PathFromRoot(Local v);

}  // namespace weft

#endif  // WEFT_RUNTIME_WEFT_H_
