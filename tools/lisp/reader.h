// reader.h: the Weft Lisp reader. It turns source text into native Datum trees that
// carry their source positions; nothing here touches the managed heap, so the compiler
// can report errors with file:line:column and build managed constants only for quoted
// data.
//
// Syntax: integers (fixnums; a literal out of range is an error), #t #f #true #false,
// characters (#\a #\space #\newline #\tab #\nul #\x41), strings with \n \t \\ \" \xHH;
// escapes, symbols (case-sensitive), lists with dotted tails, vectors #( ... ), the
// abbreviations ' ` , ,@ and the comments ; #| |# and #;datum.
#ifndef WEFT_TOOLS_LISP_READER_H_
#define WEFT_TOOLS_LISP_READER_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft::lisp {

struct Datum {
  enum class Type { kFixnum, kBoolean, kChar, kString, kSymbol, kList, kVector };
  Type type = Type::kList;
  int line = 0, column = 0;
  int64_t fixnum = 0;
  bool boolean = false;
  char32_t ch = 0;
  std::string text;             // kString: contents (UTF-8); kSymbol: name
  std::vector<Datum> items;     // kList, kVector
  std::shared_ptr<Datum> tail;  // kList: the dotted tail, null for a proper list

  bool IsSymbol(std::string_view name) const { return type == Type::kSymbol && text == name; }
  bool IsList() const { return type == Type::kList && !tail; }
};

// ReadError: a syntax error at file:line:column; what() is the full message.
class ReadError : public std::exception {
 public:
  ReadError(const std::string& file, int line, int column, const std::string& message);
  const char* what() const noexcept override { return full_.c_str(); }
  int line() const { return line_; }
  int column() const { return column_; }
  // incomplete: the input ended inside a datum (the REPL reads more lines).
  bool incomplete = false;

 private:
  int line_, column_;
  std::string full_;
};

class Reader {
 public:
  // Data nested deeper than this (lists, vectors, quote marks, #; comments) is a
  // ReadError: the compiler and evaluator recurse per level on the native stack.
  static constexpr int kMaxNesting = 1000;
  Reader(std::string_view text, std::string file);
  // Read stores the next datum in *out and returns true, or returns false at the end
  // of the input. Throws ReadError.
  bool Read(Datum* out);

 private:
  int Peek() const;
  int Next();
  void SkipAtmosphere();
  void ReadDatum(Datum* out);
  void ReadList(Datum* out, char close, int line, int column);
  void ReadString(Datum* out);
  void ReadHash(Datum* out);
  void ReadAtom(Datum* out);
  std::string ReadToken();
  [[noreturn]] void Fail(int line, int column, const std::string& message, bool incomplete = false);
  // Nest: one level of recursion (ReadDatum, #;) for its lifetime; fails past kMaxNesting.
  class Nest {
   public:
    explicit Nest(Reader* r);
    ~Nest();

   private:
    Reader* r_;
  };

  std::string_view text_;
  std::string file_;
  size_t pos_ = 0;
  int line_ = 1, column_ = 1;
  int depth_ = 0;  // ReadDatum calls in progress
};

// AppendUtf8 appends code point c to *out as UTF-8.
void AppendUtf8(char32_t c, std::string* out);
// DecodeUtf8 decodes the code point at s[*i] and advances *i (invalid bytes decode as
// themselves).
char32_t DecodeUtf8(std::string_view s, size_t* i);

}  // namespace weft::lisp

#endif  // WEFT_TOOLS_LISP_READER_H_
