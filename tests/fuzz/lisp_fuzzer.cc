// lisp_fuzzer: fuzz bytes -> Weft Lisp source -> the reader -> evaluation in a fresh
// runtime with bounded steps, threads, sleep and heap (tools/lisp/interp.h
// [lisp.limits]).
//
// Two modes, chosen by the first byte:
//   < 0x80  raw: the whole input is program text (so every seed is a plain .wl file
//           and a crash reproducer reads as a program);
//   >= 0x80 generated: the rest drives ProgramGen, which builds well-formed programs
//           from the language's forms and builtins (typed arguments most of the
//           time), so evaluation goes deep instead of stopping at the first typo.
//           The second byte picks the workers and GC stress.
// WEFT_FUZZ_PRINT=1 prints each program to stderr (for triaging a reproducer).
//
// Checked, besides "no crash, no sanitizer report, no hang":
//   - the reader either reads every datum or throws a ReadError with a position;
//   - Run returns OK, or FailedPrecondition for a deadlock: an exception escaping
//     the interpreter (Internal) is a bug;
//   - errors come back as errors: a run that failed (an uncaught error, a failed
//     check, a read error, a thread's unobserved error) reports it on the error
//     stream, a run that succeeded writes nothing there, and text the reader
//     rejects never runs clean.
//
// Deadlocks: Run abandons blocked green threads without unwinding them
// (threads/DESIGN.md [threads.inv.deadlock]), so what their frames own (the
// Interp's tables, the reader's data, builtins' vectors) is never freed. LeakSanitizer
// is told to ignore allocations made under weft::lisp frames for that reason (see
// __lsan_default_suppressions below); every other sanitizer check still applies.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runtime/weft.h"
#include "tests/fuzz/byte_reader.h"
#include "tools/lisp/interp.h"
#include "tools/lisp/reader.h"

extern "C" const char* __lsan_default_suppressions() {
  return "leak:weft::lisp::\nleak:weft::fuzz::RunProgram\n";
}

namespace weft::fuzz {
namespace {

constexpr size_t kMaxInput = 16 << 10;
constexpr int64_t kMaxSteps = 3000;  // per green thread
constexpr size_t kMaxThreads = 8;
constexpr int64_t kMaxSleepMs = 50;   // in all

[[noreturn]] void Fail(const std::string& what, std::string_view program) {
  std::fprintf(stderr, "lisp_fuzzer: %s\nprogram:\n%.*s\n", what.c_str(), int(program.size()),
               program.data());
  std::abort();
}

// ---------------------------------------------------------------------------------
// ProgramGen: bytes -> a well-formed program.

// A builtin and the kinds of its arguments: n number, l list, v vector, s string,
// c char, y symbol, p procedure, h channel, m mutex, w wait group, x anything.
struct Builtin {
  const char* name;
  const char* args;
};

constexpr Builtin kBuiltins[] = {
    {"+", "nn"}, {"-", "nn"}, {"*", "nn"}, {"quotient", "nn"}, {"remainder", "nn"},
    {"modulo", "nn"}, {"abs", "n"}, {"min", "nnn"}, {"max", "nn"}, {"expt", "nn"},
    {"=", "nn"}, {"<", "nnn"}, {">=", "nn"}, {"zero?", "n"}, {"odd?", "n"},
    {"even?", "n"}, {"not", "x"}, {"eq?", "xx"}, {"eqv?", "xx"}, {"equal?", "xx"},
    {"null?", "x"}, {"pair?", "x"}, {"list?", "x"}, {"number?", "x"}, {"string?", "x"},
    {"symbol?", "x"}, {"procedure?", "x"}, {"vector?", "x"}, {"boolean?", "x"},
    {"char?", "x"}, {"cons", "xx"}, {"car", "l"}, {"cdr", "l"}, {"cadr", "l"},
    {"cddr", "l"}, {"caddr", "l"}, {"set-car!", "lx"}, {"set-cdr!", "lx"},
    {"list", "xxx"}, {"length", "l"}, {"append", "ll"}, {"reverse", "l"},
    {"list-ref", "ln"}, {"list-tail", "ln"}, {"apply", "pl"}, {"map", "pl"},
    {"map", "pll"}, {"for-each", "pl"}, {"filter", "pl"}, {"fold-left", "pxl"},
    {"fold-right", "pxl"}, {"assq", "xl"}, {"assv", "xl"}, {"assoc", "xl"},
    {"memq", "xl"}, {"member", "xl"}, {"iota", "n"}, {"iota", "nnn"}, {"make-list", "nx"},
    {"make-vector", "nx"}, {"vector", "xx"}, {"vector-ref", "vn"}, {"vector-set!", "vnx"},
    {"vector-length", "v"}, {"vector-fill!", "vx"}, {"vector->list", "v"},
    {"list->vector", "l"}, {"string-length", "s"}, {"string-ref", "sn"},
    {"substring", "snn"}, {"string-append", "ss"}, {"number->string", "n"},
    {"number->string", "nn"}, {"string->number", "s"}, {"string->number", "sn"},
    {"string->symbol", "s"}, {"symbol->string", "y"}, {"string=?", "ss"},
    {"string<?", "ss"}, {"string->list", "s"}, {"list->string", "l"}, {"string", "cc"},
    {"char->integer", "c"}, {"integer->char", "n"}, {"char=?", "cc"}, {"char<?", "cc"},
    {"display", "x"}, {"write", "x"}, {"newline", ""}, {"error", "sx"}, {"raise", "x"},
    {"raise-continuable", "x"}, {"with-exception-handler", "pp"},
    {"error-message", "x"}, {"error-irritants", "x"}, {"condition/report-string", "x"},
    {"condition-kind", "x"}, {"condition?", "x"}, {"eof-object", ""},
    {"eof-object?", "x"}, {"void", "x"}, {"current-time-ms", ""}, {"sanitizer?", ""},
    {"spawn", "p"}, {"join", "x"}, {"yield", ""}, {"sleep", "n"}, {"current-thread", ""},
    {"thread-name", "x"}, {"thread?", "x"}, {"make-channel", "n"}, {"send", "hx"},
    {"recv", "h"}, {"close", "h"}, {"channel?", "x"}, {"make-mutex", ""},
    {"mutex-lock!", "m"}, {"mutex-unlock!", "m"}, {"make-wait-group", ""},
    {"wait-group-add", "wn"}, {"wait-group-done", "w"}, {"wait-group-wait", "w"},
    {"collect", "n"}, {"collect", ""}, {"heap-stats", ""}, {"soft-heap-limit", ""},
    {"set-soft-heap-limit!", "n"}, {"dump-stacks", ""},
};

constexpr const char* kNumbers[] = {
    "0", "1", "2", "3", "-1", "7", "10", "100", "1000", "65536", "4611686018427387903",
    "-4611686018427387904", "4611686018427387902", "-2", "1114111", "55296", "36",
};

constexpr const char* kAtoms[] = {
    "#t", "#f", "#\\a", "#\\space", "#\\x3bb", "#\\nul", "\"\"", "\"abc\"",
    "\"h\\xe9;llo\\n\"", "\"42\"", "'()", "'a", "'(1 2 3)", "'(a . b)", "'((a . 1) (b . 2))",
    "#(1 2 3)", "'#()", "(eof-object)", "(void)",
};

class ProgramGen {
 public:
  explicit ProgramGen(ByteReader& in) : in_(in) {}

  std::string Program() {
    std::string out;
    int forms = 1 + int(in_.Below(8));
    for (int i = 0; i < forms && !in_.empty(); ++i) {
      out += TopLevel();
      out += "\n";
    }
    return out;
  }

 private:
  int Pick(int n) { return int(in_.Below(uint64_t(n))); }
  std::string Small() { return std::to_string(Pick(24)); }

  std::string Fresh() {
    std::string v = absl::StrCat("v", next_var_++);
    return v;
  }

  // Every choice below is sequenced (one statement each): the order in which a
  // function call's arguments are evaluated differs between gcc and clang, and a
  // reproducer found by the clang libFuzzer build must give the same program in the
  // gcc replay test.
  std::string TopLevel() {
    switch (Pick(6)) {
      case 0: {
        std::string k = std::to_string(Pick(4));
        std::string e = Expr(4);
        return absl::StrCat("(define g", k, " ", e, ")");
      }
      case 1: {
        std::string k = std::to_string(Pick(4));
        std::string a = Fresh(), b = Fresh();
        std::string body = WithVars({a, b}, [&] { return Body(5); });
        return absl::StrCat("(define (f", k, " ", a, " ", b, ") ", body, ")");
      }
      case 2: {
        std::string x = Expr(3);
        std::string y = Expr(3);
        return absl::StrCat("(check ", x, " ", y, ")");
      }
      case 3: return absl::StrCat("(display ", Expr(5), ")");
      default: return Expr(6);
    }
  }

  template <typename F>
  std::string WithVars(std::vector<std::string> vars, F&& f) {
    size_t mark = scope_.size();
    scope_.insert(scope_.end(), vars.begin(), vars.end());
    std::string s = f();
    scope_.resize(mark);
    return s;
  }

  // Exprs: n expressions, in order, each preceded by a space.
  std::string Exprs(int n, int depth) {
    std::string s;
    for (int i = 0; i < n; ++i) absl::StrAppend(&s, " ", Expr(depth));
    return s;
  }

  // A body: an internal define now and then, then one or two expressions.
  std::string Body(int depth) {
    if (Pick(5) == 0) {
      std::string v = Fresh();
      std::string init = Expr(depth - 1);
      return WithVars({v}, [&] { return absl::StrCat("(define ", v, " ", init, ")", Exprs(1, depth - 1)); });
    }
    return Exprs(Pick(3) == 0 ? 2 : 1, depth - 1).substr(1);
  }

  std::string Number() { return kNumbers[Pick(int(std::size(kNumbers)))]; }

  std::string Atom() {
    int k = Pick(10);
    if (k < 3) return Number();
    if (k < 5 && !scope_.empty()) return scope_[size_t(Pick(int(scope_.size())))];
    if (k == 5) return absl::StrCat("g", Pick(4));
    if (k == 6) return std::to_string(int(in_.Byte()) - 128);
    return kAtoms[Pick(int(std::size(kAtoms)))];
  }

  std::string Lambda(int nparams, int depth) {
    std::vector<std::string> ps;
    std::string list;
    for (int i = 0; i < nparams; ++i) {
      ps.push_back(Fresh());
      absl::StrAppend(&list, i ? " " : "", ps.back());
    }
    bool rest = Pick(8) == 0;
    if (rest) {
      ps.push_back(Fresh());
      list = nparams ? absl::StrCat(list, " . ", ps.back()) : ps.back();
    }
    std::string body = WithVars(ps, [&] { return Body(depth); });
    if (rest && !nparams) return absl::StrCat("(lambda ", list, " ", body, ")");
    return absl::StrCat("(lambda (", list, ") ", body, ")");
  }

  // Typed: an expression of the kind named by `t` most of the time (see Builtin).
  std::string Typed(char t, int depth) {
    if (depth <= 0 || Pick(4) == 0) return t == 'x' ? Expr(depth) : Atom();
    const int d = depth - 1;
    switch (t) {
      case 'n':
        switch (Pick(4)) {
          case 0: {
            std::string x = Typed('n', d);
            std::string k = Small();
            return absl::StrCat("(+ ", x, " ", k, ")");
          }
          case 1: return absl::StrCat("(length ", Typed('l', d), ")");
          default: return Number();
        }
      case 'l':
        switch (Pick(7)) {
          case 0: return absl::StrCat("(list", Exprs(2, d), ")");
          case 1: return absl::StrCat("(iota ", Small(), ")");
          case 2: {
            std::string x = Expr(d);
            std::string l = Typed('l', d);
            return absl::StrCat("(cons ", x, " ", l, ")");
          }
          case 3: return absl::StrCat("(vector->list ", Typed('v', d), ")");
          case 4: {
            std::string f = Typed('p', d);
            std::string l = Typed('l', d);
            return absl::StrCat("(map ", f, " ", l, ")");
          }
          case 5: return "'((a . 1) (b . 2) (c . 3))";
          default: return "'(1 2 3)";
        }
      case 'v':
        switch (Pick(3)) {
          case 0: {
            std::string k = Small();
            std::string x = Expr(d);
            return absl::StrCat("(make-vector ", k, " ", x, ")");
          }
          case 1: return absl::StrCat("(list->vector ", Typed('l', d), ")");
          default: return absl::StrCat("(vector", Exprs(2, d), ")");
        }
      case 's':
        switch (Pick(4)) {
          case 0: return absl::StrCat("(number->string ", Typed('n', d), ")");
          case 1: return absl::StrCat("(string-append ", Typed('s', d), " \"xyz\")");
          case 2: return absl::StrCat("(symbol->string ", Typed('y', d), ")");
          default: return Pick(2) ? "\"hello\"" : "\"\\x3bb;x\"";
        }
      case 'c':
        if (Pick(2)) return "#\\z";
        return absl::StrCat("(string-ref ", Typed('s', d), " 0)");
      case 'y':
        if (Pick(2)) return "'sym";
        return absl::StrCat("(string->symbol ", Typed('s', d), ")");
      case 'p':
        switch (Pick(5)) {
          case 0: return "car";
          case 1: return "+";
          case 2: return absl::StrCat("f", Pick(4));
          default: {
            int n = 1 + Pick(2);
            return Lambda(n, d);
          }
        }
      case 'h': return absl::StrCat("(make-channel ", Pick(3), ")");
      case 'm': return "(make-mutex)";
      case 'w': return "(make-wait-group)";
      default: return Expr(depth);
    }
  }

  std::string Call(const Builtin& b, int depth) {
    std::string s = absl::StrCat("(", b.name);
    size_t n = std::strlen(b.args);
    int arity_error = 0;  // a wrong count now and then
    if (Pick(16) == 0) arity_error = Pick(2) ? -1 : 1;
    for (size_t i = 0; i + (arity_error < 0 ? 1 : 0) < n; ++i) {
      absl::StrAppend(&s, " ", Typed(b.args[i], depth - 1));
    }
    if (arity_error > 0) absl::StrAppend(&s, " ", Atom());
    return s + ")";
  }

  std::string Expr(int depth) {
    if (depth <= 0 || --budget_ <= 0 || in_.empty()) return Atom();
    const int d = depth - 1;
    switch (Pick(32)) {
      case 0: return absl::StrCat("(if", Exprs(3, d), ")");
      case 1: {
        std::string a = Expr(d), b = Expr(d), c = Expr(d), e = Expr(d);
        return absl::StrCat("(cond (", a, " ", b, ") (", c, " => (lambda (x) x)) (else ", e, "))");
      }
      case 2: {
        std::string k = Expr(d), a = Expr(d), b = Expr(d);
        return absl::StrCat("(case ", k, " ((0 1 a) ", a, ") ((#\\a \"s\" b) ", b, ") (else => (lambda (k) k)))");
      }
      case 3: {
        const char* form = Pick(2) ? "(and" : "(or";
        return absl::StrCat(form, Exprs(3, d), ")");
      }
      case 4: {
        const char* form = Pick(2) ? "(when" : "(unless";
        return absl::StrCat(form, Exprs(3, d), ")");
      }
      case 5:
      case 6: {
        static constexpr const char* kLets[] = {"let", "let*", "letrec", "letrec*"};
        const char* form = kLets[Pick(4)];
        std::string a = Fresh(), b = Fresh();
        bool rec = form[3] == 'r';
        std::string ia = rec ? WithVars({a, b}, [&] { return Lambda(1, d); }) : Expr(d);
        std::vector<std::string> seen;  // what b's init may refer to
        if (form[3] != '\0') seen.push_back(a);
        std::string ib = WithVars(seen, [&] { return Expr(d); });
        std::string body = WithVars({a, b}, [&] { return Body(d); });
        return absl::StrCat("(", form, " ((", a, " ", ia, ") (", b, " ", ib, ")) ", body, ")");
      }
      case 7: {
        // Named let: a bounded loop whose body sees the counter and the accumulator.
        std::string i = Fresh(), acc = Fresh();
        std::string init = Expr(d);
        std::string step = WithVars({i, acc}, [&] { return Expr(d); });
        std::string n = Small();
        return absl::StrCat("(let loop ((", i, " 0) (", acc, " ", init, ")) (if (< ", i, " ", n, ") (loop (+ ", i,
                            " 1) ", step, ") ", acc, "))");
      }
      case 8: {
        int n = Pick(3);
        std::string f = Lambda(n, d);
        return absl::StrCat("(", f, Exprs(n, d), ")");
      }
      case 9: {
        std::string k = std::to_string(Pick(4));
        return absl::StrCat("(f", k, Exprs(2, d), ")");
      }
      case 10: {
        std::string target;
        if (!scope_.empty() && Pick(4)) {
          target = scope_[size_t(Pick(int(scope_.size())))];
        } else {
          target = absl::StrCat("g", Pick(4));
        }
        return absl::StrCat("(set! ", target, " ", Expr(d), ")");
      }
      case 11: return absl::StrCat("(begin", Exprs(2, d), ")");
      case 12: {
        std::string i = Fresh();
        std::string body = WithVars({i}, [&] { return Expr(d); });
        std::string result = WithVars({i}, [&] { return Expr(d); });
        std::string n = Small();
        return absl::StrCat("(do ((", i, " 0 (+ ", i, " 1))) ((= ", i, " ", n, ") ", result, ") ", body, ")");
      }
      case 13: {
        std::string a = Expr(d);
        std::string l = Typed('l', d);
        std::string b = Expr(d), c = Expr(d);
        return absl::StrCat("`(1 ,", a, " ,@", l, " #(a ,", b, ") (x . ,", c, "))");
      }
      case 14: {
        std::string e = Fresh();
        std::string handler = WithVars({e}, [&] { return Expr(d); });
        const char* other = Pick(2) ? " (else 'other)" : "";
        std::string body = Body(d);
        return absl::StrCat("(guard (", e, " ((symbol? ", e, ") ", e, ") ((condition? ", e, ") (condition-kind ", e,
                            ")) ((string? ", e, ") ", handler, ")", other, ") ", body, ")");
      }
      case 15:
        if (Pick(2)) return absl::StrCat("(raise ", Expr(d), ")");
        return absl::StrCat("(error \"boom\"", Exprs(2, d), ")");
      case 16: {
        std::string c = Fresh();
        std::string h = WithVars({c}, [&] { return Expr(d); });
        const char* how = Pick(2) ? "(raise-continuable " : "(+ 1 ";
        return absl::StrCat("(with-exception-handler (lambda (", c, ") ", h, ") (lambda () ", how, Expr(d), ")))");
      }
      case 17: {
        static constexpr const char* kHigher[] = {"map", "for-each", "filter"};
        if (Pick(2)) {
          const char* f = kHigher[Pick(3)];
          std::string p = Lambda(1, d);
          std::string l = Typed('l', d);
          return absl::StrCat("(", f, " ", p, " ", l, ")");
        }
        std::string p = Lambda(2, d);
        std::string init = Expr(d);
        std::string l = Typed('l', d);
        return absl::StrCat("(fold-left ", p, " ", init, " ", l, ")");
      }
      case 18: return absl::StrCat("(join (spawn ", Lambda(0, d), "))");
      case 19: {
        std::string ch = Fresh();
        std::string cap = std::to_string(Pick(3));
        std::string v = WithVars({ch}, [&] { return Expr(d); });
        return absl::StrCat("(let ((", ch, " (make-channel ", cap, "))) (spawn (lambda () (send ", ch, " ", v,
                            ") (close ", ch, "))) (list (recv ", ch, ") (recv ", ch, ")))");
      }
      case 20: {
        std::string ch = Fresh(), x = Fresh();
        std::string send;
        if (Pick(2)) send = absl::StrCat("(send ", ch, " ", Expr(d), ") ");
        std::string on_recv = WithVars({ch, x}, [&] { return Expr(d); });
        std::string ms = std::to_string(Pick(3));
        std::string on_timeout = WithVars({ch}, [&] { return Expr(d); });
        return absl::StrCat("(let ((", ch, " (make-channel 1))) ", send, "(select ((recv ", ch, ") => (lambda (", x,
                            ") ", on_recv, ")) ((timeout ", ms, ") => (lambda () ", on_timeout, "))))");
      }
      case 21: {
        std::string m = Fresh();
        std::string body = WithVars({m}, [&] { return Expr(d); });
        return absl::StrCat("(let ((", m, " (make-mutex))) (with-mutex ", m, " ", body, "))");
      }
      case 22: {
        std::string wg = Fresh();
        std::string work = WithVars({wg}, [&] { return Expr(d); });
        return absl::StrCat("(let ((", wg, " (make-wait-group))) (wait-group-add ", wg, " 2) (spawn (lambda () ",
                            work, " (wait-group-done ", wg, "))) (spawn (lambda () (wait-group-done ", wg,
                            "))) (wait-group-wait ", wg, ") 'done)");
      }
      case 23:
        switch (Pick(4)) {
          case 0: return absl::StrCat("(collect ", Pick(4) - 1, ")");
          case 1: return "(heap-stats)";
          case 2: {
            std::string n = Number();
            return absl::StrCat("(length (make-list ", n, " ", Expr(d), "))");
          }
          default: {
            std::string n = Pick(2) ? "100000" : Small();
            return absl::StrCat("(vector-length (make-vector ", n, " ", Expr(d), "))");
          }
        }
      case 24: {
        // Circular structure: printing, equal?, length and friends must end.
        static constexpr const char* kOps[] = {"list?", "length", "write", "equal? (list 1 2 1 2 1)", "for-each car",
                                               "assq 'z", "list->string", "apply +", "vector-ref"};
        std::string p = Fresh();
        const char* op = kOps[Pick(int(std::size(kOps)))];
        std::string use = WithVars({p}, [&] { return Typed('x', d); });
        return absl::StrCat("(let ((", p, " (list 1 2))) (set-cdr! (cdr ", p, ") ", p, ") (", op, " ", p, ") ", use,
                            ")");
      }
      default: return Call(kBuiltins[Pick(int(std::size(kBuiltins)))], depth);
    }
  }

  ByteReader& in_;
  std::vector<std::string> scope_;
  int budget_ = 300;  // expressions per program
  int next_var_ = 0;
};

// ---------------------------------------------------------------------------------
// Running a program.

struct Outcome {
  absl::Status run;   // Run's status
  int status = 0;     // RunText's result
  int thread_failures = 0;
  int check_failures = 0;  // including checks that threads failed after main's forms
  std::string err;    // the error stream
};

std::FILE* DevNull() {
  static std::FILE* f = std::fopen("/dev/null", "w");
  return f;
}

Outcome RunProgram(const std::string& text, int workers, uint64_t gc_stress) {
  Options o;
  o.workers = workers;
  // Main: the reader, compiler and evaluator recurse per level of nesting (up to 1000),
  // about 3.5 KiB a level under ASan. No more: under ASan every throw unpoisons the
  // used stack, and a guard that retries a deep recursion throws once per step.
  o.native_stack_bytes = 8 << 20;
  o.managed_stack_max_bytes = 256 << 10;
  o.nursery_bytes = 256 << 10;
  o.max_nursery_bytes = 1 << 20;
  o.heap_initial_bytes = 1 << 20;
  o.heap_hard_limit_bytes = 8 << 20;
  o.gc_stress_every = gc_stress;
  o.control_socket = false;
  o.dump_stacks_on_sigquit = false;
  auto rt = Runtime::Create(o);
  if (!rt.ok()) Fail(absl::StrCat("Runtime::Create: ", rt.status().ToString()), text);
  Outcome out;
  char* err_buf = nullptr;
  size_t err_len = 0;
  std::FILE* err = open_memstream(&err_buf, &err_len);
  auto r = (*rt)->Run([&]() -> int {
    lisp::Interp in("lisp_fuzzer");
    in.main_native_stack = o.native_stack_bytes;
    in.thread_native_stack = 256 << 10;  // the CLI's default
    in.max_steps = kMaxSteps;
    in.max_threads = kMaxThreads;
    in.max_sleep_ms = kMaxSleepMs;
    in.out_file = DevNull();
    in.err_file = err;
    // (exit) would end the fuzzer's process.
    if (in.RunText("(set! exit (lambda args (error \"exit is disabled in the fuzzer\")))", "<prelude>") != 0) {
      return -1;
    }
    out.status = in.RunText(text, "<fuzz>");
    out.thread_failures = in.FinishThreads();
    out.check_failures = in.check_failures();
    return 0;
  });
  std::fclose(err);
  out.err.assign(err_buf, err_len);
  std::free(err_buf);
  if (r.ok() && *r != 0) Fail("the prelude failed", text);
  out.run = r.status();
  return out;
}

// ReadAll returns whether the reader read every datum; false (with a checked
// ReadError) if it rejected the text. *datums counts what it read before that.
bool ReadAll(const std::string& text, int* datums) {
  lisp::Reader reader(text, "<fuzz>");
  lisp::Datum d;
  *datums = 0;
  try {
    while (reader.Read(&d)) ++*datums;
    return true;
  } catch (const lisp::ReadError& e) {
    if (e.line() < 1 || e.column() < 1 || std::string_view(e.what()).rfind("<fuzz>:", 0) != 0) {
      Fail(absl::StrCat("a ReadError without a position: ", e.what()), text);
    }
    return false;
  }
}

}  // namespace
}  // namespace weft::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weft::fuzz;
  static const bool print = [] {
    // Quiet the runtime's log (a deadlocked run logs a full stack dump) unless asked.
    if (const char* log = std::getenv("WEFT_LOG"); log == nullptr || *log == '\0') setenv("WEFT_LOG", "off", 1);
    const char* p = std::getenv("WEFT_FUZZ_PRINT");
    return p != nullptr && *p == '1';
  }();
  if (size == 0 || size > kMaxInput) return 0;
#ifdef WEFT_FUZZ
  // A runtime fatal error (WEFT_CHECK) resets SIGABRT to its default before aborting,
  // so libFuzzer cannot save the input that caused it: keep it here first.
  {
    static const std::string pending =
        absl::StrCat(std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp", "/weft-lisp-fuzzer-input");
    if (std::FILE* f = std::fopen(pending.c_str(), "wb")) {
      std::fwrite(data, 1, size, f);
      std::fclose(f);
    }
  }
#endif
  std::string text;
  int workers = 2;
  uint64_t gc_stress = 0;
  if (data[0] < 0x80) {
    text.assign(reinterpret_cast<const char*>(data), size);
  } else {
    ByteReader in(data + 1, size - 1);
    uint8_t config = in.Byte();
    workers = 1 + (config & 1);
    gc_stress = (config & 0x0e) == 0 ? 1 + in.Byte() % 32 : 0;
    text = ProgramGen(in).Program();
    int datums = 0;
    if (!ReadAll(text, &datums)) Fail("the reader rejected a generated program", text);
  }
  if (print) std::fprintf(stderr, "--- program ---\n%s\n---\n", text.c_str());
  int datums = 0;
  bool read_ok = ReadAll(text, &datums);
  if (datums == 0) return 0;  // nothing would run: the reader's verdict is the test
  Outcome out = RunProgram(text, workers, gc_stress);
  if (!out.run.ok()) {
    if (out.run.code() == absl::StatusCode::kFailedPrecondition &&
        out.run.message().rfind("deadlock", 0) == 0) {
      return 0;  // a program may deadlock; Run reports it
    }
    Fail(absl::StrCat("Run failed: ", out.run.ToString()), text);
  }
  bool failed = out.status != 0 || out.thread_failures > 0 || out.check_failures > 0;
  if (failed && out.err.empty()) Fail("the run failed without reporting an error", text);
  if (!failed && !out.err.empty()) Fail(absl::StrCat("a clean run wrote errors: ", out.err), text);
  if (!read_ok && out.status == 0) Fail("text the reader rejects ran clean", text);
  return 0;
}
