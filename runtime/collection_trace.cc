#include "runtime/collection_trace.h"

#include <cstdint>

#include "runtime/trace.h"

namespace weft {
namespace {

// One Kind per phase, in CollectionPhase order: an event stores only its Kind's
// address, so each must be a static.
constexpr trace::Kind kPhaseKinds[heap::kCollectionPhaseCount] = {
    {"gc", "prepare"}, {"gc", "roots"}, {"gc", "remembered"},
    {"gc", "trace"},   {"gc", "weak"},  {"gc", "finish"},
};

const trace::Kind& KindOf(heap::CollectionPhase phase) {
  return kPhaseKinds[static_cast<int>(phase)];
}

class Tracer final : public heap::CollectionObserver {
 public:
  void PhaseBegin(heap::CollectionPhase phase, int generation) override {
    trace::Begin(KindOf(phase), static_cast<uint64_t>(generation));
  }
  void PhaseEnd(heap::CollectionPhase phase, int generation) override {
    trace::End(KindOf(phase), static_cast<uint64_t>(generation));
  }
};

}  // namespace

heap::CollectionObserver& CollectionTracer() {
  static Tracer tracer;
  return tracer;
}

}  // namespace weft
