(define (fact n) (if (= n 0) 1 (* n (fact (- n 1)))))
(check (fact 20) 2432902008176640000)
(fact 30)
