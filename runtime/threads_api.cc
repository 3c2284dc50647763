// Green threads, sleeping, mutexes, wait groups, I/O waits and blocking calls of
// weft.h, on top of threads/.
#include <atomic>
#include <cstddef>
#include <exception>
#include <new>
#include <string>

#include "runtime/log.h"
#include "runtime/options.h"
#include "runtime/runtime_impl.h"
#include "threads/blocking.h"
#include "threads/io.h"
#include "threads/managed_stack.h"
#include "threads/mutex.h"
#include "threads/scheduler.h"
#include "threads/this_thread.h"
#include "threads/wait_group.h"

namespace weft {

// ThreadRecord: what the copies of a weft::Thread and the green thread's body share,
// in one allocation per Spawn ([runtime.inv.result-slot]): the embedder's body, which
// the thread drops once it has run, as it would drop a body it owned; and the result.
// An immediate result is kept here; a reference goes in a global slot, taken as the
// thread ends, so the collector sees (and updates) it until Join ([runtime.roots]). The
// block goes when the handles and the body are both gone, so a detached thread never
// writes a freed record.
struct internal::ThreadRecord {
  // Copies of the weft::Thread; the last to go detaches the thread if it is joinable.
  std::atomic<int> handles{1};
  // Owners of the block: the handles together (one) and the body until it is destroyed.
  std::atomic<int> owners{2};
  threads::Thread handle;
  std::function<Local()> body;
  RuntimeImpl* runtime;
  heap::Value result = heap::Value::Nil();  // when `slot` is null
  heap::Value* slot = nullptr;              // a reference result: a root until Join
  uint64_t id = 0;
  std::string name;  // empty: threads::DefaultThreadName(id), made when asked

  ThreadRecord(std::function<Local()> b, RuntimeImpl* rt) : body(std::move(b)), runtime(rt) {}
  ~ThreadRecord() {
    if (slot != nullptr) runtime->FreeGlobalSlot(slot);
  }
  ThreadRecord(const ThreadRecord&) = delete;
  ThreadRecord& operator=(const ThreadRecord&) = delete;

  // From the calling OS thread's cache of free blocks, else the allocator.
  static void* operator new(size_t bytes);
  static void operator delete(void* p);
};

namespace {

// RecordBlockCache: an OS thread's free ThreadRecord blocks, so that spawning with a
// warm cache makes no allocator call (a glibc malloc and free cost about 140
// instructions, a third of the runtime's share of a spawn and join). A block is freed
// where its record dies (the joiner's worker, or the thread's own when it ends last)
// and reused there. Not with ASan, so that it still sees a record used after its free.
struct RecordBlockCache {
  static constexpr int kCapacity = 64;
  int count = 0;
  void* blocks[kCapacity];
  ~RecordBlockCache() {
    while (count > 0) ::operator delete(blocks[--count]);
  }
};
thread_local RecordBlockCache tls_record_blocks;

// Opaque, like CurrentSlotCache: a green thread may resume on another worker, so the
// address of a thread_local is never kept across a call that may switch.
__attribute__((noinline)) RecordBlockCache* CurrentRecordBlocks() {
  asm volatile("" ::: "memory");
  return &tls_record_blocks;
}

}  // namespace

void* internal::ThreadRecord::operator new(size_t bytes) {
#if !defined(WEFT_ASAN)
  RecordBlockCache* c = CurrentRecordBlocks();
  if (c->count > 0) return c->blocks[--c->count];
#endif
  return ::operator new(bytes);
}

void internal::ThreadRecord::operator delete(void* p) {
#if !defined(WEFT_ASAN)
  RecordBlockCache* c = CurrentRecordBlocks();
  if (c->count < RecordBlockCache::kCapacity) {
    c->blocks[c->count++] = p;
    return;
  }
#endif
  ::operator delete(p);
}

namespace {

using internal::ThreadRecord;

// Counts only go down once the record is shared: an owner (or handle) that reads 1 is
// the last one, and nobody can add another, so it needs no read-modify-write (after a
// Join the body is gone, so dropping the joined handle frees the record with plain loads).
bool DropLast(std::atomic<int>& count) {
  return count.load(std::memory_order_acquire) == 1 ||
         count.fetch_sub(1, std::memory_order_acq_rel) == 1;
}

void ReleaseOwner(ThreadRecord* r) {
  if (DropLast(r->owners)) delete r;
}

void WarnPoppedResultOnce() {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true, std::memory_order_relaxed)) return;
  Log().warn(
      "a green thread's body returned a Local of a scope that had ended; its value was "
      "still there this time, but return it with Scope::Escape (logged once)");
}

// ThreadBodyOwner: the green thread's body; one pointer, so threads::ThreadBody keeps it
// inline (no allocation). Runs the embedder's body and keeps its result in the record.
class ThreadBodyOwner {
 public:
  explicit ThreadBodyOwner(ThreadRecord* r) : r_(r) {}
  ThreadBodyOwner(ThreadBodyOwner&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  ThreadBodyOwner& operator=(ThreadBodyOwner&&) = delete;
  // Also when the thread never ran (abandoned at shutdown): the body goes with it.
  ~ThreadBodyOwner() {
    if (r_ != nullptr) ReleaseOwner(r_);
  }

  int64_t operator()() {
    struct DropBody {
      ThreadRecord* r;
      ~DropBody() { r->body = nullptr; }  // also when the body throws
    } drop{r_};
    Scope scope("thread");
    Local result = r_->body();
    if (result.empty()) {  // `return {};`: a body with no result has the result nil
      r_->result = heap::Value::Nil();
      return 0;
    }
    // [runtime.inv.result-live]: a Local of a scope that has ended names a popped slot.
    // While the stack still has that slot's memory, nothing has written it since the
    // scope ended, so the value is read, with a warning (once per process); once the
    // segment is gone (it may be another worker's nursery already) it is an error.
    const threads::ManagedStack& stack = threads::this_thread::GetManagedStack();
    const heap::Value* slot = RuntimeImpl::SlotOf(result);
    if (__builtin_expect(!stack.Holds(slot), 0)) {
      if (!stack.Owns(slot)) {
        throw TypeError(
            "weft: a green thread's body returned a Local that is not a slot of its "
            "stack (its scope had ended and its memory is gone): return "
            "it with Scope::Escape");
      }
      WarnPoppedResultOnce();
    }
    heap::Value v = ToHeap(result.get());
    // Taking a slot reaches no safepoint: v cannot move before it is stored.
    if (v.IsPointer()) {
      r_->slot = r_->runtime->NewGlobalSlot(v);
    } else {
      r_->result = v;
    }
    return 0;
  }

 private:
  ThreadRecord* r_;
};

ThreadRecord* RecordOf(ThreadRecord* r) {
  if (__builtin_expect(r == nullptr, 0)) throw TypeError("weft: use of an empty weft::Thread");
  return r;
}

// A default-made Mutex or WaitGroup has its state; a moved-from one does not.
template <typename T>
T& StateOf(const std::shared_ptr<void>& state, const char* what) {
  if (__builtin_expect(state == nullptr, 0)) throw TypeError(what);
  return *static_cast<T*>(state.get());
}
threads::Mutex& MutexOf(const std::shared_ptr<void>& s) {
  return StateOf<threads::Mutex>(s, "weft: use of a moved-from weft::Mutex");
}
threads::WaitGroup& WaitGroupOf(const std::shared_ptr<void>& s) {
  return StateOf<threads::WaitGroup>(s, "weft: use of a moved-from weft::WaitGroup");
}

}  // namespace

Thread Spawn(std::function<Local()> body, SpawnOptions options) {
  Safepoint();  // [runtime.safepoint.calls]
  RuntimeImpl& rt = RuntimeImpl::Current();
  if (absl::Status s = ValidateSpawnOptions(options); !s.ok()) throw TypeError(std::string(s.message()));
  Thread t;
  t.record_ = new ThreadRecord(std::move(body), &rt);
  ThreadRecord* r = t.record_;
  threads::SpawnOptions so;
  so.name = std::move(options.name);  // the scheduler copies it; back to the record after
  so.native_stack_bytes = options.native_stack_bytes;
  so.managed_stack_max_bytes = options.managed_stack_max_bytes;
  r->handle = threads::Spawn(ThreadBodyOwner(r), so);
  r->id = r->handle.id();
  r->name = std::move(so.name);
  return t;
}

Thread::Thread(const Thread& other) : record_(other.record_) {
  if (record_ != nullptr) record_->handles.fetch_add(1, std::memory_order_relaxed);
}

Thread& Thread::operator=(const Thread& other) {
  Thread copy(other);
  return *this = std::move(copy);
}

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this != &other) {
    Thread old(std::move(*this));
    record_ = other.record_;
    other.record_ = nullptr;
  }
  return *this;
}

Thread::~Thread() {
  ThreadRecord* r = record_;
  if (r == nullptr || !DropLast(r->handles)) return;
  if (r->handle.joinable()) r->handle.Detach();
  ReleaseOwner(r);
}

int64_t Thread::id() const { return static_cast<int64_t>(RecordOf(record_)->id); }

std::string Thread::name() const {
  const ThreadRecord* r = RecordOf(record_);
  if (!r->name.empty()) return r->name;
  return threads::DefaultThreadName(r->id);
}

Local Thread::Join() {
  Safepoint();  // [runtime.safepoint.calls]: also when the thread has ended already
  ThreadRecord* r = RecordOf(record_);
  if (!r->handle.joinable()) {
    throw TypeError("weft: join of a thread that was already joined or detached");
  }
  if (r->handle.orphaned()) throw TypeError("weft: join of a thread whose Run has ended");
  threads::ThreadResult result = r->handle.Join();
  if (!result.ok()) std::rethrow_exception(result.exception);
  if (r->slot == nullptr) return Local::New(FromHeap(r->result));
  // Nobody reads the result again (a second Join throws): the slot goes now.
  Local out = Local::New(FromHeap(*r->slot));
  r->runtime->FreeGlobalSlot(r->slot);
  r->slot = nullptr;
  return out;
}

void Thread::Detach() {
  ThreadRecord* r = RecordOf(record_);
  if (r->handle.joinable()) r->handle.Detach();
}

void Yield() { threads::this_thread::Yield(); }
void internal::SafepointSlow() { threads::this_thread::Safepoint(); }
void SleepFor(absl::Duration d) { threads::this_thread::SleepFor(d); }
void SleepUntil(absl::Time t) { threads::this_thread::SleepUntil(t); }
int64_t CurrentThreadId() { return static_cast<int64_t>(threads::this_thread::Id()); }
std::string CurrentThreadName() { return std::string(threads::this_thread::Name()); }

Mutex::Mutex() : state_(std::make_shared<threads::Mutex>()) {}
// Lock and TryLock poll first: a loop of uncontended locks is a safepoint like any
// blocking call ([runtime.safepoint.calls]).
void Mutex::Lock() {
  Safepoint();
  MutexOf(state_).Lock();
}
void Mutex::Unlock() {
  if (!MutexOf(state_).Unlock()) throw TypeError("weft: Mutex::Unlock of a mutex that is not locked");
}
bool Mutex::TryLock() {
  Safepoint();
  return MutexOf(state_).TryLock();
}

WaitGroup::WaitGroup() : state_(std::make_shared<threads::WaitGroup>()) {}
void WaitGroup::Add(int64_t n) {
  if (!WaitGroupOf(state_).Add(n)) {
    throw TypeError(n < 0 ? "weft: WaitGroup::Add: the count would go below zero"
                          : "weft: WaitGroup::Add: the count would overflow");
  }
}
void WaitGroup::Done() {
  if (!WaitGroupOf(state_).Done()) throw TypeError("weft: WaitGroup::Done: the count would go below zero");
}
void WaitGroup::Wait() {
  Safepoint();
  WaitGroupOf(state_).Wait();
}

bool WaitReadable(int fd, absl::Time deadline) { return threads::WaitReadable(fd, deadline); }
bool WaitWritable(int fd, absl::Time deadline) { return threads::WaitWritable(fd, deadline); }

void RunBlocking(std::function<void()> fn) { threads::RunBlocking(fn); }

}  // namespace weft
