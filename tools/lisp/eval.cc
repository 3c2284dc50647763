// eval.cc: running the native AST. See interp.h for [lisp.handles],
// [lisp.bounded-loop] and [lisp.tail].
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/lisp/ast.h"
#include "tools/lisp/interp.h"
#include "tools/lisp/printer.h"

namespace weft::lisp {

namespace {

Local UnboundLocal() { return Local::New(Value{g_imm.unbound}); }

// FrameLink pushes a Frame on the thread's backtrace list for its lifetime.
struct FrameLink {
  FrameLink(ThreadState* ts, Frame* f) : ts_(ts) {
    f->parent = ts->top;
    ts->top = f;
  }
  ~FrameLink() { ts_->top = ts_->top->parent; }
  ThreadState* ts_;
};

Local EnvAt(Local env, int depth) {
  Local e = env;
  for (int i = 0; i < depth; ++i) e = VectorRef(e, 0);
  return e;
}

inline void NoteLine(Ctx& c, int line) {
  if (c.frame->line != line) {
    c.frame->line = line;
    c.scope->SetInfo(line);
  }
}

}  // namespace

void CheckNativeStack(ThreadState* ts) {
  const char* here = static_cast<const char*>(__builtin_frame_address(0));
  if (here < ts->stack_limit) {
    ts->interp->RaiseNative(ts, "stack-overflow", "stack overflow: recursion too deep for the native stack");
  }
}

Local MakeEnv(Ctx& c, const Lambda* lam, Local proc, Args args) {
  int n = int(args.size());
  if (lam->rest ? n < lam->nparams : n != lam->nparams) {
    c.interp().RaiseNative(c.ts, "arity-error",
                           absl::StrCat(lam->name, ": expected ", lam->rest ? "at least " : "", lam->nparams,
                                        " argument", lam->nparams == 1 ? "" : "s", ", got ", n));
  }
  Local env = MakeVector(size_t(1 + lam->frame_size), UnboundLocal());
  VectorSet(env, 0, RecordRef(proc, 0));
  for (int i = 0; i < lam->nparams; ++i) VectorSet(env, size_t(1 + i), args[size_t(i)]);
  if (lam->rest) {
    Local rest = NilLocal();
    for (int i = n; i-- > lam->nparams;) rest = Cons(args[size_t(i)], rest);
    VectorSet(env, size_t(1 + lam->nparams), rest);
  }
  return env;
}

namespace {

// RunBody runs one iteration of CallClosure: the body of cur_proc in cur_env. Returns
// true with the result in cur_proc, or false after a tail call replaced both.
bool RunBody(ThreadState* ts, Frame* frame, Local cur_proc, Local cur_env) {
  const Lambda* lam = ts->interp->ClosureLambda(cur_proc);
  Scope s(lam->name.c_str());
  frame->name = lam->name.c_str();
  frame->file = lam->file.c_str();
  frame->line = lam->line;
  s.SetInfo(lam->line);
  Local env = Local::New(cur_env.get());
  Ctx cc{ts, cur_proc, cur_env, &s, frame};
  Local r = lam->body->Eval(env, cc);
  if (r.empty()) return false;
  cur_proc.Set(r);
  return true;
}

}  // namespace

Local CallClosure(Ctx& c, Local proc, Local env) {
  ThreadState* ts = c.ts;
  CheckNativeStack(ts);
  Local cur_proc = Local::New(proc.get());
  Local cur_env = Local::New(env.get());
  Frame frame{nullptr, "", "", 0};
  FrameLink link(ts, &frame);
  try {
    if (!RunBody(ts, &frame, cur_proc, cur_env)) {
      RunChunked([&] { return RunBody(ts, &frame, cur_proc, cur_env); });
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
  return cur_proc;
}

Local Apply(Ctx& c, Local proc, Args args, bool tail) {
  Interp& in = c.interp();
  if (in.IsClosure(proc)) {
    const Lambda* lam = in.ClosureLambda(proc);
    Local env = MakeEnv(c, lam, proc, args);
    if (tail) {
      c.tail_proc.Set(proc);
      c.tail_env.Set(env);
      return Local();
    }
    return CallClosure(c, proc, env);
  }
  if (in.IsPrim(proc)) {
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
  in.RaiseNative(c.ts, "type-error", absl::StrCat("not a procedure: ", ToString(in, proc, true)));
}

Local CallFromNative(ThreadState* ts, Local proc, Args args) {
  Scope s("call");
  Frame frame{nullptr, "native", "", 0};
  FrameLink link(ts, &frame);
  Ctx c{ts, Local(), Local(), &s, &frame};
  Local r = Apply(c, proc, args);
  return s.Escape(r);
}

// ---------------------------------------------------------------------------------
// Nodes.

Local ConstNode::Eval(Local, Ctx&) const { return managed ? object.Get() : Local::New(immediate); }

Local LocalRefNode::Eval(Local env, Ctx& c) const {
  Local v = VectorRef(depth == 0 ? env : EnvAt(env, depth), size_t(index));
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

Local SetLocalNode::Eval(Local env, Ctx& c) const {
  Local v = value->Eval(env, c);
  VectorSet(depth == 0 ? env : EnvAt(env, depth), size_t(index), v);
  return c.interp().Void();
}

Local SetGlobalNode::Eval(Local env, Ctx& c) const {
  Local v = value->Eval(env, c);
  if (!define && IsUnboundRaw(var->value.Get())) {
    c.interp().RaiseNative(c.ts, "unbound-variable", absl::StrCat("set!: unbound variable: ", var->name));
  }
  var->prim.store(nullptr, std::memory_order_relaxed);
  var->value.Set(v);
  return c.interp().Void();
}

Local IfNode::Eval(Local env, Ctx& c) const {
  if (Truthy(test->Eval(env, c))) return then->Eval(env, c);
  if (otherwise) return otherwise->Eval(env, c);
  return c.interp().Void();
}

Local LambdaNode::Eval(Local env, Ctx& c) const { return c.interp().MakeClosure(lambda, env); }

Local SeqNode::Eval(Local env, Ctx& c) const {
  size_t last = body.size() - 1;
  for (size_t i = 0; i < last; ++i) body[i]->Eval(env, c);
  return body[last]->Eval(env, c);
}

Local CallNode::Eval(Local env, Ctx& c) const {
  NoteLine(c, line);
  size_t n = args.size();
  Local small[6];
  std::vector<Local> big;
  Local* argv = small;
  if (n > 6) {
    big.resize(n);
    argv = big.data();
  }
  if (fn_global) {
    if (const Prim* p = fn_global->prim.load(std::memory_order_relaxed)) {
      for (size_t i = 0; i < n; ++i) argv[i] = args[i]->Eval(env, c);
      if (int(n) >= p->min_args && (p->max_args < 0 || int(n) <= p->max_args)) {
        NoteLine(c, line);
        return p->fn(c, Args(argv, n));
      }
      Local f = fn->Eval(env, c);
      return Apply(c, f, Args(argv, n), tail);  // reports the arity error
    }
  }
  Local f = fn->Eval(env, c);
  for (size_t i = 0; i < n; ++i) argv[i] = args[i]->Eval(env, c);
  NoteLine(c, line);
  return Apply(c, f, Args(argv, n), tail);
}

Local LetNode::Eval(Local env, Ctx& c) const {
  Local frame = MakeVector(size_t(1 + frame_size), UnboundLocal());
  VectorSet(frame, 0, env);
  for (size_t i = 0; i < inits.size(); ++i) {
    Local v = inits[i]->Eval(sequential ? frame : env, c);
    VectorSet(frame, i + 1, v);
  }
  return body->Eval(frame, c);
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
  if (!otherwise) return c.interp().Void();
  if (!else_arrow) return otherwise->Eval(env, c);
  Local f = otherwise->Eval(env, c);
  Local argv[1] = {k};
  return Apply(c, f, Args(argv, 1), tail);
}

Local DoNode::Eval(Local env, Ctx& c) const {
  Local frame = MakeVector(size_t(1 + frame_size), UnboundLocal());
  VectorSet(frame, 0, env);
  for (size_t i = 0; i < inits.size(); ++i) VectorSet(frame, i + 1, inits[i]->Eval(env, c));
  Local result = NilLocal();
  RunBounded("do", [&](Scope&) {
    if (Truthy(test->Eval(frame, c))) {
      result.Set(this->result ? this->result->Eval(frame, c) : c.interp().Void());
      return true;
    }
    if (body) body->Eval(frame, c);
    Local next = MakeVector(size_t(1 + frame_size), UnboundLocal());
    VectorSet(next, 0, env);
    for (size_t i = 0; i < steps.size(); ++i) {
      VectorSet(next, i + 1, steps[i] ? steps[i]->Eval(frame, c) : VectorRef(frame, i + 1));
    }
    frame.Set(next);
    return false;
  });
  return result;
}

Local GuardNode::Eval(Local env, Ctx& c) const {
  Interp& in = c.interp();
  Local result;
  std::optional<LispError> caught;
  try {
    Scope s("guard");
    Local r = body->Eval(env, c);
    result = s.Escape(r);
  } catch (const LispError& e) {
    caught = e;
  } catch (const TypeError& e) {
    caught = in.FromNative(c.ts, e);
  } catch (const StackOverflow& e) {
    caught = in.FromNative(c.ts, e);
  } catch (const HeapExhausted& e) {
    caught = in.FromNative(c.ts, e);
  } catch (const ChannelClosed& e) {
    caught = in.FromNative(c.ts, e);
  }
  if (!caught) return result;
  Local condition = in.Materialize(c.ts, *caught);
  Local frame = MakeVector(2, condition);
  VectorSet(frame, 0, env);
  Local r = handler->Eval(frame, c);
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
  struct Unlock {
    Mutex* mu;
    ~Unlock() { mu->Unlock(); }
  } unlock{mu};
  return body->Eval(env, c);
}

Local CheckNode::Eval(Local env, Ctx& c) const {
  Interp& in = c.interp();
  Local got = expr->Eval(env, c);
  Local want = expected->Eval(env, c);
  if (!Equal(in, got, want)) {
    in.CheckFailed();
    in.WriteErr(absl::StrCat(file, ":", line, ": check failed: ", text, "\n  got:      ", ToString(in, got, true),
                             "\n  expected: ", ToString(in, want, true), "\n"));
  }
  return in.Void();
}

Local AssertNode::Eval(Local env, Ctx& c) const {
  if (!Truthy(expr->Eval(env, c))) {
    c.interp().RaiseNative(c.ts, "assertion-violation", absl::StrCat("assertion failed: ", text));
  }
  return c.interp().Void();
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
        if (p.IsNil()) return true;
        if (p.kind() != Kind::kPair) TypeFail(c, "unquote-splicing", 1, "a proper list", x);
        items.Set(Cons(Car(p), items));
        p.Set(Cdr(p));
        return false;
      });
      Local out = Local::New(y.get());
      RunBounded("unquote-splicing", [&](Scope&) {
        if (items.IsNil()) return true;
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
