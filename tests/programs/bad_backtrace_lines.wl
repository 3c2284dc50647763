;; expect-error: error: car: expected a pair as argument 1, got 5
;; expect-error: in inner at bad_backtrace_lines.wl:9
;; expect-error: in outer at bad_backtrace_lines.wl:12
;; expect-error: in toplevel at bad_backtrace_lines.wl:14
;; Backtrace lines through the interpreter's fast paths: a call spread over lines
;; notes the line of each argument's call; a call on one line (the raw car operand of
;; `null?`, the raw `-` argument of `inner`'s call) notes its own line once
;; (tools/lisp/DESIGN.md "Speed").
(define (inner x) (if (null? (car x)) 0 (car x)))
(define (outer y)
  (list (inner (list (- 3 1)))
        (inner y)))
(define (unused) 0)
(outer 5)
