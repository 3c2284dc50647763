// ast.h: the native AST the compiler produces from Datum trees and eval.cc runs.
//
// Nodes are immutable after compilation and shared by every green thread. Each
// Eval returns its value as a Local in the innermost scope, or an empty Local when a
// call in tail position handed the call to its CallClosure ([lisp.tail] in interp.h).
// Managed constants (quoted data, strings, symbols) are held in Globals.
#ifndef WEFT_TOOLS_LISP_AST_H_
#define WEFT_TOOLS_LISP_AST_H_

#include <memory>
#include <string>
#include <vector>

#include "runtime/weft.h"
#include "tools/lisp/interp.h"

namespace weft::lisp {

struct Node {
  // The operands EvalOperand reads without a virtual call; kRawTest: a predicate
  // InlinePrimNode with raw_args, whose test IfNode runs inline; kRawValue: a value
  // op (+, -, car, cdr) with raw_args, which a call computes inline as an argument.
  // kIf: an IfNode (a procedure body that is one runs its inline test in the activation).
  enum class Shape : uint8_t { kOther, kVarRef, kConst, kRawTest, kRawValue, kIf };
  int line = 0;
  Shape shape = Shape::kOther;
  bool has_bool = false;  // EvalBool is overridden (a predicate InlinePrimNode)
  virtual ~Node() = default;
  virtual Local Eval(Local env, Ctx& c) const = 0;
  // EvalBool: Truthy(Eval(env, c)), for an `if` test; nodes with has_bool compute the
  // truth value without making the boolean's slot.
  virtual bool EvalBool(Local env, Ctx& c) const { return Truthy(Eval(env, c)); }
};

// A constant: an immediate word, or a managed object held by a Global.
struct ConstNode : Node {
  ConstNode() { shape = Shape::kConst; }
  int cached = -1;  // index in ThreadState::consts
  bool managed = false;
  Value immediate{0};
  weft::Global object;
  Local Eval(Local env, Ctx& c) const override;
};

// VarAddr: where a lexical variable lives, decided when its top-level form is
// compiled ([lisp.frames] in interp.h): a slot of the activation (stack) or slot
// `index` of the heap frame `depth` links up the environment chain.
struct VarAddr {
  bool stack = false;
  int slot = 0;
  int depth = 0, index = 0;
};

// FrameInfo: how a let, do or guard frame is laid out.
struct FrameInfo {
  bool heap = false;  // a heap vector [parent, vars...]; else activation slots
  int size = 0;       // number of variables
  int slot_base = 0;  // stack frames: the first activation slot
};

struct VarRefNode : Node {
  VarRefNode() { shape = Shape::kVarRef; }
  VarAddr addr;
  bool checked = false;  // may be read before its definition (letrec, internal define)
  std::string name;
  Local Eval(Local env, Ctx& c) const override;
};

// EvalOperand is n->Eval(env, c), but reads the commonest operands (a stack variable
// that needs no check, a cached constant) inline instead of through a virtual call.
inline Local EvalOperand(const Node* n, Local env, Ctx& c) {
  if (n->shape == Node::Shape::kVarRef) {
    const auto* v = static_cast<const VarRefNode*>(n);
    if (v->addr.stack && !v->checked) return c.vars[v->addr.slot];
  } else if (n->shape == Node::Shape::kConst) {
    const auto* k = static_cast<const ConstNode*>(n);
    if (k->cached >= 0) return c.ts->consts[k->cached];
  }
  return n->Eval(env, c);
}

struct GlobalRefNode : Node {
  GlobalVar* var = nullptr;
  Local Eval(Local env, Ctx& c) const override;
};

struct SetVarNode : Node {
  VarAddr addr;
  Node* value = nullptr;
  Local Eval(Local env, Ctx& c) const override;
};

struct SetGlobalNode : Node {
  GlobalVar* var = nullptr;
  Node* value = nullptr;
  bool define = false;  // set! of an undefined global is an error; define is not
  Local Eval(Local env, Ctx& c) const override;
};

struct IfNode : Node {
  IfNode() { shape = Shape::kIf; }
  Node* test = nullptr;
  Node* then = nullptr;
  Node* otherwise = nullptr;  // null: unspecified
  Local Eval(Local env, Ctx& c) const override;
};

// RawOperand: an operand Finalize found to be readable as a raw word with no call and
// no error: a stack variable that needs no check (slot >= 0), an immediate constant
// (imm), or the car or cdr (field 0 or 1) of a stack variable through `via`, an
// inline (car v) or (cdr v) on the same line, read only while `via`'s global still
// holds the builtin and the variable holds a pair (else the fast path does not
// apply). See InlinePrimNode::raw_args for why reading them raw is safe.
struct InlinePrimNode;
struct RawOperand {
  int slot = -1;
  int field = -1;
  uint64_t imm = 0;
  const InlinePrimNode* via = nullptr;
};

struct LambdaNode : Node {
  const Lambda* lambda = nullptr;
  Local Eval(Local env, Ctx& c) const override;
};

struct SeqNode : Node {
  std::vector<Node*> body;  // at least one
  Local Eval(Local env, Ctx& c) const override;
};

struct CallNode : Node {
  Node* fn = nullptr;
  GlobalVar* fn_global = nullptr;  // when fn is a global reference
  // A known call (set by Compiler::Finalize): fn names a named let's procedure, which
  // nothing assigns, in a heap frame. The closure is then `known` with that frame as
  // its environment, `known_depth` links up from the call's environment, so the call
  // reads neither the variable nor the closure.
  const Lambda* known = nullptr;
  int known_depth = 0;
  std::vector<Node*> args;
  bool tail = false;
  // one_line: the whole call expression is on the line of its head, so every node of
  // its arguments notes that same line (NoteLine), and once the call has noted it the
  // activation's line is that line after the arguments too: the note after them is
  // skipped.
  bool one_line = false;
  Local Eval(Local env, Ctx& c) const override;
};

// A call of a global that held one of a few builtins when it was compiled (fixnum
// arithmetic and comparison, pairs, some predicates), with an argument count the
// builtin accepts. While the global still holds that builtin the evaluator does the
// simple case inline: no argument span, no indirect call, no arity check, the result
// pushed through the activation's Scope. Anything else (a non-fixnum, an overflow, a
// non-pair) calls the builtin, and a redefined global takes CallNode's path, so
// results and errors are the builtin's own.
struct InlinePrimNode : CallNode {
  enum class Op { kAdd, kSub, kNumEq, kLt, kGt, kLe, kGe, kZeroP, kCons, kCar, kCdr, kNullP, kPairP, kNot, kEqP };
  static constexpr size_t kMaxArgs = 4;
  Op op = Op::kAdd;
  const Prim* prim = nullptr;  // the builtin the global held at compile time
  // raw_args (set by Compiler::Finalize, never for cons): every argument is a
  // RawOperand. The fast path then reads the argument words straight from their slots
  // or the node and computes the result with no call in between, so no safepoint
  // separates the reads from their use ([lisp.handles]: the raw words never cross
  // one); the result is pushed through the activation's Scope (a pointer bump, not a
  // safepoint) or is a shared boolean slot. When the fast case does not apply (a
  // non-fixnum, an overflow, a non-pair) the general path evaluates the operands
  // again as Locals: reading a RawOperand has no effect and cannot fail.
  bool raw_args = false;
  bool raw_fields = false;  // some RawOperand is a car or cdr
  RawOperand raw[kMaxArgs];
  Local Eval(Local env, Ctx& c) const override;
  // EvalGeneral: Eval without the raw fast path (out of line).
  Local EvalGeneral(Local env, Ctx& c) const;

 protected:
  // EvalInline: Eval for `op` and `n` (at most kArgs) arguments (eval.cc).
  template <size_t kArgs>
  Local EvalInline(Op op, size_t n, Local env, Ctx& c) const;
};

// NewInlinePrim makes the InlinePrimNode for `op` called with `nargs` arguments: for
// one or two arguments a subclass whose Eval is compiled for that op and count (no
// switch, no argument loop), else the general node.
std::unique_ptr<InlinePrimNode> NewInlinePrim(InlinePrimNode::Op op, size_t nargs);

// let, let*, letrec, letrec*: a new frame. With sequential, init i is evaluated in
// the new frame (let*, letrec); otherwise in the outer one.
struct LetNode : Node {
  FrameInfo frame;
  bool sequential = false;
  std::vector<Node*> inits;  // init i sets variable i + 1
  Node* body = nullptr;
  Local Eval(Local env, Ctx& c) const override;
};

struct AndNode : Node {
  std::vector<Node*> parts;
  bool is_or = false;
  Local Eval(Local env, Ctx& c) const override;
};

// (cond (test => receiver) ...): the receiver gets the test's value.
struct CondArrowNode : Node {
  Node* test = nullptr;
  Node* receiver = nullptr;
  Node* otherwise = nullptr;
  bool tail = false;
  Local Eval(Local env, Ctx& c) const override;
};

struct CaseNode : Node {
  struct Clause {
    std::vector<std::unique_ptr<ConstNode>> data;
    Node* body = nullptr;
    bool arrow = false;  // body is a receiver of the key
  };
  Node* key = nullptr;
  std::vector<Clause> clauses;
  Node* otherwise = nullptr;
  bool else_arrow = false;
  bool tail = false;
  Local Eval(Local env, Ctx& c) const override;
};

// (do ((var init step)...) (test result...) body...): a fresh heap frame per
// iteration when closures capture the variables, else the activation's slots.
struct DoNode : Node {
  FrameInfo frame;
  std::vector<Node*> inits;
  std::vector<Node*> steps;  // null: the variable keeps its value
  Node* test = nullptr;
  Node* result = nullptr;    // null: unspecified
  Node* body = nullptr;      // null: none
  Local Eval(Local env, Ctx& c) const override;
};

// (guard (var clause...) body...): handler runs in a new frame holding the condition;
// it returns an empty Local when no clause matched, and the condition is re-raised.
struct GuardNode : Node {
  FrameInfo frame;  // the handler's frame: one variable, the condition
  Node* body = nullptr;
  Node* handler = nullptr;
  Local Eval(Local env, Ctx& c) const override;
};

// The implicit final clause of a guard's handler.
struct NoMatchNode : Node {
  Local Eval(Local env, Ctx& c) const override { return Local(); }
};

struct SelectNode : Node {
  struct Clause {
    enum Op { kRecv, kSend, kTimeout } op;
    Node* channel = nullptr;  // kTimeout: the milliseconds
    Node* value = nullptr;    // kSend
    Node* receiver = nullptr;
  };
  std::vector<Clause> clauses;
  bool tail = false;
  Local Eval(Local env, Ctx& c) const override;
};

struct WithMutexNode : Node {
  Node* mutex = nullptr;
  Node* body = nullptr;
  Local Eval(Local env, Ctx& c) const override;
};

// (check expr expected): on mismatch prints file:line and both values and marks the
// run failed; evaluation continues.
struct CheckNode : Node {
  Node* expr = nullptr;
  Node* expected = nullptr;
  std::string text, file;
  Local Eval(Local env, Ctx& c) const override;
};

// (assert expr): raises assertion-violation naming the expression.
struct AssertNode : Node {
  Node* expr = nullptr;
  std::string text;
  Local Eval(Local env, Ctx& c) const override;
};

// A compiled top-level form: makes the activation slots of its stack frames.
struct ToplevelNode : Node {
  int nslots = 0;
  Node* body = nullptr;
  Local Eval(Local env, Ctx& c) const override;
};

// Quasiquote building blocks.
struct QuasiNode : Node {
  enum Op { kCons, kAppend, kListToVector } op;
  Node* a = nullptr;
  Node* b = nullptr;
  Local Eval(Local env, Ctx& c) const override;
};

}  // namespace weft::lisp

#endif  // WEFT_TOOLS_LISP_AST_H_
