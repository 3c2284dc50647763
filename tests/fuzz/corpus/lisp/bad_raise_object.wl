(define (f) (raise (list 'custom-condition 42)))
(f)
