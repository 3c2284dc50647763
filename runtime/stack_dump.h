// stack_dump.h: the stack-scan dump of every green thread. Private to //runtime.
//
// BuildDump reads the scheduler's registry, every managed stack (decoded slot by slot,
// precisely: the heap's tags say what each slot is) and the native stacks (unwound
// by frame pointers from each suspended fiber's saved context) into a Dump
// (dump_format.h) and formats it as text or JSON. It allocates nothing in the managed
// heap and must run while the world is stopped ([runtime.dump.stopped]).
#ifndef WEFT_RUNTIME_STACK_DUMP_H_
#define WEFT_RUNTIME_STACK_DUMP_H_

#include <span>
#include <string>

#include "heap/heap.h"
#include "runtime/dump_format.h"
#include "runtime/weft.h"
#include "threads/scheduler.h"

namespace weft {

// DescribeValue: one slot as the dump prints it: `fixnum 42`, `pair 0x... gen 1`,
// `string "abc"`, `vector[3] 0x... gen 0`, `record Point 0x... gen 2`, `unbound`.
std::string DescribeValue(heap::Heap& heap, heap::Value v);

// BuildDump formats every green thread that passes the filters.
std::string BuildDump(heap::Heap& heap, threads::Scheduler& scheduler,
                      const DumpOptions& options);

// FormatThread: one thread in BuildDump's text format (the "thread ..." line, its
// frames and native backtrace). The scheduler's format_thread hook: the deadlock
// report and the safepoint watchdog print threads with it.
std::string FormatThread(heap::Heap& heap, const threads::ThreadInfo& t);

// BuildFatalDump: BuildDump's text for a fatal error, with the world in any state
// ([runtime.dump.fatal]): threads running on other workers are named but their
// stacks are not read; `signal_context` (a ucontext_t, or nullptr) unwinds the
// calling thread across a fatal signal.
std::string BuildFatalDump(heap::Heap& heap, threads::Scheduler& scheduler,
                           const void* signal_context);
// TakeFatalDump: the Dump behind BuildFatalDump, for the Weft core writer
// (core_writer.h): every slot keeps its raw Value. `self_pcs`, when not empty, is the
// calling thread's backtrace taken earlier (the core writer runs in a copy of the
// process, on a stack of its own, and prints the failing thread's). False when the
// registry stayed locked (then `dump` is empty).
bool TakeFatalDump(heap::Heap& heap, threads::Scheduler& scheduler, const void* signal_context,
                   std::span<void* const> self_pcs, Dump* dump);

}  // namespace weft

#endif  // WEFT_RUNTIME_STACK_DUMP_H_
