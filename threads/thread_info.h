// thread_info.h: what the registry says about one green thread.
//
// ThreadState and WaitReason are the registry's vocabulary; ThreadInfo is the view
// Scheduler::ForEachThread hands out. Outside a stopped world the fields are a
// racy snapshot (each is read atomically); while the world is stopped they are exact
// and `managed_stack` may be read and updated.
#ifndef WEFT_THREADS_THREAD_INFO_H_
#define WEFT_THREADS_THREAD_INFO_H_

#include <cstdint>
#include <string_view>

namespace weft::threads {

class ManagedStack;

enum class ThreadState : uint8_t {
  kRunnable = 0,  // in a run queue
  kRunning,       // on a worker
  kBlocked,       // parked on a mutex, channel, join, ... (see WaitReason)
  kSleeping,      // parked on a timer only
  kDone,          // finished, not yet joined
};
const char* ThreadStateName(ThreadState s);

enum class WaitReason : uint8_t {
  kNone = 0,
  kYield,
  kMutex,
  kCondVar,
  kChannelSend,
  kChannelReceive,
  kSelect,
  kSleep,
  kJoin,
  kWaitGroup,
  kSemaphore,
  kFdReadable,
  kFdWritable,
  kBlockingCall,
};
const char* WaitReasonName(WaitReason r);

struct ThreadInfo {
  uint64_t id = 0;
  std::string_view name;
  ThreadState state = ThreadState::kRunnable;
  WaitReason wait_reason = WaitReason::kNone;
  const void* wait_object = nullptr;  // the channel, mutex, fd (as an integer), ...
  int worker = -1;                    // last worker it ran on (-1: never ran)
  int64_t blocked_since_ns = 0;  // CLOCK_MONOTONIC_COARSE (ms resolution); 0 when not blocked
  // Native stack: [stack_low, stack_high); saved_sp is the saved context (the stack
  // pointer at the switch) while the thread is not running, else nullptr.
  const void* stack_low = nullptr;
  const void* stack_high = nullptr;
  const void* saved_sp = nullptr;
  ManagedStack* managed_stack = nullptr;  // nullptr once done, or when not readable
  bool detached = false;
  // Running on a worker that is not stopped (the safepoint watchdog's culprit, other
  // workers' threads in a fatal dump): its stacks change under the reader, so
  // managed_stack and saved_sp are nullptr.
  bool running_unstopped = false;
};

}  // namespace weft::threads

#endif  // WEFT_THREADS_THREAD_INFO_H_
