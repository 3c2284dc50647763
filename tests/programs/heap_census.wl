;; heap-census: weft::HeapCensus as one (kind generation objects bytes) list per
;; object kind and generation, most bytes first.
(define (entry-ok? e)
  (and (list? e) (= (length e) 4) (string? (car e))
       (integer? (cadr e)) (>= (cadr e) 0)
       (integer? (caddr e)) (> (caddr e) 0)
       (integer? (list-ref e 3)) (>= (list-ref e 3) (caddr e))))
(define (objects-of kind)
  (fold-left + 0 (map caddr (filter (lambda (e) (string=? (car e) kind)) (heap-census)))))
(define (by-bytes? l)
  (or (null? l) (null? (cdr l))
      (and (>= (list-ref (car l) 3) (list-ref (cadr l) 3)) (by-bytes? (cdr l)))))

(check (pair? (heap-census)) #t)
(for-each (lambda (e) (check (entry-ok? e) #t)) (heap-census))
(check (by-bytes? (heap-census)) #t)
;; Records are counted by type name: this program's procedures are records.
(check (> (objects-of "record procedure") 0) #t)

;; 500 vectors kept: counted; dropped and collected: gone.
(define before (objects-of "vector"))
(define kept (map (lambda (i) (make-vector 3 i)) (iota 500)))
(check (>= (objects-of "vector") (+ before 500)) #t)
(set! kept #f)
(collect)
(check (< (objects-of "vector") (+ before 500)) #t)
;; What survived the full collection is no longer in the nursery.
(check (pair? (filter (lambda (e) (> (cadr e) 0)) (heap-census))) #t)
