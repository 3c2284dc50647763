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

TEST(ObjectTest, ForwardingReplacesTheHeader) {
  Buffer a, b;
  a.object()->header = MakeHeader(ObjectKind::kPair, 0);
  a.object()->Forward(b.object());
  EXPECT_TRUE(a.object()->IsForwarded());
  EXPECT_FALSE(a.object()->HasHeader());
  EXPECT_EQ(a.object()->forwarding_address(), b.object());
}

TEST(ObjectTest, SizesAndReferenceSlots) {
  Buffer b;
  Object* o = b.object();
  o->header = MakeHeader(ObjectKind::kPair, 0);
  EXPECT_EQ(ObjectSize(o), 24u);
  EXPECT_EQ(ReferenceCount(o), 2u);
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
