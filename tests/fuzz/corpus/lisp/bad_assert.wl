(define items '(1 2 3))
(assert (< (length items) 2))
