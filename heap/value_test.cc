#include "heap/value.h"

#include <gtest/gtest.h>

namespace weft::heap {
namespace {

TEST(ValueTest, FixnumsRoundTripOverTheWholeRange) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{12345}, int64_t{-98765},
                    Value::kFixnumMax, Value::kFixnumMin}) {
    Value x = Value::Fixnum(v);
    EXPECT_TRUE(x.IsFixnum());
    EXPECT_FALSE(x.IsPointer());
    EXPECT_FALSE(x.IsImmediate());
    EXPECT_EQ(x.FixnumValue(), v);
    EXPECT_EQ(x.raw & 1, 0u);
  }
  EXPECT_TRUE(Value::FixnumFits(Value::kFixnumMax));
  EXPECT_FALSE(Value::FixnumFits(Value::kFixnumMax + 1));
  EXPECT_FALSE(Value::FixnumFits(Value::kFixnumMin - 1));
  EXPECT_EQ(Value::kFixnumMax, (int64_t{1} << 62) - 1);
}

TEST(ValueTest, PointersAreAddressPlusOne) {
  alignas(8) static uint64_t words[4];
  Object* o = reinterpret_cast<Object*>(&words[2]);
  Value v = Value::FromObject(o);
  EXPECT_TRUE(v.IsPointer());
  EXPECT_FALSE(v.IsFixnum());
  EXPECT_FALSE(v.IsImmediate());
  EXPECT_EQ(v.raw, reinterpret_cast<uint64_t>(o) + 1);
  EXPECT_EQ(v.AsObject(), o);
}

TEST(ValueTest, ImmediatesAreDistinctAndNeverPointers) {
  Value all[] = {Value::Nil(),     Value::True(),          Value::False(),
                 Value::Unbound(), Value::Char(U'\u00e9'), Value::FrameMarker(0x1234)};
  for (size_t i = 0; i < std::size(all); ++i) {
    EXPECT_TRUE(all[i].IsImmediate());
    EXPECT_FALSE(all[i].IsPointer());
    EXPECT_FALSE(all[i].IsFixnum());
    EXPECT_EQ(all[i].raw & 7, 3u);
    for (size_t j = 0; j < i; ++j) EXPECT_NE(all[i], all[j]);
  }
  EXPECT_TRUE(Value::Nil().IsNil());
  EXPECT_TRUE(Value::Bool(true).IsTrue());
  EXPECT_TRUE(Value::Bool(false).IsFalse());
  EXPECT_TRUE(Value::False().IsBool());
  EXPECT_FALSE(Value::Nil().IsBool());
  EXPECT_TRUE(Value::Unbound().IsUnbound());
  EXPECT_EQ(Value::Nil().immediate_kind(), ImmediateKind::kNil);
}

TEST(ValueTest, CharactersCarryCodePoints) {
  for (char32_t c : {U'a', U'\0', U'\u00e9', U'\U0001F600', Value::kMaxChar}) {
    Value v = Value::Char(c);
    EXPECT_TRUE(v.IsChar());
    EXPECT_FALSE(v.IsFrameMarker());
    EXPECT_EQ(v.CharValue(), c);
  }
}

TEST(ValueTest, FrameMarkerPayloadIsOpaque56Bits) {
  uint64_t payload = Value::kMaxImmediatePayload;
  Value v = Value::FrameMarker(payload);
  EXPECT_TRUE(v.IsFrameMarker());
  EXPECT_FALSE(v.IsChar());
  EXPECT_EQ(v.FrameMarkerPayload(), payload);
  EXPECT_EQ(Value::FrameMarker(42).FrameMarkerPayload(), 42u);
  static_assert(Value::Nil().IsNil(), "Value constants are constexpr");
}

}  // namespace
}  // namespace weft::heap
