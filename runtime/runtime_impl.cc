#include "runtime/runtime_impl.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <optional>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "heap/allocation_failure.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "runtime/fatal_core.h"
#include "runtime/fatal_dump.h"
#include "runtime/fatal_try_lock.h"
#include "runtime/heap_inspect.h"
#include "runtime/log.h"
#include "runtime/stack_dump.h"
#include "runtime/options.h"
#include "runtime/collection_trace.h"
#include "runtime/trace.h"
#include "threads/managed_stack.h"
#include "threads/this_thread.h"

namespace weft {

std::atomic<RuntimeImpl*> RuntimeImpl::current_{nullptr};

namespace {
// The running worker's free global slots ([runtime.globals.cache]), likewise.
thread_local RuntimeImpl::SlotCache* tls_slot_cache = nullptr;

// Opaque like CurrentMutator: a green thread may resume on another worker, so the
// address of a thread_local is never kept across a call that may switch.
__attribute__((noinline)) RuntimeImpl::SlotCache* CurrentSlotCache() {
  asm volatile("" ::: "memory");
  return tls_slot_cache;
}

// Timeline events ([runtime.trace]).
constexpr trace::Kind kStopTheWorldKind{"runtime", "stop-the-world"};
constexpr trace::Kind kWorldStoppedKind{"runtime", "world-stopped"};
constexpr trace::Kind kCollectKind{"gc", "collect"};
}  // namespace

absl::StatusOr<std::unique_ptr<RuntimeImpl>> RuntimeImpl::Create(const Options& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  std::unique_ptr<RuntimeImpl> r(new RuntimeImpl());
  r->options_ = options;
  // Freed blocks stay committed up to twice the largest nursery: an old collection
  // frees about what young collections promoted, and the next nurseries' promotions
  // reuse those blocks without page faults ([heap.arena.decommit]).
  heap::ArenaOptions arena_options;
  arena_options.cached_free_bytes =
      std::max(arena_options.cached_free_bytes,
               2 * std::max(options.nursery_bytes, options.max_nursery_bytes));
  absl::StatusOr<heap::Arena*> arena = heap::Arena::Create(arena_options);
  if (!arena.ok()) return arena.status();
  r->arena_.reset(*arena);
  absl::StatusOr<std::unique_ptr<heap::Heap>> h =
      heap::Heap::Create(ToHeapOptions(options), r->arena_.get());
  if (!h.ok()) return h.status();
  r->heap_ = std::move(*h);
  r->heap_->SetHost(r.get());
  r->heap_->SetCollectionObserver(&CollectionTracer());  // [runtime.trace.gc-phases]

  threads::SchedulerOptions so = ToSchedulerOptions(options);
  RuntimeImpl* self = r.get();
  // Each worker allocates through its own Mutator ([runtime.inv.mutator-per-worker]).
  so.on_worker_start = [self](int worker) {
    self->mutators_[worker] = self->heap_->CreateMutator();
    SetCurrentMutator(self->mutators_[worker]);
    self->slot_caches_[worker] = std::make_unique<SlotCache>();
    tls_slot_cache = self->slot_caches_[worker].get();
  };
  so.on_worker_stop = [self](int worker) {
    tls_slot_cache = nullptr;
    self->SpillSlotCache(self->slot_caches_[worker].get(), 0);
    self->slot_caches_[worker].reset();
    SetCurrentMutator(nullptr);
    self->heap_->DestroyMutator(self->mutators_[worker]);
    self->mutators_[worker] = nullptr;
  };
  // [threads.hook.format-thread]: deadlock reports and the safepoint watchdog print
  // threads in the stack-scan format.
  so.format_thread = [self](const threads::ThreadInfo& t) { return FormatThread(*self->heap_, t); };
  // [threads.hook.deadlock]: the Weft core of a deadlock, if configured ([runtime.core]).
  so.on_deadlock = [self] { WriteDeadlockCore(*self); };
  absl::StatusOr<std::unique_ptr<threads::Scheduler>> s =
      threads::Scheduler::Create(r->arena_.get(), so);
  if (!s.ok()) return s.status();
  r->scheduler_ = std::move(*s);
  r->mutators_.assign(r->scheduler_->worker_count(), nullptr);
  r->slot_caches_.resize(r->scheduler_->worker_count());
  return r;
}

RuntimeImpl::~RuntimeImpl() {
  WEFT_CHECK(current_.load() != this, "weft: a runtime was destroyed while running");
  DetachChannels(this);
  // The scheduler frees the stacks, the heap its blocks; the arena unmaps the rest.
  scheduler_.reset();
  heap_.reset();
  arena_.reset();
  DetachGlobals();
}

namespace {
// The chunks of ended runtimes that still have slots in use ([runtime.globals.orphans]).
// Some are never freed (a Global on the stack of an abandoned thread): listed here,
// they stay reachable, not leaked, as far as LeakSanitizer can tell. Never destroyed,
// so a Global destroyed by a static destructor still finds it.
struct OrphanChunks {
  OsMutex mu;
  absl::flat_hash_set<const void*> chunks ABSL_GUARDED_BY(mu);
};
OrphanChunks& Orphans() {
  static OrphanChunks* const orphans = new OrphanChunks();
  return *orphans;
}
}  // namespace

// [runtime.globals.orphans]: the slots still in use belong to Globals (or thread
// results) that outlive this runtime, some of them never to be destroyed (on the stack
// of a detached thread abandoned at shutdown). Their chunks stay, owned by nobody, and
// the slots hold nil (the heap they pointed into is gone); the rest is freed.
void RuntimeImpl::DetachGlobals() {
  threads::SpinLockHolder lock(&globals_mu_);
  absl::flat_hash_set<const heap::Value*> free(free_globals_.begin(), free_globals_.end());
  size_t orphaned = 0;
  for (GlobalChunk* chunk : global_chunks_) {
    size_t in_use = 0;
    for (heap::Value& v : chunk->slots) {
      if (free.contains(&v)) continue;
      v = heap::Value::Nil();
      ++in_use;
    }
    if (in_use == 0) {
      delete chunk;
      continue;
    }
    orphaned += in_use;
    chunk->orphans.store(in_use, std::memory_order_relaxed);
    chunk->owner.store(nullptr, std::memory_order_release);
    OrphanChunks& o = Orphans();
    OsMutexLock l(&o.mu);
    o.chunks.insert(chunk);
  }
  global_chunks_.clear();
  free_globals_.clear();
  if (orphaned > 0) {
    Log().info("runtime destroyed with {} global slots in use (Globals or thread results "
               "that outlive it): detached, they hold nil",
               orphaned);
  }
}

absl::StatusOr<int> RuntimeImpl::Run(std::function<int()> main) {
  RuntimeImpl* expected = nullptr;
  if (!current_.compare_exchange_strong(expected, this)) {
    return absl::FailedPreconditionError(
        "weft: another runtime is already running in this process");
  }
  if (!trace::Enabled()) trace::StartFromEnvironment();
  InstallFatalDump();
  ConfigureCore(options_);
  control_ = ControlServer::Start(
      [this](const std::string& request) { return HandleControlRequest(request); },
      options_.control_socket, options_.dump_stacks_on_sigquit);
  absl::Status status = scheduler_->Run([&]() -> int64_t {
    Scope scope("main");
    return main();
  });
  // Detached threads still blocked in a channel were abandoned, their stacks freed:
  // their wait nodes must not be read by a later Run's collections or operations.
  ForgetChannelWaiters(this);
  control_.reset();
  ClearCore();
  current_.store(nullptr, std::memory_order_release);
  if (trace::Enabled()) trace::Flush();
  if (!status.ok()) return status;
  threads::ThreadResult result = scheduler_->main_result();
  if (!result.ok()) {
    try {
      std::rethrow_exception(result.exception);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("weft: main ended with an exception: ", e.what()));
    } catch (...) {
      return absl::InternalError("weft: main ended with a non-standard exception");
    }
  }
  return static_cast<int>(result.value);
}

heap::Mutator& RuntimeImpl::mutator() { return *CurrentMutator(); }

void RuntimeImpl::WithWorldStopped(const std::function<void()>& fn) {
  trace::Begin(kStopTheWorldKind);
  scheduler_->StopTheWorld();
  trace::End(kStopTheWorldKind);
  // [runtime.stw.resume]: the world is resumed however fn ends. An exception (a
  // std::bad_alloc building a dump, a census or an image's tables) goes on to the
  // caller with every other worker running again; left stopped, they would wait
  // forever, and so would the next StopTheWorld. (A collection does not throw: one
  // that fails part-way is fatal, heap/DESIGN.md [heap.inv.collect-nothrow].)
  struct Resume {
    threads::Scheduler* scheduler;
    ~Resume() { scheduler->ResumeTheWorld(); }
  } resume{scheduler_.get()};
  trace::Scoped stopped(kWorldStoppedKind);
  fn();
}

void RuntimeImpl::Collect(int generation, bool compact) {
  int g = generation < 0 ? heap_->oldest_generation() : generation;
  WithWorldStopped([&] {
    trace::Scoped collect(kCollectKind, static_cast<uint64_t>(g));
    heap_->Collect(g, *this, compact);
  });
  RunPendingCleanups();
}

// [runtime.stw]: stop every other worker, collect on this one, resume. A request
// that waited (stopped) through another worker's collection of the same generation
// or an older one is served by it ([heap.collect.coalesce]): the slow path retries.
void RuntimeImpl::RequestCollection(int generation) {
  const uint64_t seen = heap_->CollectionsOf(generation);
  WithWorldStopped([&] {
    trace::Scoped collect(kCollectKind, static_cast<uint64_t>(generation));
    heap_->CollectUnlessDone(generation, seen, *this);
  });
  RunPendingCleanups();
}

void RuntimeImpl::Poll() { threads::this_thread::Safepoint(); }

void RuntimeImpl::VisitRoots(heap::RootVisitor& v) {
  // [runtime.roots]: every managed stack, the global slots (which hold thread
  // results) and the values in flight in channels ([runtime.channels.in-flight]).
  scheduler_->ForEachThread([&](const threads::ThreadInfo& t) {
    if (t.managed_stack == nullptr) return;
    t.managed_stack->ForEachSegment([&](uint64_t* begin, uint64_t* end) {
      v.VisitRange(reinterpret_cast<heap::Value*>(begin), reinterpret_cast<heap::Value*>(end));
    });
  });
  {
    threads::SpinLockHolder lock(&globals_mu_);
    for (GlobalChunk* chunk : global_chunks_) {
      v.VisitRange(chunk->slots, chunk->slots + GlobalChunk::kSlots);
    }
  }
  VisitChannelValues(this, [&](heap::Value* slot) { v.Visit(slot); });
}

heap::Value* RuntimeImpl::NewGlobalSlot(heap::Value initial) {
  // [runtime.globals.cache]: on a worker, from its own cache, refilled in batches.
  SlotCache* c = CurrentSlotCache();
  if (c != nullptr) {
    if (c->count == 0) RefillSlotCache(c);
    heap::Value* slot = c->slots[--c->count];
    *slot = initial;
    return slot;
  }
  threads::SpinLockHolder lock(&globals_mu_);
  if (free_globals_.empty()) AddGlobalChunkLocked();
  heap::Value* slot = free_globals_.back();
  free_globals_.pop_back();
  *slot = initial;
  return slot;
}

void RuntimeImpl::FreeGlobalSlot(heap::Value* slot) {
  GlobalChunk* chunk = GlobalChunk::Of(slot);
  RuntimeImpl* owner = chunk->owner.load(std::memory_order_acquire);
  if (__builtin_expect(owner != nullptr, 1)) {
    owner->FreeOwnGlobalSlot(slot);
    return;
  }
  // [runtime.globals.orphans]: the runtime has ended; the last slot frees the chunk.
  *slot = heap::Value::Nil();
  if (chunk->orphans.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  {
    OrphanChunks& o = Orphans();
    OsMutexLock l(&o.mu);
    o.chunks.erase(chunk);
  }
  delete chunk;
}

void RuntimeImpl::FreeOwnGlobalSlot(heap::Value* slot) {
  // A free slot holds nil, so the collector may visit it ([runtime.globals.cache]).
  *slot = heap::Value::Nil();
  // A worker's cache only while this runtime runs: a Global of another runtime, or
  // one destroyed after Run returned, goes back to the shared list.
  SlotCache* c = CurrentOrNull() == this ? CurrentSlotCache() : nullptr;
  if (c != nullptr) {
    if (c->count == SlotCache::kCapacity) SpillSlotCache(c, SlotCache::kCapacity / 2);
    c->slots[c->count++] = slot;
    return;
  }
  threads::SpinLockHolder lock(&globals_mu_);
  free_globals_.push_back(slot);
}

void RuntimeImpl::AddGlobalChunkLocked() {
  auto* chunk = new GlobalChunk();
  chunk->owner.store(this, std::memory_order_relaxed);
  global_chunks_.push_back(chunk);
  for (size_t i = GlobalChunk::kSlots; i-- > 0;) {
    chunk->slots[i] = heap::Value::Nil();
    free_globals_.push_back(&chunk->slots[i]);
  }
}

void RuntimeImpl::RefillSlotCache(SlotCache* c) {
  threads::SpinLockHolder lock(&globals_mu_);
  if (free_globals_.size() < SlotCache::kCapacity / 2) AddGlobalChunkLocked();
  while (c->count < SlotCache::kCapacity / 2) {
    c->slots[c->count++] = free_globals_.back();
    free_globals_.pop_back();
  }
}

void RuntimeImpl::SpillSlotCache(SlotCache* c, int keep) {
  threads::SpinLockHolder lock(&globals_mu_);
  while (c->count > keep) free_globals_.push_back(c->slots[--c->count]);
}

std::vector<heap::Value*> RuntimeImpl::GlobalSlots() const {
  threads::SpinLockHolder lock(&globals_mu_);
  return GlobalSlotsLocked(/*world_stopped=*/true);
}

std::vector<heap::Value*> RuntimeImpl::GlobalSlotsLocked(bool world_stopped) const {
  absl::flat_hash_set<const heap::Value*> free(free_globals_.begin(), free_globals_.end());
  // The workers' caches are read only when they are stopped; a fatal report may find
  // them running and then lists their (nil) slots as in use.
  if (world_stopped) {
    for (const auto& c : slot_caches_) {
      if (c != nullptr) free.insert(c->slots, c->slots + c->count);
    }
  }
  std::vector<heap::Value*> out;
  for (const GlobalChunk* chunk : global_chunks_) {
    for (const heap::Value& v : chunk->slots) {
      if (!free.contains(&v)) out.push_back(const_cast<heap::Value*>(&v));
    }
  }
  return out;
}

bool RuntimeImpl::GlobalSlotsForFatal(std::vector<heap::Value*>* out) const {
  if (!TryLockForFatal(globals_mu_)) return false;
  *out = GlobalSlotsLocked(/*world_stopped=*/false);
  globals_mu_.Unlock();
  return true;
}

// [runtime.errors]: allocation failures are exceptions in the allocating thread.
void RuntimeImpl::ThrowAllocationFailure(const heap::AllocationFailure& f) {
  using Reason = heap::AllocationFailure::Reason;
  if (f.reason == Reason::kTooLarge) {
    throw TypeError(absl::StrFormat("weft: cannot allocate an object of %d bytes (too large)",
                                    f.request_bytes));
  }
  if (f.reason == Reason::kOsRefused) {
    Log().error("the OS refused memory: {} bytes requested, heap {} bytes, errno {}",
                f.request_bytes, f.heap_bytes, f.os_errno);
  }
  size_t soft = f.reason == Reason::kSoftLimit ? f.soft_limit_bytes : f.hard_limit_bytes;
  throw HeapExhausted(f.request_bytes, soft, f.hard_limit_bytes);
}

namespace {

// ParseAddress: a path request's address, hexadecimal with or without `0x`, as a
// dump prints it (`pair 0x7f3a2c001040 gen 0`).
bool ParseAddress(std::string_view word, uintptr_t* out) {
  if (word.substr(0, 2) == "0x" || word.substr(0, 2) == "0X") word.remove_prefix(2);
  if (word.empty()) return false;
  auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), *out, 16);
  return ec == std::errc() && end == word.data() + word.size();
}

}  // namespace

std::string RuntimeImpl::HandleControlRequest(const std::string& request) {
  std::vector<std::string> words = absl::StrSplit(request, ' ', absl::SkipEmpty());
  if (words.empty()) return "error: empty request\n";
  const std::string& verb = words[0];
  const bool dump = verb == "dump", census = verb == "census", path = verb == "path";
  if (!dump && !census && !path) {
    return absl::StrCat("error: unknown request '", verb, "' (expected dump, census or path)\n");
  }
  DumpOptions o;
  o.native_backtraces = false;
  std::optional<uintptr_t> address;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "json") {
      o.json = true;
    } else if (w == "roots" && dump) {
      o.roots = true;
    } else if (w == "native" && dump) {
      o.native_backtraces = true;
    } else if (absl::StartsWith(w, "thread=") && dump) {
      o.thread_filter = w.substr(7);
    } else if (absl::StartsWith(w, "state=") && dump) {
      o.state_filter = w.substr(6);
    } else if (path && !address.has_value()) {
      uintptr_t a = 0;
      if (!ParseAddress(w, &a)) {
        return absl::StrCat("error: path: '", w,
                            "' is not an address (expected hexadecimal, as a dump prints "
                            "it: 0x7f3a2c001040)\n");
      }
      address = a;
    } else {
      return absl::StrCat("error: unknown option '", w, "' for ", verb, "\n");
    }
  }
  if (path && !address.has_value()) return "error: path needs an address: path ADDRESS [json]\n";
  std::string out;
  try {
    // [runtime.stw.resume]: from the control thread, not a worker; the world runs
    // again however the pause ends.
    WithWorldStopped([&] {
      if (control_pause_hook_) control_pause_hook_();
      if (census) {
        out = FormatCensus(BuildCensus(*heap_), o.json);
      } else if (dump) {
        out = BuildDump(*heap_, *scheduler_, o);
      } else if (!arena_->Contains(reinterpret_cast<const void*>(*address))) {
        out = absl::StrFormat("error: path: %#x is not in the heap\n", *address);
      } else if (heap::Object* object = FindObjectAt(*heap_, *address); object == nullptr) {
        // [runtime.dump.path]: validated against the heap, never read.
        out = absl::StrFormat(
            "error: path: %#x is not the start of an object (an address in a dump is "
            "valid until the next collection moves or frees its object)\n",
            *address);
      } else {
        heap::Value target = heap::Value::FromObject(object);
        out = FormatPath(DescribeValue(*heap_, target), PathTo(target, nullptr), o.json);
      }
    });
  } catch (const std::exception& e) {
    return absl::StrCat("error: ", verb, " failed: ", e.what(), "\n");
  }
  return out;
}

std::vector<std::string> RuntimeImpl::PathTo(heap::Value target, const heap::Value* skip) {
  std::vector<heap::Value*> in_flight;
  VisitChannelValues(this, [&](heap::Value* slot) { in_flight.push_back(slot); });
  return BuildPath(*heap_, *scheduler_, GlobalSlots(), in_flight, skip, target);
}

Stats RuntimeImpl::GetStats() const {
  Stats s;
  heap::HeapStats h = heap_->Stats();
  s.bytes_allocated = h.bytes_allocated;
  int gens = heap_->oldest_generation() + 1;
  s.generation_bytes.assign(h.generation_bytes.begin(), h.generation_bytes.begin() + gens);
  s.collections.assign(h.collections.begin(), h.collections.begin() + gens);
  s.promoted_bytes = h.promoted_bytes;
  s.promoted_in_place_bytes = h.promoted_in_place_bytes;
  s.total_pause = absl::Microseconds(h.total_pause_ms * 1000);
  s.max_pause = absl::Microseconds(h.max_pause_ms * 1000);
  s.pause_histogram.assign(h.pauses.counts.begin(), h.pauses.counts.end());
  s.heap_committed_bytes = h.heap_bytes;
  s.free_retained_bytes = arena_->Stats().free_committed_blocks * heap::kBlockSize;
  s.soft_limit_bytes = h.soft_limit_bytes;
  {
    heap::MutexLock l(&cleanup_mu_);
    s.cleanups_registered = cleanups_.size();
    s.cleanups_run = cleanups_run_;
  }
  threads::SchedulerStats ts = scheduler_->Stats();
  s.threads_total_spawned = ts.spawned;
  s.steals = ts.steals;
  s.context_switches = ts.context_switches;
  scheduler_->ForEachThread([&](const threads::ThreadInfo& t) {
    switch (t.state) {
      case threads::ThreadState::kRunnable: ++s.threads_runnable; break;
      case threads::ThreadState::kRunning: ++s.threads_running; break;
      case threads::ThreadState::kBlocked: ++s.threads_blocked; break;
      case threads::ThreadState::kSleeping: ++s.threads_sleeping; break;
      case threads::ThreadState::kDone: break;
    }
  });
  return s;
}

}  // namespace weft
