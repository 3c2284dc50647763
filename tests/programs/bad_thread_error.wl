;; expect-error: error in thread worker: worker failed: 7
;; A spawned thread's uncaught error that no join observed fails the run.
(define t (spawn (lambda () (error "worker failed:" 7)) "worker"))
(sleep 20)
(display "main done")
(newline)
