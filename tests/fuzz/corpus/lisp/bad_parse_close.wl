(define x 1)
(display x))
