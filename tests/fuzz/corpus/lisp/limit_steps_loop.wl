(define (spin n) (spin (+ n 1)))
(guard (e ((condition? e) (display (condition-kind e)))) (spin 0))
(do ((i 0 (+ i 1))) (#f) i)
