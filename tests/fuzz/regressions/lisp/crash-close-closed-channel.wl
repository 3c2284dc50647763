(define ch (make-channel 1))
(close ch)
(guard (e (#t (display (condition-kind e)))) (close ch))
(close ch)
