#include "tools/lisp/compiler.h"

#include <algorithm>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace weft::lisp {

// CFrame: the compile-time image of one frame. names[0..visible) are in scope. owner
// is the Lambda whose activation runs the frame (null: the top-level form).
struct Compiler::CFrame {
  std::vector<std::string> names;
  std::vector<bool> checked;
  std::vector<bool> captured;  // referred to from a nested lambda
  // The procedure a variable is bound to before anything can refer to it (a named
  // let's name), else null; assigned: a set! names the variable.
  std::vector<const Lambda*> known;
  std::vector<bool> assigned;
  size_t visible = 0;
  CFrame* parent = nullptr;
  const void* owner = nullptr;
  bool heap = false;
  int slot_base = 0;

  int Add(const std::string& name, bool check) {
    names.push_back(name);
    checked.push_back(check);
    captured.push_back(false);
    known.push_back(nullptr);
    assigned.push_back(false);
    visible = names.size();
    return int(names.size());
  }
};

Compiler::Compiler(Interp& interp, std::string file) : interp_(interp), file_(std::move(file)) {}
Compiler::~Compiler() = default;

Compiler::CFrame* Compiler::NewFrame(CFrame* parent, const void* owner) {
  frames_.push_back(std::make_unique<CFrame>());
  CFrame* f = frames_.back().get();
  f->parent = parent;
  f->owner = owner;
  return f;
}

const void* Compiler::OwnerOf(CFrame* scope) { return scope ? scope->owner : nullptr; }

void Compiler::Finalize(ToplevelNode* top) {
  std::unordered_map<const void*, int> next;
  for (auto& f : frames_) {
    f->heap = std::find(f->captured.begin(), f->captured.end(), true) != f->captured.end();
    if (!f->heap) {
      f->slot_base = next[f->owner];
      next[f->owner] += int(f->names.size());
    }
  }
  for (const VarPatch& p : var_patches_) {
    if (!p.var_frame->heap) {
      p.addr->stack = true;
      p.addr->slot = p.var_frame->slot_base + p.index;
    } else {
      int depth = 0;
      for (CFrame* f = p.ref_frame; f != p.var_frame; f = f->parent) depth += f->heap;
      p.addr->depth = depth;
      p.addr->index = p.index + 1;
    }
  }
  for (const FramePatch& p : frame_patches_) {
    p.info->heap = p.frame->heap;
    p.info->size = int(p.frame->names.size());
    p.info->slot_base = p.frame->slot_base;
  }
  for (const LambdaPatch& p : lambda_patches_) {
    p.lambda->heap_frame = p.frame->heap;
    p.lambda->frame_size = int(p.frame->names.size());
    p.lambda->nslots = next[p.lambda];
    p.lambda->fast_arity =
        !p.lambda->heap_frame && !p.lambda->rest && p.lambda->nslots <= kInlineSlots ? p.lambda->nparams : -1;
  }
  for (const CallPatch& p : call_patches_) {
    const Lambda* known = p.var_frame->known[size_t(p.index)];
    // A stack frame's closure has the environment of wherever the let ran, which the
    // call site cannot name: known calls need the variable's frame on the heap.
    if (known == nullptr || p.var_frame->assigned[size_t(p.index)] || !p.var_frame->heap) continue;
    int depth = 0;
    for (CFrame* f = p.ref_frame; f != p.var_frame; f = f->parent) depth += f->heap;
    p.call->known = known;
    p.call->known_depth = depth;
  }
  for (InlinePrimNode* n : inline_patches_) {
    // After the variable patches: a variable's slot is known only now.
    if (n->op == InlinePrimNode::Op::kCons || n->args.size() > InlinePrimNode::kMaxArgs) continue;
    bool raw = true;
    for (size_t i = 0; i < n->args.size() && raw; ++i) {
      const Node* a = n->args[i];
      if (a->shape == Node::Shape::kVarRef) {
        const auto* v = static_cast<const VarRefNode*>(a);
        raw = v->addr.stack && !v->checked;
        n->raw[i].slot = v->addr.slot;
      } else if (a->shape == Node::Shape::kConst) {
        const auto* k = static_cast<const ConstNode*>(a);
        raw = !k->managed;
        n->raw[i].imm = k->immediate.raw;
      } else if (const auto* in = dynamic_cast<const InlinePrimNode*>(a);
                 in && (in->op == InlinePrimNode::Op::kCar || in->op == InlinePrimNode::Op::kCdr) &&
                 in->args.size() == 1 && in->line == n->line && in->args[0]->shape == Node::Shape::kVarRef) {
        // (op ... (car v) ...): v's pair field, read inline while `car` is the builtin.
        const auto* v = static_cast<const VarRefNode*>(in->args[0]);
        raw = v->addr.stack && !v->checked;
        n->raw[i].slot = v->addr.slot;
        n->raw[i].field = in->op == InlinePrimNode::Op::kCar ? 0 : 1;
        n->raw[i].via = in;
        n->raw_fields = true;
      } else {
        raw = false;
      }
    }
    n->raw_args = raw;
    if (raw && n->has_bool) n->shape = Node::Shape::kRawTest;  // a predicate: IfNode tests it inline
    using Op = InlinePrimNode::Op;
    if (raw && (n->op == Op::kAdd || n->op == Op::kSub || n->op == Op::kCar || n->op == Op::kCdr)) {
      n->shape = Node::Shape::kRawValue;  // a call computes it inline as an argument
    }
  }
  top->nslots = next[nullptr];
  frames_.clear();
  inline_patches_.clear();
  var_patches_.clear();
  frame_patches_.clear();
  lambda_patches_.clear();
  call_patches_.clear();
}

namespace {

const char* const kSpecialForms[] = {
    "quote", "quasiquote", "lambda", "define", "set!", "if", "let", "let*", "letrec", "letrec*",
    "begin", "cond", "case", "and", "or", "when", "unless", "do", "guard", "select", "with-mutex",
    "check", "assert", "unquote", "unquote-splicing",
};

bool IsDefine(const Datum& d) {
  return d.type == Datum::Type::kList && !d.items.empty() && d.items[0].IsSymbol("define");
}

bool HasUnquote(const Datum& d) {
  if (d.type != Datum::Type::kList && d.type != Datum::Type::kVector) return false;
  if (!d.items.empty() && (d.items[0].IsSymbol("unquote") || d.items[0].IsSymbol("unquote-splicing"))) return true;
  // `(a . ,b) reads as (a unquote b).
  if (d.type == Datum::Type::kList && !d.tail && d.items.size() >= 3 && d.items[d.items.size() - 2].IsSymbol("unquote"))
    return true;
  for (const Datum& i : d.items)
    if (HasUnquote(i)) return true;
  return d.tail && HasUnquote(*d.tail);
}

}  // namespace

void Compiler::Fail(const Datum& d, const std::string& message) {
  throw ReadError(file_, d.line, d.column, message);
}

std::string Compiler::DatumText(const Datum& d) {
  switch (d.type) {
    case Datum::Type::kFixnum: return absl::StrCat(d.fixnum);
    case Datum::Type::kBoolean: return d.boolean ? "#t" : "#f";
    case Datum::Type::kChar: {
      std::string s = "#\\";
      AppendUtf8(d.ch, &s);
      return s;
    }
    case Datum::Type::kString: return absl::StrCat("\"", d.text, "\"");
    case Datum::Type::kSymbol: return d.text;
    case Datum::Type::kVector:
    case Datum::Type::kList: {
      if (d.type == Datum::Type::kList && d.items.size() == 2 && !d.tail && d.items[0].IsSymbol("quote"))
        return "'" + DatumText(d.items[1]);
      std::string s = d.type == Datum::Type::kVector ? "#(" : "(";
      for (size_t i = 0; i < d.items.size(); ++i) {
        if (i) s += " ";
        s += DatumText(d.items[i]);
      }
      if (d.tail) s += " . " + DatumText(*d.tail);
      return s + ")";
    }
  }
  return "?";
}

Local Compiler::DatumToValue(Interp& interp, const Datum& d) {
  switch (d.type) {
    case Datum::Type::kFixnum: return Fixnum(d.fixnum);
    case Datum::Type::kBoolean: return Boolean(d.boolean);
    case Datum::Type::kChar: return Char(d.ch);
    case Datum::Type::kString: return MakeString(d.text);
    case Datum::Type::kSymbol: return interp.SymbolNamed(d.text);
    case Datum::Type::kVector: {
      Local v = MakeVector(d.items.size(), NilLocal());
      for (size_t i = 0; i < d.items.size(); ++i) {
        Scope s("quote");
        VectorSet(v, i, DatumToValue(interp, d.items[i]));
      }
      return v;
    }
    case Datum::Type::kList: {
      Local result = d.tail ? DatumToValue(interp, *d.tail) : NilLocal();
      for (size_t i = d.items.size(); i-- > 0;) {
        Scope s("quote");
        result.Set(Cons(DatumToValue(interp, d.items[i]), result));
      }
      return result;
    }
  }
  return NilLocal();
}

Node* Compiler::Constant(Local v, int line) {
  auto* n = New<ConstNode>(line);
  if (v.IsFixnum() || v.kind() == Kind::kBoolean || v.kind() == Kind::kChar || v.kind() == Kind::kNil ||
      v.kind() == Kind::kUnbound) {
    n->immediate = v.get();
    if (v.IsFixnum() && FxValue(v) >= 0 && FxValue(v) < kCachedFixnums) {
      n->cached = int(FxValue(v));
    } else if (v.kind() == Kind::kBoolean) {
      n->cached = Truthy(v) ? kConstTrue : kConstFalse;
    } else if (v.kind() == Kind::kNil) {
      n->cached = kConstNil;
    }
  } else {
    n->managed = true;
    n->object.Set(v);
    if (interp_.IsVoid(v)) n->cached = kConstVoid;
  }
  return n;
}

Node* Compiler::Quote(const Datum& d) {
  Scope s("compile");
  return Constant(DatumToValue(interp_, d), d.line);
}

Node* Compiler::Unspecified(int line) {
  Scope s("compile");
  return Constant(interp_.Void(), line);
}

bool Compiler::IsSpecial(const Datum& head, CFrame* scope, const char* name) {
  if (!head.IsSymbol(name)) return false;
  for (CFrame* s = scope; s; s = s->parent)
    for (size_t i = 0; i < s->visible; ++i)
      if (s->names[i] == name) return false;  // shadowed by a local variable
  return true;
}

Node* Compiler::CompileToplevel(const Datum& form) {
  frames_.clear();
  var_patches_.clear();
  frame_patches_.clear();
  lambda_patches_.clear();
  call_patches_.clear();
  inline_patches_.clear();
  auto* top = New<ToplevelNode>(form.line);
  top->body = Compile(form, nullptr, false);
  Finalize(top);
  return top;
}

Node* Compiler::Variable(const Datum& d, CFrame* scope, CFrame** found) {
  for (CFrame* s = scope; s; s = s->parent) {
    for (size_t i = s->visible; i-- > 0;) {
      if (s->names[i] == d.text) {
        if (s->owner != OwnerOf(scope)) s->captured[i] = true;
        auto* n = New<VarRefNode>(d.line);
        n->checked = s->checked[i];
        n->name = d.text;
        var_patches_.push_back({&n->addr, s, int(i), scope});
        if (found) *found = s;
        return n;
      }
    }
  }
  for (const char* sf : kSpecialForms) {
    if (d.text == sf) Fail(d, absl::StrCat("bad syntax: '", d.text, "' is a special form, not a variable"));
  }
  auto* n = New<GlobalRefNode>(d.line);
  n->var = interp_.LookupGlobal(d.text);
  return n;
}

Node* Compiler::Compile(const Datum& d, CFrame* scope, bool tail, const std::string& name_hint) {
  switch (d.type) {
    case Datum::Type::kSymbol: return Variable(d, scope);
    case Datum::Type::kFixnum:
    case Datum::Type::kBoolean:
    case Datum::Type::kChar:
    case Datum::Type::kString:
    case Datum::Type::kVector: return Quote(d);
    case Datum::Type::kList: break;
  }
  if (d.items.empty()) Fail(d, "bad syntax: empty combination ()");
  if (d.tail) Fail(d, "bad syntax: a call must be a proper list");
  const Datum& head = d.items[0];
  const auto& it = d.items;
  if (head.type == Datum::Type::kSymbol) {
    auto is = [&](const char* name) { return IsSpecial(head, scope, name); };
    if (is("quote")) {
      if (it.size() != 2) Fail(d, "bad syntax in quote: expected (quote datum)");
      return Quote(it[1]);
    }
    if (is("quasiquote")) {
      if (it.size() != 2) Fail(d, "bad syntax in quasiquote: expected (quasiquote template)");
      return CompileQuasi(it[1], 1, scope);
    }
    if (is("unquote") || is("unquote-splicing")) Fail(d, absl::StrCat("bad syntax: ", head.text, " outside quasiquote"));
    if (is("lambda")) {
      if (it.size() < 3) Fail(d, "bad syntax in lambda: expected (lambda params body...)");
      return CompileLambda(it[1], it, 2, d, scope,
                           name_hint.empty() ? absl::StrCat("lambda@", file_, ":", d.line) : name_hint);
    }
    if (is("define")) {
      if (scope) Fail(d, "bad syntax: define is only allowed at the start of a body or at top level");
      return CompileDefine(d, scope);
    }
    if (is("set!")) return CompileSet(d, scope);
    if (is("if")) {
      if (it.size() != 3 && it.size() != 4) Fail(d, "bad syntax in if: expected (if test then [else])");
      auto* n = New<IfNode>(d.line);
      n->test = Compile(it[1], scope, false);
      n->then = Compile(it[2], scope, tail);
      if (it.size() == 4) n->otherwise = Compile(it[3], scope, tail);
      return n;
    }
    if (is("begin")) {
      if (it.size() == 1) return Unspecified(d.line);
      if (!scope) {
        // Top-level begin: its defines are global.
        auto* n = New<SeqNode>(d.line);
        for (size_t i = 1; i < it.size(); ++i) n->body.push_back(Compile(it[i], nullptr, tail && i + 1 == it.size()));
        return n;
      }
      return CompileSeq(it, 1, d, scope, tail);
    }
    if (is("let")) {
      if (it.size() >= 2 && it[1].type == Datum::Type::kSymbol) return CompileNamedLet(d, scope, tail);
      return CompileLet(d, scope, tail);
    }
    if (is("let*")) return CompileLetStar(d, scope, tail, false);
    if (is("letrec") || is("letrec*")) return CompileLetStar(d, scope, tail, true);
    if (is("cond")) return CompileCond(d, 1, scope, tail, false);
    if (is("case")) return CompileCase(d, scope, tail);
    if (is("and") || is("or")) {
      if (it.size() == 1) {
        Scope s("compile");
        return Constant(Boolean(head.text == "and"), d.line);
      }
      if (it.size() == 2) return Compile(it[1], scope, tail);
      auto* n = New<AndNode>(d.line);
      n->is_or = head.text == "or";
      for (size_t i = 1; i < it.size(); ++i) n->parts.push_back(Compile(it[i], scope, tail && i + 1 == it.size()));
      return n;
    }
    if (is("when") || is("unless")) {
      if (it.size() < 3) Fail(d, absl::StrCat("bad syntax in ", head.text, ": expected (", head.text, " test body...)"));
      auto* n = New<IfNode>(d.line);
      Node* test = Compile(it[1], scope, false);
      Node* body = CompileSeq(it, 2, d, scope, tail);
      n->test = test;
      if (head.text == "when") {
        n->then = body;
      } else {
        n->then = Unspecified(d.line);
        n->otherwise = body;
      }
      return n;
    }
    if (is("do")) return CompileDo(d, scope, tail);
    if (is("guard")) return CompileGuard(d, scope);
    if (is("select")) return CompileSelect(d, scope, tail);
    if (is("with-mutex")) {
      if (it.size() < 3) Fail(d, "bad syntax in with-mutex: expected (with-mutex mutex body...)");
      auto* n = New<WithMutexNode>(d.line);
      n->mutex = Compile(it[1], scope, false);
      n->body = CompileSeq(it, 2, d, scope, false);
      return n;
    }
    if (is("check")) {
      if (it.size() != 3) Fail(d, "bad syntax in check: expected (check expr expected)");
      auto* n = New<CheckNode>(d.line);
      n->expr = Compile(it[1], scope, false);
      n->expected = Compile(it[2], scope, false);
      n->text = DatumText(it[1]);
      n->file = file_;
      return n;
    }
    if (is("assert")) {
      if (it.size() != 2) Fail(d, "bad syntax in assert: expected (assert expr)");
      auto* n = New<AssertNode>(d.line);
      n->expr = Compile(it[1], scope, false);
      n->text = DatumText(it[1]);
      return n;
    }
  }
  return CompileCall(d, scope, tail);
}

namespace {

// The builtins InlinePrimNode runs inline, with the argument counts it handles.
struct InlineEntry {
  const char* name;
  InlinePrimNode::Op op;
  size_t min_args, max_args;
  bool fixnum;  // relies on the fixnum encoding being value << 1 (g_imm.fixnum_shift)
};
constexpr InlineEntry kInline[] = {
    {"+", InlinePrimNode::Op::kAdd, 2, InlinePrimNode::kMaxArgs, true},
    {"-", InlinePrimNode::Op::kSub, 2, 2, true},
    {"=", InlinePrimNode::Op::kNumEq, 2, 2, true},
    {"<", InlinePrimNode::Op::kLt, 2, 2, true},
    {">", InlinePrimNode::Op::kGt, 2, 2, true},
    {"<=", InlinePrimNode::Op::kLe, 2, 2, true},
    {">=", InlinePrimNode::Op::kGe, 2, 2, true},
    {"zero?", InlinePrimNode::Op::kZeroP, 1, 1, true},
    {"cons", InlinePrimNode::Op::kCons, 2, 2, false},
    {"car", InlinePrimNode::Op::kCar, 1, 1, false},
    {"cdr", InlinePrimNode::Op::kCdr, 1, 1, false},
    {"null?", InlinePrimNode::Op::kNullP, 1, 1, false},
    {"pair?", InlinePrimNode::Op::kPairP, 1, 1, false},
    {"not", InlinePrimNode::Op::kNot, 1, 1, false},
    {"eq?", InlinePrimNode::Op::kEqP, 2, 2, false},
};

// MaxLine: the last line any part of d is on.
int MaxLine(const Datum& d) {
  int m = d.line;
  for (const Datum& i : d.items) m = std::max(m, MaxLine(i));
  if (d.tail) m = std::max(m, MaxLine(*d.tail));
  return m;
}

const InlineEntry* InlineFor(const Prim* prim, size_t nargs) {
  if (prim == nullptr) return nullptr;
  for (const InlineEntry& e : kInline) {
    if (std::string_view(prim->name) != e.name) continue;
    if (nargs < e.min_args || nargs > e.max_args || (e.fixnum && !g_imm.fixnum_shift)) return nullptr;
    return &e;
  }
  return nullptr;
}

}  // namespace

Node* Compiler::CompileCall(const Datum& d, CFrame* scope, bool tail) {
  CFrame* fn_frame = nullptr;
  Node* fn = d.items[0].type == Datum::Type::kSymbol ? Variable(d.items[0], scope, &fn_frame)
                                                     : Compile(d.items[0], scope, false);
  int fn_index = fn_frame ? var_patches_.back().index : -1;
  GlobalVar* global = nullptr;
  if (auto* g = dynamic_cast<GlobalRefNode*>(fn)) global = g->var;
  size_t nargs = d.items.size() - 1;
  const Prim* prim = global ? global->prim.load(std::memory_order_relaxed) : nullptr;
  CallNode* n;
  if (const InlineEntry* e = InlineFor(prim, nargs)) {
    auto* in = Adopt(NewInlinePrim(e->op, nargs), d.line);
    in->op = e->op;
    in->prim = prim;
    inline_patches_.push_back(in);
    n = in;
  } else {
    n = New<CallNode>(d.line);
  }
  n->fn = fn;
  n->fn_global = global;
  n->one_line = MaxLine(d) == d.line;
  if (fn_frame) call_patches_.push_back({n, fn_frame, fn_index, scope});
  for (size_t i = 1; i < d.items.size(); ++i) n->args.push_back(Compile(d.items[i], scope, false));
  n->tail = tail;
  return n;
}

void Compiler::CollectDefines(const std::vector<Datum>& forms, size_t start, CFrame* scope) {
  for (size_t i = start; i < forms.size(); ++i) {
    const Datum& f = forms[i];
    if (IsDefine(f)) {
      if (f.items.size() < 2) Fail(f, "bad syntax in define: expected (define name value)");
      const Datum& target = f.items[1];
      const Datum* name = &target;
      if (target.type == Datum::Type::kList && !target.items.empty()) name = &target.items[0];
      if (name->type != Datum::Type::kSymbol) Fail(f, "bad syntax in define: expected a name to define");
      bool seen = false;
      for (size_t k = 0; k < scope->names.size(); ++k)
        if (scope->names[k] == name->text) seen = true;
      if (!seen) scope->Add(name->text, true);
    } else if (f.type == Datum::Type::kList && !f.items.empty() && f.items[0].IsSymbol("begin")) {
      CollectDefines(f.items, 1, scope);
    }
  }
}

// A body: internal defines become variables of `scope` (the frame being built).
Node* Compiler::CompileBody(const std::vector<Datum>& forms, size_t start, const Datum& form, CFrame* scope,
                            bool tail) {
  CollectDefines(forms, start, scope);
  return CompileSeq(forms, start, form, scope, tail);
}

Node* Compiler::CompileSeq(const std::vector<Datum>& forms, size_t start, const Datum& form, CFrame* scope,
                           bool tail) {
  if (start >= forms.size()) Fail(form, absl::StrCat("bad syntax: empty body in ", DatumText(form)));
  std::vector<Node*> body;
  for (size_t i = start; i < forms.size(); ++i) {
    const Datum& f = forms[i];
    bool last = i + 1 == forms.size();
    if (IsDefine(f)) {
      if (!scope) {
        body.push_back(CompileDefine(f, scope));
        continue;
      }
      // Internal define: the name was collected into some enclosing frame.
      const Datum& target = f.items[1];
      Node* value;
      std::string name;
      if (target.type == Datum::Type::kList) {
        name = target.items[0].text;
        Datum params;
        params.type = Datum::Type::kList;
        params.line = target.line;
        params.column = target.column;
        params.items.assign(target.items.begin() + 1, target.items.end());
        params.tail = target.tail;
        if (f.items.size() < 3) Fail(f, "bad syntax in define: expected a body");
        value = CompileLambda(params, f.items, 2, f, scope, name);
      } else {
        name = target.text;
        if (f.items.size() > 3) Fail(f, "bad syntax in define: expected (define name value)");
        value = f.items.size() == 3 ? Compile(f.items[2], scope, false, name) : Unspecified(f.line);
      }
      Datum ref;
      ref.type = Datum::Type::kSymbol;
      ref.text = name;
      ref.line = f.line;
      CFrame* where = nullptr;
      Node* var = Variable(ref, scope, &where);
      if (!dynamic_cast<VarRefNode*>(var) || where != scope)
        Fail(f, "bad syntax: define is only allowed at the start of a body or at top level");
      auto* n = New<SetVarNode>(f.line);
      var_patches_.push_back({&n->addr, where, var_patches_.back().index, scope});
      n->value = value;
      body.push_back(n);
      if (last) body.push_back(Unspecified(f.line));
      continue;
    }
    if (f.type == Datum::Type::kList && !f.items.empty() && IsSpecial(f.items[0], scope, "begin") && scope) {
      if (f.items.size() == 1) {
        body.push_back(Unspecified(f.line));
      } else {
        body.push_back(CompileSeq(f.items, 1, f, scope, tail && last));
      }
      continue;
    }
    body.push_back(Compile(f, scope, tail && last));
  }
  if (body.size() == 1) return body[0];
  auto* n = New<SeqNode>(form.line);
  n->body = std::move(body);
  return n;
}

Node* Compiler::CompileLambda(const Datum& params, const std::vector<Datum>& body, size_t start,
                              const Datum& form, CFrame* scope, const std::string& name) {
  Lambda* lam = interp_.NewLambda();
  lam->name = name;
  lam->file = file_;
  lam->line = form.line;
  CFrame& frame = *NewFrame(scope, lam);
  lambda_patches_.push_back({lam, &frame});
  auto add_param = [&](const Datum& p) {
    if (p.type != Datum::Type::kSymbol) Fail(p, "bad syntax in lambda: a parameter must be a symbol");
    for (const auto& n : frame.names)
      if (n == p.text) Fail(p, absl::StrCat("bad syntax in lambda: duplicate parameter ", p.text));
    frame.Add(p.text, false);
  };
  if (params.type == Datum::Type::kSymbol) {
    add_param(params);
    lam->rest = true;
  } else if (params.type == Datum::Type::kList) {
    for (const Datum& p : params.items) add_param(p);
    lam->nparams = int(params.items.size());
    if (params.tail) {
      add_param(*params.tail);
      lam->rest = true;
    }
  } else {
    Fail(params, "bad syntax in lambda: expected a parameter list");
  }
  lam->body = CompileBody(body, start, form, &frame, true);
  auto* n = New<LambdaNode>(form.line);
  n->lambda = lam;
  return n;
}

Node* Compiler::CompileDefine(const Datum& d, CFrame* scope) {
  const auto& it = d.items;
  if (it.size() < 2) Fail(d, "bad syntax in define: expected (define name value)");
  const Datum& target = it[1];
  auto* n = New<SetGlobalNode>(d.line);
  n->define = true;
  if (target.type == Datum::Type::kList && !target.items.empty()) {
    const Datum& name = target.items[0];
    if (name.type != Datum::Type::kSymbol) Fail(target, "bad syntax in define: expected a procedure name");
    if (it.size() < 3) Fail(d, "bad syntax in define: expected a body");
    Datum params;
    params.type = Datum::Type::kList;
    params.line = target.line;
    params.column = target.column;
    params.items.assign(target.items.begin() + 1, target.items.end());
    params.tail = target.tail;
    n->var = interp_.LookupGlobal(name.text);
    n->value = CompileLambda(params, it, 2, d, scope, name.text);
    return n;
  }
  if (target.type != Datum::Type::kSymbol) Fail(target, "bad syntax in define: expected a name to define");
  if (it.size() > 3) Fail(d, "bad syntax in define: expected (define name value)");
  n->var = interp_.LookupGlobal(target.text);
  n->value = it.size() == 3 ? Compile(it[2], scope, false, target.text) : Unspecified(d.line);
  return n;
}

Node* Compiler::CompileSet(const Datum& d, CFrame* scope) {
  const auto& it = d.items;
  if (it.size() != 3 || it[1].type != Datum::Type::kSymbol) Fail(d, "bad syntax in set!: expected (set! name value)");
  CFrame* where = nullptr;
  Node* var = Variable(it[1], scope, &where);
  if (dynamic_cast<VarRefNode*>(var)) {
    auto* n = New<SetVarNode>(d.line);
    where->assigned[size_t(var_patches_.back().index)] = true;
    var_patches_.push_back({&n->addr, where, var_patches_.back().index, scope});
    n->value = Compile(it[2], scope, false, it[1].text);
    return n;
  }
  Node* value = Compile(it[2], scope, false, it[1].text);
  auto* n = New<SetGlobalNode>(d.line);
  n->var = static_cast<GlobalRefNode*>(var)->var;
  n->value = value;
  return n;
}

namespace {
struct Binding {
  const Datum* name;
  const Datum* init;  // null: unspecified
  const Datum* step;  // do only
};
}  // namespace

static std::vector<Binding> ParseBindings(const Datum& list, const Datum& form, bool allow_step,
                                          const std::function<void(const Datum&, const std::string&)>& fail,
                                          const char* what) {
  std::vector<Binding> out;
  if (list.type != Datum::Type::kList || list.tail)
    fail(list, absl::StrCat("bad syntax in ", what, ": expected a list of bindings"));
  for (const Datum& b : list.items) {
    if (b.type != Datum::Type::kList || b.tail || b.items.empty() || b.items[0].type != Datum::Type::kSymbol ||
        b.items.size() > (allow_step ? 3u : 2u) || (!allow_step && b.items.size() != 2)) {
      fail(b, absl::StrCat("bad syntax in ", what, ": expected ", allow_step ? "(name init [step])" : "(name value)"));
    }
    out.push_back({&b.items[0], b.items.size() > 1 ? &b.items[1] : nullptr, b.items.size() > 2 ? &b.items[2] : nullptr});
  }
  return out;
}

Node* Compiler::CompileLet(const Datum& d, CFrame* scope, bool tail) {
  const auto& it = d.items;
  if (it.size() < 3) Fail(d, "bad syntax in let: expected (let ((name value) ...) body...)");
  auto fail = [this](const Datum& x, const std::string& m) { Fail(x, m); };
  auto bindings = ParseBindings(it[1], d, false, fail, "let");
  auto* n = New<LetNode>(d.line);
  CFrame& frame = *NewFrame(scope, OwnerOf(scope));
  frame_patches_.push_back({&n->frame, &frame});
  for (const Binding& b : bindings) {
    for (const auto& name : frame.names)
      if (name == b.name->text) Fail(*b.name, absl::StrCat("bad syntax in let: duplicate binding ", name));
    n->inits.push_back(Compile(*b.init, scope, false, b.name->text));
    frame.Add(b.name->text, false);
  }
  n->body = CompileBody(it, 2, d, &frame, tail);
  return n;
}

Node* Compiler::CompileLetStar(const Datum& d, CFrame* scope, bool tail, bool rec) {
  const auto& it = d.items;
  const char* what = rec ? "letrec" : "let*";
  if (it.size() < 3) Fail(d, absl::StrCat("bad syntax in ", what, ": expected (", what, " ((name value) ...) body...)"));
  auto fail = [this](const Datum& x, const std::string& m) { Fail(x, m); };
  auto bindings = ParseBindings(it[1], d, false, fail, what);
  auto* n = New<LetNode>(d.line);
  n->sequential = true;
  CFrame& frame = *NewFrame(scope, OwnerOf(scope));
  frame_patches_.push_back({&n->frame, &frame});
  if (rec) {
    for (const Binding& b : bindings) frame.Add(b.name->text, true);
    for (const Binding& b : bindings) n->inits.push_back(Compile(*b.init, &frame, false, b.name->text));
  } else {
    for (const Binding& b : bindings) {
      // Each init sees the bindings before it.
      n->inits.push_back(Compile(*b.init, &frame, false, b.name->text));
      frame.Add(b.name->text, false);
    }
  }
  n->body = CompileBody(it, 2, d, &frame, tail);
  return n;
}

// (let name ((v init)...) body...) is ((letrec ((name (lambda (v...) body...))) name) init...).
Node* Compiler::CompileNamedLet(const Datum& d, CFrame* scope, bool tail) {
  const auto& it = d.items;
  if (it.size() < 4) Fail(d, "bad syntax in named let: expected (let name ((var init) ...) body...)");
  auto fail = [this](const Datum& x, const std::string& m) { Fail(x, m); };
  auto bindings = ParseBindings(it[2], d, false, fail, "named let");
  const std::string& name = it[1].text;
  auto* letrec = New<LetNode>(d.line);
  letrec->sequential = true;
  CFrame& frame = *NewFrame(scope, OwnerOf(scope));
  frame_patches_.push_back({&letrec->frame, &frame});
  frame.Add(name, true);
  Datum params;
  params.type = Datum::Type::kList;
  params.line = it[2].line;
  params.column = it[2].column;
  for (const Binding& b : bindings) params.items.push_back(*b.name);
  Node* proc = CompileLambda(params, it, 3, d, &frame, name);
  letrec->inits.push_back(proc);
  // The LetNode binds the procedure before its body or the procedure can refer to it.
  frame.known[0] = static_cast<LambdaNode*>(proc)->lambda;
  Datum ref;
  ref.type = Datum::Type::kSymbol;
  ref.text = name;
  ref.line = d.line;
  letrec->body = Variable(ref, &frame);
  auto* call = New<CallNode>(d.line);
  call->fn = letrec;
  for (const Binding& b : bindings) call->args.push_back(Compile(*b.init, scope, false));
  call->tail = tail;
  return call;
}

Node* Compiler::CompileCond(const Datum& d, size_t clause, CFrame* scope, bool tail, bool guard) {
  const auto& it = d.items;
  if (clause >= it.size()) {
    if (guard) return New<NoMatchNode>(d.line);
    return Unspecified(d.line);
  }
  const Datum& c = it[clause];
  if (c.type != Datum::Type::kList || c.tail || c.items.empty())
    Fail(c, "bad syntax in cond: expected (test expr...)");
  if (c.items[0].IsSymbol("else")) {
    if (clause + 1 != it.size()) Fail(c, "bad syntax in cond: else must be the last clause");
    if (c.items.size() < 2) Fail(c, "bad syntax in cond: empty else clause");
    return CompileSeq(c.items, 1, c, scope, tail);
  }
  Node* rest = CompileCond(d, clause + 1, scope, tail, guard);
  if (c.items.size() >= 2 && c.items[1].IsSymbol("=>")) {
    if (c.items.size() != 3) Fail(c, "bad syntax in cond: expected (test => receiver)");
    auto* n = New<CondArrowNode>(c.line);
    n->test = Compile(c.items[0], scope, false);
    n->receiver = Compile(c.items[2], scope, false);
    n->otherwise = rest;
    n->tail = tail;
    return n;
  }
  if (c.items.size() == 1) {
    // (test): the test's value when true.
    auto* n = New<AndNode>(c.line);
    n->is_or = true;
    n->parts = {Compile(c.items[0], scope, false), rest};
    return n;
  }
  auto* n = New<IfNode>(c.line);
  n->test = Compile(c.items[0], scope, false);
  n->then = CompileSeq(c.items, 1, c, scope, tail);
  n->otherwise = rest;
  return n;
}

Node* Compiler::CompileCase(const Datum& d, CFrame* scope, bool tail) {
  const auto& it = d.items;
  if (it.size() < 2) Fail(d, "bad syntax in case: expected (case key clause...)");
  auto* n = New<CaseNode>(d.line);
  n->key = Compile(it[1], scope, false);
  n->tail = tail;
  for (size_t i = 2; i < it.size(); ++i) {
    const Datum& c = it[i];
    if (c.type != Datum::Type::kList || c.tail || c.items.size() < 2)
      Fail(c, "bad syntax in case: expected ((datum...) expr...)");
    bool arrow = c.items[1].IsSymbol("=>");
    if (arrow && c.items.size() != 3) Fail(c, "bad syntax in case: expected ((datum...) => receiver)");
    Node* body = arrow ? Compile(c.items[2], scope, false) : CompileSeq(c.items, 1, c, scope, tail);
    if (c.items[0].IsSymbol("else")) {
      if (i + 1 != it.size()) Fail(c, "bad syntax in case: else must be the last clause");
      n->otherwise = body;
      n->else_arrow = arrow;
      continue;
    }
    if (c.items[0].type != Datum::Type::kList || c.items[0].tail) Fail(c, "bad syntax in case: expected a list of data");
    CaseNode::Clause clause;
    for (const Datum& datum : c.items[0].items) {
      Scope s("compile");
      auto k = std::make_unique<ConstNode>();
      Local v = DatumToValue(interp_, datum);
      if (v.IsFixnum() || v.kind() == Kind::kBoolean || v.kind() == Kind::kChar || v.kind() == Kind::kNil) {
        k->immediate = v.get();
      } else {
        k->managed = true;
        k->object.Set(v);
      }
      clause.data.push_back(std::move(k));
    }
    clause.body = body;
    clause.arrow = arrow;
    n->clauses.push_back(std::move(clause));
  }
  return n;
}

Node* Compiler::CompileDo(const Datum& d, CFrame* scope, bool tail) {
  const auto& it = d.items;
  if (it.size() < 3 || it[2].type != Datum::Type::kList || it[2].items.empty())
    Fail(d, "bad syntax in do: expected (do ((var init [step]) ...) (test expr...) body...)");
  auto fail = [this](const Datum& x, const std::string& m) { Fail(x, m); };
  auto bindings = ParseBindings(it[1], d, true, fail, "do");
  auto* n = New<DoNode>(d.line);
  CFrame& frame = *NewFrame(scope, OwnerOf(scope));
  frame_patches_.push_back({&n->frame, &frame});
  for (const Binding& b : bindings) {
    if (!b.init) Fail(*b.name, "bad syntax in do: expected (var init [step])");
    n->inits.push_back(Compile(*b.init, scope, false));
    frame.Add(b.name->text, false);
  }
  for (const Binding& b : bindings) n->steps.push_back(b.step ? Compile(*b.step, &frame, false) : nullptr);
  const Datum& test = it[2];
  n->test = Compile(test.items[0], &frame, false);
  if (test.items.size() > 1) n->result = CompileSeq(test.items, 1, test, &frame, false);
  if (it.size() > 3) n->body = CompileSeq(it, 3, d, &frame, false);
  return n;
}

// (guard (e clause...) body...)
Node* Compiler::CompileGuard(const Datum& d, CFrame* scope) {
  const auto& it = d.items;
  if (it.size() < 3 || it[1].type != Datum::Type::kList || it[1].items.empty() ||
      it[1].items[0].type != Datum::Type::kSymbol) {
    Fail(d, "bad syntax in guard: expected (guard (var clause...) body...)");
  }
  auto* n = New<GuardNode>(d.line);
  n->body = CompileSeq(it, 2, d, scope, false);
  CFrame& frame = *NewFrame(scope, OwnerOf(scope));
  frame_patches_.push_back({&n->frame, &frame});
  frame.Add(it[1].items[0].text, false);
  n->handler = CompileCond(it[1], 1, &frame, false, true);
  return n;
}

// (select clause...) with clauses ((recv ch) => f), ((send ch v) => f),
// ((timeout ms) => f) or (timeout ms => f), and (else => f) (a zero timeout).
Node* Compiler::CompileSelect(const Datum& d, CFrame* scope, bool tail) {
  auto* n = New<SelectNode>(d.line);
  n->tail = tail;
  const char* usage =
      "bad syntax in select: expected clauses ((recv ch) => proc), ((send ch value) => proc) or "
      "((timeout ms) => proc)";
  for (size_t i = 1; i < d.items.size(); ++i) {
    const Datum& c = d.items[i];
    if (c.type != Datum::Type::kList || c.tail) Fail(c, usage);
    SelectNode::Clause clause;
    const Datum* receiver = nullptr;
    if (c.items.size() == 4 && c.items[0].IsSymbol("timeout") && c.items[2].IsSymbol("=>")) {
      clause.op = SelectNode::Clause::kTimeout;
      clause.channel = Compile(c.items[1], scope, false);
      receiver = &c.items[3];
    } else if (c.items.size() == 3 && c.items[0].IsSymbol("else") && c.items[1].IsSymbol("=>")) {
      clause.op = SelectNode::Clause::kTimeout;
      Scope s("compile");
      clause.channel = Constant(Fixnum(0), c.line);
      receiver = &c.items[2];
    } else {
      if (c.items.size() != 3 || !c.items[1].IsSymbol("=>") || c.items[0].type != Datum::Type::kList ||
          c.items[0].items.empty()) {
        Fail(c, usage);
      }
      const Datum& op = c.items[0];
      receiver = &c.items[2];
      if (op.items[0].IsSymbol("recv") && op.items.size() == 2) {
        clause.op = SelectNode::Clause::kRecv;
        clause.channel = Compile(op.items[1], scope, false);
      } else if (op.items[0].IsSymbol("send") && op.items.size() == 3) {
        clause.op = SelectNode::Clause::kSend;
        clause.channel = Compile(op.items[1], scope, false);
        clause.value = Compile(op.items[2], scope, false);
      } else if (op.items[0].IsSymbol("timeout") && op.items.size() == 2) {
        clause.op = SelectNode::Clause::kTimeout;
        clause.channel = Compile(op.items[1], scope, false);
      } else {
        Fail(c, usage);
      }
    }
    clause.receiver = Compile(*receiver, scope, false);
    n->clauses.push_back(clause);
  }
  int timeouts = 0;
  for (const auto& c : n->clauses) timeouts += c.op == SelectNode::Clause::kTimeout;
  if (timeouts > 1) Fail(d, "bad syntax in select: at most one timeout clause");
  if (n->clauses.empty()) Fail(d, usage);
  return n;
}

Node* Compiler::CompileQuasi(const Datum& d, int depth, CFrame* scope) {
  if (!HasUnquote(d)) return Quote(d);
  if (d.type == Datum::Type::kVector) {
    Datum list;
    list.type = Datum::Type::kList;
    list.line = d.line;
    list.column = d.column;
    list.items = d.items;
    auto* n = New<QuasiNode>(d.line);
    n->op = QuasiNode::kListToVector;
    n->a = CompileQuasi(list, depth, scope);
    return n;
  }
  // d is a list containing an unquote somewhere.
  if (d.items.size() == 2 && !d.tail && d.items[0].type == Datum::Type::kSymbol) {
    const std::string& h = d.items[0].text;
    if (h == "unquote") {
      if (depth == 1) return Compile(d.items[1], scope, false);
    }
    if (h == "unquote-splicing" && depth == 1) Fail(d, "bad syntax: unquote-splicing not inside a list");
    if (h == "unquote" || h == "unquote-splicing" || h == "quasiquote") {
      int nd = h == "quasiquote" ? depth + 1 : depth - 1;
      auto* inner = New<QuasiNode>(d.line);
      inner->op = QuasiNode::kCons;
      inner->a = CompileQuasi(d.items[1], nd, scope);
      Datum nil;
      nil.type = Datum::Type::kList;
      inner->b = Quote(nil);
      auto* outer = New<QuasiNode>(d.line);
      outer->op = QuasiNode::kCons;
      outer->a = Quote(d.items[0]);
      outer->b = inner;
      return outer;
    }
  }
  Node* result;
  if (d.tail) {
    result = CompileQuasi(*d.tail, depth, scope);
  } else {
    Datum nil;
    nil.type = Datum::Type::kList;
    result = Quote(nil);
  }
  for (size_t i = d.items.size(); i-- > 0;) {
    const Datum& item = d.items[i];
    // `(a . ,b) reads as (a unquote b): the tail of the list is the unquote form.
    if (item.IsSymbol("unquote") && i + 2 == d.items.size() && !d.tail && depth == 1) {
      // The (b) already consed is replaced by b's value.
      result = Compile(d.items[i + 1], scope, false);
      continue;
    }
    auto* n = New<QuasiNode>(item.line);
    if (item.type == Datum::Type::kList && item.items.size() == 2 && !item.tail &&
        item.items[0].IsSymbol("unquote-splicing") && depth == 1) {
      n->op = QuasiNode::kAppend;
      n->a = Compile(item.items[1], scope, false);
    } else {
      n->op = QuasiNode::kCons;
      n->a = CompileQuasi(item, depth, scope);
    }
    n->b = result;
    result = n;
  }
  return result;
}

}  // namespace weft::lisp
