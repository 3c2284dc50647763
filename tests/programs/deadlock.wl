;; expect-error: deadlock
;; Every thread blocks on a receive nobody will satisfy: the runtime reports a deadlock
;; and weft exits 1.
(define a (make-channel))
(define b (make-channel))
(define t (spawn (lambda () (recv a) (send b 1)) "waiter"))
(recv b)
