// heap.cc: heap creation, the allocation slow paths, limits, roots and stats. The
// collector is in collector.cc, Verify in heap_verifier.cc.
#include "heap/heap.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_format.h"
#include "heap/filler.h"
#include "heap/generation_choice.h"
#include "runtime/check.h"

namespace weft::heap {

absl::StatusOr<std::unique_ptr<Heap>> Heap::Create(const HeapOptions& options, Arena* arena) {
  if (arena == nullptr) return absl::InvalidArgumentError("heap: arena must not be null");
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return std::unique_ptr<Heap>(new Heap(options, arena));
}

namespace {

HeapOptions Normalized(HeapOptions o) {
  o.nursery_bytes = (o.nursery_bytes + kBlockSize - 1) / kBlockSize * kBlockSize;
  o.max_nursery_bytes = std::max(
      o.nursery_bytes, (o.max_nursery_bytes + kBlockSize - 1) / kBlockSize * kBlockSize);
  return o;
}

}  // namespace

Heap::Heap(const HeapOptions& options, Arena* arena)
    : options_(Normalized(options)),
      arena_(arena),
      nursery_sizer_(options_.nursery_bytes, options_.max_nursery_bytes, kBlockSize,
                     options_.young_pause_target_ms) {
  MutexLock lock(&mu_);
  soft_limit_ = options_.soft_limit_bytes;
  nursery_bytes_ = options_.nursery_bytes;
  for (size_t& t : trigger_bytes_) t = std::max(options_.initial_bytes, options_.nursery_bytes);
  if (options_.gc_threads > 1) gc_workers_ = std::make_unique<GcWorkers>(options_.gc_threads);
}

Heap::~Heap() {
  MutexLock lock(&mu_);
  WEFT_CHECK(mutators_.empty(), "weft: heap destroyed while mutators remain");
  if (pinned_region_.open()) CloseRegion(pinned_region_, true);
  arena_->SetCachedFreeBytes(BaseCachedFreeBytes());  // [heap.arena.retain]
  for (char* b : young_blocks_) arena_->FreeBlocks(b);
  for (char* b : spare_young_blocks_) arena_->FreeBlocks(b);
  for (char* b : old_blocks_) arena_->FreeBlocks(b);
  for (char* b : large_runs_) arena_->FreeBlocks(b);
  for (char* b : pinned_blocks_) arena_->FreeBlocks(b);
}

Mutator* Heap::CreateMutator() {
  Mutator* m = new Mutator(this);
  MutexLock lock(&mu_);
  mutators_.push_back(m);
  return m;
}

void Heap::DestroyMutator(Mutator* m) {
  MutexLock lock(&mu_);
  auto it = std::find(mutators_.begin(), mutators_.end(), m);
  WEFT_CHECK(it != mutators_.end(), "weft: DestroyMutator of an unknown mutator");
  for (Region& r : m->regions_) CloseRegion(r, true);
  mutators_.erase(it);
  delete m;
}

void Heap::SetHost(CollectionHost* host) {
  MutexLock lock(&mu_);
  host_.store(host, std::memory_order_release);
}

// [heap.poll]: before a slow path takes a block, with no heap lock held and the
// request's values in the mutator's scratch slots (the collector updates them).
void Heap::PollHost() {
  if (CollectionHost* host = host_.load(std::memory_order_acquire)) host->Poll();
}

void Heap::OpenRegion(Region& r, char* start, char* end, bool stress) {
  r.start = r.cursor = start;
  r.end = end;
  r.limit = stress ? start : end;
  arena_->InfoFor(start).owner = &r;
}

void Heap::CloseRegion(Region& r, bool mutator) {
  if (!r.open()) return;
  size_t used = r.cursor - r.start;
  FillGap(r.cursor, r.end);  // [heap.inv.parseable]
  BlockInfo& info = arena_->InfoFor(r.start);
  WEFT_DCHECK(info.owner == &r, "weft: region closed in a block it does not own");
  info.bytes_used += static_cast<uint32_t>(used);
  info.owner = nullptr;
  if (info.type != BlockType::kYoung) {
    char* block = arena_->BlockAddress(arena_->BlockIndex(r.start));
    MarkLines(info, block, r.start, r.cursor);  // [heap.inv.lines]
  }
  if (mutator) stats_.bytes_allocated += used;
  r = Region{};
}

void Heap::CloseMutatorRegions() {
  for (Mutator* m : mutators_) {
    for (Region& r : m->regions_) CloseRegion(r, true);
  }
  CloseRegion(pinned_region_, true);
}

void Heap::FreeRun(char* run, size_t blocks, bool poison) {
  if (poison && WEFT_CHECKED_BUILD) PoisonWords(run, blocks * kBlockSize);
  arena_->FreeBlocks(run);
  heap_bytes_ -= blocks * kBlockSize;
}

size_t Heap::YoungReserve(size_t extra_young_bytes) const {
  // [heap.limits.reserve]: copying the nursery needs at most its bytes plus the
  // tail waste of each to-space block (objects up to a quarter block) plus one
  // partly filled block per to-space region.
  size_t young = young_blocks_.size() * kBlockSize + extra_young_bytes;
  return young + young / 3 + RegionSlackBytes();
}

size_t Heap::RegionSlackBytes() const {
  // A young collection opens at most: generation 1's promotion and overflow regions,
  // boxed and unboxed (4), and a survivor region per age below promotion_age[0],
  // boxed and unboxed ([heap.nursery.block-age]); plus 4 blocks to spare.
  return static_cast<size_t>(8 + 2 * (options_.promotion_age[0] - 1)) * kBlockSize;
}

size_t Heap::GrownTrigger(size_t bytes) const {
  // bytes < 2^46 and the percent <= 1000 < 2^10: the product fits.
  size_t grown = bytes + bytes * static_cast<size_t>(options_.old_growth_percent) / 100;
  return std::max({options_.initial_bytes, options_.nursery_bytes, grown});
}

bool Heap::FitsHardLimit(size_t bytes, bool from_spare, size_t reserve) {
  size_t hard = options_.hard_limit_bytes;
  if (heap_bytes_ + SpareBytes() + (from_spare ? 0 : bytes) + reserve <= hard) return true;
  if (spare_young_blocks_.empty()) return false;
  ReleaseSpareBlocks(0);
  return heap_bytes_ + bytes + reserve <= hard;
}

char* Heap::TakeYoungBlock(bool unboxed) {
  char* block;
  if (!spare_young_blocks_.empty()) {
    block = spare_young_blocks_.back();
    spare_young_blocks_.pop_back();
  } else {
    block = static_cast<char*>(arena_->AllocateBlocks(1, BlockType::kYoung));
    if (block == nullptr) return nullptr;
  }
  // As the arena would: a spare block's entry still describes its last use.
  BlockInfo& info = arena_->InfoFor(block);
  info.generation = 0;
  info.flags = unboxed ? kBlockUnboxed : 0;
  info.reserved = 0;
  info.bytes_used = 0;
  info.owner = nullptr;
  return block;
}

void Heap::KeepOrFreeYoungBlock(char* block) {
  // [heap.nursery.spare]: the nursery's working set stays committed; only blocks
  // beyond the nursery's size go back to the arena (which may decommit them).
  if (WEFT_CHECKED_BUILD) PoisonWords(block, kBlockSize);
  heap_bytes_ -= kBlockSize;
  if (SpareBytes() < nursery_bytes_) {
    spare_young_blocks_.push_back(block);
  } else {
    arena_->FreeBlocks(block);
  }
}

void Heap::ReleaseSpareBlocks(size_t keep) {
  while (spare_young_blocks_.size() > keep) {
    arena_->FreeBlocks(spare_young_blocks_.back());
    spare_young_blocks_.pop_back();
  }
}

size_t Heap::NurseryLimit() const {
  // [heap.nursery.adaptive]: a nursery of T needs T of blocks and a copy reserve of
  // about 4/3 T more under the hard limit ([heap.limits.reserve]), and T of room
  // under the soft limit with as much again for what it promotes.
  size_t limit = options_.max_nursery_bytes;
  size_t hard = options_.hard_limit_bytes;
  size_t used = heap_bytes_ + RegionSlackBytes();
  limit = std::min(limit, hard > used ? (hard - used) / 3 : 0);
  limit = std::min(limit, soft_limit_ > heap_bytes_ ? (soft_limit_ - heap_bytes_) / 2 : 0);
  limit = limit / kBlockSize * kBlockSize;
  return std::max(limit, options_.nursery_bytes);
}

size_t Heap::RetainFreeBlocks(int generation) {
  // [heap.arena.retain]: blocks a collection frees stay committed up to the largest
  // footprint of the recent past, so the next cycle's promotions and to-space reuse
  // resident pages instead of faulting them in again; a heap that stays smaller
  // for kRetainWindow older collections gives the difference back.
  size_t footprint = heap_bytes_ + SpareBytes();
  footprint_peaks_[retain_slot_] = std::max(footprint_peaks_[retain_slot_], footprint);
  size_t keep = BaseCachedFreeBytes();
  for (size_t peak : footprint_peaks_) keep = std::max(keep, peak);
  arena_->SetCachedFreeBytes(keep);
  if (generation > 0) {
    retain_slot_ = (retain_slot_ + 1) % kRetainWindow;
    footprint_peaks_[retain_slot_] = 0;
  }
  return keep;
}

void Heap::BoundRetainedBlocks(size_t keep) {
  // [heap.arena.retain]: free blocks are committed memory outside heap_bytes_, so
  // the heap, its spares and the blocks kept for it stay within the hard limit.
  const size_t used = heap_bytes_ + SpareBytes();
  const size_t hard = options_.hard_limit_bytes;
  const size_t room = hard > used ? hard - used : 0;
  arena_->SetCachedFreeBytes(std::max(BaseCachedFreeBytes(), std::min(keep, room)));
}

void Heap::AdaptNursery(size_t allocated, size_t survived) {
  // [heap.nursery.adaptive]
  size_t target = nursery_sizer_.Next(nursery_bytes_, allocated, survived);
  target = std::min(target, NurseryLimit());
  target = std::max(target / kBlockSize * kBlockSize, options_.nursery_bytes);
  if (target != nursery_bytes_) {
    ++nursery_resizes_;
    nursery_bytes_ = target;
  }
  ReleaseSpareBlocks(nursery_bytes_ / kBlockSize);
}

Heap::Admission Heap::Admit(size_t block_bytes, bool young_block, const Request& req) {
  if (host_.load(std::memory_order_relaxed) != nullptr && !req.collected_young &&
      young_since_gc_ + block_bytes > nursery_bytes_) {
    return Admission::kNeedYoung;
  }
  bool from_spare = young_block && !spare_young_blocks_.empty();
  if (!FitsHardLimit(block_bytes, from_spare, YoungReserve(young_block ? block_bytes : 0))) {
    return Admission::kOverHard;
  }
  if (heap_bytes_ + block_bytes > soft_limit_) return Admission::kOverSoft;
  return Admission::kOk;
}

bool Heap::FutileLocked() const {
  if (!full_gc_futile_) return false;
  if (stats_.promoted_bytes - futile_promoted_mark_ >= options_.nursery_bytes) return false;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t backoff = std::max(kMinFutileBackoffNs, kFutileBackoff * last_full_pause_ns_);
  return now - last_full_end_ns_ < backoff;
}

bool Heap::HandleAdmission(Admission a, Request& req) {
  CollectionHost* host;
  bool futile;
  {
    MutexLock lock(&mu_);
    host = host_.load(std::memory_order_relaxed);
    futile = FutileLocked();
  }
  switch (a) {
    case Admission::kOk:
      return true;
    case Admission::kNeedYoung: {
      req.collected_young = true;
      if (host == nullptr) return true;  // the host was removed meanwhile
      int gen = ChooseGeneration();
      if (gen == oldest_generation()) req.collected_full = true;
      host->RequestCollection(gen);
      return true;
    }
    case Admission::kOverSoft:
      // [heap.limits.futile]: one full collection per failing request, none while
      // the last one showed the live data does not fit.
      if (host == nullptr || req.collected_full || futile) return false;
      break;
    case Admission::kOverHard:
      if (host == nullptr || req.collected_full || futile) return false;
      break;
    case Admission::kOsRefused:
      if (host == nullptr || req.collected_full) return false;
      break;
  }
  req.collected_full = req.collected_young = true;
  host->RequestCollection(oldest_generation());
  return true;
}

char* Heap::Fail(Mutator* m, Admission a, const Request& req) {
  MutexLock lock(&mu_);
  AllocationFailure f;
  switch (a) {
    case Admission::kOverSoft: f.reason = AllocationFailure::Reason::kSoftLimit; break;
    case Admission::kOsRefused: f.reason = AllocationFailure::Reason::kOsRefused; break;
    default: f.reason = AllocationFailure::Reason::kHardLimit; break;
  }
  f.request_bytes = req.bytes;
  f.heap_bytes = heap_bytes_;
  f.soft_limit_bytes = soft_limit_;
  f.hard_limit_bytes = options_.hard_limit_bytes;
  f.os_errno = req.os_errno;
  if (req.collected_full) {
    // A full collection did not make room: do not run another for every retry
    // ([heap.limits.futile]).
    full_gc_futile_ = true;
    futile_promoted_mark_ = stats_.promoted_bytes;
  }
  m->failure_ = f;
  ++stats_.allocation_failures;
  return nullptr;
}

void Heap::StressTick(Mutator* m) {
  uint64_t n = options_.gc_stress_every_n_allocations;
  if (n == 0) return;
  uint64_t c;
  CollectionHost* host;
  {
    MutexLock lock(&mu_);
    c = ++stress_counter_;
    host = host_.load(std::memory_order_relaxed);
  }
  if (host == nullptr || c % n != 0) return;
  uint64_t k = c / n;
  int gen = k % 16 == 15 ? oldest_generation() : (k % 4 == 3 ? 1 : 0);
  host->RequestCollection(gen);
}

int Heap::ChooseGeneration() {
  MutexLock lock(&mu_);
  GenerationFigures f;
  f.oldest = oldest_generation();
  f.bytes = GenerationBytesLocked();
  f.trigger = trigger_bytes_;
  f.survival = survival_;
  f.young_bytes = young_since_gc_;
  f.promotes_at_first_survival = UniformPromotion(options_, f.oldest, f.oldest);
  return ChooseCondemned(f, [this](size_t bytes) { return GrownTrigger(bytes); });
}

char* Heap::AllocateSmall(Mutator* m, size_t bytes, Space space) {
  PollHost();
  Region& r = m->regions_[static_cast<int>(space)];
  bool stress = options_.gc_stress_every_n_allocations > 0;
  if (stress) {
    StressTick(m);
    r.limit = r.end;
    char* p = r.Bump(bytes);
    r.limit = r.cursor;
    if (p != nullptr) return p;
  }
  Request req;
  req.bytes = bytes;
  for (;;) {
    Admission a;
    {
      MutexLock lock(&mu_);
      WEFT_CHECK(!in_collection_, "weft: allocation during a collection");
      CloseRegion(r, true);
      a = Admit(kBlockSize, true, req);
      if (a == Admission::kOk) {
        char* block = TakeYoungBlock(space == Space::kUnboxed);
        if (block != nullptr) {
          young_blocks_.push_back(block);
          heap_bytes_ += kBlockSize;
          young_since_gc_ += kBlockSize;
          OpenRegion(r, block, block + kBlockSize, stress);
          r.limit = r.end;
          char* p = r.Bump(bytes);
          if (stress) r.limit = r.cursor;
          return p;
        }
        a = Admission::kOsRefused;
        req.os_errno = errno;
      }
    }
    if (!HandleAdmission(a, req)) return Fail(m, a, req);
  }
}

char* Heap::AllocateLarge(Mutator* m, size_t bytes, Space space) {
  PollHost();
  StressTick(m);
  Request req;
  req.bytes = bytes;
  size_t blocks = (bytes + kBlockSize - 1) / kBlockSize;
  for (;;) {
    Admission a;
    {
      MutexLock lock(&mu_);
      WEFT_CHECK(!in_collection_, "weft: allocation during a collection");
      a = Admit(blocks * kBlockSize, false, req);
      if (a == Admission::kOk) {
        char* run = static_cast<char*>(arena_->AllocateBlocks(blocks, BlockType::kLarge));
        if (run != nullptr) {
          for (size_t i = 0; i < blocks; ++i) {
            BlockInfo& info = arena_->InfoFor(run + i * kBlockSize);
            info.generation = 0;
            info.flags = space == Space::kUnboxed ? kBlockUnboxed : 0;
          }
          arena_->InfoFor(run).bytes_used = static_cast<uint32_t>(bytes);
          large_runs_.push_back(run);
          heap_bytes_ += blocks * kBlockSize;
          young_since_gc_ += blocks * kBlockSize;
          stats_.bytes_allocated += bytes;
          ++stats_.objects_allocated_large;
          return run;
        }
        a = Admission::kOsRefused;
        req.os_errno = errno;
      }
    }
    if (!HandleAdmission(a, req)) return Fail(m, a, req);
  }
}

char* Heap::AllocatePinned(Mutator* m, size_t bytes) {
  PollHost();
  StressTick(m);
  Request req;
  req.bytes = bytes;
  for (;;) {
    Admission a;
    {
      MutexLock lock(&mu_);
      WEFT_CHECK(!in_collection_, "weft: allocation during a collection");
      if (char* p = pinned_region_.Bump(bytes); p != nullptr) return p;
      CloseRegion(pinned_region_, true);
      if (char* p = BumpPinnedHole(bytes); p != nullptr) return p;
      a = Admit(kBlockSize, false, req);
      if (a == Admission::kOk) {
        char* block = static_cast<char*>(arena_->AllocateBlocks(1, BlockType::kPinned));
        if (block != nullptr) {
          BlockInfo& info = arena_->InfoFor(block);
          info.generation = 0;
          info.flags = kBlockUnboxed;
          pinned_blocks_.push_back(block);
          heap_bytes_ += kBlockSize;
          young_since_gc_ += kBlockSize;
          OpenRegion(pinned_region_, block, block + kBlockSize, false);
          return pinned_region_.Bump(bytes);
        }
        a = Admission::kOsRefused;
        req.os_errno = errno;
      }
    }
    if (!HandleAdmission(a, req)) return Fail(m, a, req);
  }
}

char* Heap::BumpPinnedHole(size_t bytes) {
  while (pinned_hole_block_ < pinned_holes_.size()) {
    char* b = pinned_holes_[pinned_hole_block_];
    size_t first, end;
    if (!NextFreeLines(arena_->InfoFor(b), &pinned_hole_line_, &first, &end)) {
      ++pinned_hole_block_;
      pinned_hole_line_ = 0;
      continue;
    }
    // Reusing lines already counted in the heap: no admission needed.
    OpenRegion(pinned_region_, b + first * kLineSize, b + end * kLineSize, false);
    if (char* p = pinned_region_.Bump(bytes); p != nullptr) return p;
    CloseRegion(pinned_region_, true);
  }
  return nullptr;
}

void Heap::SetSoftLimit(size_t bytes) {
  MutexLock lock(&mu_);
  soft_limit_ = std::clamp(bytes, options_.nursery_bytes, options_.hard_limit_bytes);
  full_gc_futile_ = false;
  nursery_bytes_ = std::min(nursery_bytes_, NurseryLimit());  // [heap.nursery.adaptive]
  ReleaseSpareBlocks(nursery_bytes_ / kBlockSize);
}

size_t Heap::soft_limit() const {
  MutexLock lock(&mu_);
  return soft_limit_;
}

void Heap::AddGlobalRoot(Value* slot) {
  MutexLock lock(&mu_);
  global_roots_.push_back(slot);
}

void Heap::RemoveGlobalRoot(Value* slot) {
  MutexLock lock(&mu_);
  auto it = std::find(global_roots_.begin(), global_roots_.end(), slot);
  WEFT_CHECK(it != global_roots_.end(), "weft: RemoveGlobalRoot of an unknown slot");
  global_roots_.erase(it);
}

absl::Status Heap::AllocateImageRuns(std::span<ImageRun> runs) {
  MutexLock lock(&mu_);
  WEFT_CHECK(!in_collection_, "weft: image load during a collection");
  size_t total = 0;
  for (const ImageRun& r : runs) total += r.blocks * kBlockSize;
  // [heap.limits.reserve]: the image must fit with the nursery's copy reserve.
  if (!FitsHardLimit(total, /*from_spare=*/false, YoungReserve(0))) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "image: loading needs %d bytes of blocks; the heap holds %d and its hard limit is %d",
        total, heap_bytes_, options_.hard_limit_bytes));
  }
  if (heap_bytes_ + total > soft_limit_) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "image: loading needs %d bytes of blocks; the heap holds %d and its soft limit is %d",
        total, heap_bytes_, soft_limit_));
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    ImageRun& r = runs[i];
    r.start = static_cast<char*>(arena_->AllocateBlocks(r.blocks, r.type));
    if (r.start == nullptr) {
      int e = errno;
      for (size_t k = 0; k < i; ++k) {
        arena_->FreeBlocks(runs[k].start);
        runs[k].start = nullptr;
      }
      return absl::ResourceExhaustedError(absl::StrFormat(
          "image: the arena could not provide %d blocks (errno %d) after %d of %d runs",
          r.blocks, e, i, runs.size()));
    }
    for (size_t b = 0; b < r.blocks; ++b) {
      BlockInfo& info = arena_->InfoFor(r.start + b * kBlockSize);
      info.generation = static_cast<uint8_t>(oldest_generation());
      info.flags = r.unboxed ? kBlockUnboxed : 0;
      info.reserved = 0;
      info.bytes_used = 0;
      info.owner = nullptr;
      std::memset(info.line_marks, 0, sizeof(info.line_marks));
      std::memset(info.cards, 0, sizeof(info.cards));
    }
  }
  return absl::OkStatus();
}

void Heap::AdoptImageRuns(std::span<const ImageRun> runs) {
  MutexLock lock(&mu_);
  size_t total = 0;
  for (const ImageRun& r : runs) {
    switch (r.type) {
      case BlockType::kOld: old_blocks_.push_back(r.start); break;
      case BlockType::kPinned: pinned_blocks_.push_back(r.start); break;
      case BlockType::kLarge: large_runs_.push_back(r.start); break;
      default: WEFT_CHECK(false, "weft: image run of a non-heap block type");
    }
    total += r.blocks * kBlockSize;
  }
  heap_bytes_ += total;
  // The image is live data, not growth: the oldest generation's next collection
  // waits until it grows by old_growth_percent, as after a full collection.
  int g = oldest_generation();
  trigger_bytes_[g] = std::max(trigger_bytes_[g], GrownTrigger(GenerationBytesLocked()[g]));
}

bool Heap::NeverMoves(const Object* o) const {
  BlockType t = arena_->InfoFor(o).type;
  return t == BlockType::kLarge || t == BlockType::kPinned;
}

std::array<size_t, kMaxGenerations> Heap::GenerationBytesLocked() const {
  std::array<size_t, kMaxGenerations> bytes = {};
  for (const auto* list : {&young_blocks_, &old_blocks_, &large_runs_, &pinned_blocks_}) {
    for (char* b : *list) {
      const BlockInfo& info = arena_->InfoFor(b);
      bytes[info.generation] += info.bytes_used;
    }
  }
  return bytes;
}

HeapStats Heap::Stats() const {
  MutexLock lock(&mu_);
  HeapStats s = stats_;
  s.heap_bytes = heap_bytes_;
  s.soft_limit_bytes = soft_limit_;
  s.hard_limit_bytes = options_.hard_limit_bytes;
  s.nursery_bytes = nursery_bytes_;
  s.nursery_spare_blocks = spare_young_blocks_.size();
  s.nursery_resizes = nursery_resizes_;
  s.young_copy_bytes_per_ms = nursery_sizer_.copy_bytes_per_ms();
  s.generation_bytes = GenerationBytesLocked();
  for (const auto* list : {&young_blocks_, &old_blocks_, &large_runs_, &pinned_blocks_}) {
    for (char* b : *list) {
      const BlockInfo& info = arena_->InfoFor(b);
      s.generation_blocks[info.generation] += info.run_blocks;
    }
  }
  return s;
}

void Heap::ForEachObject(absl::FunctionRef<void(Object*, int)> fn) {
  MutexLock lock(&mu_);
  ForEachObjectLocked(fn);
}

void Heap::ForEachObjectLocked(absl::FunctionRef<void(Object*, int)> fn) {
  for (const auto* list : {&young_blocks_, &old_blocks_, &pinned_blocks_}) {
    for (char* block : *list) {
      BlockInfo& info = arena_->InfoFor(block);
      const Region* r = static_cast<const Region*>(info.owner);
      char* end = block + kBlockSize;
      for (char* p = block; p < end;) {
        if (r != nullptr && p == r->cursor) {
          p = r->end;
          continue;
        }
        Object* o = reinterpret_cast<Object*>(p);
        size_t size = ObjectSize(o);
        WEFT_CHECK(size > 0, "weft: heap walk found an object of size zero");
        if (o->kind() != ObjectKind::kFiller) fn(o, info.generation);
        p += size;
      }
    }
  }
  for (char* run : large_runs_) {
    fn(reinterpret_cast<Object*>(run), arena_->InfoFor(run).generation);
  }
}

Census Heap::TakeCensus() {
  Census c;
  ForEachObject([&](Object* o, int gen) {
    int k = static_cast<int>(o->kind());
    ++c.objects[gen][k];
    c.bytes[gen][k] += ObjectSize(o);
  });
  return c;
}

}  // namespace weft::heap
