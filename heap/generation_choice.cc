#include "heap/generation_choice.h"

#include <algorithm>

namespace weft::heap {

int ChooseCondemned(const GenerationFigures& f,
                    absl::FunctionRef<size_t(size_t)> grown_trigger) {
  // [heap.trigger.growth]: the oldest generation past its trigger.
  int chosen = 0;
  for (int g = f.oldest; g >= 1; --g) {
    if (f.bytes[g] > f.trigger[g]) {
      chosen = g;
      break;
    }
  }
  if (!f.promotes_at_first_survival) return chosen;
  // [heap.trigger.anticipate]: condemn generation g too when what the collection of
  // 0..g-1 would move into it takes it past its trigger, so that g is collected
  // before that batch lands on its dead data, not one nursery later. A collection of
  // 0 moves the nursery's survivors into 1; one of 0..1 moves those and generation
  // 1's into 2 (a block promoted in place ages with the generation it joins); one of
  // 0..g, g >= 2, moves generation g's into g + 1. Survivors are predicted from each
  // generation's last measured survival: the nursery's unmeasured counts as nothing
  // (no history, no prediction), an older generation's as all of it.
  auto survival = [&](int g) {
    const double s = f.survival[g];
    if (s < 0) return g == 0 ? 0.0 : 1.0;
    return std::min(s, 1.0);
  };
  const size_t young = static_cast<size_t>(static_cast<double>(f.young_bytes) * survival(0));
  size_t incoming = young;
  for (int g = 1; g <= f.oldest; ++g) {
    // [heap.trigger.batch], applied ahead: a batch that a collection of 1..g-1
    // moves up does not by itself set off a collection of g. Generation 1's trigger
    // is not raised for the nursery's batches, here as after a young collection.
    const size_t trigger = g == 1 ? f.trigger[1] : std::max(f.trigger[g], grown_trigger(incoming));
    if (g > chosen && f.bytes[g] + incoming <= trigger) break;
    // Early only where there is something to free: a generation nearly all of
    // which survived its last collection (a structure still being built) is left to
    // the plain rule.
    if (g > chosen && f.survival[g] >= kAnticipateBelowSurvival) break;
    chosen = std::max(chosen, g);
    incoming = static_cast<size_t>(static_cast<double>(f.bytes[g]) * survival(g)) +
               (g == 1 ? young : 0);
  }
  return chosen;
}

}  // namespace weft::heap
