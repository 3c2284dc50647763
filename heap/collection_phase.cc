#include "heap/collection_phase.h"

namespace weft::heap {

const char* CollectionPhaseName(CollectionPhase phase) {
  switch (phase) {
    case CollectionPhase::kPrepare:
      return "prepare";
    case CollectionPhase::kRoots:
      return "roots";
    case CollectionPhase::kRemembered:
      return "remembered";
    case CollectionPhase::kTrace:
      return "trace";
    case CollectionPhase::kWeak:
      return "weak";
    case CollectionPhase::kFinish:
      return "finish";
  }
  return "unknown";
}

}  // namespace weft::heap
