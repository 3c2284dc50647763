// stack_dump.h: the stack-scan dump of every green thread. Private to //runtime.
//
// BuildDump reads the scheduler's registry, every managed stack (decoded slot by slot,
// precisely: the heap's tags say what each slot is) and the native stacks (unwound
// by frame pointers from each suspended fiber's saved context), and formats them as
// text or JSON. It allocates nothing in the managed heap and must run while the
// world is stopped ([runtime.dump.stopped]).
#ifndef WEFT_RUNTIME_STACK_DUMP_H_
#define WEFT_RUNTIME_STACK_DUMP_H_

#include <string>

#include "heap/heap.h"
#include "runtime/weft.h"
#include "threads/scheduler.h"

namespace weft {

// DescribeValue: one slot as the dump prints it: `fixnum 42`, `pair 0x... gen 1`,
// `string "abc"`, `vector[3] 0x... gen 0`, `record Point 0x... gen 2`, `unbound`.
std::string DescribeValue(heap::Heap& heap, heap::Value v);

// BuildDump formats every green thread that passes the filters.
std::string BuildDump(heap::Heap& heap, threads::Scheduler& scheduler,
                      const DumpOptions& options);

}  // namespace weft

#endif  // WEFT_RUNTIME_STACK_DUMP_H_
