// printer.h: the external representation of Weft Lisp values (display and write).
#ifndef WEFT_TOOLS_LISP_PRINTER_H_
#define WEFT_TOOLS_LISP_PRINTER_H_

#include <string>

#include "runtime/weft.h"
#include "tools/lisp/interp.h"

namespace weft::lisp {

// ToString renders v: with write, strings and characters in their read syntax
// (write); otherwise as their contents (display). Nesting deeper than 1000 prints "...".
std::string ToString(Interp& interp, Local v, bool write);
void Print(Interp& interp, Local v, bool write, std::string* out);

}  // namespace weft::lisp

#endif  // WEFT_TOOLS_LISP_PRINTER_H_
