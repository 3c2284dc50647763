(define (compute x)
  (+ x
     (undefined-procedure x)))
(compute 1)
