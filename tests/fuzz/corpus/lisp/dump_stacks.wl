(define (inner-procedure) (dump-stacks) 'dumped)
(define (outer-procedure) (list (inner-procedure)))
(check (outer-procedure) '(dumped))
