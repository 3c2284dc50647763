// this_thread.h: what a green thread can ask about and do to itself.
//
// Every function here must be called from a green thread unless noted. Green threads
// migrate between workers at any switch: never keep the address of a thread_local
// across a switch; these accessors are opaque calls for that reason.
#ifndef WEFT_THREADS_THIS_THREAD_H_
#define WEFT_THREADS_THIS_THREAD_H_

#include <cstdint>
#include <string_view>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace weft::threads {

class ManagedStack;
class Scheduler;

namespace this_thread {

// InGreenThread: callable anywhere.
bool InGreenThread();
uint64_t Id();
std::string_view Name();
// Yield lets every other runnable thread of this worker run first. A safepoint.
void Yield();
// MigrateTo moves the caller to worker `worker` (it resumes there). For tests and
// affinity. A safepoint.
void MigrateTo(int worker);
void SleepFor(absl::Duration d);
void SleepUntil(absl::Time deadline);
// The calling thread's managed stack.
ManagedStack& GetManagedStack();
// Safepoint polls for a pending StopTheWorld and stops here if there is one.
void Safepoint();
// NoSwitchBegin / NoSwitchEnd bracket code that must neither switch nor stop (for
// weft::NoSafepointScope): while the calling thread is inside a bracket, its park,
// yield, migration, exit, stop at a safepoint or stop-the-world request is a broken
// invariant and aborts with a message ([threads.inv.no-switch]). Brackets nest.
void NoSwitchBegin();
void NoSwitchEnd();
// InNoSwitch: the caller is inside a NoSwitchBegin/End bracket.
bool InNoSwitch();
// The worker running the caller now (changes at any switch); -1 off a worker.
// Callable anywhere.
int WorkerIndex();
Scheduler* CurrentScheduler();

}  // namespace this_thread
}  // namespace weft::threads

#endif  // WEFT_THREADS_THIS_THREAD_H_
