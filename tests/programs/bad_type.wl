;; expect-error: error: vector-ref: expected a vector as argument 1, got (1 2 3)
(define (second-of v) (vector-ref v 1))
(second-of '(1 2 3))
