(define (second-of v) (vector-ref v 1))
(second-of '(1 2 3))
