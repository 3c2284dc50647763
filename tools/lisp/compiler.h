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
  Compiler(Interp& interp, std::string file) : interp_(interp), file_(std::move(file)) {}
  // CompileToplevel compiles one top-level form.
  Node* CompileToplevel(const Datum& form);

  // DatumToValue builds the managed value of a quoted datum.
  static Local DatumToValue(Interp& interp, const Datum& d);
  // DatumText renders a datum as source text (for check and assert messages).
  static std::string DatumText(const Datum& d);

 private:
  struct CScope;
  Node* Compile(const Datum& d, CScope* scope, bool tail, const std::string& name_hint = "");
  Node* CompileBody(const std::vector<Datum>& forms, size_t start, const Datum& form, CScope* scope,
                    bool tail);
  Node* CompileSeq(const std::vector<Datum>& forms, size_t start, const Datum& form, CScope* scope,
                   bool tail);
  Node* CompileLambda(const Datum& params, const std::vector<Datum>& body, size_t start, const Datum& form,
                      CScope* scope, const std::string& name);
  Node* CompileCall(const Datum& d, CScope* scope, bool tail);
  Node* CompileDefine(const Datum& d, CScope* scope);
  Node* CompileSet(const Datum& d, CScope* scope);
  Node* CompileLet(const Datum& d, CScope* scope, bool tail);
  Node* CompileNamedLet(const Datum& d, CScope* scope, bool tail);
  Node* CompileLetStar(const Datum& d, CScope* scope, bool tail, bool rec);
  Node* CompileCond(const Datum& d, size_t clause, CScope* scope, bool tail, bool guard);
  Node* CompileCase(const Datum& d, CScope* scope, bool tail);
  Node* CompileDo(const Datum& d, CScope* scope, bool tail);
  Node* CompileGuard(const Datum& d, CScope* scope);
  Node* CompileSelect(const Datum& d, CScope* scope, bool tail);
  Node* CompileQuasi(const Datum& d, int depth, CScope* scope);
  Node* Variable(const Datum& d, CScope* scope);
  Node* Constant(Local v, int line);
  Node* Quote(const Datum& d);
  Node* Unspecified(int line);
  void CollectDefines(const std::vector<Datum>& forms, size_t start, CScope* scope);
  bool IsSpecial(const Datum& head, CScope* scope, const char* name);

  template <class T>
  T* New(int line) {
    auto n = std::make_unique<T>();
    n->line = line;
    T* raw = n.get();
    interp_.Own(std::move(n));
    return raw;
  }
  [[noreturn]] void Fail(const Datum& d, const std::string& message);

  Interp& interp_;
  std::string file_;
};

}  // namespace weft::lisp

#endif  // WEFT_TOOLS_LISP_COMPILER_H_
