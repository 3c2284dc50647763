#include "threads/blocking.h"

#include "threads/blocking_pool.h"
#include "threads/scheduler_impl.h"

namespace weft::threads {
namespace {

struct BlockingFrame {
  absl::FunctionRef<void()> fn;
  GreenThread* self;
  std::exception_ptr error;
};

// On the scheduler stack, after the switch ([threads.inv.publish-after-save]).
void SubmitAfter(void* p) {
  auto* f = static_cast<BlockingFrame*>(p);
  SchedulerImpl* s = f->self->sched;
  s->pending_wakers_.fetch_add(1);  // [threads.inv.deadlock]
  s->blocking()->Submit([f, s] {
    try {
      f->fn();
    } catch (...) {
      f->error = std::current_exception();
    }
    internal::Ready(f->self);  // f may be gone after this
    s->ReleasePendingWakers();
  });
}

}  // namespace

std::exception_ptr RunBlockingImpl(absl::FunctionRef<void()> fn) {
  GreenThread* self = internal::CurrentThread();
  if (self == nullptr) {
    try {
      fn();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }
  BlockingFrame f{fn, self, nullptr};
  internal::Park(ThreadState::kBlocked, WaitReason::kBlockingCall, nullptr, &SubmitAfter, &f);
  return f.error;
}

}  // namespace weft::threads
