;; fib 30: procedure calls and fixnum arithmetic. The same source runs under
;; `weft run` and `guile` (see compare.sh).
(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
(display (fib 30))
(newline)
