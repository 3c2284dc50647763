;; expect-error: error: not a procedure: 42
(define x 42)
(x 1 2)
