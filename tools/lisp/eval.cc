// eval.cc: running the native AST. See interp.h for [lisp.handles],
// [lisp.bounded-loop] and [lisp.tail].
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/lisp/ast.h"
#include "tools/lisp/interp.h"
#include "tools/lisp/printer.h"

namespace weft::lisp {

namespace {

// FrameLink pushes a frame (a Ctx) on the thread's backtrace list for its lifetime.
struct FrameLink {
  FrameLink(ThreadState* ts, Ctx* f) : ts_(ts) {
    f->parent = ts->top;
    ts->top = f;
  }
  ~FrameLink() { ts_->top = ts_->top->parent; }
  ThreadState* ts_;
};

// EnvAtRaw: the environment `depth` links out from `env`, read raw ([lisp.raw-words]:
// the caller puts the result, or what it reads from it, into a slot before anything
// that may reach a safepoint).
Value EnvAtRaw(Value env, int depth) {
  for (int i = 0; i < depth; ++i) env = raw::VectorRef(env, 0);
  return env;
}

Local EnvAt(Ctx& c, Local env, int depth) { return c.New(EnvAtRaw(env.get(), depth)); }

inline void NoteLine(Ctx& c, int line) {
  if (c.line != line) {
    c.line = line;
    c.scope->SetInfo(line);
  }
}

}  // namespace

void NativeStackOverflow(ThreadState* ts) {
  ts->interp->RaiseNative(ts, "stack-overflow", "stack overflow: recursion too deep for the native stack");
}

namespace {

// Buffer: n elements of T (Local or Value), inline up to kInline and left
// uninitialized (every user writes an element before reading it), else on the heap.
// The calls' argument arrays: no zeroing and no std::vector on the common path.
template <class T, size_t kInline>
class Buffer {
 public:
  explicit Buffer(size_t n) : data_(inline_) {
    if (n > kInline) {
      big_ = std::make_unique<T[]>(n);
      data_ = big_.get();
    }
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* data() { return data_; }

 private:
  union {
    T inline_[kInline];
  };
  std::unique_ptr<T[]> big_;
  T* data_;
};

// Uninit: N elements of T left unconstructed (each is assigned before it is read).
template <class T, size_t N>
struct Uninit {
  Uninit() {}
  T* data() { return a; }
  union {
    T a[N];
  };
};

// Slots: an activation's variable slots ([lisp.frames]). Grow makes new Locals in
// the innermost scope, so it is called only where that scope outlives the slots'
// use (CallClosure, outside its iteration scopes; ToplevelNode). The first kSmall
// live inline; data_ points at them or at big_ (no std::vector: the common call
// neither constructs nor destroys one).
class Slots {
 public:
  Slots() : data_(small_) {}
  Slots(const Slots&) = delete;
  Slots& operator=(const Slots&) = delete;
  Local* data() { return data_; }
  size_t size() const { return n_; }
  void Grow(const Scope& scope, size_t n) {
    if (n <= n_) return;
    if (n > cap_) {
      size_t cap = std::max(n, 2 * cap_);
      auto big = std::make_unique<Local[]>(cap);
      for (size_t i = 0; i < n_; ++i) big[i] = data_[i];
      big_ = std::move(big);
      data_ = big_.get();
      cap_ = cap;
    }
    for (; n_ < n; ++n_) data_[n_] = scope.New(Value{g_imm.unbound});
  }
  // Fits: InitBound can make n slots.
  static bool Fits(size_t n) { return n <= kSmall; }
  // InitBound makes the first n slots of a fresh Slots (Fits(n)), the first
  // args.size() of them holding args: Grow and Bind in one pass, for a call whose
  // parameters live in the activation.
  void InitBound(const Scope& scope, Args args, size_t n) {
    for (; n_ < args.size(); ++n_) small_[n_] = scope.New(args[n_].get());
    for (; n_ < n; ++n_) small_[n_] = scope.New(Value{g_imm.unbound});
  }

 private:
  static constexpr size_t kSmall = kInlineSlots;
  union {
    Local small_[kSmall];  // the first n_ are made; the rest are not read
  };
  Local* data_;
  std::unique_ptr<Local[]> big_;  // when more than kSmall were needed
  size_t n_ = 0;
  size_t cap_ = kSmall;
};

[[noreturn]] void ArityFail(Ctx& c, const Lambda* lam, size_t n) {
  c.interp().RaiseNative(c.ts, "arity-error",
                         absl::StrCat(lam->name, ": expected ", lam->rest ? "at least " : "", lam->nparams,
                                      " argument", lam->nparams == 1 ? "" : "s", ", got ", n));
}

inline void CheckArity(Ctx& c, const Lambda* lam, size_t n) {
  if (lam->rest ? n < size_t(lam->nparams) : n != size_t(lam->nparams)) ArityFail(c, lam, n);
}

// Bind binds args to the parameters of the closure whose code is `lam` and whose
// environment is `parent`: into a new heap frame stored in env_out, or into vars (at
// least lam->nslots of them) with env_out the closure's environment. args may alias
// vars (a tail call): every argument is read before any slot is written, with no
// safepoint in between.
void Bind(Ctx& c, const Lambda* lam, Local parent, Args args, Local* vars, Local env_out) {
  size_t n = args.size();
  size_t np = size_t(lam->nparams);
  CheckArity(c, lam, n);
  const Scope& sc = *c.scope;
  Local rest;
  if (lam->rest) {
    rest = sc.Nil();
    for (size_t i = n; i-- > np;) ConsInto(args[i], rest, rest);
  }
  if (lam->heap_frame) {
    Local env = MakeVector(size_t(1 + lam->frame_size), sc.New(Value{g_imm.unbound}));
    VectorSet(env, 0, parent);
    for (size_t i = 0; i < np; ++i) VectorSet(env, 1 + i, args[i]);
    if (lam->rest) VectorSet(env, 1 + np, rest);
    for (int i = 0; i < lam->nslots; ++i) vars[i].SetValue(Value{g_imm.unbound});
    env_out.Set(env);
    return;
  }
  Buffer<Value, 8> buffer(np);
  Value* vals = buffer.data();
  for (size_t i = 0; i < np; ++i) vals[i] = args[i].get();
  for (size_t i = 0; i < np; ++i) vars[i].SetValue(vals[i]);
  size_t i = np;
  if (lam->rest) vars[i++].Set(rest);
  for (; i < size_t(lam->nslots); ++i) vars[i].SetValue(Value{g_imm.unbound});
  env_out.Set(parent);
}

// RequestTail performs a call in tail position ([lisp.tail]).
Local RequestTail(Ctx& c, const Lambda* lam, Local parent, Args args) {
  if (size_t(lam->nslots) <= c.nvars) {
    Bind(c, lam, parent, args, c.vars, c.tail_env);
    c.packed = false;
  } else {
    CheckArity(c, lam, args.size());
    // [environment, args...]: CallClosure binds them once it has grown the slots.
    Local packed = MakeVector(args.size() + 1, parent);
    for (size_t i = 0; i < args.size(); ++i) VectorSet(packed, i + 1, args[i]);
    c.tail_env.Set(packed);
    c.packed = true;
  }
  c.code = lam;
  return Local();
}


}  // namespace

namespace {

// Calls a closure whose code and environment are known.
inline Local Invoke(Ctx& c, const Lambda* lam, Local env, Args args, bool tail) {
  if (tail) return RequestTail(c, lam, env, args);
  return CallClosure(c, lam, env, args);
}

}  // namespace

Local Apply(Ctx& c, Local proc, Args args, bool tail) {
  Interp& in = c.interp();
  uint32_t type = proc.kind() == Kind::kRecord ? RecordTypeOf(proc).id : ~0u;
  if (type == in.closure_type_id()) return Invoke(c, in.ClosureLambda(proc), RecordRef(proc, 0), args, tail);
  if (type == in.prim_type_id()) {
    const Prim* p = in.PrimOf(proc);
    int n = int(args.size());
    if (n < p->min_args || (p->max_args >= 0 && n > p->max_args)) {
      std::string expected =
          p->max_args < 0 ? absl::StrCat("at least ", p->min_args)
          : p->min_args == p->max_args ? absl::StrCat(p->min_args)
                                       : absl::StrCat(p->min_args, " to ", p->max_args);
      in.RaiseNative(c.ts, "arity-error",
                     absl::StrCat(p->name, ": expected ", expected, " argument",
                                  p->max_args == 1 && p->min_args == 1 ? "" : "s", ", got ", n));
    }
    return p->fn(c, args);
  }
  in.RaiseNative(c.ts, "type-error", absl::StrCat("not a procedure: ", ToMessageString(in, proc, c.ts)));
}

Local CallFromNative(ThreadState* ts, Local proc, Args args) {
  Scope s("call");
  Ctx c = NativeCtx(ts, &s, "native", "");
  FrameLink link(ts, &c);
  Local r = Apply(c, proc, args);
  return s.Escape(r);
}

// ---------------------------------------------------------------------------------
// Nodes.

Local ConstNode::Eval(Local, Ctx& c) const {
  if (cached >= 0) return c.ts->consts[cached];
  return managed ? object.Get() : c.New(immediate);
}

Local VarRefNode::Eval(Local env, Ctx& c) const {
  Local v = addr.stack ? c.vars[addr.slot]
                       : c.New(raw::VectorRef(EnvAtRaw(env.get(), addr.depth), size_t(addr.index)));
  if (checked && IsUnboundRaw(v)) {
    c.interp().RaiseNative(c.ts, "unbound-variable", absl::StrCat("variable used before its definition: ", name));
  }
  return v;
}

Local GlobalRefNode::Eval(Local, Ctx& c) const {
  Local v = var->value.Get();
  if (IsUnboundRaw(v)) c.interp().RaiseNative(c.ts, "unbound-variable", absl::StrCat("unbound variable: ", var->name));
  return v;
}

Local SetVarNode::Eval(Local env, Ctx& c) const {
  Local v = value->Eval(env, c);
  if (addr.stack) {
    c.vars[addr.slot].Set(v);
  } else {
    VectorSet(addr.depth == 0 ? env : EnvAt(c, env, addr.depth), size_t(addr.index), v);
  }
  return VoidConst(c);
}

Local SetGlobalNode::Eval(Local env, Ctx& c) const {
  Local v = value->Eval(env, c);
  if (!define && IsUnboundRaw(var->value.Get())) {
    c.interp().RaiseNative(c.ts, "unbound-variable", absl::StrCat("set!: unbound variable: ", var->name));
  }
  c.interp().SetGlobal(var, v);
  return VoidConst(c);
}


Local LambdaNode::Eval(Local env, Ctx& c) const { return c.interp().MakeClosure(lambda, env); }

Local SeqNode::Eval(Local env, Ctx& c) const {
  size_t last = body.size() - 1;
  for (size_t i = 0; i < last; ++i) body[i]->Eval(env, c);
  return body[last]->Eval(env, c);
}

namespace {

// The fast paths of InlinePrimNode: an empty Local when the arguments are not the
// simple case, and the builtin runs instead (so its errors read the same).
[[gnu::always_inline]] inline Local InlineOp(InlinePrimNode::Op op, Ctx& c, const Local* a,
                                             size_t n) {
  using Op = InlinePrimNode::Op;
  switch (op) {
    case Op::kAdd: {
      // Fixnums are value << 1: their words add with the same overflow.
      int64_t acc = 0;
      for (size_t i = 0; i < n; ++i) {
        if (!a[i].IsFixnum() || __builtin_add_overflow(acc, int64_t(a[i].get().raw), &acc)) return Local();
      }
      return c.New(Value{uint64_t(acc)});
    }
    case Op::kSub: {
      int64_t r;
      if (!a[0].IsFixnum() || !a[1].IsFixnum() ||
          __builtin_sub_overflow(int64_t(a[0].get().raw), int64_t(a[1].get().raw), &r)) {
        return Local();
      }
      return c.New(Value{uint64_t(r)});
    }
    case Op::kNumEq:
    case Op::kLt:
    case Op::kGt:
    case Op::kLe:
    case Op::kGe: {
      if (!a[0].IsFixnum() || !a[1].IsFixnum()) return Local();
      int64_t x = int64_t(a[0].get().raw), y = int64_t(a[1].get().raw);
      bool r = op == Op::kNumEq ? x == y : op == Op::kLt ? x < y : op == Op::kGt ? x > y : op == Op::kLe ? x <= y : x >= y;
      return BoolLocal(c, r);
    }
    case Op::kZeroP:
      if (!a[0].IsFixnum()) return Local();
      return BoolLocal(c, a[0].get().raw == 0);
    case Op::kCons: return c.scope->Cons(a[0], a[1]);
    case Op::kCar:
      if (!a[0].IsPair()) return Local();
      return c.New(internal::PairField(a[0].get(), 0));
    case Op::kCdr:
      if (!a[0].IsPair()) return Local();
      return c.New(internal::PairField(a[0].get(), 1));
    case Op::kNullP: return BoolLocal(c, IsNilRaw(a[0]));
    case Op::kPairP: return BoolLocal(c, a[0].IsPair());
    case Op::kNot: return BoolLocal(c, !Truthy(a[0]));
    case Op::kEqP: return BoolLocal(c, Eqv(a[0], a[1]));
  }
  return Local();
}

using Op = InlinePrimNode::Op;

// The argument count every op takes (kAdd: at least).
constexpr size_t OpArity(InlinePrimNode::Op op) {
  using Op = InlinePrimNode::Op;
  switch (op) {
    case Op::kZeroP:
    case Op::kCar:
    case Op::kCdr:
    case Op::kNullP:
    case Op::kPairP:
    case Op::kNot: return 1;
    default: return 2;
  }
}

constexpr bool IsPredicate(Op op) {
  switch (op) {
    case Op::kNumEq:
    case Op::kLt:
    case Op::kGt:
    case Op::kLe:
    case Op::kGe:
    case Op::kZeroP:
    case Op::kNullP:
    case Op::kPairP:
    case Op::kNot:
    case Op::kEqP: return true;
    default: return false;
  }
}

inline bool RawFixnum(Value v) { return (v.raw & 1) == 0; }

// RawTest: predicate `op` on argument words; -1 when the fast case does not apply
// (then the builtin runs, so its errors read the same). The words are read by the
// caller with no safepoint since ([lisp.handles]), and nothing here is one.
[[gnu::always_inline]] inline int RawTest(Op op, const Value* a) {
  switch (op) {
    case Op::kNumEq:
    case Op::kLt:
    case Op::kGt:
    case Op::kLe:
    case Op::kGe: {
      if (!RawFixnum(a[0]) || !RawFixnum(a[1])) return -1;
      int64_t x = int64_t(a[0].raw), y = int64_t(a[1].raw);
      return op == Op::kNumEq ? x == y : op == Op::kLt ? x < y : op == Op::kGt ? x > y : op == Op::kLe ? x <= y : x >= y;
    }
    case Op::kZeroP:
      if (!RawFixnum(a[0])) return -1;
      return a[0].raw == 0;
    case Op::kNullP: return a[0].raw == g_imm.nil;
    case Op::kPairP: return internal::IsPair(a[0]);
    case Op::kNot: return a[0].raw == g_imm.f;
    case Op::kEqP: return a[0].raw == a[1].raw ? 1 : -1;  // else Eqv decides
    default: return -1;
  }
}

// RawValue: a value op (+, -, car, cdr) on argument words into *out; false when the
// fast case does not apply. Nothing here is a safepoint: a car or cdr word stays raw
// only until the caller pushes it.
[[gnu::always_inline]] inline bool RawValue(Op op, const Value* a, size_t n, Value* out) {
  switch (op) {
    case Op::kAdd: {
      int64_t acc = 0;
      for (size_t i = 0; i < n; ++i) {
        if (!RawFixnum(a[i]) || __builtin_add_overflow(acc, int64_t(a[i].raw), &acc)) return false;
      }
      *out = Value{uint64_t(acc)};
      return true;
    }
    case Op::kSub: {
      int64_t r;
      if (!RawFixnum(a[0]) || !RawFixnum(a[1]) || __builtin_sub_overflow(int64_t(a[0].raw), int64_t(a[1].raw), &r)) {
        return false;
      }
      *out = Value{uint64_t(r)};
      return true;
    }
    case Op::kCar:
    case Op::kCdr:
      if (!internal::IsPair(a[0])) return false;
      *out = internal::PairField(a[0], op == Op::kCar ? 0 : 1);
      return true;
    default: return false;
  }
}

constexpr bool IsValueOp(Op op) { return op == Op::kAdd || op == Op::kSub || op == Op::kCar || op == Op::kCdr; }

// RawOp: InlineOp on argument words read from RawOperands (InlinePrimNode::raw_args):
// an empty Local when the fast case does not apply. The result is pushed through the
// activation's Scope (a pointer bump, no safepoint) or is a shared boolean slot.
[[gnu::always_inline]] inline Local RawOp(Op op, Ctx& c, const Value* a, size_t n) {
  if (IsValueOp(op)) {
    Value v;
    if (!RawValue(op, a, n, &v)) return Local();
    return c.New(v);
  }
  if (op == Op::kCons) return Local();  // allocates: needs its operands in slots
  int t = RawTest(op, a);
  if (t < 0) return Local();
  return BoolLocal(c, t != 0);
}

// ReadRaw: a RawOperand's word into *out; false when a car or cdr operand does not
// apply (the builtin was redefined, or the variable holds no pair).
[[gnu::always_inline]] inline bool ReadRaw(const RawOperand& o, const Ctx& c, Value* out) {
  if (o.slot < 0) {
    *out = Value{o.imm};
    return true;
  }
  Value v = c.vars[o.slot].get();
  if (o.field < 0) {
    *out = v;
    return true;
  }
  if (o.via->fn_global->prim.load(std::memory_order_relaxed) != o.via->prim || !internal::IsPair(v)) return false;
  *out = internal::PairField(v, o.field);
  return true;
}
// ReadRawOperands: the first n operands of `node` (raw_args) into a; false when one
// does not apply. Without car or cdr operands, each is a slot or an immediate.
template <size_t kArgs>
[[gnu::always_inline]] inline bool ReadRawOperands(const InlinePrimNode& node, const Ctx& c, size_t n, Value* a) {
  if (__builtin_expect(!node.raw_fields, 1)) {
    for (size_t i = 0; i < n; ++i) {
      const RawOperand& o = node.raw[i];
      a[i] = o.slot >= 0 ? c.vars[o.slot].get() : Value{o.imm};
    }
    return true;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!ReadRaw(node.raw[i], c, &a[i])) return false;
  }
  return true;
}

}  // namespace

// Inlined into each caller, so InlineOpNode's constant op and count fold it to the
// op's own code.
template <size_t kArgs>
[[gnu::always_inline]] inline Local InlinePrimNode::EvalInline(Op op, size_t n, Local env,
                                                               Ctx& c) const {
  if (fn_global->prim.load(std::memory_order_relaxed) != prim) return CallNode::Eval(env, c);
  NoteLine(c, line);
  Uninit<Local, kArgs> args_buf;
  Local* argv = args_buf.data();
  for (size_t i = 0; i < n; ++i) argv[i] = EvalOperand(args[i], env, c);
  if (!one_line) NoteLine(c, line);
  if (Local r = InlineOp(op, c, argv, n); !r.empty()) return r;
  return prim->fn(c, Args(argv, n));
}

// RawFast: the raw fast path (raw_args): an empty Local when it does not apply, and the
// caller runs the general path, which reads the operands again as Locals (reading a
// RawOperand has no effect and cannot fail).
template <size_t kArgs>
[[gnu::always_inline]] inline Local RawFast(const InlinePrimNode& node, InlinePrimNode::Op op, size_t n, Ctx& c) {
  if (!node.raw_args || node.fn_global->prim.load(std::memory_order_relaxed) != node.prim) return Local();
  NoteLine(c, node.line);
  Value a[kArgs];
  if (!ReadRawOperands<kArgs>(node, c, n, a)) return Local();
  return RawOp(op, c, a, n);
}

// RawValueOf: the value of a kRawValue node (a value op with raw operands) without
// a call or a slot, into *out; false when its fast path does not apply (the caller
// then evaluates the node). The caller pushes *out before any safepoint.
// With note false the caller has noted the node's line already (a one_line call).
[[gnu::always_inline]] inline bool RawValueOf(const Node* n, Ctx& c, Value* out, bool note) {
  const auto* p = static_cast<const InlinePrimNode*>(n);
  if (p->fn_global->prim.load(std::memory_order_relaxed) != p->prim) return false;
  if (note) NoteLine(c, p->line);
  Value a[InlinePrimNode::kMaxArgs];
  // Dispatched once on the op, so each case reads its operands and computes with the
  // op and (for all but +) the count known at compile time.
  switch (p->op) {
    case Op::kSub:
      return ReadRawOperands<2>(*p, c, 2, a) && RawValue(Op::kSub, a, 2, out);
    case Op::kCar:
      return ReadRawOperands<1>(*p, c, 1, a) && RawValue(Op::kCar, a, 1, out);
    case Op::kCdr:
      return ReadRawOperands<1>(*p, c, 1, a) && RawValue(Op::kCdr, a, 1, out);
    case Op::kAdd: {
      size_t k = p->args.size();
      if (k == 2) return ReadRawOperands<2>(*p, c, 2, a) && RawValue(Op::kAdd, a, 2, out);
      return ReadRawOperands<InlinePrimNode::kMaxArgs>(*p, c, k, a) && RawValue(Op::kAdd, a, k, out);
    }
    default: return false;
  }
}

Local InlinePrimNode::EvalGeneral(Local env, Ctx& c) const {
  return EvalInline<kMaxArgs>(op, args.size(), env, c);
}

Local InlinePrimNode::Eval(Local env, Ctx& c) const {
  if (Local r = RawFast<kMaxArgs>(*this, op, args.size(), c); !r.empty()) return r;
  return EvalGeneral(env, c);
}

namespace {

// InlineOpNode: InlinePrimNode::Eval compiled for one op and argument count.
template <InlinePrimNode::Op kOp, size_t kN>
struct InlineOpNode final : InlinePrimNode {
  InlineOpNode() { has_bool = IsPredicate(kOp); }
  // Eval is two jumps: to the general path for a node without raw operands, else to
  // the raw fast path (each out of line, so that neither pays the other's prologue).
  Local Eval(Local env, Ctx& c) const override {
    if (!raw_args) return General(env, c);
    return Raw(env, c);
  }
  [[gnu::noinline]] Local Raw(Local env, Ctx& c) const {
    if (Local r = RawFast<kN>(*this, kOp, kN, c); !r.empty()) return r;
    return General(env, c);
  }
  [[gnu::noinline]] Local General(Local env, Ctx& c) const { return EvalInline<kN>(kOp, kN, env, c); }
  // EvalBool: a predicate's truth value without its boolean slot. The argument words
  // are read (from RawOperands, or from the Locals the arguments returned, after the
  // last of them was evaluated) and tested with no safepoint in between.
  bool EvalBool(Local env, Ctx& c) const override {
    if constexpr (IsPredicate(kOp)) {
      if (raw_args && fn_global->prim.load(std::memory_order_relaxed) == prim) {
        NoteLine(c, line);
        Value a[kN];
        if (int t = ReadRawOperands<kN>(*this, c, kN, a) ? RawTest(kOp, a) : -1; t >= 0) return t != 0;
      }
      return BoolGeneral(env, c);
    } else {
      return Truthy(Eval(env, c));
    }
  }
  [[gnu::noinline]] bool BoolGeneral(Local env, Ctx& c) const {
    if (fn_global->prim.load(std::memory_order_relaxed) != prim) return Truthy(CallNode::Eval(env, c));
    NoteLine(c, line);
    Value a[kN];
    Uninit<Local, kN> args_buf;
    Local* argv = args_buf.data();
    for (size_t i = 0; i < kN; ++i) argv[i] = EvalOperand(args[i], env, c);
    if (!one_line) NoteLine(c, line);
    for (size_t i = 0; i < kN; ++i) a[i] = argv[i].get();
    if (int t = RawTest(kOp, a); t >= 0) return t != 0;
    return Truthy(prim->fn(c, Args(argv, kN)));
  }
};

}  // namespace

// RawTestOf: TestInline's case for op kOp.
template <Op kOp>
[[gnu::always_inline]] inline int RawTestOf(const InlinePrimNode& p, Ctx& c) {
  constexpr size_t kN = OpArity(kOp);  // a kRawTest node has exactly its op's count
  Value a[kN];
  if (!ReadRawOperands<kN>(p, c, kN, a)) return -1;
  return RawTest(kOp, a);
}

// TestInline: an if test of shape kRawTest (a predicate InlinePrimNode with raw
// operands) run without a call: 0 or 1, or -1 when the test must be evaluated.
[[gnu::always_inline]] inline int TestInline(const Node* test, Ctx& c) {
  if (test->shape != Node::Shape::kRawTest) return -1;
  const auto* p = static_cast<const InlinePrimNode*>(test);
  if (p->fn_global->prim.load(std::memory_order_relaxed) != p->prim) return -1;
  NoteLine(c, p->line);
  // Dispatched once on the op: each case reads its operands and tests with the op
  // and count known at compile time.
  switch (p->op) {
    case Op::kNumEq: return RawTestOf<Op::kNumEq>(*p, c);
    case Op::kLt: return RawTestOf<Op::kLt>(*p, c);
    case Op::kGt: return RawTestOf<Op::kGt>(*p, c);
    case Op::kLe: return RawTestOf<Op::kLe>(*p, c);
    case Op::kGe: return RawTestOf<Op::kGe>(*p, c);
    case Op::kZeroP: return RawTestOf<Op::kZeroP>(*p, c);
    case Op::kNullP: return RawTestOf<Op::kNullP>(*p, c);
    case Op::kPairP: return RawTestOf<Op::kPairP>(*p, c);
    case Op::kNot: return RawTestOf<Op::kNot>(*p, c);
    case Op::kEqP: return RawTestOf<Op::kEqP>(*p, c);
    default: return -1;
  }
}

namespace {

// EvalBody: body->Eval(env, c) for a procedure body; a body that is an `if` whose
// test runs inline (TestInline) is evaluated here, without the IfNode's call.
[[gnu::always_inline]] inline Local EvalBody(const Node* body, Local env, Ctx& c) {
  if (body->shape == Node::Shape::kIf) {
    const auto* n = static_cast<const IfNode*>(body);
    if (int fast = TestInline(n->test, c); fast >= 0) {
      if (fast) return EvalOperand(n->then, env, c);
      if (n->otherwise) return EvalOperand(n->otherwise, env, c);
      return VoidConst(c);
    }
  }
  return body->Eval(env, c);
}

}  // namespace

namespace {

// RunIteration: one iteration of an activation (RunActivation): the body of cc.code
// in a Scope taken from the caller's `sc`. Returns the result, escaped into the
// caller's scope, or an empty Local when the body requested a tail call.
[[gnu::always_inline]] inline Local RunIteration(Ctx& cc, const Scope& sc, Local env) {
  StepAndPoll(cc.ts);
  const Lambda* code = cc.code;
  Scope s(sc, code->name.c_str());
  s.SetInfo(code->line);
  if (cc.tail_env.empty()) cc.tail_env = s.Escape(env);
  cc.scope = &s;
  Local r = EvalBody(code->body, cc.tail_env, cc);
  if (!r.empty()) return s.Escape(r);
  return Local();
}

// RunGrown: the rest of an activation whose tail call packed its arguments (the
// callee needs more slots than the activation had): the slots are made here, outside
// any iteration scope, grown again by each later packed call, and the iterations go
// on here. Out of line, so that the common activation owns no growable slots; the
// native stack grows by this one frame, once per activation ([lisp.tail]).
[[gnu::noinline]] Local RunGrown(Ctx& c, Ctx& cc, const Scope& sc) {
  Slots vars;
  for (;;) {
    const Lambda* next = cc.code;
    vars.Grow(sc, size_t(next->nslots));
    cc.vars = vars.data();
    cc.nvars = vars.size();
    Local argv = sc.New(cc.tail_env.get());
    std::vector<Local> unpacked;
    for (size_t i = 1; i < VectorLength(argv); ++i) unpacked.push_back(VectorRef(argv, i));
    Bind(c, next, VectorRef(argv, 0), Args(unpacked.data(), unpacked.size()), cc.vars, cc.tail_env);
    cc.packed = false;
    for (;;) {
      if (Local r = RunIteration(cc, sc, cc.tail_env); !r.empty()) return r;
      cc.line = cc.code->line;  // a tail call replaced cc.code
      if (cc.packed) break;
    }
  }
}

// RunActivation: CallClosure once the activation's variable slots are made, inlined
// into the call nodes (one native call per Lisp call). env holds the closure's
// environment (any live slot: it is only read). The activation's Ctx is also its
// backtrace frame. Its current environment (tail_env, which a tail call rebinds) is
// the escape slot of the first iteration's Scope, reserved below its frame marker: a
// managed-stack slot like any other (the collector scans every word of the stack and
// skips immediates, runtime/DESIGN.md [runtime.frames]) that, once escaped, stays in
// the caller's scope, exactly where a slot pushed before the Scope would be. The
// result needs no slot made in advance either: the returning iteration's Scope
// escapes it.
[[gnu::always_inline]] inline Local RunActivation(Ctx& c, const Lambda* lam, Local env, Local* vars,
                                                  size_t nvars) {
  ThreadState* ts = c.ts;
  CheckNativeStack(ts);
  const Scope& sc = *c.scope;
  // name and file stay unset: a procedure's frame is named by its code; scope is set
  // by each iteration.
  Ctx cc;
  cc.ts = ts;
  cc.vars = vars;
  cc.nvars = nvars;
  cc.code = lam;
  cc.line = lam->line;
  cc.packed = false;
  FrameLink link(ts, &cc);
  try {
    for (;;) {
      if (Local r = RunIteration(cc, sc, env); !r.empty()) return r;
      cc.line = cc.code->line;  // a tail call replaced cc.code
      if (cc.packed) return RunGrown(c, cc, sc);
    }
  } catch (const TypeError& e) {
    throw ts->interp->FromNative(ts, e);
  } catch (const StackOverflow& e) {
    throw ts->interp->FromNative(ts, e);
  } catch (const HeapExhausted& e) {
    throw ts->interp->FromNative(ts, e);
  } catch (const ChannelClosed& e) {
    throw ts->interp->FromNative(ts, e);
  }
}

}  // namespace

Local CallClosure(Ctx& c, const Lambda* lam, Local env, Args args) {
  // Every slot of the activation is made here, in the caller's innermost scope,
  // through the caller's Scope: no thread lookup per call.
  const Scope& sc = *c.scope;
  Slots vars;
  if (int(args.size()) == lam->fast_arity) {
    vars.InitBound(sc, args, size_t(lam->nslots));  // what Grow and Bind do, in one pass
    return RunActivation(c, lam, env, vars.data(), vars.size());
  }
  // Bind may make a heap frame: the environment the body runs in.
  Local bound_env = sc.Nil();
  vars.Grow(sc, size_t(lam->nslots));
  Bind(c, lam, env, args, vars.data(), bound_env);
  return RunActivation(c, lam, bound_env, vars.data(), vars.size());
}

Local IfNode::Eval(Local env, Ctx& c) const {
  int fast = TestInline(test, c);
  bool t = fast >= 0 ? fast != 0 : test->has_bool ? test->EvalBool(env, c) : Truthy(test->Eval(env, c));
  if (t) return EvalOperand(then, env, c);
  if (otherwise) return EvalOperand(otherwise, env, c);
  return VoidConst(c);
}

Local CallNode::Eval(Local env, Ctx& c) const {
  NoteLine(c, line);
  size_t n = args.size();
  // A closure whose code is known without reading a closure record: a known call, or
  // a global holding a top-level procedure. The caches are loaded before the
  // arguments are evaluated, as the value would be.
  const Lambda* lam = known;
  const Prim* p = nullptr;
  Local closure_env;
  if (known) {
    closure_env = known_depth == 0 ? env : EnvAt(c, env, known_depth);
  } else if (fn_global) {
    p = fn_global->prim.load(std::memory_order_relaxed);
    if (p == nullptr) {
      lam = fn_global->lambda.load(std::memory_order_acquire);
      closure_env = NilConst(c);
    }
  }
  if (lam && int(n) == lam->fast_arity && !tail) {
    // Each argument's value goes straight into a fresh activation slot (what
    // CallClosure's InitBound does, without the argument array): the word is read and
    // pushed with nothing between, and the slot holds it across the safepoints of the
    // later arguments ([lisp.handles]). The activation runs inline.
    const Scope& sc = *c.scope;
    Uninit<Local, kInlineSlots> slots;  // fast_arity: nslots <= kInlineSlots
    Local* vars = slots.data();
    for (size_t i = 0; i < n; ++i) {
      // An argument such as (- n 1) or (car t) is computed here and pushed once.
      Value v;
      if (!(args[i]->shape == Node::Shape::kRawValue && RawValueOf(args[i], c, &v, !one_line))) {
        v = EvalOperand(args[i], env, c).get();
      }
      vars[i] = sc.New(v);
    }
    size_t nslots = size_t(lam->nslots);
    for (size_t i = n; i < nslots; ++i) vars[i] = sc.New(Value{g_imm.unbound});
    if (!one_line) NoteLine(c, line);
    return RunActivation(c, lam, closure_env, vars, nslots);
  }
  if (lam && tail && int(n) == lam->fast_arity && size_t(lam->nslots) <= c.nvars) {
    // A tail call into this activation's slots ([lisp.tail]): what RequestTail and Bind
    // do for a procedure whose parameters live in the activation, without the argument
    // array's checks. Every argument is evaluated (each may be a safepoint) before any
    // word is read, and the words are written with no safepoint between.
    Uninit<Local, kInlineSlots> args_buf;
    Local* argv = args_buf.data();
    for (size_t i = 0; i < n; ++i) {
      // A raw value argument, (+ i 1), is computed here and pushed at once.
      Value v;
      if (args[i]->shape == Node::Shape::kRawValue && RawValueOf(args[i], c, &v, !one_line)) {
        argv[i] = c.New(v);
      } else {
        argv[i] = EvalOperand(args[i], env, c);
      }
    }
    if (!one_line) NoteLine(c, line);
    Value vals[kInlineSlots];
    for (size_t i = 0; i < n; ++i) vals[i] = argv[i].get();
    for (size_t i = 0; i < n; ++i) c.vars[i].SetValue(vals[i]);
    for (size_t i = n; i < size_t(lam->nslots); ++i) c.vars[i].SetValue(Value{g_imm.unbound});
    c.tail_env.Set(closure_env);
    c.packed = false;
    c.code = lam;
    return Local();
  }
  Buffer<Local, 6> buffer(n);
  Local* argv = buffer.data();
  if (p) {
    for (size_t i = 0; i < n; ++i) argv[i] = EvalOperand(args[i], env, c);
    if (int(n) >= p->min_args && (p->max_args < 0 || int(n) <= p->max_args)) {
      NoteLine(c, line);
      return p->fn(c, Args(argv, n));
    }
    Local f = fn->Eval(env, c);
    return Apply(c, f, Args(argv, n), tail);  // reports the arity error
  }
  if (lam) {
    for (size_t i = 0; i < n; ++i) argv[i] = EvalOperand(args[i], env, c);
    NoteLine(c, line);
    return Invoke(c, lam, closure_env, Args(argv, n), tail);
  }
  Local f = fn->Eval(env, c);
  for (size_t i = 0; i < n; ++i) argv[i] = EvalOperand(args[i], env, c);
  NoteLine(c, line);
  return Apply(c, f, Args(argv, n), tail);
}

namespace {

template <InlinePrimNode::Op kOp>
std::unique_ptr<InlinePrimNode> NewInlineOp(size_t nargs) {
  if (nargs == OpArity(kOp)) return std::make_unique<InlineOpNode<kOp, OpArity(kOp)>>();
  if constexpr (kOp == InlinePrimNode::Op::kAdd) {
    if (nargs == 3) return std::make_unique<InlineOpNode<kOp, 3>>();
  }
  return std::make_unique<InlinePrimNode>();  // (+ a b c ...)
}

}  // namespace

std::unique_ptr<InlinePrimNode> NewInlinePrim(InlinePrimNode::Op op, size_t nargs) {
  using Op = InlinePrimNode::Op;
  switch (op) {
    case Op::kAdd: return NewInlineOp<Op::kAdd>(nargs);
    case Op::kSub: return NewInlineOp<Op::kSub>(nargs);
    case Op::kNumEq: return NewInlineOp<Op::kNumEq>(nargs);
    case Op::kLt: return NewInlineOp<Op::kLt>(nargs);
    case Op::kGt: return NewInlineOp<Op::kGt>(nargs);
    case Op::kLe: return NewInlineOp<Op::kLe>(nargs);
    case Op::kGe: return NewInlineOp<Op::kGe>(nargs);
    case Op::kZeroP: return NewInlineOp<Op::kZeroP>(nargs);
    case Op::kCons: return NewInlineOp<Op::kCons>(nargs);
    case Op::kCar: return NewInlineOp<Op::kCar>(nargs);
    case Op::kCdr: return NewInlineOp<Op::kCdr>(nargs);
    case Op::kNullP: return NewInlineOp<Op::kNullP>(nargs);
    case Op::kPairP: return NewInlineOp<Op::kPairP>(nargs);
    case Op::kNot: return NewInlineOp<Op::kNot>(nargs);
    case Op::kEqP: return NewInlineOp<Op::kEqP>(nargs);
  }
  return std::make_unique<InlinePrimNode>();
}

Local LetNode::Eval(Local env, Ctx& c) const {
  if (!frame.heap) {
    Local* vars = c.vars + frame.slot_base;
    if (sequential) {
      for (int i = 0; i < frame.size; ++i) vars[i].SetValue(Value{g_imm.unbound});
    }
    for (size_t i = 0; i < inits.size(); ++i) vars[i].Set(inits[i]->Eval(env, c));
    return body->Eval(env, c);
  }
  Local f = MakeVector(size_t(1 + frame.size), c.New(Value{g_imm.unbound}));
  VectorSet(f, 0, env);
  for (size_t i = 0; i < inits.size(); ++i) {
    Local v = inits[i]->Eval(sequential ? f : env, c);
    VectorSet(f, i + 1, v);
  }
  return body->Eval(f, c);
}

Local AndNode::Eval(Local env, Ctx& c) const {
  size_t last = parts.size() - 1;
  for (size_t i = 0; i < last; ++i) {
    Local v = parts[i]->Eval(env, c);
    if (Truthy(v) == is_or) return v;
  }
  return parts[last]->Eval(env, c);
}

Local CondArrowNode::Eval(Local env, Ctx& c) const {
  Local t = test->Eval(env, c);
  if (!Truthy(t)) return otherwise->Eval(env, c);
  Local f = receiver->Eval(env, c);
  Local argv[1] = {t};
  return Apply(c, f, Args(argv, 1), tail);
}

Local CaseNode::Eval(Local env, Ctx& c) const {
  Local k = key->Eval(env, c);
  for (const Clause& clause : clauses) {
    for (const auto& d : clause.data) {
      bool match = d->managed ? Eqv(k, d->object.Get()) : k.get().raw == d->immediate.raw;
      if (!match) continue;
      if (!clause.arrow) return clause.body->Eval(env, c);
      Local f = clause.body->Eval(env, c);
      Local argv[1] = {k};
      return Apply(c, f, Args(argv, 1), tail);
    }
  }
  if (!otherwise) return VoidConst(c);
  if (!else_arrow) return otherwise->Eval(env, c);
  Local f = otherwise->Eval(env, c);
  Local argv[1] = {k};
  return Apply(c, f, Args(argv, 1), tail);
}

Local DoNode::Eval(Local env, Ctx& c) const {
  size_t n = inits.size();
  Local result = c.scope->Nil();
  if (!frame.heap) {
    Local* vars = c.vars + frame.slot_base;
    for (size_t i = 0; i < n; ++i) vars[i].Set(inits[i]->Eval(env, c));
    RunBounded(*c.scope, "do", [&](Scope&) {
      StepAndPoll(c.ts);
      if (Truthy(test->Eval(env, c))) {
        result.Set(this->result ? this->result->Eval(env, c) : VoidConst(c));
        return true;
      }
      if (body) body->Eval(env, c);
      // Evaluate every step before assigning any (the steps see the old values).
      Buffer<Local, 8> next_buffer(n);
      Local* next = next_buffer.data();
      for (size_t i = 0; i < n; ++i) next[i] = steps[i] ? steps[i]->Eval(env, c) : vars[i];
      Buffer<Value, 8> value_buffer(n);
      Value* v = value_buffer.data();
      for (size_t i = 0; i < n; ++i) v[i] = next[i].get();
      for (size_t i = 0; i < n; ++i) vars[i].SetValue(v[i]);
      return false;
    });
    return result;
  }
  Local f = MakeVector(size_t(1 + frame.size), c.New(Value{g_imm.unbound}));
  VectorSet(f, 0, env);
  for (size_t i = 0; i < n; ++i) VectorSet(f, i + 1, inits[i]->Eval(env, c));
  RunBounded(*c.scope, "do", [&](Scope&) {
    StepAndPoll(c.ts);
    if (Truthy(test->Eval(f, c))) {
      result.Set(this->result ? this->result->Eval(f, c) : VoidConst(c));
      return true;
    }
    if (body) body->Eval(f, c);
    Local next = MakeVector(size_t(1 + frame.size), c.New(Value{g_imm.unbound}));
    VectorSet(next, 0, env);
    for (size_t i = 0; i < n; ++i) {
      VectorSet(next, i + 1, steps[i] ? steps[i]->Eval(f, c) : VectorRef(f, i + 1));
    }
    f.Set(next);
    return false;
  });
  return result;
}

Local GuardNode::Eval(Local env, Ctx& c) const {
  Interp& in = c.interp();
  Local result;
  std::optional<LispError> caught = in.CatchErrors(c.ts, [&] {
    Scope s(*c.scope, "guard");
    Local r = body->Eval(env, c);
    result = s.Escape(r);
  });
  if (!caught) return result;
  Local condition = in.Materialize(c.ts, *caught);
  Local r;
  if (frame.heap) {
    Local f = MakeVector(2, condition);
    VectorSet(f, 0, env);
    r = handler->Eval(f, c);
  } else {
    c.vars[frame.slot_base].Set(condition);
    r = handler->Eval(env, c);
  }
  if (!r.empty()) return r;
  // No clause matched: re-raise the same condition.
  if (caught->has_object) {
    if (!c.ts->pending) c.ts->pending = std::make_unique<weft::Global>();
    c.ts->pending->Set(condition);
  }
  throw *caught;
}

Local SelectNode::Eval(Local env, Ctx& c) const {
  Interp& in = c.interp();
  std::vector<SelectCase> cases;
  std::vector<size_t> clause_of;
  std::optional<absl::Duration> timeout;
  size_t timeout_clause = 0;
  for (size_t i = 0; i < clauses.size(); ++i) {
    const Clause& cl = clauses[i];
    Local x = cl.channel->Eval(env, c);
    if (cl.op == Clause::kTimeout) {
      if (!x.IsFixnum() || FxValue(x) < 0) TypeFail(c, "select", int(i) + 1, "a timeout of milliseconds >= 0", x);
      in.ChargeSleep(c.ts, FxValue(x));
      timeout = absl::Milliseconds(FxValue(x));
      timeout_clause = i;
      continue;
    }
    if (!in.IsRecordOf(x, in.channel_type())) TypeFail(c, "select", int(i) + 1, "a channel", x);
    SelectCase sc{cl.op == Clause::kRecv ? SelectCase::kRecv : SelectCase::kSend, in.ChannelAt(in.NativeIndex(x)),
                  cl.op == Clause::kSend ? cl.value->Eval(env, c) : Local()};
    cases.push_back(sc);
    clause_of.push_back(i);
  }
  std::optional<Local> received;
  int k;
  if (cases.empty()) {
    if (timeout) weft::SleepFor(*timeout);
    k = -1;
  } else {
    k = Select(std::span<SelectCase>(cases), &received, timeout);
  }
  size_t chosen = k < 0 ? timeout_clause : clause_of[size_t(k)];
  Local f = clauses[chosen].receiver->Eval(env, c);
  if (k >= 0 && clauses[chosen].op == Clause::kRecv) {
    Local argv[1] = {received ? *received : in.Eof()};
    return Apply(c, f, Args(argv, 1), tail);
  }
  return Apply(c, f, Args(), tail);
}

Local WithMutexNode::Eval(Local env, Ctx& c) const {
  Interp& in = c.interp();
  Local m = mutex->Eval(env, c);
  if (!in.IsRecordOf(m, in.mutex_type())) TypeFail(c, "with-mutex", 1, "a mutex", m);
  Mutex* mu = in.MutexAt(in.NativeIndex(m));
  mu->Lock();
  // Not a destructor: Unlock throws TypeError when the body (or another thread) already
  // unlocked the mutex, which from a destructor would end the process.
  Local result;
  try {
    result = body->Eval(env, c);
  } catch (...) {
    try {
      mu->Unlock();
    } catch (const TypeError&) {
      // Unlocked in the body: nothing to give back; the body's error goes on.
    }
    throw;
  }
  try {
    mu->Unlock();
  } catch (const TypeError&) {
    in.RaiseNative(c.ts, "mutex-error", "with-mutex: the mutex was unlocked inside its body");
  }
  return result;
}

Local CheckNode::Eval(Local env, Ctx& c) const {
  Interp& in = c.interp();
  Local got = expr->Eval(env, c);
  Local want = expected->Eval(env, c);
  if (!Equal(in, got, want, c.ts)) {
    in.CheckFailed();
    in.WriteErr(absl::StrCat(file, ":", line, ": check failed: ", text, "\n  got:      ", ToMessageString(in, got, c.ts),
                             "\n  expected: ", ToMessageString(in, want, c.ts), "\n"));
  }
  return in.Void();
}

Local AssertNode::Eval(Local env, Ctx& c) const {
  if (!Truthy(expr->Eval(env, c))) {
    c.interp().RaiseNative(c.ts, "assertion-violation", absl::StrCat("assertion failed: ", text));
  }
  return VoidConst(c);
}

Local ToplevelNode::Eval(Local env, Ctx& c) const {
  Slots vars;
  vars.Grow(*c.scope, size_t(nslots));
  // c is the form's frame (never copied: NoteLine writes its line); the slots are
  // this form's.
  c.vars = vars.data();
  c.nvars = vars.size();
  Local r = body->Eval(env, c);
  c.vars = nullptr;
  c.nvars = 0;
  return r;
}

Local QuasiNode::Eval(Local env, Ctx& c) const {
  switch (op) {
    case kCons: {
      Local x = a->Eval(env, c);
      Local y = b->Eval(env, c);
      return Cons(x, y);
    }
    case kAppend: {
      Local x = a->Eval(env, c);
      Local y = b->Eval(env, c);
      // Copy x (a proper list) in front of y.
      Local items = NilLocal();
      Local p = Local::New(x.get());
      RunBounded("unquote-splicing", [&](Scope&) {
        if (IsNilRaw(p)) return true;
        if (p.kind() != Kind::kPair) TypeFail(c, "unquote-splicing", 1, "a proper list", x);
        items.Set(Cons(Car(p), items));
        p.Set(Cdr(p));
        return false;
      });
      Local out = Local::New(y.get());
      RunBounded("unquote-splicing", [&](Scope&) {
        if (IsNilRaw(items)) return true;
        out.Set(Cons(Car(items), out));
        items.Set(Cdr(items));
        return false;
      });
      return out;
    }
    case kListToVector: {
      Local x = a->Eval(env, c);
      size_t n = 0;
      Local p = Local::New(x.get());
      RunBounded("quasiquote", [&](Scope&) {
        if (p.kind() != Kind::kPair) return true;
        ++n;
        p.Set(Cdr(p));
        return false;
      });
      Local v = MakeVector(n, NilLocal());
      p.Set(x);
      size_t i = 0;
      RunBounded("quasiquote", [&](Scope&) {
        if (i == n) return true;
        VectorSet(v, i++, Car(p));
        p.Set(Cdr(p));
        return false;
      });
      return v;
    }
  }
  return NilLocal();
}

}  // namespace weft::lisp
