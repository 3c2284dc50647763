(define t (spawn (lambda () (error "worker failed:" 7)) "worker"))
(sleep 20)
(display "main done")
(newline)
