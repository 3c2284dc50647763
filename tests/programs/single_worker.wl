;; args: --workers 1
;; On one worker, threads interleave only at blocking points and yields.
(define log '())
(define m (make-mutex))
(define (note x) (with-mutex m (set! log (cons x log))))
(define a (spawn (lambda () (do ((i 0 (+ i 1))) ((= i 3)) (note (list 'a i)) (yield)))))
(define b (spawn (lambda () (do ((i 0 (+ i 1))) ((= i 3)) (note (list 'b i)) (yield)))))
(join a) (join b)
(check (length log) 6)
(check (filter (lambda (e) (eq? (car e) 'a)) (reverse log)) '((a 0) (a 1) (a 2)))
