(define m (make-mutex))
(mutex-lock! m)
(mutex-lock! m)
