// cleanups.cc: AddCleanup ([runtime.cleanup]).
//
// Each registered cleanup keeps its object in a weak slot (heap/roots.h,
// [heap.weak]): the collector updates the slot when the object moves and reports
// it dead when the collection did not reach it. Dead entries leave the table
// during the collection (world stopped, heap lock held: nothing runs but moving
// a std::function); their functions run after the world resumes, on the green
// thread that ran the collection.
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/runtime_impl.h"

namespace weft {

void AddCleanup(Local object, std::function<void()> cleanup) {
  heap::Value v = ToHeap(object.get());
  if (!v.IsPointer()) {
    throw TypeError(absl::StrCat("weft: AddCleanup: expected a heap object, got a ",
                                 KindName(object.kind())));
  }
  RuntimeImpl::Current().AddCleanup(v, std::move(cleanup));
}

void RuntimeImpl::AddCleanup(heap::Value object, std::function<void()> cleanup) {
  // No safepoint between reading the object and storing it: nothing here allocates
  // from the managed heap, so no collection can move it in between.
  heap::MutexLock l(&cleanup_mu_);
  cleanups_.push_back(Cleanup{object, std::move(cleanup)});
}

void RuntimeImpl::VisitWeakRoots(heap::WeakRootVisitor& v) {
  heap::MutexLock l(&cleanup_mu_);
  size_t kept = 0;
  for (size_t i = 0; i < cleanups_.size(); ++i) {
    if (v.Visit(&cleanups_[i].object)) {
      if (kept != i) cleanups_[kept] = std::move(cleanups_[i]);
      ++kept;
    } else {
      pending_cleanups_.push_back(std::move(cleanups_[i].fn));
    }
  }
  cleanups_.resize(kept);
}

void RuntimeImpl::RunPendingCleanups() {
  std::vector<std::function<void()>> run;
  {
    heap::MutexLock l(&cleanup_mu_);
    // A collection run by a cleanup (which should not allocate, but may) leaves its
    // own dead entries to this loop instead of nesting.
    if (running_cleanups_ || pending_cleanups_.empty()) return;
    running_cleanups_ = true;
  }
  for (;;) {
    {
      heap::MutexLock l(&cleanup_mu_);
      cleanups_run_ += run.size();
      run.clear();
      if (pending_cleanups_.empty()) {
        running_cleanups_ = false;
        return;
      }
      run.swap(pending_cleanups_);
    }
    for (auto& fn : run) {
      if (fn) fn();
    }
  }
}

}  // namespace weft
