(define (first-letter s) (car s))
(first-letter "text")
