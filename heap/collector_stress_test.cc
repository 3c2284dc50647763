// collector_stress_test.cc: seeded random object graphs, mutated (old-to-young
// stores included) and collected at random generations, checked against a model
// after every step that may have moved anything. Prints its seed; replay with
// --seed=N or WEFT_SEED=N.
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "heap/heap.h"
#include "heap/heap_testing.h"

namespace weft::heap {
namespace {

using testing::TestHeap;
using testing::TestHost;
using testing::V;
using testing::VectorRoots;

enum NodeKind { kVec, kStr, kRec, kPin, kBig, kNodeKinds };

struct Node {
  NodeKind kind;
  std::vector<int64_t> children;  // ref slots 1..n: child id, or -1 for nil
  std::string text;
  const Object* address = nullptr;  // pinned and large objects never move
};

class GraphStress {
 public:
  GraphStress(uint32_t seed, const HeapOptions& options) : rng_(seed), t_(options) {
    host_ = std::make_unique<TestHost>(t_.heap.get(), &roots_);
    t_.heap->SetHost(host_.get());
    m_ = t_.heap->CreateMutator();
    layout_ = *t_.heap->layouts().RegisterLayout("stress-node", 3, 8);
  }
  ~GraphStress() {
    t_.heap->DestroyMutator(m_);
    t_.heap->SetHost(nullptr);
  }

  void Run(int steps) {
    for (int step = 0; step < steps && !::testing::Test::HasFatalFailure(); ++step) {
      int op = Pick(100);
      if (op < 40 || roots_.roots.empty()) {
        Allocate();
      } else if (op < 75) {
        Mutate();
      } else if (op < 90) {
        Descend();
      } else if (op < 97) {
        Drop();
      } else {
        int gen = Pick(t_.heap->oldest_generation() + 1);
        bool compact = Pick(4) == 0;
        t_.heap->Collect(gen, roots_, compact);
        t_.heap->Verify(&roots_);
      }
      if (step % 64 == 0 || op >= 97) Check();
    }
    Check();
    t_.heap->CollectFull(roots_, true);
    t_.heap->Verify(&roots_);
    Check();
  }

  HeapStats Stats() const { return t_.heap->Stats(); }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % n); }

  Value RandomTarget() {
    if (roots_.roots.empty() || Pick(5) == 0) return Value::Nil();
    return roots_.roots[Pick(static_cast<int>(roots_.roots.size()))];
  }

  int64_t IdOf(Value v) const {
    if (!v.IsPointer()) return -1;
    const Object* o = v.AsObject();
    switch (o->kind()) {
      case ObjectKind::kVector:
      case ObjectKind::kRecord:
        return o->slots()[0].FixnumValue();
      case ObjectKind::kString:
        return std::stoll(std::string(o->string_view().substr(1, o->string_view().find('/') - 1)));
      case ObjectKind::kBytes: {
        int64_t id;
        std::memcpy(&id, o->bytes(), 8);
        return id;
      }
      default:
        ADD_FAILURE() << "unexpected kind " << ObjectKindName(o->kind());
        return -2;
    }
  }

  void Allocate() {
    int64_t id = static_cast<int64_t>(model_.size());
    Node n;
    n.kind = static_cast<NodeKind>(Pick(kNodeKinds));
    if (n.kind == kBig && Pick(4) != 0) n.kind = kVec;  // fewer large objects
    Object* o = nullptr;
    switch (n.kind) {
      case kVec: o = m_->AllocateVector(1 + Pick(8), Value::Nil()); break;
      case kBig: o = m_->AllocateVector(1100, Value::Nil()); break;
      case kRec: o = m_->AllocateRecord(*layout_); break;
      case kStr:
        n.text = "s" + std::to_string(id) + "/" + std::string(Pick(60), 'a' + Pick(26));
        o = m_->AllocateString(n.text);
        break;
      case kPin:
        o = m_->AllocatePinnedBytes(8 + Pick(200));
        break;
      case kNodeKinds: break;
    }
    ASSERT_NE(o, nullptr) << m_->last_failure().ToStatus();
    // A collection may have run inside the allocation: only `o` is fresh; every
    // other Value is re-read from the roots below.
    if (n.kind == kPin) {
      std::memcpy(o->bytes(), &id, 8);
      n.address = o;
    }
    if (n.kind == kBig) n.address = o;
    if (n.kind == kVec || n.kind == kBig || n.kind == kRec) {
      o->slots()[0] = Value::Fixnum(id);
      size_t refs = ReferenceCount(o);
      n.children.assign(refs - 1, -1);
      if (n.kind == kRec) std::memcpy(o->record_raw(), &id, 8);
      for (size_t i = 1; i < refs; ++i) {
        if (n.kind == kBig && i > 8 && i != refs - 1) continue;
        Value child = RandomTarget();
        o->slots()[i] = child;  // initialising store: o is in the nursery
        n.children[i - 1] = IdOf(child);
      }
    }
    model_.push_back(std::move(n));
    if (roots_.roots.size() < 400) {
      roots_.roots.push_back(V(o));
    } else {
      roots_.roots[Pick(400)] = V(o);
    }
  }

  // Mutate stores a random root (or nil) into a random slot of a random root.
  void Mutate() {
    Value holder_v = roots_.roots[Pick(static_cast<int>(roots_.roots.size()))];
    if (!holder_v.IsPointer()) return;
    Object* holder = holder_v.AsObject();
    size_t refs = ReferenceCount(holder);
    if (refs < 2) return;
    size_t slot = 1 + Pick(static_cast<int>(refs - 1));
    Value target = RandomTarget();
    t_.heap->WriteBarrier(holder, &holder->slots()[slot], target);
    model_[IdOf(holder_v)].children[slot - 1] = IdOf(target);
  }

  // Descend replaces a root by one of its children (shifting what is live).
  void Descend() {
    size_t i = Pick(static_cast<int>(roots_.roots.size()));
    Value v = roots_.roots[i];
    if (!v.IsPointer() || ReferenceCount(v.AsObject()) < 2) return;
    Object* o = v.AsObject();
    roots_.roots[i] = o->slots()[1 + Pick(static_cast<int>(ReferenceCount(o) - 1))];
  }

  void Drop() {
    size_t i = Pick(static_cast<int>(roots_.roots.size()));
    roots_.roots[i] = roots_.roots.back();
    roots_.roots.pop_back();
  }

  // Check walks everything reachable (explicit stack) and compares it to the model.
  void Check() {
    std::vector<Value> stack(roots_.roots.begin(), roots_.roots.end());
    std::vector<bool> seen(model_.size(), false);
    while (!stack.empty()) {
      Value v = stack.back();
      stack.pop_back();
      if (!v.IsPointer()) {
        ASSERT_TRUE(v.IsNil());
        continue;
      }
      int64_t id = IdOf(v);
      ASSERT_GE(id, 0);
      ASSERT_LT(id, static_cast<int64_t>(model_.size()));
      if (seen[id]) continue;
      seen[id] = true;
      const Node& n = model_[id];
      Object* o = v.AsObject();
      if (n.address != nullptr) {
        ASSERT_EQ(o, n.address) << "a never-moving object moved";
      }
      switch (n.kind) {
        case kStr:
          ASSERT_EQ(o->kind(), ObjectKind::kString);
          ASSERT_EQ(o->string_view(), n.text);
          break;
        case kPin:
          ASSERT_EQ(o->kind(), ObjectKind::kBytes);
          break;
        default: {
          ASSERT_EQ(ReferenceCount(o), n.children.size() + 1);
          if (n.kind == kRec) {
            int64_t raw;
            std::memcpy(&raw, o->record_raw(), 8);
            ASSERT_EQ(raw, id);
          }
          for (size_t i = 0; i < n.children.size(); ++i) {
            Value c = o->slots()[i + 1];
            ASSERT_EQ(IdOf(c), n.children[i]) << "node " << id << " slot " << i + 1;
            stack.push_back(c);
          }
        }
      }
    }
  }

  std::mt19937 rng_;
  TestHeap t_;
  VectorRoots roots_;
  std::unique_ptr<TestHost> host_;
  Mutator* m_ = nullptr;
  const RecordLayout* layout_ = nullptr;
  std::vector<Node> model_;
};

HeapOptions RandomOptions(std::mt19937& rng) {
  HeapOptions o = testing::SmallHeapOptions();
  o.nursery_bytes = (size_t{64} << 10) << (rng() % 3);
  o.generations = 1 + rng() % 4;
  for (int& a : o.promotion_age) a = 1 + rng() % 3;
  o.initial_bytes = size_t{256} << 10;
  return o;
}

// RunRandomRounds runs three rounds of random graphs, each on RandomOptions changed
// by `adjust`, and returns the bytes promoted in all of them.
uint64_t RunRandomRounds(std::mt19937& rng, const std::function<void(HeapOptions&)>& adjust) {
  uint64_t promoted = 0;
  for (int round = 0; round < 3; ++round) {
    HeapOptions o = RandomOptions(rng);
    adjust(o);
    SCOPED_TRACE("round " + std::to_string(round) + " generations " +
                 std::to_string(o.generations) + " nursery " + std::to_string(o.nursery_bytes));
    GraphStress g(rng(), o);
    g.Run(12000 / testing::kSanitizerSlowdown);
    HeapStats s = g.Stats();
    EXPECT_GT(s.collections[0], 0u);
    std::printf("round %d: %llu young collections, promoted %llu bytes, evacuated %llu\n", round,
                static_cast<unsigned long long>(s.collections[0]),
                static_cast<unsigned long long>(s.promoted_bytes),
                static_cast<unsigned long long>(s.evacuated_bytes));
    promoted += s.promoted_bytes;
  }
  return promoted;
}

TEST(CollectorStressTest, RandomGraphsSurviveRandomCollections) {
  std::mt19937 rng(testing::TestSeed());
  RunRandomRounds(rng, [](HeapOptions&) {});
}

// [heap.cards.uniform-promotion]: with promotion at the first survival everywhere,
// promoted blocks keep the cards the trace rebuilt instead of having all of them
// dirtied; Verify (after every step) finds any old-to-young slot in a clean card.
TEST(CollectorStressTest, UniformPromotionKeepsEveryOldToYoungSlotInADirtyCard) {
  std::mt19937 rng(testing::TestSeed());
  EXPECT_GT(RunRandomRounds(rng, [](HeapOptions& o) { o.promotion_age.fill(1); }), 0u);
}

// [heap.nursery.in-place]: nurseries promoted in place, at random thresholds, among
// copying collections of every generation; Verify after every step.
TEST(CollectorStressTest, NurseriesPromotedInPlaceKeepEveryValueAndCard) {
  if (WEFT_CHECKED_BUILD) GTEST_SKIP() << "checked builds move every nursery object";
  std::mt19937 rng(testing::TestSeed());
  uint64_t in_place = 0, parallel = 0;
  for (int round = 0; round < 3; ++round) {
    HeapOptions o = RandomOptions(rng);
    o.promotion_age[0] = 1;
    o.promote_in_place_percent = 1 + static_cast<int>(rng() % 60);
    o.gc_threads = 1 + static_cast<int>(rng() % 4);  // [heap.collect.parallel]
    o.parallel_min_bytes = 0;
    SCOPED_TRACE("round " + std::to_string(round) + " percent " +
                 std::to_string(o.promote_in_place_percent) + " gc_threads " +
                 std::to_string(o.gc_threads));
    GraphStress g(rng(), o);
    g.Run(12000 / testing::kSanitizerSlowdown);
    HeapStats s = g.Stats();
    uint64_t collections = 0;
    for (uint64_t c : s.collections) collections += c;
    std::printf("round %d: %llu of %llu collections in place, %llu bytes\n", round,
                static_cast<unsigned long long>(s.in_place_collections),
                static_cast<unsigned long long>(collections),
                static_cast<unsigned long long>(s.promoted_in_place_bytes));
    in_place += s.in_place_collections;
    parallel += s.parallel_collections;
    if (o.gc_threads == 1) EXPECT_EQ(s.parallel_collections, 0u);
  }
  EXPECT_GT(in_place, 0u);
  std::printf("%llu collections traced in parallel\n", static_cast<unsigned long long>(parallel));
}

TEST(CollectorStressTest, GcStressModeCollectsEveryFewAllocations) {
  uint32_t seed = testing::TestSeed();
  std::mt19937 rng(seed);
  HeapOptions o = RandomOptions(rng);
  o.gc_stress_every_n_allocations = 7;
  GraphStress g(rng(), o);
  g.Run(2500 / testing::kSanitizerSlowdown);
  EXPECT_GT(g.Stats().collections[0], 100u / testing::kSanitizerSlowdown);
}

}  // namespace
}  // namespace weft::heap
