// collection_trace.h: the heap's collection phases as WEFT_TRACE events.
//
// The heap tells a CollectionObserver (heap/collection_phase.h) where each
// collection's phases begin and end; this one records them as durations of
// category "gc", named after the phase, nested inside the runtime's "gc"/"collect"
// span, with the collected generation as args.value ([runtime.trace.gc-phases]).
// With WEFT_TRACE unset each call is the tracer's one relaxed load and branch.
#ifndef WEFT_RUNTIME_COLLECTION_TRACE_H_
#define WEFT_RUNTIME_COLLECTION_TRACE_H_

#include "heap/collection_phase.h"

namespace weft {

// CollectionTracer: stateless; one process-wide instance.
heap::CollectionObserver& CollectionTracer();

}  // namespace weft

#endif  // WEFT_RUNTIME_COLLECTION_TRACE_H_
