;; Deep non-tail recursion on the main thread's managed stack.
(define (count n) (if (= n 0) 0 (+ 1 (count (- n 1)))))
(define n (if (sanitizer?) 5000 30000))
(check (count n) n)
(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))
(check (length (build n)) n)
(define (sum-list l) (if (null? l) 0 (+ (car l) (sum-list (cdr l)))))
(check (sum-list (build n)) (quotient (* n (+ n 1)) 2))
