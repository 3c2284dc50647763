// generation_choice.h: ChooseCondemned, which generations a collection that the
// nursery filling up sets off condemns ([heap.trigger.growth],
// [heap.trigger.anticipate]). Pure arithmetic over the heap's figures, no lock: the
// heap fills a GenerationFigures under its own lock and applies the answer.
#ifndef WEFT_HEAP_GENERATION_CHOICE_H_
#define WEFT_HEAP_GENERATION_CHOICE_H_

#include <array>
#include <cstddef>

#include "absl/functional/function_ref.h"
#include "heap/heap_options.h"

namespace weft::heap {

struct GenerationFigures {
  int oldest = 1;  // the oldest generation, in [1, kMaxOlderGenerations]
  // Bytes in use in each older generation (index 0 unused) and the bytes past which
  // each is collected ([heap.trigger.growth]).
  std::array<size_t, kMaxGenerations> bytes = {};
  std::array<size_t, kMaxGenerations> trigger = {};
  // The fraction of each generation's bytes that survived its last collection (index
  // 0: of the bytes allocated in the nursery before the last young collection); < 0
  // when not measured yet.
  std::array<double, kMaxGenerations> survival = {-1, -1, -1, -1, -1, -1, -1};
  // Bytes allocated in the nursery since the last collection.
  size_t young_bytes = 0;
  // Every survivor of a condemned generation moves up one generation, the nursery's
  // included (promotion_age 1 for generations 0..oldest - 1: the runtime's default).
  // Without it, only the plain trigger rule applies.
  bool promotes_at_first_survival = false;
};

// A generation is condemned ahead of its trigger only if less than this fraction of
// it survived its last collection, or it was never collected
// ([heap.trigger.anticipate]).
inline constexpr double kAnticipateBelowSurvival = 0.9;

// ChooseCondemned: the oldest generation to condemn with the nursery (0: the nursery
// alone). `grown_trigger` is Heap::GrownTrigger: the trigger a generation gets for a
// batch of the given bytes just moved into it ([heap.trigger.batch]).
int ChooseCondemned(const GenerationFigures& f,
                    absl::FunctionRef<size_t(size_t)> grown_trigger);

}  // namespace weft::heap

#endif  // WEFT_HEAP_GENERATION_CHOICE_H_
