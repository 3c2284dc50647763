(define (f) (guard (e (#t (f))) (f)))
(f)
