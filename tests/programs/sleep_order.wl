;; Sleeping threads wake in deadline order.
(define out (make-channel 10))
(define delays '(250 50 200 100 150))
(for-each (lambda (d) (spawn (lambda () (sleep d) (send out d)))) delays)
(define got (map (lambda (i) (recv out)) delays))
(check got '(50 100 150 200 250))
