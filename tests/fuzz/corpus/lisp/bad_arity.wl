(define (area w h) (* w h))
(display (area 2 3 4))
