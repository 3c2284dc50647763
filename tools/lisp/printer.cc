#include "tools/lisp/printer.h"

#include "absl/strings/str_cat.h"
#include "tools/lisp/reader.h"

namespace weft::lisp {

namespace {

constexpr int kMaxDepth = 1000;

void PrintChar(char32_t ch, bool write, std::string* out) {
  if (!write) {
    AppendUtf8(ch, out);
    return;
  }
  switch (ch) {
    case ' ': *out += "#\\space"; return;
    case '\n': *out += "#\\newline"; return;
    case '\t': *out += "#\\tab"; return;
    case '\r': *out += "#\\return"; return;
    case 0: *out += "#\\nul"; return;
    default:
      if (ch < 32 || ch == 127) {
        absl::StrAppend(out, "#\\x", absl::Hex(uint32_t(ch)));
        return;
      }
      *out += "#\\";
      AppendUtf8(ch, out);
  }
}

void PrintString(std::string_view s, bool write, std::string* out) {
  if (!write) {
    out->append(s);
    return;
  }
  out->push_back('"');
  for (char ch : s) {
    switch (ch) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\t': *out += "\\t"; break;
      case '\r': *out += "\\r"; break;
      default: out->push_back(ch);
    }
  }
  out->push_back('"');
}

// limit: once *out is longer, containers print "..." for the rest, so a circular or
// hugely shared structure prints in bounded time and memory.
// raise: at ts's stack limit, raise stack-overflow (display, write) or print "..."
// (messages: an error about deep data must not become another error; a deep list
// named in "not a procedure" aborted the process from a spawned thread before).
void PrintRec(Interp& in, Local v, bool write, std::string* out, int depth, size_t limit, ThreadState* ts,
              bool raise) {
  // A 256 KiB thread stack holds fewer than kMaxDepth levels.
  const bool low = static_cast<const char*>(__builtin_frame_address(0)) < ts->stack_limit;
  if (low && raise) NativeStackOverflow(ts);
  if (low || depth > kMaxDepth || out->size() > limit) {
    *out += "...";
    return;
  }
  switch (v.kind()) {
    case Kind::kFixnum: absl::StrAppend(out, FxValue(v)); return;
    case Kind::kNil: *out += "()"; return;
    case Kind::kBoolean: *out += Truthy(v) ? "#t" : "#f"; return;
    case Kind::kChar: PrintChar(CharValue(v), write, out); return;
    case Kind::kUnbound: *out += "#<unbound>"; return;
    case Kind::kString: PrintString(StringView(v), write, out); return;
    case Kind::kBytes: absl::StrAppend(out, "#<bytes ", BytesLength(v), ">"); return;
    case Kind::kPair: {
      *out += "(";
      Local p = Local::New(v.get());
      bool first = true;
      RunBounded("print", [&](Scope&) {
        if (!first) *out += " ";
        first = false;
        if (out->size() > limit) {
          *out += "...";
          return true;
        }
        PrintRec(in, Car(p), write, out, depth + 1, limit, ts, raise);
        Local d = Cdr(p);
        if (d.kind() == Kind::kPair) {
          p.Set(d);
          return false;
        }
        if (!IsNilRaw(d)) {
          *out += " . ";
          PrintRec(in, d, write, out, depth + 1, limit, ts, raise);
        }
        return true;
      });
      *out += ")";
      return;
    }
    case Kind::kVector: {
      *out += "#(";
      size_t n = VectorLength(v);
      size_t i = 0;
      if (n > 0) {
        RunBounded("print", [&](Scope&) {
          if (i) *out += " ";
          if (out->size() > limit) {
            *out += "...";
            return true;
          }
          PrintRec(in, VectorRef(v, i), write, out, depth + 1, limit, ts, raise);
          return ++i == n;
        });
      }
      *out += ")";
      return;
    }
    case Kind::kRecord: {
      if (in.IsSymbol(v)) {
        *out += in.SymbolName(in.SymbolId(v));
        return;
      }
      if (in.IsProcedure(v)) {
        absl::StrAppend(out, "#<procedure ", in.ProcedureName(v), ">");
        return;
      }
      if (in.IsCondition(v)) {
        Local kind = RecordRef(v, 0);
        Local msg = RecordRef(v, 1);
        absl::StrAppend(out, "#<condition ", in.IsSymbol(kind) ? in.SymbolName(in.SymbolId(kind)) : "?", ": ");
        if (msg.kind() == Kind::kString) out->append(StringView(msg));
        *out += ">";
        return;
      }
      if (in.IsEof(v)) {
        *out += "#<eof>";
        return;
      }
      if (in.IsVoid(v)) {
        *out += "#<unspecified>";
        return;
      }
      RecordType t = RecordTypeOf(v);
      if (t.id == in.thread_type().id) {
        ThreadEntry* e = in.ThreadAt(in.NativeIndex(v));
        absl::StrAppend(out, "#<thread ", e->id.load(), " ", e->name, ">");
        return;
      }
      if (t.id == in.channel_type().id || t.id == in.mutex_type().id || t.id == in.waitgroup_type().id) {
        absl::StrAppend(out, "#<", std::string(RecordTypeName(t)), " ", in.NativeIndex(v), ">");
        return;
      }
      absl::StrAppend(out, "#<record ", std::string(RecordTypeName(t)), ">");
      return;
    }
  }
}

void PrintWith(Interp& interp, Local v, bool write, std::string* out, size_t limit, ThreadState* ts,
               bool raise) {
  Scope s("print");
  PrintRec(interp, v, write, out, 0, out->size() + limit, ts, raise);
}

}  // namespace

void Print(Interp& interp, Local v, bool write, std::string* out, size_t limit, ThreadState* ts) {
  PrintWith(interp, v, write, out, limit, ts, true);
}

std::string ToMessageString(Interp& interp, Local v, ThreadState* ts, size_t limit) {
  std::string out;
  PrintWith(interp, v, true, &out, limit, ts, false);
  return out;
}

std::string ToString(Interp& interp, Local v, bool write, size_t limit, ThreadState* ts) {
  std::string out;
  Print(interp, v, write, &out, limit, ts);
  return out;
}

}  // namespace weft::lisp
