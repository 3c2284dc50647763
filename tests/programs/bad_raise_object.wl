;; expect-error: error: uncaught raise: (custom-condition 42)
(define (f) (raise (list 'custom-condition 42)))
(f)
