;; Deep non-tail recursion on the main thread's managed stack.
(define (count n) (if (= n 0) 0 (+ 1 (count (- n 1)))))
(check (count 50000) 50000)
(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))
(check (length (build 50000)) 50000)
(define (sum-list l) (if (null? l) 0 (+ (car l) (sum-list (cdr l)))))
(check (sum-list (build 50000)) (quotient (* 50000 50001) 2))
