(define x 42)
(x 1 2)
