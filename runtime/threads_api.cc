// Green threads, sleeping, mutexes, wait groups, I/O waits and blocking calls of
// weft.h, on top of threads/.
#include <exception>
#include <string>

#include "runtime/runtime_impl.h"
#include "threads/blocking.h"
#include "threads/io.h"
#include "threads/mutex.h"
#include "threads/scheduler.h"
#include "threads/this_thread.h"
#include "threads/wait_group.h"

namespace weft {
namespace {

// SpawnedBody: the embedder's body and a global slot holding the thread's result, so
// the collector sees (and updates) it ([runtime.roots]). One allocation, shared by the
// green thread's body and its ThreadRecord and freed when both are gone, so a detached
// thread never writes a freed slot ([runtime.inv.result-slot]). The thread drops the
// embedder's body once it has run, as it would drop a body it owned.
struct SpawnedBody {
  std::function<Local()> body;
  RuntimeImpl* runtime;
  heap::Value* slot;
  SpawnedBody(std::function<Local()> b, RuntimeImpl* rt)
      : body(std::move(b)), runtime(rt), slot(rt->NewGlobalSlot(heap::Value::Nil())) {}
  ~SpawnedBody() { runtime->FreeGlobalSlot(slot); }
  SpawnedBody(const SpawnedBody&) = delete;
  SpawnedBody& operator=(const SpawnedBody&) = delete;
};

// ThreadRecord: what copies of a weft::Thread share.
struct ThreadRecord {
  threads::Thread handle;
  std::shared_ptr<SpawnedBody> result;
  uint64_t id = 0;
  std::string name;  // empty: threads::DefaultThreadName(id), made when asked

  ~ThreadRecord() {
    if (handle.joinable()) handle.Detach();
  }
};

ThreadRecord* RecordOf(const std::shared_ptr<void>& state) {
  WEFT_CHECK(state != nullptr, "weft: use of an empty weft::Thread");
  return static_cast<ThreadRecord*>(state.get());
}

}  // namespace

Thread Spawn(std::function<Local()> body, SpawnOptions options) {
  RuntimeImpl& rt = RuntimeImpl::Current();
  auto record = std::make_shared<ThreadRecord>();
  record->result = std::make_shared<SpawnedBody>(std::move(body), &rt);
  threads::SpawnOptions so;
  so.name = options.name;
  so.native_stack_bytes = options.native_stack_bytes;
  so.managed_stack_max_bytes = options.managed_stack_max_bytes;
  // One shared_ptr: threads::ThreadBody keeps it inline, no allocation.
  record->handle = threads::Spawn(
      [shared = record->result]() -> int64_t {
        struct DropBody {
          SpawnedBody* s;
          ~DropBody() { s->body = nullptr; }  // also when the body throws
        } drop{shared.get()};
        Scope scope("thread");
        Local r = shared->body();
        *shared->slot = ToHeap(r.get());
        return 0;
      },
      so);
  record->id = record->handle.id();
  record->name = std::move(options.name);
  Thread t;
  t.state_ = std::shared_ptr<void>(record, record.get());
  return t;
}

int64_t Thread::id() const { return static_cast<int64_t>(RecordOf(state_)->id); }

std::string Thread::name() const {
  const ThreadRecord* r = RecordOf(state_);
  if (!r->name.empty()) return r->name;
  return threads::DefaultThreadName(r->id);
}

Local Thread::Join() {
  ThreadRecord* r = RecordOf(state_);
  if (!r->handle.joinable()) {
    throw TypeError("weft: join of a thread that was already joined or detached");
  }
  threads::ThreadResult result = r->handle.Join();
  if (!result.ok()) std::rethrow_exception(result.exception);
  return Local::New(FromHeap(*r->result->slot));
}

void Thread::Detach() {
  ThreadRecord* r = RecordOf(state_);
  if (r->handle.joinable()) r->handle.Detach();
}

void Yield() { threads::this_thread::Yield(); }
void SleepFor(absl::Duration d) { threads::this_thread::SleepFor(d); }
void SleepUntil(absl::Time t) { threads::this_thread::SleepUntil(t); }
int64_t CurrentThreadId() { return static_cast<int64_t>(threads::this_thread::Id()); }
std::string CurrentThreadName() { return std::string(threads::this_thread::Name()); }

Mutex::Mutex() : state_(std::make_shared<threads::Mutex>()) {}
void Mutex::Lock() { static_cast<threads::Mutex*>(state_.get())->Lock(); }
void Mutex::Unlock() { static_cast<threads::Mutex*>(state_.get())->Unlock(); }
bool Mutex::TryLock() { return static_cast<threads::Mutex*>(state_.get())->TryLock(); }

WaitGroup::WaitGroup() : state_(std::make_shared<threads::WaitGroup>()) {}
void WaitGroup::Add(int64_t n) { static_cast<threads::WaitGroup*>(state_.get())->Add(n); }
void WaitGroup::Done() { static_cast<threads::WaitGroup*>(state_.get())->Done(); }
void WaitGroup::Wait() { static_cast<threads::WaitGroup*>(state_.get())->Wait(); }

bool WaitReadable(int fd, absl::Time deadline) { return threads::WaitReadable(fd, deadline); }
bool WaitWritable(int fd, absl::Time deadline) { return threads::WaitWritable(fd, deadline); }

void RunBlocking(std::function<void()> fn) { threads::RunBlocking(fn); }

}  // namespace weft
