;; args: --workers 1
;; Sleeping threads wake in deadline order. Timers are per worker (threads/DESIGN.md),
;; so the order is a promise of one worker's timer heap: with two workers, one whose
;; OS thread the host descheduled for longer than the 50 ms steps fired its timers
;; late (seen once, under TSan with a soak sharing the 2 CPUs).
(define out (make-channel 10))
(define delays '(250 50 200 100 150))
(for-each (lambda (d) (spawn (lambda () (sleep d) (send out d)))) delays)
(define got (map (lambda (i) (recv out)) delays))
(check got '(50 100 150 200 250))
