;; expect-output: inner-procedure
;; dump-stacks prints every green thread; Weft Lisp frames appear by procedure name.
(define (inner-procedure) (dump-stacks) 'dumped)
(define (outer-procedure) (list (inner-procedure)))
(check (outer-procedure) '(dumped))
