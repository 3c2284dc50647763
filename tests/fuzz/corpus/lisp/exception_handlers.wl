(check (with-exception-handler
         (lambda (e) (list 'handled (error-message e)))
         (lambda () (+ 1 (error "oops"))))
       '(handled "oops"))
(check (with-exception-handler
         (lambda (e) (* e 10))
         (lambda () (+ 1 (raise-continuable 5))))
       51)
(check (with-exception-handler
         (lambda (e) 'outer)
         (lambda ()
           (with-exception-handler
             (lambda (e) (list 'inner e))
             (lambda () (raise-continuable 'x)))))
       '(inner x))
(check (guard (e (#t (list 'guarded e)))
         (with-exception-handler (lambda (e) (raise (list 'wrapped e))) (lambda () (raise 'base))))
       '(guarded (wrapped base)))
(check (with-exception-handler (lambda (e) (condition-kind e)) (lambda () (vector-ref #(1) 9))) 'range-error)
