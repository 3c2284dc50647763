(define (hoard n acc)
  (if (= n 0) acc (hoard (- n 1) (cons (make-vector 8 n) acc))))
(length (hoard 100000000 '()))
