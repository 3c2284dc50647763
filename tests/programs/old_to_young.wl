;; Old-to-young mutation across collections: an old vector and an old list are
;; promoted by full collections, then made to point at fresh young objects; young
;; collections must keep those alive through the write barrier.
(define n 1000)
(define old-vec (make-vector n #f))
(define old-list (map (lambda (i) (cons i #f)) (iota n)))
(collect) (collect)
(define (fill! round)
  (do ((i 0 (+ i 1))) ((= i n))
    (vector-set! old-vec i (list round i (number->string i))))
  (for-each (lambda (cell) (set-cdr! cell (vector round (car cell)))) old-list))
(define (verify round)
  (and (let loop ((i 0))
         (or (= i n)
             (and (equal? (vector-ref old-vec i) (list round i (number->string i)))
                  (loop (+ i 1)))))
       (let loop ((l old-list))
         (or (null? l)
             (and (equal? (cdr (car l)) (vector round (car (car l))))
                  (loop (cdr l)))))))
(do ((round 0 (+ round 1))) ((= round 10))
  (fill! round)
  (collect 0)                                   ; young collection only
  (make-list 10000 'garbage)                    ; churn the nursery
  (collect 0)
  (check (verify round) #t)
  (when (= 0 (modulo round 3)) (collect)))
(check (verify 9) #t)
