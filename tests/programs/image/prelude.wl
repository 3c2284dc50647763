;; The prelude saved by image_test.sh: procedures, a closure with state, data,
;; symbols (one the interpreter interns itself), builtins held as values.
(define (square x) (* x x))
(define counter (let ((n 0)) (lambda () (set! n (+ n 1)) n)))
(define table (let loop ((i 0) (acc '())) (if (= i 1000) acc (loop (+ i 1) (cons (cons i (square i)) acc)))))
(define syms '(alpha beta heap-exhausted))
(define ops (list car cdr +))
(define greeting "hello")
(define v (vector 1 2 'alpha "s"))
(counter)
(counter)
