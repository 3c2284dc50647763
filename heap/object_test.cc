#include "heap/object.h"

#include <vector>

#include <gtest/gtest.h>

#include "heap/layout_registry.h"

namespace weft::heap {
namespace {

struct Buffer {
  alignas(8) uint64_t words[64] = {};
  Object* object() { return reinterpret_cast<Object*>(words); }
};

TEST(ObjectTest, HeaderEncodesKindLengthAndAux) {
  Buffer b;
  Object* o = b.object();
  o->header = MakeHeader(ObjectKind::kRecord, 0x00020003, 77);
  EXPECT_TRUE(o->HasHeader());
  EXPECT_EQ(o->kind(), ObjectKind::kRecord);
  EXPECT_EQ(o->aux(), 77);
  EXPECT_EQ(o->record_ref_slots(), 3u);
  EXPECT_EQ(o->record_raw_words(), 2u);
  EXPECT_EQ(ObjectSizeInWords(o), 6u);
  EXPECT_EQ(o->header & kReservedHeaderBits, 0u);
  // A header is never a valid Value tag.
  EXPECT_FALSE(Value::FromRaw(o->header).IsPointer());
  EXPECT_FALSE(Value::FromRaw(o->header).IsFixnum());
  EXPECT_FALSE(Value::FromRaw(o->header).IsImmediate());
}

TEST(ObjectTest, ForwardingReplacesTheFirstWord) {
  Buffer a, b;
  a.object()->header = MakeHeader(ObjectKind::kVector, 1);
  a.object()->Forward(b.object());
  EXPECT_TRUE(a.object()->IsForwarded());
  EXPECT_FALSE(a.object()->HasHeader());
  EXPECT_FALSE(a.object()->IsObject());
  EXPECT_EQ(a.object()->forwarding_address(), b.object());
  // A pair's car is overwritten the same way.
  a.object()->car() = Value::Fixnum(-1);
  EXPECT_TRUE(a.object()->IsPair());
  a.object()->Forward(b.object());
  EXPECT_TRUE(a.object()->IsForwarded());
  EXPECT_EQ(a.object()->forwarding_address(), b.object());
}

// [heap.inv.pairs]: a pair's first word is its car, any Value; every other object's
// is a header; the tag tells them apart.
TEST(ObjectTest, APairIsTwoWordsWithNoHeader) {
  Buffer b;
  Object* o = b.object();
  for (Value car : {Value::Fixnum(0), Value::Fixnum(-7), Value::Fixnum(Value::kFixnumMax),
                    Value::Nil(), Value::False(), Value::Char(U'x'), Value::Unbound(),
                    Value::FrameMarker(Value::kMaxImmediatePayload), Value::FromObject(o)}) {
    o->car() = car;
    o->cdr() = Value::Nil();
    EXPECT_TRUE(o->IsPair()) << car.raw;
    EXPECT_TRUE(o->IsObject()) << car.raw;
    EXPECT_FALSE(o->HasHeader()) << car.raw;
    EXPECT_FALSE(o->IsForwarded()) << car.raw;
    EXPECT_EQ(o->kind(), ObjectKind::kPair);
    EXPECT_EQ(ObjectSize(o), 16u);
    EXPECT_EQ(ReferenceCount(o), 2u);
    EXPECT_EQ(o->slots(), &o->car());
    EXPECT_EQ(o->slots() + 1, &o->cdr());
  }
  // A header never says kPair, and a reserved bit makes it invalid.
  o->header = MakeHeader(ObjectKind::kPair, 0);
  EXPECT_FALSE(o->IsObject());
  o->header = MakeHeader(ObjectKind::kVector, 0) | (uint64_t{1} << 8);
  EXPECT_FALSE(o->IsObject());
  o->header = MakeHeader(ObjectKind::kVector, 0);
  EXPECT_TRUE(o->IsObject());
  EXPECT_EQ(o->slots(), reinterpret_cast<Value*>(o) + 1);
}

TEST(ObjectTest, SizesAndReferenceSlots) {
  Buffer b;
  Object* o = b.object();
  o->header = MakeHeader(ObjectKind::kVector, 5);
  EXPECT_EQ(ObjectSize(o), 48u);
  EXPECT_EQ(ReferenceCount(o), 5u);
  std::vector<Value*> seen;
  ForEachReference(o, [&](Value* s) { seen.push_back(s); });
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0], o->slots());
  o->header = MakeHeader(ObjectKind::kString, 9);
  EXPECT_EQ(ObjectSize(o), 24u);
  EXPECT_EQ(ReferenceCount(o), 0u);
  o->header = MakeHeader(ObjectKind::kBytes, 0);
  EXPECT_EQ(ObjectSize(o), 8u);
  o->header = MakeHeader(ObjectKind::kFiller, 7);
  EXPECT_EQ(ObjectSize(o), 56u);
  EXPECT_EQ(ReferenceCount(o), 0u);
  WriteFiller(o, 8);
  EXPECT_EQ(o->kind(), ObjectKind::kFiller);
  EXPECT_EQ(ObjectSize(o), 8u);
  EXPECT_FALSE(KindHasReferences(ObjectKind::kString));
  EXPECT_TRUE(KindHasReferences(ObjectKind::kRecord));
  EXPECT_STREQ(ObjectKindName(ObjectKind::kVector), "vector");
}

TEST(LayoutRegistryTest, RegistersFindsAndRejectsConflicts) {
  LayoutRegistry r;
  auto a = r.RegisterLayout("point", 2, 16);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->id, 0);
  auto again = r.RegisterLayout("point", 2, 16);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
  auto conflict = r.RegisterLayout("point", 3, 16);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(conflict.status().message().find("point"), std::string_view::npos);
  auto b = r.RegisterLayout("rect", 0, 32);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->id, 1);
  EXPECT_EQ(r.Find("rect"), *b);
  EXPECT_EQ(r.Find("nope"), nullptr);
  EXPECT_EQ(r.Get(0)->name, "point");
  EXPECT_EQ(r.Get(9), nullptr);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.RegisterLayout("", 1, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.RegisterLayout("huge", 70000, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.RegisterLayout("raw", 0, 65536 * 8).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weft::heap
