// blocking.h: run a blocking native call without blocking the worker.
//
// RunBlocking(fn) parks the calling green thread, runs fn on a pooled helper OS
// thread (SchedulerOptions::blocking_threads_max of them at most), and resumes the
// green thread with fn's result; the worker runs other green threads meanwhile. An
// exception thrown by fn is rethrown in the green thread. Off a green thread, fn
// simply runs. fn must not call threads/ blocking primitives. A call still running
// when Run ends (a detached thread's) is waited for before Run frees anything
// ([threads.inv.blocking-at-shutdown]): fn must return.
#ifndef WEFT_THREADS_BLOCKING_H_
#define WEFT_THREADS_BLOCKING_H_

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/functional/function_ref.h"

namespace weft::threads {

// RunBlockingImpl runs fn on a helper; exceptions come back in the returned pointer.
std::exception_ptr RunBlockingImpl(absl::FunctionRef<void()> fn);

template <typename F>
auto RunBlocking(F&& f) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  if constexpr (std::is_void_v<R>) {
    std::exception_ptr e = RunBlockingImpl([&] { f(); });
    if (e) std::rethrow_exception(e);
  } else {
    std::optional<R> r;
    std::exception_ptr e = RunBlockingImpl([&] { r.emplace(f()); });
    if (e) std::rethrow_exception(e);
    return std::move(*r);
  }
}

}  // namespace weft::threads

#endif  // WEFT_THREADS_BLOCKING_H_
