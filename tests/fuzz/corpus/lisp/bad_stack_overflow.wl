(define (runaway n) (+ 1 (runaway (+ n 1))))
(runaway 0)
