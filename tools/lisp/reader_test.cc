#include "tools/lisp/reader.h"

#include <gtest/gtest.h>

#include "tools/lisp/compiler.h"

namespace weft::lisp {
namespace {

std::vector<Datum> ReadAll(std::string_view text) {
  Reader r(text, "t.wl");
  std::vector<Datum> out;
  Datum d;
  while (r.Read(&d)) out.push_back(d);
  return out;
}

std::string Round(std::string_view text) {
  std::string out;
  for (const Datum& d : ReadAll(text)) {
    if (!out.empty()) out += " ";
    out += Compiler::DatumText(d);
  }
  return out;
}

std::string ErrorOf(std::string_view text) {
  try {
    ReadAll(text);
  } catch (const ReadError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ReaderTest, Atoms) {
  auto d = ReadAll("42 -17 +5 #t #f #true #false foo <=? \"hi\\n\" #\\a #\\space #\\x41");
  ASSERT_EQ(d.size(), 13u);
  EXPECT_EQ(d[0].type, Datum::Type::kFixnum);
  EXPECT_EQ(d[0].fixnum, 42);
  EXPECT_EQ(d[1].fixnum, -17);
  EXPECT_EQ(d[2].fixnum, 5);
  EXPECT_TRUE(d[3].boolean);
  EXPECT_FALSE(d[4].boolean);
  EXPECT_TRUE(d[5].boolean);
  EXPECT_TRUE(d[7].IsSymbol("foo"));
  EXPECT_TRUE(d[8].IsSymbol("<=?"));
  EXPECT_EQ(d[9].text, "hi\n");
  EXPECT_EQ(d[10].ch, U'a');
  EXPECT_EQ(d[11].ch, U' ');
  EXPECT_EQ(d[12].ch, U'A');
}

TEST(ReaderTest, HexCharacterAndFixnumLimits) {
  auto d = ReadAll("#\\x41 4611686018427387903 -4611686018427387904");
  EXPECT_EQ(d[0].ch, U'A');
  EXPECT_EQ(d[1].fixnum, kFixnumMax);
  EXPECT_EQ(d[2].fixnum, kFixnumMin);
  EXPECT_EQ(ErrorOf("4611686018427387904"),
            "t.wl:1:1: integer literal 4611686018427387904 is out of the fixnum range");
}

TEST(ReaderTest, ListsVectorsAndQuotes) {
  EXPECT_EQ(Round("(a (b c) . d)"), "(a (b c) . d)");
  EXPECT_EQ(Round("(a . (b c))"), "(a b c)");
  EXPECT_EQ(Round("#(1 2 #(3))"), "#(1 2 #(3))");
  EXPECT_EQ(Round("'x `(a ,b ,@c)"), "'x (quasiquote (a (unquote b) (unquote-splicing c)))");
  EXPECT_EQ(Round("[a b]"), "(a b)");
}

TEST(ReaderTest, Comments) {
  EXPECT_EQ(Round("; line\n1 #| block #| nested |# |# 2 #;(ignored form) 3"), "1 2 3");
}

TEST(ReaderTest, Positions) {
  auto d = ReadAll("\n  (foo\n bar)");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].line, 2);
  EXPECT_EQ(d[0].column, 3);
  EXPECT_EQ(d[0].items[1].line, 3);
  EXPECT_EQ(d[0].items[1].column, 2);
}

TEST(ReaderTest, Errors) {
  EXPECT_EQ(ErrorOf("(a b"), "t.wl:1:1: expected ')' to close the list opened here, found end of input");
  EXPECT_EQ(ErrorOf("\n  )"), "t.wl:2:3: unexpected ')'");
  EXPECT_EQ(ErrorOf("(a ]"), "t.wl:1:4: expected ')' to close the list opened at 1:1, found ']'");
  EXPECT_EQ(ErrorOf("\"abc"), "t.wl:1:1: expected '\"' to close the string opened here, found end of input");
  EXPECT_EQ(ErrorOf("#\\bogus"), "t.wl:1:1: unknown character name '#\\bogus'");
  EXPECT_EQ(ErrorOf("1.5"), "t.wl:1:1: bad number '1.5' (only integers are supported)");
  EXPECT_EQ(ErrorOf("( . a)"), "t.wl:1:3: expected a datum before '.' in a dotted list");
  EXPECT_EQ(ErrorOf("#q"), "t.wl:1:1: unknown syntax '#q'");
  EXPECT_EQ(ErrorOf("\"\\q\""), "t.wl:1:2: unknown escape '\\q' in a string");
}

TEST(ReaderTest, IncompleteInputIsMarked) {
  try {
    ReadAll("(define (f x)\n  (+ x");
    FAIL() << "no error";
  } catch (const ReadError& e) {
    EXPECT_TRUE(e.incomplete);
  }
  try {
    ReadAll(")");
    FAIL() << "no error";
  } catch (const ReadError& e) {
    EXPECT_FALSE(e.incomplete);
  }
}

TEST(ReaderTest, Utf8) {
  auto d = ReadAll("\"h\\xe9;llo\" #\\λ");
  EXPECT_EQ(d[0].text, "h\xc3\xa9llo");
  EXPECT_EQ(d[1].ch, U'λ');
  std::string s = "aλb";
  size_t i = 1;
  EXPECT_EQ(DecodeUtf8(s, &i), U'λ');
  EXPECT_EQ(i, 3u);
}

TEST(ReaderTest, NestingIsBounded) {
  const int n = Reader::kMaxNesting;
  EXPECT_EQ(ReadAll(std::string(n, '(') + std::string(n, ')')).size(), 1u);
  EXPECT_EQ(ReadAll(std::string(n - 1, '\'') + "x").size(), 1u);
  EXPECT_EQ(ErrorOf(std::string(n + 1, '(')), "t.wl:1:1001: nesting deeper than 1000 levels");
  EXPECT_EQ(ErrorOf("(" + std::string(n, '\'') + "x)"), "t.wl:1:1001: nesting deeper than 1000 levels");
  std::string comments;
  for (int i = 0; i <= n; ++i) comments += "#;";
  EXPECT_EQ(ErrorOf(comments + "1 2"), "t.wl:1:2001: nesting deeper than 1000 levels");
  // The depth is restored after an error and after each datum.
  std::string twice = std::string(n, '(') + std::string(n, ')') + " " + std::string(n, '(') + std::string(n, ')');
  Reader r(twice, "t.wl");
  Datum d;
  EXPECT_TRUE(r.Read(&d));
  EXPECT_TRUE(r.Read(&d));
}

}  // namespace
}  // namespace weft::lisp
