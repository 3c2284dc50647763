;; expect-error: error: area: expected 2 arguments, got 3
(define (area w h) (* w h))
(display (area 2 3 4))
