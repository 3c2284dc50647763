// heap_inspect.h: the heap census and "who keeps this alive". Private to //runtime.
//
// All of them run while the world is stopped and allocate nothing in the managed heap.
#ifndef WEFT_RUNTIME_HEAP_INSPECT_H_
#define WEFT_RUNTIME_HEAP_INSPECT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "heap/heap.h"
#include "runtime/weft.h"
#include "threads/scheduler.h"

namespace weft {

std::vector<CensusEntry> BuildCensus(heap::Heap& heap);
std::string FormatCensus(const std::vector<CensusEntry>& census, bool json);

// BuildPath: the shortest chain of references from a root to `target` (breadth
// first over the managed stacks, in thread and slot order, then the global slots,
// then the values in flight in channels). `skip` (the slot naming the target for the
// query) is not a root. Empty when `target` is not a heap object or is unreachable.
std::vector<std::string> BuildPath(heap::Heap& heap, threads::Scheduler& scheduler,
                                   const std::vector<heap::Value*>& globals,
                                   const std::vector<heap::Value*>& channel_values,
                                   const heap::Value* skip, heap::Value target);

// FindObjectAt: the object that starts at `address` (as a dump prints it), or nullptr
// when no object of the heap starts there. The address comes from outside (a
// `stackscan --path` request): it is compared with the starts of the objects a heap
// walk finds and never read itself ([runtime.dump.path]). Objects not yet found dead
// are found too.
heap::Object* FindObjectAt(heap::Heap& heap, uintptr_t address);

// FormatPath: the answer to a path request for `object` (its description): BuildPath's
// steps one per line, or `unreachable: OBJECT ...` when `path` is empty; as JSON,
// {"object":...,"reachable":true|false,"path":[...]}.
std::string FormatPath(const std::string& object, const std::vector<std::string>& path,
                       bool json);

}  // namespace weft

#endif  // WEFT_RUNTIME_HEAP_INSPECT_H_
