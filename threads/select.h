// select.h: wait on several channel operations at once (Go's select).
//
//   std::optional<int64_t> got;
//   int64_t out = 7;
//   SelectCase cases[] = {ReceiveCase(a, &got), SendCase(b, &out)};
//   int i = Select(cases, absl::Milliseconds(10));  // -1: timed out
//
// Exactly one case proceeds ([threads.inv.wake-once]); ready cases are polled in a
// random order so none starves. A receive case on a closed channel proceeds with
// its optional empty and `ok` false; a send case on a closed channel proceeds with
// `ok` false and the value not moved from. Timeout zero polls without blocking.
#ifndef WEFT_THREADS_SELECT_H_
#define WEFT_THREADS_SELECT_H_

#include <optional>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "threads/channel.h"

namespace weft::threads {

struct SelectCase {
  ChannelBase* channel = nullptr;
  bool send = false;
  void* value = nullptr;  // T* (send) or the channel's Out* (receive)
  // Set for the case that proceeded: false for a receive from a closed channel, whose
  // out is then reset (whether the select found it closed or a close woke it).
  bool ok = false;
};

template <typename T, typename Out>
SelectCase SendCase(Channel<T, Out>& ch, T* value) {
  return SelectCase{&ch, true, value, false};
}
template <typename T, typename Out>
SelectCase ReceiveCase(Channel<T, Out>& ch, Out* out) {
  return SelectCase{&ch, false, out, false};
}

// Select returns the index of the case that proceeded, or -1 on timeout.
int Select(absl::Span<SelectCase> cases, absl::Duration timeout = absl::InfiniteDuration());

}  // namespace weft::threads

#endif  // WEFT_THREADS_SELECT_H_
