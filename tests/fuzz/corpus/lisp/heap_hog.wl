(define (hog acc) (hog (cons (make-vector 1000 0) acc)))
(guard (e ((condition? e) (display (condition-kind e)))) (hog '()))
(set-soft-heap-limit! 1)
(list 1 2 3)
