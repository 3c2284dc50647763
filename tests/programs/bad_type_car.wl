;; expect-error: error: car: expected a pair as argument 1, got "text"
(define (first-letter s) (car s))
(first-letter "text")
