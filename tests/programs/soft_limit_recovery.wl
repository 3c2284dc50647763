;; Soft-limit recovery: a computation that needs too much heap raises heap-exhausted,
;; the guard catches it, the garbage is gone, and the program raises the limit and
;; continues.
(define (build n acc) (if (= n 0) acc (build (- n 1) (cons (make-vector 16 n) acc))))
(set-soft-heap-limit! (* 24 1024 1024))
(define r
  (guard (e ((eq? (condition-kind e) 'heap-exhausted) (list 'caught (string? (error-message e)))))
    (length (build 10000000 '()))))
(check r '(caught #t))
;; small allocations still work under the limit
(check (length (build 1000 '())) 1000)
;; raise the limit and the big one succeeds
(set-soft-heap-limit! 0)
(check (length (build 200000 '())) 200000)
(check (> (soft-heap-limit) (* 24 1024 1024)) #t)
