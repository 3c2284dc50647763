(define (spawn-all n) (if (> n 0) (cons (spawn (lambda () n)) (spawn-all (- n 1))) '()))
(map join (spawn-all 5))
(spawn-all 100)
