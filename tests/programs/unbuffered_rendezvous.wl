;; An unbuffered send completes only when a receiver takes the value.
(define ch (make-channel))
(define sent-at #f)
(define t (spawn (lambda () (send ch 'v) (set! sent-at (current-time-ms)) 'sent)))
(sleep 30)
(define received-at (current-time-ms))
(check (recv ch) 'v)
(check (join t) 'sent)
(check (>= sent-at received-at) #t)
