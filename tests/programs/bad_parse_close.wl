;; expect-error: bad_parse_close.wl:4:12: unexpected ')'
;; A stray closing parenthesis.
(define x 1)
(display x))
