// printer.h: the external representation of Weft Lisp values (display and write).
#ifndef WEFT_TOOLS_LISP_PRINTER_H_
#define WEFT_TOOLS_LISP_PRINTER_H_

#include <string>

#include "runtime/weft.h"
#include "tools/lisp/interp.h"

namespace weft::lisp {

// ToString renders v: with write, strings and characters in their read syntax
// (write); otherwise as their contents (display). Nesting deeper than 1000 prints
// "...", and so do the remaining elements of lists and vectors once the text is over
// `limit` bytes: a circular list prints in bounded memory. Deep nesting raises
// stack-overflow before the native stack of ts's thread (the printing thread) runs
// out (CheckNativeStack).
inline constexpr size_t kPrintLimit = size_t{1} << 20;
std::string ToString(Interp& interp, Local v, bool write, size_t limit, ThreadState* ts);
void Print(Interp& interp, Local v, bool write, std::string* out, size_t limit, ThreadState* ts);
// ToMessageString writes v for an error message or a check report: like ToString with
// write, but where the stack runs low it prints "..." instead of raising, so an error
// about deep data stays that error.
std::string ToMessageString(Interp& interp, Local v, ThreadState* ts, size_t limit = kPrintLimit);

}  // namespace weft::lisp

#endif  // WEFT_TOOLS_LISP_PRINTER_H_
