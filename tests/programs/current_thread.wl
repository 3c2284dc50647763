;; current-thread inside spawned threads and main.
(check (thread-name (current-thread)) "main")
(define t (spawn (lambda () (thread-name (current-thread))) "named-thread"))
(check (join t) "named-thread")
(define t2 (spawn (lambda () (thread? (current-thread)))))
(check (join t2) #t)
