;; expect-error: bad_parse.wl:6:1: expected ')' to close the list opened here, found end of input
;; A parse error names file:line:column and what was expected; nothing runs.
(display "never printed")
(newline)
(define (f x)
(let ((y x))
  y
