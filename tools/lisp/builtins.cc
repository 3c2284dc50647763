// builtins.cc: numbers, predicates, equality, pairs and lists, vectors, characters,
// strings, symbols, output and errors. Threads and heap control are in
// builtins_threads.cc. Every type check names the procedure and the argument.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/lisp/interp.h"
#include "tools/lisp/printer.h"
#include "tools/lisp/reader.h"

namespace weft::lisp {

// ---------------------------------------------------------------------------------
// Helpers.

void TypeFail(Ctx& c, const char* proc, int argno, const char* expected, Local got) {
  std::string shown = ToMessageString(c.interp(), got, c.ts, 80);
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  c.interp().RaiseNative(c.ts, "type-error",
                         absl::StrCat(proc, ": expected ", expected, " as argument ", argno, ", got ", shown));
}

int64_t ArgFixnum(Ctx& c, const char* proc, Args a, int i) {
  if (!a[size_t(i)].IsFixnum()) TypeFail(c, proc, i + 1, "an integer", a[size_t(i)]);
  return FxValue(a[size_t(i)]);
}

void ArgKind(Ctx& c, const char* proc, Args a, int i, Kind kind, const char* expected) {
  if (a[size_t(i)].kind() != kind) TypeFail(c, proc, i + 1, expected, a[size_t(i)]);
}

bool Eqv(Local a, Local b) { return a.get().raw == b.get().raw; }

namespace {

constexpr int kEqualMaxDepth = 10000;

// ts, when not null, counts each pair and vector element as a step [lisp.limits]:
// two distinct circular lists would otherwise compare forever.
bool EqualRec(Interp& in, ThreadState* ts, Local a, Local b, int depth) {
  if (Eqv(a, b)) return true;
  if (ts) CheckNativeStack(ts);  // a 256 KiB thread stack holds fewer than kEqualMaxDepth levels
  Kind k = a.kind();
  if (k != b.kind() || depth > kEqualMaxDepth) return false;
  switch (k) {
    case Kind::kString: return StringView(a) == StringView(b);
    case Kind::kVector: {
      size_t n = VectorLength(a);
      if (n != VectorLength(b)) return false;
      for (size_t i = 0; i < n; ++i) {
        Scope s("equal?");
        if (ts) CountStep(ts);
        if (!EqualRec(in, ts, VectorRef(a, i), VectorRef(b, i), depth + 1)) return false;
      }
      return true;
    }
    case Kind::kPair: {
      Local x = Local::New(a.get());
      Local y = Local::New(b.get());
      bool result = true;
      RunBounded("equal?", [&](Scope&) {
        if (ts) CountStep(ts);
        if (!EqualRec(in, ts, Car(x), Car(y), depth + 1)) {
          result = false;
          return true;
        }
        Local dx = Cdr(x);
        Local dy = Cdr(y);
        if (dx.kind() == Kind::kPair && dy.kind() == Kind::kPair) {
          x.Set(dx);
          y.Set(dy);
          return false;
        }
        result = EqualRec(in, ts, dx, dy, depth + 1);
        return true;
      });
      return result;
    }
    default: return false;
  }
}

[[noreturn]] void Overflow(Ctx& c, const char* proc) {
  c.interp().RaiseNative(c.ts, "overflow", absl::StrCat(proc, ": fixnum overflow"));
}

Local MakeChecked(Ctx& c, const char* proc, __int128 v) {
  if (v > kFixnumMax || v < kFixnumMin) Overflow(c, proc);
  return FxMake(c, int64_t(v));
}

// ListItems appends the elements of a proper list to *out (Locals in the current
// frame) or fails naming proc and argument argno.
void ListItems(Ctx& c, const char* proc, int argno, Local list, std::vector<Local>* out) {
  Local p = list;
  while (p.kind() == Kind::kPair) {
    CountStep(c.ts);  // [lisp.limits]: a circular list would grow *out forever
    out->push_back(Car(p));
    p = Cdr(p);
  }
  if (!IsNilRaw(p)) TypeFail(c, proc, argno, "a proper list", list);
}

// ReverseInPlace reverses a list of fresh pairs.
Local ReverseInPlace(Local list) {
  Local prev = NilLocal();
  Local p = Local::New(list.get());
  RunBounded("reverse!", [&](Scope&) {
    if (!(p.kind() == Kind::kPair)) return true;
    Local next = Cdr(p);
    SetCdr(p, prev);
    prev.Set(p);
    p.Set(next);
    return false;
  });
  return prev;
}

// ---------------------------------------------------------------------------------
// Numbers.

Local Add(Ctx& c, Args a) {
  if (a.size() == 2 && a[0].IsFixnum() && a[1].IsFixnum()) {
    if (g_imm.fixnum_shift) {
      int64_t r;
      if (__builtin_add_overflow(int64_t(a[0].get().raw), int64_t(a[1].get().raw), &r)) Overflow(c, "+");
      return c.New(Value{uint64_t(r)});
    }
    return MakeChecked(c, "+", __int128(FxValue(a[0])) + FxValue(a[1]));
  }
  __int128 acc = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    acc += ArgFixnum(c, "+", a, int(i));
    if (acc > kFixnumMax || acc < kFixnumMin) Overflow(c, "+");
  }
  return FxMake(c, int64_t(acc));
}

Local Sub(Ctx& c, Args a) {
  if (a.size() == 2 && a[0].IsFixnum() && a[1].IsFixnum()) {
    if (g_imm.fixnum_shift) {
      int64_t r;
      if (__builtin_sub_overflow(int64_t(a[0].get().raw), int64_t(a[1].get().raw), &r)) Overflow(c, "-");
      return c.New(Value{uint64_t(r)});
    }
    return MakeChecked(c, "-", __int128(FxValue(a[0])) - FxValue(a[1]));
  }
  __int128 acc = ArgFixnum(c, "-", a, 0);
  if (a.size() == 1) return MakeChecked(c, "-", -acc);
  for (size_t i = 1; i < a.size(); ++i) {
    acc -= ArgFixnum(c, "-", a, int(i));
    if (acc > kFixnumMax || acc < kFixnumMin) Overflow(c, "-");
  }
  return FxMake(c, int64_t(acc));
}

Local Mul(Ctx& c, Args a) {
  __int128 acc = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    acc *= ArgFixnum(c, "*", a, int(i));
    if (acc > kFixnumMax || acc < kFixnumMin) Overflow(c, "*");
  }
  return FxMake(c, int64_t(acc));
}

int64_t Divisor(Ctx& c, const char* proc, Args a) {
  int64_t d = ArgFixnum(c, proc, a, 1);
  if (d == 0) c.interp().RaiseNative(c.ts, "division-by-zero", absl::StrCat(proc, ": division by zero"));
  return d;
}

Local Quotient(Ctx& c, Args a) {
  int64_t n = ArgFixnum(c, "quotient", a, 0);
  int64_t d = Divisor(c, "quotient", a);
  return MakeChecked(c, "quotient", __int128(n) / d);
}

Local Remainder(Ctx& c, Args a) {
  int64_t n = ArgFixnum(c, "remainder", a, 0);
  int64_t d = Divisor(c, "remainder", a);
  return FxMake(c, d == -1 ? 0 : n % d);
}

Local Modulo(Ctx& c, Args a) {
  int64_t n = ArgFixnum(c, "modulo", a, 0);
  int64_t d = Divisor(c, "modulo", a);
  int64_t m = d == -1 ? 0 : n % d;
  if (m != 0 && ((m < 0) != (d < 0))) m += d;
  return FxMake(c, m);
}

Local Abs(Ctx& c, Args a) {
  int64_t n = ArgFixnum(c, "abs", a, 0);
  return MakeChecked(c, "abs", n < 0 ? -__int128(n) : n);
}

Local Min(Ctx& c, Args a) {
  int64_t m = ArgFixnum(c, "min", a, 0);
  for (size_t i = 1; i < a.size(); ++i) m = std::min(m, ArgFixnum(c, "min", a, int(i)));
  return FxMake(c, m);
}

Local Max(Ctx& c, Args a) {
  int64_t m = ArgFixnum(c, "max", a, 0);
  for (size_t i = 1; i < a.size(); ++i) m = std::max(m, ArgFixnum(c, "max", a, int(i)));
  return FxMake(c, m);
}

Local Expt(Ctx& c, Args a) {
  int64_t b = ArgFixnum(c, "expt", a, 0);
  int64_t e = ArgFixnum(c, "expt", a, 1);
  if (e < 0) TypeFail(c, "expt", 2, "a non-negative integer", a[1]);
  __int128 r = 1;
  for (int64_t i = 0; i < e; ++i) {
    r *= b;
    if (r > kFixnumMax || r < kFixnumMin) Overflow(c, "expt");
    if (r == 0 || r == 1) break;
  }
  return FxMake(c, int64_t(r));
}

template <class Cmp>
Local Compare(Ctx& c, Args a, const char* name, Cmp cmp) {
  if (a.size() == 2 && a[0].IsFixnum() && a[1].IsFixnum()) return BoolLocal(c, cmp(FxValue(a[0]), FxValue(a[1])));
  bool result = true;
  for (size_t i = 0; i < a.size(); ++i) {
    int64_t x = ArgFixnum(c, name, a, int(i));
    if (i > 0 && !cmp(FxValue(a[i - 1]), x)) result = false;
  }
  return BoolLocal(c, result);
}

Local NumEq(Ctx& c, Args a) { return Compare(c, a, "=", [](int64_t x, int64_t y) { return x == y; }); }
Local NumLt(Ctx& c, Args a) { return Compare(c, a, "<", [](int64_t x, int64_t y) { return x < y; }); }
Local NumGt(Ctx& c, Args a) { return Compare(c, a, ">", [](int64_t x, int64_t y) { return x > y; }); }
Local NumLe(Ctx& c, Args a) { return Compare(c, a, "<=", [](int64_t x, int64_t y) { return x <= y; }); }
Local NumGe(Ctx& c, Args a) { return Compare(c, a, ">=", [](int64_t x, int64_t y) { return x >= y; }); }
Local IsZero(Ctx& c, Args a) { return BoolLocal(c, ArgFixnum(c, "zero?", a, 0) == 0); }
Local IsPositive(Ctx& c, Args a) { return BoolLocal(c, ArgFixnum(c, "positive?", a, 0) > 0); }
Local IsNegative(Ctx& c, Args a) { return BoolLocal(c, ArgFixnum(c, "negative?", a, 0) < 0); }
Local IsOdd(Ctx& c, Args a) { return BoolLocal(c, ArgFixnum(c, "odd?", a, 0) % 2 != 0); }
Local IsEven(Ctx& c, Args a) { return BoolLocal(c, ArgFixnum(c, "even?", a, 0) % 2 == 0); }

// ---------------------------------------------------------------------------------
// Predicates and equality.

Local Not(Ctx& c, Args a) { return BoolLocal(c, !Truthy(a[0])); }
Local IsEq(Ctx& c, Args a) { return BoolLocal(c, Eqv(a[0], a[1])); }
Local IsEqual(Ctx& c, Args a) { return BoolLocal(c, Equal(c.interp(), a[0], a[1], c.ts)); }
Local IsNull(Ctx& c, Args a) { return BoolLocal(c, IsNilRaw(a[0])); }
Local IsPair(Ctx& c, Args a) { return BoolLocal(c, a[0].kind() == Kind::kPair); }
Local IsNumber(Ctx& c, Args a) { return BoolLocal(c, a[0].IsFixnum()); }
Local IsString(Ctx& c, Args a) { return BoolLocal(c, a[0].kind() == Kind::kString); }
Local IsSymbolP(Ctx& c, Args a) { return BoolLocal(c, c.interp().IsSymbol(a[0])); }
Local IsProcedureP(Ctx& c, Args a) { return BoolLocal(c, c.interp().IsProcedure(a[0])); }
Local IsVector(Ctx& c, Args a) { return BoolLocal(c, a[0].kind() == Kind::kVector); }
Local IsBoolean(Ctx& c, Args a) { return BoolLocal(c, a[0].kind() == Kind::kBoolean); }
Local IsChar(Ctx& c, Args a) { return BoolLocal(c, a[0].kind() == Kind::kChar); }

Local IsList(Ctx& c, Args a) {
  // Floyd: a circular list is not a list.
  Local slow = Local::New(a[0].get());
  Local fast = Local::New(a[0].get());
  bool result = false;
  RunBounded("list?", [&](Scope&) {
    for (int k = 0; k < 2; ++k) {
      if (IsNilRaw(fast)) {
        result = true;
        return true;
      }
      if (fast.kind() != Kind::kPair) return true;
      fast.Set(Cdr(fast));
    }
    slow.Set(Cdr(slow));
    return Eqv(slow, fast);
  });
  return BoolLocal(c, result);
}

// ---------------------------------------------------------------------------------
// Pairs and lists.

Local PairArg(Ctx& c, const char* proc, Args a, int i) {
  if (a[size_t(i)].kind() != Kind::kPair) TypeFail(c, proc, i + 1, "a pair", a[size_t(i)]);
  return a[size_t(i)];
}

Local ConsP(Ctx& c, Args a) { return c.scope->Cons(a[0], a[1]); }
Local CarP(Ctx& c, Args a) { return c.scope->Car(PairArg(c, "car", a, 0)); }
Local CdrP(Ctx& c, Args a) { return c.scope->Cdr(PairArg(c, "cdr", a, 0)); }

// Cxr walks a path of car (a) / cdr (d) steps, applied right to left.
Local Cxr(Ctx& c, Args a, const char* name, const char* path) {
  Local v = a[0];
  for (size_t i = std::strlen(path); i-- > 0;) {
    if (v.kind() != Kind::kPair) TypeFail(c, name, 1, "a list with enough elements", a[0]);
    v = path[i] == 'a' ? Car(v) : Cdr(v);
  }
  return v;
}
Local Cadr(Ctx& c, Args a) { return Cxr(c, a, "cadr", "ad"); }
Local Cddr(Ctx& c, Args a) { return Cxr(c, a, "cddr", "dd"); }
Local Caar(Ctx& c, Args a) { return Cxr(c, a, "caar", "aa"); }
Local Cdar(Ctx& c, Args a) { return Cxr(c, a, "cdar", "da"); }
Local Caddr(Ctx& c, Args a) { return Cxr(c, a, "caddr", "add"); }
Local Cdddr(Ctx& c, Args a) { return Cxr(c, a, "cdddr", "ddd"); }

Local SetCarP(Ctx& c, Args a) {
  SetCar(PairArg(c, "set-car!", a, 0), a[1]);
  return c.interp().Void();
}
Local SetCdrP(Ctx& c, Args a) {
  SetCdr(PairArg(c, "set-cdr!", a, 0), a[1]);
  return c.interp().Void();
}

Local ListP(Ctx& c, Args a) {
  Local r = NilLocal();
  for (size_t i = a.size(); i-- > 0;) r.Set(Cons(a[i], r));
  return r;
}

// ListLength returns the length of a proper list or fails.
int64_t ListLength(Ctx& c, const char* proc, int argno, Local list) {
  int64_t n = 0;
  Local p = Local::New(list.get());
  RunBounded(proc, [&](Scope&) {
    if (IsNilRaw(p)) return true;
    if (p.kind() != Kind::kPair) TypeFail(c, proc, argno, "a proper list", list);
    CountStep(c.ts);  // [lisp.limits]: a circular list
    ++n;
    p.Set(Cdr(p));
    return false;
  });
  return n;
}

Local Length(Ctx& c, Args a) { return FxMake(c, ListLength(c, "length", 1, a[0])); }

// CopyOnto conses the elements of list (reversed) onto *acc.
void RevOnto(Ctx& c, const char* proc, int argno, Local list, Local acc) {
  Local p = Local::New(list.get());
  RunBounded(proc, [&](Scope&) {
    if (IsNilRaw(p)) return true;
    if (p.kind() != Kind::kPair) TypeFail(c, proc, argno, "a proper list", list);
    acc.Set(Cons(Car(p), acc));
    p.Set(Cdr(p));
    return false;
  });
}

Local Append(Ctx& c, Args a) {
  if (a.empty()) return NilLocal();
  Local result = Local::New(a[a.size() - 1].get());
  for (size_t i = a.size() - 1; i-- > 0;) {
    Local rev = NilLocal();
    RevOnto(c, "append", int(i) + 1, a[i], rev);
    // Now push rev's elements (reversed again) onto result.
    Local p = Local::New(rev.get());
    RunBounded("append", [&](Scope&) {
      if (IsNilRaw(p)) return true;
      result.Set(Cons(Car(p), result));
      p.Set(Cdr(p));
      return false;
    });
  }
  return result;
}

Local Reverse(Ctx& c, Args a) {
  Local acc = NilLocal();
  RevOnto(c, "reverse", 1, a[0], acc);
  return acc;
}

Local ListTail(Ctx& c, Args a, const char* proc) {
  int64_t k = ArgFixnum(c, proc, a, 1);
  if (k < 0) TypeFail(c, proc, 2, "a non-negative index", a[1]);
  Local p = Local::New(a[0].get());
  int64_t i = 0;
  RunBounded(proc, [&](Scope&) {
    if (i == k) return true;
    CountStep(c.ts);  // [lisp.limits]: k may be huge on a circular list
    if (p.kind() != Kind::kPair) {
      c.interp().RaiseNative(c.ts, "range-error", absl::StrCat(proc, ": index ", k, " out of range for the list"));
    }
    p.Set(Cdr(p));
    ++i;
    return false;
  });
  return p;
}

Local ListRef(Ctx& c, Args a) {
  Local p = ListTail(c, a, "list-ref");
  if (p.kind() != Kind::kPair) {
    c.interp().RaiseNative(c.ts, "range-error",
                           absl::StrCat("list-ref: index ", FxValue(a[1]), " out of range for the list"));
  }
  return Car(p);
}
Local ListTailP(Ctx& c, Args a) { return ListTail(c, a, "list-tail"); }

Local ApplyP(Ctx& c, Args a) {
  Interp& in = c.interp();
  if (!in.IsProcedure(a[0])) TypeFail(c, "apply", 1, "a procedure", a[0]);
  std::vector<Local> args(a.begin() + 1, a.end() - 1);
  ListItems(c, "apply", int(a.size()), a[a.size() - 1], &args);
  return Apply(c, a[0], Args(args.data(), args.size()));
}

// Map over one or more lists; for-each when collect is false.
Local MapLike(Ctx& c, Args a, const char* name, bool collect) {
  Interp& in = c.interp();
  if (!in.IsProcedure(a[0])) TypeFail(c, name, 1, "a procedure", a[0]);
  size_t nl = a.size() - 1;
  std::vector<Local> lists;
  for (size_t i = 0; i < nl; ++i) lists.push_back(Local::New(a[i + 1].get()));
  Local acc = NilLocal();
  RunBounded(name, [&](Scope&) {
    Local argv[8];
    std::vector<Local> big;
    Local* args = argv;
    if (nl > 8) {
      big.resize(nl);
      args = big.data();
    }
    CountStep(c.ts);  // [lisp.limits]: a primitive over a circular list
    for (size_t i = 0; i < nl; ++i) {
      if (IsNilRaw(lists[i])) return true;
      if (lists[i].kind() != Kind::kPair) TypeFail(c, name, int(i) + 2, "a proper list", a[i + 1]);
      args[i] = Car(lists[i]);
    }
    Local r = Apply(c, a[0], Args(args, nl));
    if (collect) acc.Set(Cons(r, acc));
    for (size_t i = 0; i < nl; ++i) lists[i].Set(Cdr(lists[i]));
    return false;
  });
  if (!collect) return in.Void();
  return ReverseInPlace(acc);
}
Local Map(Ctx& c, Args a) { return MapLike(c, a, "map", true); }
Local ForEach(Ctx& c, Args a) { return MapLike(c, a, "for-each", false); }

Local Filter(Ctx& c, Args a) {
  if (!c.interp().IsProcedure(a[0])) TypeFail(c, "filter", 1, "a procedure", a[0]);
  Local p = Local::New(a[1].get());
  Local acc = NilLocal();
  RunBounded("filter", [&](Scope&) {
    if (IsNilRaw(p)) return true;
    CountStep(c.ts);  // [lisp.limits]
    if (p.kind() != Kind::kPair) TypeFail(c, "filter", 2, "a proper list", a[1]);
    Local x = Car(p);
    Local argv[1] = {x};
    if (Truthy(Apply(c, a[0], Args(argv, 1)))) acc.Set(Cons(x, acc));
    p.Set(Cdr(p));
    return false;
  });
  return ReverseInPlace(acc);
}

// (fold-left f init list): (f (f (f init x1) x2) x3).
Local FoldLeft(Ctx& c, Args a) {
  if (!c.interp().IsProcedure(a[0])) TypeFail(c, "fold-left", 1, "a procedure", a[0]);
  Local acc = Local::New(a[1].get());
  Local p = Local::New(a[2].get());
  RunBounded("fold-left", [&](Scope&) {
    if (IsNilRaw(p)) return true;
    CountStep(c.ts);  // [lisp.limits]
    if (p.kind() != Kind::kPair) TypeFail(c, "fold-left", 3, "a proper list", a[2]);
    Local argv[2] = {acc, Car(p)};
    acc.Set(Apply(c, a[0], Args(argv, 2)));
    p.Set(Cdr(p));
    return false;
  });
  return acc;
}

// (fold-right f init list): (f x1 (f x2 (f x3 init))).
Local FoldRight(Ctx& c, Args a) {
  if (!c.interp().IsProcedure(a[0])) TypeFail(c, "fold-right", 1, "a procedure", a[0]);
  Local rev = NilLocal();
  RevOnto(c, "fold-right", 3, a[2], rev);
  Local acc = Local::New(a[1].get());
  RunBounded("fold-right", [&](Scope&) {
    if (IsNilRaw(rev)) return true;
    Local argv[2] = {Car(rev), acc};
    acc.Set(Apply(c, a[0], Args(argv, 2)));
    rev.Set(Cdr(rev));
    return false;
  });
  return acc;
}

// Assoc / member family. mode: 0 eq, 1 eqv, 2 equal.
Local AssocLike(Ctx& c, Args a, const char* name, int mode, bool assoc) {
  Interp& in = c.interp();
  Local p = Local::New(a[1].get());
  Local result = NewBool(false);  // Set below: not the shared constant
  RunBounded(name, [&](Scope&) {
    if (IsNilRaw(p)) return true;
    if (p.kind() != Kind::kPair) TypeFail(c, name, 2, "a proper list", a[1]);
    CountStep(c.ts);  // [lisp.limits]
    Local item = Car(p);
    Local key = item;
    if (assoc) {
      if (item.kind() != Kind::kPair) TypeFail(c, name, 2, "a list of pairs", a[1]);
      key = Car(item);
    }
    if (mode == 2 ? Equal(in, a[0], key, c.ts) : Eqv(a[0], key)) {
      result.Set(assoc ? item : p);
      return true;
    }
    p.Set(Cdr(p));
    return false;
  });
  return result;
}
Local Assq(Ctx& c, Args a) { return AssocLike(c, a, "assq", 0, true); }
Local Assv(Ctx& c, Args a) { return AssocLike(c, a, "assv", 1, true); }
Local Assoc(Ctx& c, Args a) { return AssocLike(c, a, "assoc", 2, true); }
Local Memq(Ctx& c, Args a) { return AssocLike(c, a, "memq", 0, false); }
Local Memv(Ctx& c, Args a) { return AssocLike(c, a, "memv", 1, false); }
Local Member(Ctx& c, Args a) { return AssocLike(c, a, "member", 2, false); }

Local Iota(Ctx& c, Args a) {
  int64_t n = ArgFixnum(c, "iota", a, 0);
  int64_t start = a.size() > 1 ? ArgFixnum(c, "iota", a, 1) : 0;
  int64_t step = a.size() > 2 ? ArgFixnum(c, "iota", a, 2) : 1;
  if (n < 0) TypeFail(c, "iota", 1, "a non-negative count", a[0]);
  Local acc = NilLocal();
  int64_t i = n;
  RunBounded("iota", [&](Scope&) {
    if (i == 0) return true;
    CountStep(c.ts);  // [lisp.limits]
    --i;
    acc.Set(Cons(MakeChecked(c, "iota", __int128(start) + __int128(i) * step), acc));
    return false;
  });
  return acc;
}

Local MakeList(Ctx& c, Args a) {
  int64_t n = ArgFixnum(c, "make-list", a, 0);
  if (n < 0) TypeFail(c, "make-list", 1, "a non-negative count", a[0]);
  Local fill = a.size() > 1 ? a[1] : c.interp().Void();
  Local acc = NilLocal();
  int64_t i = 0;
  RunBounded("make-list", [&](Scope&) {
    if (i++ == n) return true;
    CountStep(c.ts);  // [lisp.limits]: n may be near 2^62
    acc.Set(Cons(fill, acc));
    return false;
  });
  return acc;
}

// ---------------------------------------------------------------------------------
// Vectors.

size_t VectorIndex(Ctx& c, const char* proc, Args a, int vi, int ii) {
  ArgKind(c, proc, a, vi, Kind::kVector, "a vector");
  int64_t i = ArgFixnum(c, proc, a, ii);
  size_t n = VectorLength(a[size_t(vi)]);
  if (i < 0 || size_t(i) >= n) {
    c.interp().RaiseNative(c.ts, "range-error",
                           absl::StrCat(proc, ": index ", i, " out of range for a vector of length ", n));
  }
  return size_t(i);
}

Local MakeVectorP(Ctx& c, Args a) {
  int64_t n = ArgFixnum(c, "make-vector", a, 0);
  if (n < 0 || n > (int64_t{1} << 40)) TypeFail(c, "make-vector", 1, "a valid length", a[0]);
  return MakeVector(size_t(n), a.size() > 1 ? a[1] : BoolLocal(c, false));
}
Local VectorP(Ctx& c, Args a) {
  Local v = MakeVector(a.size(), NilLocal());
  for (size_t i = 0; i < a.size(); ++i) VectorSet(v, i, a[i]);
  return v;
}
Local VectorRefP(Ctx& c, Args a) { return VectorRef(a[0], VectorIndex(c, "vector-ref", a, 0, 1)); }
Local VectorSetP(Ctx& c, Args a) {
  VectorSet(a[0], VectorIndex(c, "vector-set!", a, 0, 1), a[2]);
  return c.interp().Void();
}
Local VectorLengthP(Ctx& c, Args a) {
  ArgKind(c, "vector-length", a, 0, Kind::kVector, "a vector");
  return FxMake(c, int64_t(VectorLength(a[0])));
}
Local VectorFill(Ctx& c, Args a) {
  ArgKind(c, "vector-fill!", a, 0, Kind::kVector, "a vector");
  size_t n = VectorLength(a[0]);
  for (size_t i = 0; i < n; ++i) VectorSet(a[0], i, a[1]);
  return c.interp().Void();
}
Local VectorToList(Ctx& c, Args a) {
  ArgKind(c, "vector->list", a, 0, Kind::kVector, "a vector");
  size_t i = VectorLength(a[0]);
  Local acc = NilLocal();
  RunBounded("vector->list", [&](Scope&) {
    if (i == 0) return true;
    CountStep(c.ts);  // [lisp.limits]
    --i;
    acc.Set(Cons(VectorRef(a[0], i), acc));
    return false;
  });
  return acc;
}
Local ListToVector(Ctx& c, Args a) {
  int64_t n = ListLength(c, "list->vector", 1, a[0]);
  Local v = MakeVector(size_t(n), NilLocal());
  Local p = Local::New(a[0].get());
  size_t i = 0;
  RunBounded("list->vector", [&](Scope&) {
    if (IsNilRaw(p)) return true;
    VectorSet(v, i++, Car(p));
    p.Set(Cdr(p));
    return false;
  });
  return v;
}

// ---------------------------------------------------------------------------------
// Characters, strings and symbols. Strings are immutable UTF-8; lengths and indexes
// count characters (code points).

std::string StringArg(Ctx& c, const char* proc, Args a, int i) {
  ArgKind(c, proc, a, i, Kind::kString, "a string");
  return std::string(StringView(a[size_t(i)]));
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

// Utf8Offset: the byte offset of character k (k <= length).
size_t Utf8Offset(std::string_view s, size_t k) {
  size_t i = 0;
  while (k > 0 && i < s.size()) {
    DecodeUtf8(s, &i);
    --k;
  }
  return i;
}

Local StringLengthP(Ctx& c, Args a) { return FxMake(int64_t(Utf8Length(StringArg(c, "string-length", a, 0)))); }

Local StringRef(Ctx& c, Args a) {
  std::string s = StringArg(c, "string-ref", a, 0);
  int64_t k = ArgFixnum(c, "string-ref", a, 1);
  size_t n = Utf8Length(s);
  if (k < 0 || size_t(k) >= n) {
    c.interp().RaiseNative(c.ts, "range-error",
                           absl::StrCat("string-ref: index ", k, " out of range for a string of length ", n));
  }
  size_t off = Utf8Offset(s, size_t(k));
  return Char(DecodeUtf8(s, &off));
}

Local Substring(Ctx& c, Args a) {
  std::string s = StringArg(c, "substring", a, 0);
  size_t n = Utf8Length(s);
  int64_t start = ArgFixnum(c, "substring", a, 1);
  int64_t end = a.size() > 2 ? ArgFixnum(c, "substring", a, 2) : int64_t(n);
  if (start < 0 || end < start || size_t(end) > n) {
    c.interp().RaiseNative(c.ts, "range-error",
                           absl::StrCat("substring: range ", start, "..", end, " out of range for a string of length ", n));
  }
  size_t b = Utf8Offset(s, size_t(start));
  size_t e = Utf8Offset(s, size_t(end));
  return MakeString(std::string_view(s).substr(b, e - b));
}

Local StringAppend(Ctx& c, Args a) {
  std::string out;
  for (size_t i = 0; i < a.size(); ++i) out += StringArg(c, "string-append", a, int(i));
  return MakeString(out);
}

Local NumberToString(Ctx& c, Args a) {
  int64_t v = ArgFixnum(c, "number->string", a, 0);
  int64_t radix = a.size() > 1 ? ArgFixnum(c, "number->string", a, 1) : 10;
  if (radix < 2 || radix > 36) TypeFail(c, "number->string", 2, "a radix in 2..36", a[1]);
  if (radix == 10) return MakeString(absl::StrCat(v));
  std::string digits;
  unsigned __int128 u = v < 0 ? -__int128(v) : v;
  do {
    digits.push_back("0123456789abcdefghijklmnopqrstuvwxyz"[int(u % radix)]);
    u /= radix;
  } while (u);
  if (v < 0) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return MakeString(digits);
}

Local StringToNumber(Ctx& c, Args a) {
  std::string s = StringArg(c, "string->number", a, 0);
  int64_t radix = a.size() > 1 ? ArgFixnum(c, "string->number", a, 1) : 10;
  if (radix < 2 || radix > 36) TypeFail(c, "string->number", 2, "a radix in 2..36", a[1]);
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (i == s.size()) return BoolLocal(c, false);
  __int128 v = 0;
  for (; i < s.size(); ++i) {
    int d = std::isdigit(static_cast<unsigned char>(s[i])) ? s[i] - '0'
            : std::isalpha(static_cast<unsigned char>(s[i])) ? std::tolower(s[i]) - 'a' + 10
                                                             : 99;
    if (d >= radix) return BoolLocal(c, false);
    v = v * radix + d;
    if (v > __int128(kFixnumMax) + 1) return BoolLocal(c, false);
  }
  if (neg) v = -v;
  if (v > kFixnumMax || v < kFixnumMin) return BoolLocal(c, false);
  return FxMake(int64_t(v));
}

Local StringToSymbol(Ctx& c, Args a) { return c.interp().SymbolNamed(StringArg(c, "string->symbol", a, 0)); }

Local SymbolToString(Ctx& c, Args a) {
  Interp& in = c.interp();
  if (!in.IsSymbol(a[0])) TypeFail(c, "symbol->string", 1, "a symbol", a[0]);
  return MakeString(in.SymbolName(in.SymbolId(a[0])));
}

template <class Cmp>
Local StringCompare(Ctx& c, Args a, const char* name, Cmp cmp) {
  bool result = true;
  std::string prev = StringArg(c, name, a, 0);
  for (size_t i = 1; i < a.size(); ++i) {
    std::string cur = StringArg(c, name, a, int(i));
    if (!cmp(prev, cur)) result = false;
    prev = std::move(cur);
  }
  return BoolLocal(c, result);
}
Local StringEq(Ctx& c, Args a) {
  return StringCompare(c, a, "string=?", [](const std::string& x, const std::string& y) { return x == y; });
}
Local StringLt(Ctx& c, Args a) {
  return StringCompare(c, a, "string<?", [](const std::string& x, const std::string& y) { return x < y; });
}

Local StringToList(Ctx& c, Args a) {
  std::string s = StringArg(c, "string->list", a, 0);
  std::vector<char32_t> chars;
  for (size_t i = 0; i < s.size();) chars.push_back(DecodeUtf8(s, &i));
  Local acc = NilLocal();
  size_t i = chars.size();
  RunBounded("string->list", [&](Scope&) {
    if (i == 0) return true;
    CountStep(c.ts);  // [lisp.limits]
    acc.Set(Cons(Char(chars[--i]), acc));
    return false;
  });
  return acc;
}

Local ListToString(Ctx& c, Args a) {
  std::string out;
  Local p = Local::New(a[0].get());
  RunBounded("list->string", [&](Scope&) {
    if (IsNilRaw(p)) return true;
    CountStep(c.ts);  // [lisp.limits]: out would grow forever
    if (p.kind() != Kind::kPair) TypeFail(c, "list->string", 1, "a list of characters", a[0]);
    Local ch = Car(p);
    if (ch.kind() != Kind::kChar) TypeFail(c, "list->string", 1, "a list of characters", a[0]);
    AppendUtf8(CharValue(ch), &out);
    p.Set(Cdr(p));
    return false;
  });
  return MakeString(out);
}

Local StringP(Ctx& c, Args a) {
  std::string out;
  for (size_t i = 0; i < a.size(); ++i) {
    ArgKind(c, "string", a, int(i), Kind::kChar, "a character");
    AppendUtf8(CharValue(a[i]), &out);
  }
  return MakeString(out);
}

Local CharToInteger(Ctx& c, Args a) {
  ArgKind(c, "char->integer", a, 0, Kind::kChar, "a character");
  return FxMake(int64_t(CharValue(a[0])));
}
Local IntegerToChar(Ctx& c, Args a) {
  int64_t v = ArgFixnum(c, "integer->char", a, 0);
  if (v < 0 || v > 0x10FFFF) TypeFail(c, "integer->char", 1, "a Unicode code point", a[0]);
  return Char(char32_t(v));
}
Local CharEq(Ctx& c, Args a) {
  ArgKind(c, "char=?", a, 0, Kind::kChar, "a character");
  ArgKind(c, "char=?", a, 1, Kind::kChar, "a character");
  return BoolLocal(c, CharValue(a[0]) == CharValue(a[1]));
}
Local CharLt(Ctx& c, Args a) {
  ArgKind(c, "char<?", a, 0, Kind::kChar, "a character");
  ArgKind(c, "char<?", a, 1, Kind::kChar, "a character");
  return BoolLocal(c, CharValue(a[0]) < CharValue(a[1]));
}

// ---------------------------------------------------------------------------------
// Output.

Local Display(Ctx& c, Args a) {
  c.interp().Write(ToString(c.interp(), a[0], false, kPrintLimit, c.ts));
  return c.interp().Void();
}
Local WriteP(Ctx& c, Args a) {
  c.interp().Write(ToString(c.interp(), a[0], true, kPrintLimit, c.ts));
  return c.interp().Void();
}
Local Newline(Ctx& c, Args a) {
  c.interp().Write("\n");
  return c.interp().Void();
}

// ---------------------------------------------------------------------------------
// Errors and conditions.

std::string ReportString(Interp& in, ThreadState* ts, Local message, Local irritants) {
  std::string out =
      message.kind() == Kind::kString ? std::string(StringView(message)) : ToMessageString(in, message, ts);
  Local p = Local::New(irritants.get());
  RunBounded("report", [&](Scope&) {
    if (p.kind() != Kind::kPair) return true;
    out += " ";
    out += ToMessageString(in, Car(p), ts);
    p.Set(Cdr(p));
    return false;
  });
  return out;
}

// (error message irritant...)
Local Error(Ctx& c, Args a) {
  Interp& in = c.interp();
  Local irritants = NilLocal();
  for (size_t i = a.size(); i-- > 1;) irritants.Set(Cons(a[i], irritants));
  std::string msg =
      a[0].kind() == Kind::kString ? std::string(StringView(a[0])) : ToMessageString(in, a[0], c.ts);
  Local cond = in.MakeCondition("error", msg, irritants);
  in.RaiseObject(c.ts, cond, ReportString(in, c.ts, a[0], irritants));
}

Local Raise(Ctx& c, Args a) {
  Interp& in = c.interp();
  std::string report;
  if (in.IsCondition(a[0])) {
    report = ReportString(in, c.ts, RecordRef(a[0], 1), RecordRef(a[0], 2));
  } else {
    report = absl::StrCat("uncaught raise: ", ToMessageString(in, a[0], c.ts));
  }
  in.RaiseObject(c.ts, a[0], report);
}

}  // namespace

// HandlerLink: an installed with-exception-handler, innermost first.
struct HandlerLink {
  Local handler;
  HandlerLink* parent;
};

namespace {

// (raise-continuable obj): calls the innermost handler in the raise's dynamic
// context (minus that handler) and returns its value.
Local RaiseContinuable(Ctx& c, Args a) {
  HandlerLink* h = c.ts->handlers;
  if (!h) return Raise(c, a);
  c.ts->handlers = h->parent;
  struct Restore {
    ThreadState* ts;
    HandlerLink* h;
    ~Restore() { ts->handlers = h; }
  } restore{c.ts, h};
  Local argv[1] = {a[0]};
  return Apply(c, h->handler, Args(argv, 1));
}

// (with-exception-handler handler thunk): runs thunk; an error raised in it unwinds
// to here and the handler's value is the result (raise-continuable calls the handler
// without unwinding).
Local WithExceptionHandler(Ctx& c, Args a) {
  Interp& in = c.interp();
  if (!in.IsProcedure(a[0])) TypeFail(c, "with-exception-handler", 1, "a procedure", a[0]);
  if (!in.IsProcedure(a[1])) TypeFail(c, "with-exception-handler", 2, "a procedure", a[1]);
  HandlerLink link{a[0], c.ts->handlers};
  std::optional<LispError> caught;
  Local result;
  {
    c.ts->handlers = &link;
    struct Pop {
      ThreadState* ts;
      HandlerLink* parent;
      ~Pop() { ts->handlers = parent; }
    } pop{c.ts, link.parent};
    caught = in.CatchErrors(c.ts, [&] {
      Scope s("with-exception-handler");
      result = s.Escape(Apply(c, a[1], Args()));
    });
  }
  if (!caught) return result;
  Local argv[1] = {in.Materialize(c.ts, *caught)};
  return Apply(c, a[0], Args(argv, 1));
}

Local ConditionArg(Ctx& c, const char* proc, Args a) {
  if (!c.interp().IsCondition(a[0])) TypeFail(c, proc, 1, "a condition", a[0]);
  return a[0];
}

Local ErrorMessage(Ctx& c, Args a) { return RecordRef(ConditionArg(c, "error-message", a), 1); }
Local ErrorIrritants(Ctx& c, Args a) { return RecordRef(ConditionArg(c, "error-irritants", a), 2); }
Local ConditionKind(Ctx& c, Args a) { return RecordRef(ConditionArg(c, "condition-kind", a), 0); }
Local ReportStringP(Ctx& c, Args a) {
  Local cond = ConditionArg(c, "condition/report-string", a);
  return MakeString(ReportString(c.interp(), c.ts, RecordRef(cond, 1), RecordRef(cond, 2)));
}
Local IsCondition(Ctx& c, Args a) { return BoolLocal(c, c.interp().IsCondition(a[0])); }

// ---------------------------------------------------------------------------------
// Miscellaneous.

Local EofObject(Ctx& c, Args a) { return c.interp().Eof(); }
Local IsEofObject(Ctx& c, Args a) { return BoolLocal(c, c.interp().IsEof(a[0])); }
Local VoidP(Ctx& c, Args a) { return c.interp().Void(); }

Local Exit(Ctx& c, Args a) {
  int code = a.empty() ? 0 : a[0].kind() == Kind::kBoolean ? (Truthy(a[0]) ? 0 : 1) : int(ArgFixnum(c, "exit", a, 0));
  std::fflush(nullptr);
  std::_Exit(code);
}

Local CurrentTimeMs(Ctx& c, Args a) {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return FxMake(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

Local IsSanitizer(Ctx& c, Args a) {
#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
  return BoolLocal(c, true);
#else
  return BoolLocal(c, c.interp().stress);
#endif
}

const Prim kCorePrims[] = {
    {"+", 0, -1, Add},
    {"-", 1, -1, Sub},
    {"*", 0, -1, Mul},
    {"quotient", 2, 2, Quotient},
    {"remainder", 2, 2, Remainder},
    {"modulo", 2, 2, Modulo},
    {"abs", 1, 1, Abs},
    {"min", 1, -1, Min},
    {"max", 1, -1, Max},
    {"expt", 2, 2, Expt},
    {"=", 1, -1, NumEq},
    {"<", 1, -1, NumLt},
    {">", 1, -1, NumGt},
    {"<=", 1, -1, NumLe},
    {">=", 1, -1, NumGe},
    {"zero?", 1, 1, IsZero},
    {"positive?", 1, 1, IsPositive},
    {"negative?", 1, 1, IsNegative},
    {"odd?", 1, 1, IsOdd},
    {"even?", 1, 1, IsEven},
    {"not", 1, 1, Not},
    {"eq?", 2, 2, IsEq},
    {"eqv?", 2, 2, IsEq},
    {"equal?", 2, 2, IsEqual},
    {"null?", 1, 1, IsNull},
    {"pair?", 1, 1, IsPair},
    {"list?", 1, 1, IsList},
    {"number?", 1, 1, IsNumber},
    {"integer?", 1, 1, IsNumber},
    {"string?", 1, 1, IsString},
    {"symbol?", 1, 1, IsSymbolP},
    {"procedure?", 1, 1, IsProcedureP},
    {"vector?", 1, 1, IsVector},
    {"boolean?", 1, 1, IsBoolean},
    {"char?", 1, 1, IsChar},
    {"display", 1, 1, Display},
    {"write", 1, 1, WriteP},
    {"newline", 0, 0, Newline},
    {"error", 1, -1, Error},
    {"raise", 1, 1, Raise},
    {"raise-continuable", 1, 1, RaiseContinuable},
    {"with-exception-handler", 2, 2, WithExceptionHandler},
    {"error-message", 1, 1, ErrorMessage},
    {"error-object-message", 1, 1, ErrorMessage},
    {"error-irritants", 1, 1, ErrorIrritants},
    {"error-object-irritants", 1, 1, ErrorIrritants},
    {"condition/report-string", 1, 1, ReportStringP},
    {"condition-kind", 1, 1, ConditionKind},
    {"condition?", 1, 1, IsCondition},
    {"error-object?", 1, 1, IsCondition},
    {"eof-object", 0, 0, EofObject},
    {"eof-object?", 1, 1, IsEofObject},
    {"void", 0, -1, VoidP},
    {"exit", 0, 1, Exit},
    {"current-time-ms", 0, 0, CurrentTimeMs},
    {"sanitizer?", 0, 0, IsSanitizer},
};

const Prim kListPrims[] = {
    {"cons", 2, 2, ConsP},
    {"car", 1, 1, CarP},
    {"cdr", 1, 1, CdrP},
    {"cadr", 1, 1, Cadr},
    {"cddr", 1, 1, Cddr},
    {"caar", 1, 1, Caar},
    {"cdar", 1, 1, Cdar},
    {"caddr", 1, 1, Caddr},
    {"cdddr", 1, 1, Cdddr},
    {"set-car!", 2, 2, SetCarP},
    {"set-cdr!", 2, 2, SetCdrP},
    {"list", 0, -1, ListP},
    {"length", 1, 1, Length},
    {"append", 0, -1, Append},
    {"reverse", 1, 1, Reverse},
    {"list-ref", 2, 2, ListRef},
    {"list-tail", 2, 2, ListTailP},
    {"apply", 2, -1, ApplyP},
    {"map", 2, -1, Map},
    {"for-each", 2, -1, ForEach},
    {"filter", 2, 2, Filter},
    {"fold-left", 3, 3, FoldLeft},
    {"fold-right", 3, 3, FoldRight},
    {"assq", 2, 2, Assq},
    {"assv", 2, 2, Assv},
    {"assoc", 2, 2, Assoc},
    {"memq", 2, 2, Memq},
    {"memv", 2, 2, Memv},
    {"member", 2, 2, Member},
    {"iota", 1, 3, Iota},
    {"make-list", 1, 2, MakeList},
    {"make-vector", 1, 2, MakeVectorP},
    {"vector", 0, -1, VectorP},
    {"vector-ref", 2, 2, VectorRefP},
    {"vector-set!", 3, 3, VectorSetP},
    {"vector-length", 1, 1, VectorLengthP},
    {"vector-fill!", 2, 2, VectorFill},
    {"vector->list", 1, 1, VectorToList},
    {"list->vector", 1, 1, ListToVector},
};

const Prim kStringPrims[] = {
    {"string-length", 1, 1, StringLengthP},
    {"string-ref", 2, 2, StringRef},
    {"substring", 2, 3, Substring},
    {"string-append", 0, -1, StringAppend},
    {"number->string", 1, 2, NumberToString},
    {"string->number", 1, 2, StringToNumber},
    {"string->symbol", 1, 1, StringToSymbol},
    {"symbol->string", 1, 1, SymbolToString},
    {"string=?", 1, -1, StringEq},
    {"string<?", 1, -1, StringLt},
    {"string->list", 1, 1, StringToList},
    {"list->string", 1, 1, ListToString},
    {"string", 0, -1, StringP},
    {"char->integer", 1, 1, CharToInteger},
    {"integer->char", 1, 1, IntegerToChar},
    {"char=?", 2, 2, CharEq},
    {"char<?", 2, 2, CharLt},
};

}  // namespace

bool Equal(Interp& in, Local a, Local b, ThreadState* ts) {
  Scope s("equal?");
  return EqualRec(in, ts, a, b, 0);
}

std::span<const Prim> CorePrims() { return kCorePrims; }
std::span<const Prim> ListPrims() { return kListPrims; }
std::span<const Prim> StringPrims() { return kStringPrims; }

void Interp::RegisterBuiltins() {
  for (auto table : {CorePrims(), ListPrims(), StringPrims(), ThreadPrims(), HeapPrims()})
    for (const Prim& p : table) DefinePrim(&p);
}

}  // namespace weft::lisp
