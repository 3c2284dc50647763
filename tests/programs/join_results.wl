;; join returns each thread's result; joining twice returns it again; thread names.
(define ts (map (lambda (i) (spawn (lambda () (* i i)) (string-append "sq-" (number->string i)))) (iota 10)))
(check (map join ts) '(0 1 4 9 16 25 36 49 64 81))
(check (join (car ts)) 0)
(check (thread-name (cadr ts)) "sq-1")
(check (thread? (car ts)) #t)
(define t (spawn (lambda () (list 'nested (join (spawn (lambda () 'inner)))))))
(check (join t) '(nested inner))
;; a failed thread's error is re-raised by join, with its message
(define bad (spawn (lambda () (vector-ref (vector) 1)) "bad"))
(check (guard (e (#t (condition-kind e))) (join bad)) 'range-error)
