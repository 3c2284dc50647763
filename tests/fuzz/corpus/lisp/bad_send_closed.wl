(define ch (make-channel 1))
(close ch)
(send ch 1)
