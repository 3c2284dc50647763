#include "tools/lisp/reader.h"

#include <cctype>
#include <climits>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "runtime/weft.h"

namespace weft::lisp {

namespace {

bool IsDelimiter(int c) {
  return c == EOF || std::isspace(c) || c == '(' || c == ')' || c == '"' || c == ';' ||
         c == '\'' || c == '`' || c == ',';
}

struct NamedChar {
  const char* name;
  char32_t c;
};
constexpr NamedChar kNamedChars[] = {
    {"space", ' '},     {"newline", '\n'}, {"tab", '\t'},   {"nul", 0},
    {"null", 0},        {"return", '\r'},  {"linefeed", '\n'}, {"alarm", 7},
    {"backspace", 8},   {"delete", 127},   {"escape", 27},
};

}  // namespace

ReadError::ReadError(const std::string& file, int line, int column, const std::string& message)
    : line_(line), column_(column), full_(absl::StrCat(file, ":", line, ":", column, ": ", message)) {}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(char(c));
  } else if (c < 0x800) {
    out->push_back(char(0xC0 | (c >> 6)));
    out->push_back(char(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(char(0xE0 | (c >> 12)));
    out->push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(char(0x80 | (c & 0x3F)));
  } else {
    out->push_back(char(0xF0 | (c >> 18)));
    out->push_back(char(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(char(0x80 | (c & 0x3F)));
  }
}

char32_t DecodeUtf8(std::string_view s, size_t* i) {
  unsigned char b = s[*i];
  int extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0;
  if (extra == 0 || *i + extra >= s.size()) {
    ++*i;
    return b;
  }
  char32_t c = b & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) c = (c << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *i += extra + 1;
  return c;
}

Reader::Reader(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {}

// Compiling and evaluating recurse once per level of nesting too, on a green thread's
// bounded native stack: deeper text is refused here, with a position.
Reader::Nest::Nest(Reader* r) : r_(r) {
  if (r->depth_ >= kMaxNesting) {
    r->Fail(r->line_, r->column_, absl::StrCat("nesting deeper than ", kMaxNesting, " levels"));
  }
  ++r->depth_;
}
Reader::Nest::~Nest() { --r_->depth_; }

int Reader::Peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : EOF; }

int Reader::Next() {
  if (pos_ >= text_.size()) return EOF;
  int c = static_cast<unsigned char>(text_[pos_++]);
  if (c == '\n') {
    ++line_;
    column_ = 1;
  } else {
    ++column_;
  }
  return c;
}

void Reader::Fail(int line, int column, const std::string& message, bool incomplete) {
  ReadError e(file_, line, column, message);
  e.incomplete = incomplete;
  throw e;
}

void Reader::SkipAtmosphere() {
  for (;;) {
    int c = Peek();
    if (c == EOF) return;
    if (std::isspace(c)) {
      Next();
    } else if (c == ';') {
      while (Peek() != EOF && Peek() != '\n') Next();
    } else if (c == '#' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '|') {
      int line = line_, column = column_;
      Next();
      Next();
      int depth = 1;
      while (depth > 0) {
        int d = Next();
        if (d == EOF) Fail(line, column, "expected '|#' to close the block comment, found end of input", true);
        if (d == '|' && Peek() == '#') {
          Next();
          --depth;
        } else if (d == '#' && Peek() == '|') {
          Next();
          ++depth;
        }
      }
    } else if (c == '#' && pos_ + 1 < text_.size() && text_[pos_ + 1] == ';') {
      Nest nest(this);  // #;#;#;... recurses here without ReadDatum
      Next();
      Next();
      SkipAtmosphere();
      if (Peek() == EOF) Fail(line_, column_, "expected a datum after '#;', found end of input", true);
      Datum ignored;
      ReadDatum(&ignored);
    } else {
      return;
    }
  }
}

bool Reader::Read(Datum* out) {
  SkipAtmosphere();
  if (Peek() == EOF) return false;
  ReadDatum(out);
  return true;
}

void Reader::ReadDatum(Datum* out) {
  Nest nest(this);
  SkipAtmosphere();
  *out = Datum();
  out->line = line_;
  out->column = column_;
  int c = Peek();
  switch (c) {
    case EOF:
      Fail(line_, column_, "expected a datum, found end of input", true);
    case '(':
    case '[': {
      int line = line_, column = column_;
      Next();
      ReadList(out, c == '(' ? ')' : ']', line, column);
      return;
    }
    case ')':
    case ']':
      Fail(line_, column_, absl::StrCat("unexpected '", std::string(1, char(c)), "'"));
    case '"':
      ReadString(out);
      return;
    case '#':
      ReadHash(out);
      return;
    case '\'':
    case '`':
    case ',': {
      Next();
      const char* name = c == '\'' ? "quote" : c == '`' ? "quasiquote" : "unquote";
      if (c == ',' && Peek() == '@') {
        Next();
        name = "unquote-splicing";
      }
      out->type = Datum::Type::kList;
      Datum sym;
      sym.type = Datum::Type::kSymbol;
      sym.text = name;
      sym.line = out->line;
      sym.column = out->column;
      out->items.push_back(std::move(sym));
      SkipAtmosphere();
      if (Peek() == EOF) Fail(line_, column_, absl::StrCat("expected a datum after ", name, ", found end of input"), true);
      Datum d;
      ReadDatum(&d);
      out->items.push_back(std::move(d));
      return;
    }
    default:
      ReadAtom(out);
  }
}

void Reader::ReadList(Datum* out, char close, int line, int column) {
  out->type = Datum::Type::kList;
  for (;;) {
    SkipAtmosphere();
    int c = Peek();
    if (c == EOF) {
      Fail(line, column,
           absl::StrCat("expected '", std::string(1, close), "' to close the list opened here, found end of input"),
           true);
    }
    if (c == ')' || c == ']') {
      if (c != close) {
        Fail(line_, column_, absl::StrCat("expected '", std::string(1, close), "' to close the list opened at ",
                                          line, ":", column, ", found '", std::string(1, char(c)), "'"));
      }
      Next();
      return;
    }
    if (c == '.' && pos_ + 1 <= text_.size() && IsDelimiter(pos_ + 1 < text_.size() ? text_[pos_ + 1] : EOF)) {
      int dl = line_, dc = column_;
      Next();
      if (out->items.empty()) Fail(dl, dc, "expected a datum before '.' in a dotted list");
      auto tail = std::make_shared<Datum>();
      SkipAtmosphere();
      if (Peek() == ')' || Peek() == ']') Fail(line_, column_, "expected a datum after '.' in a dotted list");
      ReadDatum(tail.get());
      SkipAtmosphere();
      if (Peek() != close) {
        if (Peek() == EOF) {
          Fail(line, column, absl::StrCat("expected '", std::string(1, close), "' to close the list opened here, found end of input"), true);
        }
        Fail(line_, column_, absl::StrCat("expected '", std::string(1, close), "' after the dotted tail"));
      }
      Next();
      // Normalise (a . (b c)) to (a b c).
      if (tail->type == Datum::Type::kList) {
        for (auto& d : tail->items) out->items.push_back(std::move(d));
        out->tail = tail->tail;
      } else {
        out->tail = std::move(tail);
      }
      return;
    }
    Datum d;
    ReadDatum(&d);
    out->items.push_back(std::move(d));
  }
}

void Reader::ReadString(Datum* out) {
  int line = line_, column = column_;
  Next();  // "
  out->type = Datum::Type::kString;
  for (;;) {
    int c = Next();
    if (c == EOF) Fail(line, column, "expected '\"' to close the string opened here, found end of input", true);
    if (c == '"') return;
    if (c != '\\') {
      out->text.push_back(char(c));
      continue;
    }
    int el = line_, ec = column_ - 1;
    int e = Next();
    switch (e) {
      case 'n': out->text.push_back('\n'); break;
      case 't': out->text.push_back('\t'); break;
      case 'r': out->text.push_back('\r'); break;
      case 'a': out->text.push_back('\a'); break;
      case '0': out->text.push_back('\0'); break;
      case '\\': out->text.push_back('\\'); break;
      case '"': out->text.push_back('"'); break;
      case '\n':  // line continuation: skip leading whitespace on the next line
        while (Peek() == ' ' || Peek() == '\t') Next();
        break;
      case 'x': {
        std::string hex;
        while (Peek() != EOF && Peek() != ';' && std::isxdigit(Peek()) && hex.size() < 8) hex.push_back(char(Next()));
        if (hex.empty() || Peek() != ';') Fail(el, ec, "expected hex digits and ';' after '\\x' in a string");
        Next();
        AppendUtf8(char32_t(std::strtoul(hex.c_str(), nullptr, 16)), &out->text);
        break;
      }
      case EOF:
        Fail(line, column, "expected '\"' to close the string opened here, found end of input", true);
      default:
        Fail(el, ec, absl::StrCat("unknown escape '\\", std::string(1, char(e)), "' in a string"));
    }
  }
}

std::string Reader::ReadToken() {
  std::string token;
  while (!IsDelimiter(Peek()) && Peek() != ']' && Peek() != '[') token.push_back(char(Next()));
  return token;
}

void Reader::ReadHash(Datum* out) {
  int line = line_, column = column_;
  Next();  // #
  int c = Peek();
  if (c == '(') {
    Next();
    Datum list;
    ReadList(&list, ')', line, column);
    if (list.tail) Fail(line, column, "expected a proper list of elements in a vector literal");
    out->type = Datum::Type::kVector;
    out->items = std::move(list.items);
    return;
  }
  if (c == '\\') {
    Next();
    std::string token;
    // The first character is taken whatever it is; then a name or hex code may follow.
    if (Peek() == EOF) Fail(line, column, "expected a character after '#\\', found end of input", true);
    size_t start = pos_;
    Next();
    while (!IsDelimiter(Peek()) && Peek() != ']') Next();
    token = std::string(text_.substr(start, pos_ - start));
    out->type = Datum::Type::kChar;
    size_t i = 0;
    char32_t first = DecodeUtf8(token, &i);
    if (i == token.size()) {
      out->ch = first;
      return;
    }
    for (const NamedChar& n : kNamedChars) {
      if (token == n.name) {
        out->ch = n.c;
        return;
      }
    }
    if (token[0] == 'x' && token.size() > 1) {
      char* end = nullptr;
      unsigned long v = std::strtoul(token.c_str() + 1, &end, 16);
      if (*end == '\0' && v <= 0x10FFFF) {
        out->ch = char32_t(v);
        return;
      }
    }
    Fail(line, column, absl::StrCat("unknown character name '#\\", token, "'"));
  }
  std::string token = ReadToken();
  if (token == "t" || token == "true") {
    out->type = Datum::Type::kBoolean;
    out->boolean = true;
    return;
  }
  if (token == "f" || token == "false") {
    out->type = Datum::Type::kBoolean;
    out->boolean = false;
    return;
  }
  Fail(line, column, absl::StrCat("unknown syntax '#", token, "'"));
}

void Reader::ReadAtom(Datum* out) {
  int line = line_, column = column_;
  std::string token = ReadToken();
  if (token.empty()) {
    // A lone delimiter we do not understand.
    Fail(line, column, absl::StrCat("unexpected character '", std::string(1, char(Next())), "'"));
  }
  size_t i = 0;
  bool negative = false;
  if (token[0] == '+' || token[0] == '-') {
    negative = token[0] == '-';
    i = 1;
  }
  bool digits = i < token.size();
  for (size_t k = i; k < token.size(); ++k) {
    if (!std::isdigit(static_cast<unsigned char>(token[k]))) digits = false;
  }
  if (digits) {
    // Accumulate as a negative number so that kFixnumMin is representable.
    int64_t v = 0;
    for (size_t k = i; k < token.size(); ++k) {
      int d = token[k] - '0';
      if (v < (kFixnumMin + d) / 10) Fail(line, column, absl::StrCat("integer literal ", token, " is out of the fixnum range"));
      v = v * 10 - d;
    }
    if (!negative) {
      if (v < -kFixnumMax) Fail(line, column, absl::StrCat("integer literal ", token, " is out of the fixnum range"));
      v = -v;
    }
    out->type = Datum::Type::kFixnum;
    out->fixnum = v;
    return;
  }
  // Reject things that look like other numbers rather than silently making symbols.
  bool numeric_start = std::isdigit(static_cast<unsigned char>(token[0])) ||
                       (token.size() > 1 && (token[0] == '+' || token[0] == '-' || token[0] == '.') &&
                        std::isdigit(static_cast<unsigned char>(token[1])));
  if (numeric_start) {
    Fail(line, column, absl::StrCat("bad number '", token, "' (only integers are supported)"));
  }
  out->type = Datum::Type::kSymbol;
  out->text = std::move(token);
}

}  // namespace weft::lisp
