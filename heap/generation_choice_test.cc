// generation_choice_test.cc: which generations a nursery-full collection condemns:
// the plain growth trigger ([heap.trigger.growth]) and the anticipated batches
// ([heap.trigger.anticipate]), over figures given by hand.
#include "heap/generation_choice.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace weft::heap {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// As Heap::GrownTrigger with initial_bytes = nursery_bytes = 16 MiB and
// old_growth_percent = 50.
size_t Grown(size_t bytes) { return std::max(16 * kMiB, bytes + bytes / 2); }

// Three older generations, every trigger 16 MiB, promotion at the first survival.
GenerationFigures Figures() {
  GenerationFigures f;
  f.oldest = 3;
  for (int g = 1; g <= 3; ++g) f.trigger[g] = 16 * kMiB;
  f.promotes_at_first_survival = true;
  return f;
}

TEST(GenerationChoiceTest, TheNurseryAloneWhileNothingPassesItsTrigger) {
  GenerationFigures f = Figures();
  f.bytes = {0, 4 * kMiB, 8 * kMiB, 15 * kMiB};
  f.young_bytes = 4 * kMiB;
  f.survival = {0.01, 0.5, 0.5, 1};
  EXPECT_EQ(ChooseCondemned(f, Grown), 0);
}

TEST(GenerationChoiceTest, TheOldestGenerationPastItsTrigger) {
  GenerationFigures f = Figures();
  f.bytes = {0, 17 * kMiB, 0, 0};
  EXPECT_EQ(ChooseCondemned(f, Grown), 1);
  f.bytes = {0, 17 * kMiB, 0, 20 * kMiB};
  EXPECT_EQ(ChooseCondemned(f, Grown), 3);
  f.promotes_at_first_survival = false;
  EXPECT_EQ(ChooseCondemned(f, Grown), 3);
}

// A dense nursery would take generation 1 past its trigger: collect it now.
TEST(GenerationChoiceTest, ADenseNurseryThatWouldOverfillGenerationOneCondemnsIt) {
  GenerationFigures f = Figures();
  f.bytes = {0, 12 * kMiB, 0, 0};
  f.trigger[1] = 20 * kMiB;
  f.young_bytes = 32 * kMiB;
  f.survival = {1.0, 0, -1, -1};  // generation 1 held nothing live last time
  EXPECT_EQ(ChooseCondemned(f, Grown), 1);
  // The same figures without promotion at the first survival: the plain rule only.
  f.promotes_at_first_survival = false;
  EXPECT_EQ(ChooseCondemned(f, Grown), 0);
}

TEST(GenerationChoiceTest, ASparseOrUnmeasuredNurseryPredictsNoBatch) {
  GenerationFigures f = Figures();
  f.bytes = {0, 12 * kMiB, 0, 0};
  f.young_bytes = 32 * kMiB;
  f.survival = {0.1, -1, -1, -1};  // 3.2 MiB more: 15.2 MiB, under 16
  EXPECT_EQ(ChooseCondemned(f, Grown), 0);
  f.survival[0] = -1;
  EXPECT_EQ(ChooseCondemned(f, Grown), 0);
  f.survival[0] = 0.2;  // 6.4 MiB: 18.4 MiB passes 16
  EXPECT_EQ(ChooseCondemned(f, Grown), 1);
}

// A batch that a collection of 0..1 moves into generation 2 does not by itself set
// off its collection ([heap.trigger.batch]): 28 MiB into an empty generation 2 is
// under Grown(28 MiB) = 42 MiB; with 15 MiB there already it is past it. Generation
// 1's trigger is not raised for the nursery's batch.
TEST(GenerationChoiceTest, ABatchAloneDoesNotCondemnTheGenerationItMovesInto) {
  GenerationFigures f = Figures();
  f.young_bytes = 28 * kMiB;
  f.survival = {1.0, -1, -1, -1};
  EXPECT_EQ(ChooseCondemned(f, Grown), 1);
  f.bytes[2] = 15 * kMiB;
  EXPECT_EQ(ChooseCondemned(f, Grown), 2);
}

// binary-trees' stretch tree: 60 MiB in generation 2, moved up in batches and never
// collected there, dead now, and a nursery full of the next tree. Collecting 0..1
// would move the nursery's survivors (and generation 1's) into 2, past its trigger:
// 2 is condemned with them, and its dead 60 MiB go before the batch lands.
// Generation 2's own survivors (all of it, as nothing is known) are a batch for 3.
TEST(GenerationChoiceTest, ABatchThatWouldOverfillTheNextGenerationCondemnsItToo) {
  GenerationFigures f = Figures();
  f.bytes = {0, 0, 60 * kMiB, 0};
  f.trigger = {0, 16 * kMiB, 90 * kMiB, 32 * kMiB};
  f.young_bytes = 32 * kMiB;
  f.survival = {1.0, -1, -1, -1};
  EXPECT_EQ(ChooseCondemned(f, Grown), 2);
  // With 20 MiB in generation 3, generation 2's 60 MiB take it to 80 MiB, under
  // Grown(60 MiB) = 90 MiB: still 2. With 31 MiB, to 91 MiB: all three.
  f.bytes[3] = 20 * kMiB;
  EXPECT_EQ(ChooseCondemned(f, Grown), 2);
  f.bytes[3] = 31 * kMiB;
  EXPECT_EQ(ChooseCondemned(f, Grown), 3);
}

// A generation that last kept nothing predicts no batch for the one above it.
TEST(GenerationChoiceTest, AGenerationThatKeptNothingSendsNothingUp) {
  GenerationFigures f = Figures();
  f.bytes = {0, 0, 20 * kMiB, 15 * kMiB};
  f.trigger = {0, 16 * kMiB, 16 * kMiB, 20 * kMiB};
  f.young_bytes = 32 * kMiB;
  f.survival = {0.5, -1, 0.0, 0.5};
  EXPECT_EQ(ChooseCondemned(f, Grown), 2);  // 2 is past its trigger: the plain rule
  f.survival[2] = 1.0;                      // 15 + 20 = 35 > max(20, Grown(20) = 30)
  EXPECT_EQ(ChooseCondemned(f, Grown), 3);
}

// binary-trees N=21 builds a 128 MiB stretch tree: generation 3 holds its first
// part, all of which survived generation 3's last collection, and the batch a
// collection of 0..2 would move up takes it past its trigger. Collecting 3 early
// would only mark the growing tree again: it waits for the plain rule. Had less of
// it survived, or had it never been collected, it goes now.
TEST(GenerationChoiceTest, AGenerationThatAllSurvivedWaitsForItsTrigger) {
  GenerationFigures f = Figures();
  f.bytes = {0, 0, 40 * kMiB, 61 * kMiB};
  f.trigger = {0, 16 * kMiB, 49 * kMiB, 92 * kMiB};
  f.young_bytes = 32 * kMiB;
  f.survival = {1.0, 0.0, 0.8, 1.0};
  // 1: 0 + 32 > 16; 2: 40 + 32 > max(49, 48); 3: 61 + 32 > 92, but all survived.
  EXPECT_EQ(ChooseCondemned(f, Grown), 2);
  f.survival[3] = kAnticipateBelowSurvival - 0.01;
  EXPECT_EQ(ChooseCondemned(f, Grown), 3);
  f.survival[3] = -1;
  EXPECT_EQ(ChooseCondemned(f, Grown), 3);
  f.survival[2] = kAnticipateBelowSurvival;  // 2 waits too; 1 goes with the nursery
  EXPECT_EQ(ChooseCondemned(f, Grown), 1);
}

}  // namespace
}  // namespace weft::heap
