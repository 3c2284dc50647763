// compiler.h: pre-analysis of Datum trees into the native AST (ast.h).
//
// The compiler resolves every variable to a lexical address (depth, index) or a
// GlobalVar, marks calls in tail position, names lambdas after what binds them
// (define, let, named let) for backtraces and stack dumps, and expands the derived
// forms (cond, case, when, unless, named let, quasiquote). Syntax errors are thrown as
// ReadError with the form's file:line:column. Must run on a green thread: quoted data
// becomes managed constants held by Globals.
#ifndef WEFT_TOOLS_LISP_COMPILER_H_
#define WEFT_TOOLS_LISP_COMPILER_H_

#include <string>

#include "tools/lisp/ast.h"
#include "tools/lisp/interp.h"
#include "tools/lisp/reader.h"

namespace weft::lisp {

class Compiler {
 public:
  Compiler(Interp& interp, std::string file);
  ~Compiler();
  // CompileToplevel compiles one top-level form.
  Node* CompileToplevel(const Datum& form);

  // DatumToValue builds the managed value of a quoted datum.
  static Local DatumToValue(Interp& interp, const Datum& d);
  // DatumText renders a datum as source text (for check and assert messages).
  static std::string DatumText(const Datum& d);

 private:
  struct CFrame;
  Node* Compile(const Datum& d, CFrame* scope, bool tail, const std::string& name_hint = "");
  Node* CompileBody(const std::vector<Datum>& forms, size_t start, const Datum& form, CFrame* scope,
                    bool tail);
  Node* CompileSeq(const std::vector<Datum>& forms, size_t start, const Datum& form, CFrame* scope,
                   bool tail);
  Node* CompileLambda(const Datum& params, const std::vector<Datum>& body, size_t start, const Datum& form,
                      CFrame* scope, const std::string& name);
  Node* CompileCall(const Datum& d, CFrame* scope, bool tail);
  Node* CompileDefine(const Datum& d, CFrame* scope);
  Node* CompileSet(const Datum& d, CFrame* scope);
  Node* CompileLet(const Datum& d, CFrame* scope, bool tail);
  Node* CompileNamedLet(const Datum& d, CFrame* scope, bool tail);
  Node* CompileLetStar(const Datum& d, CFrame* scope, bool tail, bool rec);
  Node* CompileCond(const Datum& d, size_t clause, CFrame* scope, bool tail, bool guard);
  Node* CompileCase(const Datum& d, CFrame* scope, bool tail);
  Node* CompileDo(const Datum& d, CFrame* scope, bool tail);
  Node* CompileGuard(const Datum& d, CFrame* scope);
  Node* CompileSelect(const Datum& d, CFrame* scope, bool tail);
  Node* CompileQuasi(const Datum& d, int depth, CFrame* scope);
  // Variable resolves a name: a VarRefNode (its frame in *found) or a GlobalRefNode.
  Node* Variable(const Datum& d, CFrame* scope, CFrame** found = nullptr);
  CFrame* NewFrame(CFrame* parent, const void* owner);
  static const void* OwnerOf(CFrame* scope);
  // Finalize decides heap or stack for every frame of the form just compiled and
  // patches the addresses ([lisp.frames]).
  void Finalize(ToplevelNode* top);
  Node* Constant(Local v, int line);
  Node* Quote(const Datum& d);
  Node* Unspecified(int line);
  void CollectDefines(const std::vector<Datum>& forms, size_t start, CFrame* scope);
  bool IsSpecial(const Datum& head, CFrame* scope, const char* name);

  template <class T>
  T* New(int line) {
    return Adopt(std::make_unique<T>(), line);
  }
  // Adopt hands a node made elsewhere to the interpreter, which owns every node.
  template <class T>
  T* Adopt(std::unique_ptr<T> n, int line) {
    n->line = line;
    T* raw = n.get();
    interp_.Own(std::move(n));
    return raw;
  }
  [[noreturn]] void Fail(const Datum& d, const std::string& message);

  struct VarPatch {
    VarAddr* addr;
    CFrame* var_frame;
    int index;
    CFrame* ref_frame;
  };
  struct FramePatch {
    FrameInfo* info;
    CFrame* frame;
  };
  struct LambdaPatch {
    Lambda* lambda;
    CFrame* frame;
  };
  // A call whose callee is a lexical variable: known when Finalize finds it bound to
  // a known procedure (CFrame::known) and never assigned.
  struct CallPatch {
    CallNode* call;
    CFrame* var_frame;
    int index;
    CFrame* ref_frame;
  };

  Interp& interp_;
  std::string file_;
  // Per top-level form.
  std::vector<std::unique_ptr<CFrame>> frames_;
  std::vector<VarPatch> var_patches_;
  std::vector<FramePatch> frame_patches_;
  std::vector<LambdaPatch> lambda_patches_;
  std::vector<CallPatch> call_patches_;
  // Inline builtin calls whose operands Finalize may mark raw (InlinePrimNode::raw_args).
  std::vector<InlinePrimNode*> inline_patches_;
};

}  // namespace weft::lisp

#endif  // WEFT_TOOLS_LISP_COMPILER_H_
