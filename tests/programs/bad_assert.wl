;; expect-error: error: assertion failed: (< (length items) 2)
(define items '(1 2 3))
(assert (< (length items) 2))
