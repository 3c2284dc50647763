;; A channel is a native object: saving it must fail cleanly.
(define ch (make-channel))
