(display "never printed")
(newline)
(define (f x)
(let ((y x))
  y
