;; expect-error: error: unbound variable: undefined-procedure
;; expect-error: in compute at bad_unbound.wl:5
(define (compute x)
  (+ x
     (undefined-procedure x)))
(compute 1)
