(define a (make-channel))
(define b (make-channel))
(define t (spawn (lambda () (recv a) (send b 1)) "waiter"))
(recv b)
