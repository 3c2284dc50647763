;; expect-error: check failed: (+ 1 1)
;; A check that a thread fails after main's last form still fails the run.
(define go (make-channel))
(spawn (lambda () (recv go) (check (+ 1 1) 3)))
(spawn (lambda () (sleep 10) (send go 'now)))
(display "main done")
(newline)
