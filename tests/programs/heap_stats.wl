;; heap-stats is an association list from weft::GetStats.
(define (stat key) (cdr (assq key (heap-stats))))
(define before (stat 'total-collections))
(collect)
(check (> (stat 'total-collections) before) #t)
(check (list? (stat 'generation-bytes)) #t)
(check (list? (stat 'collections)) #t)
(check (list? (stat 'pause-histogram)) #t)
(check (number? (stat 'bytes-allocated)) #t)
(check (>= (stat 'threads-total-spawned) 1) #t)
(check (number? (stat 'context-switches)) #t)
(define (alloc n) (if (= n 0) 'done (begin (make-vector 100 n) (alloc (- n 1)))))
(define allocated-before (stat 'bytes-allocated))
(alloc 10000)
(check (> (stat 'bytes-allocated) allocated-before) #t)
(for-each (lambda (k) (check (pair? (assq k (heap-stats))) #t))
          '(promoted-bytes total-pause-us max-pause-us heap-committed-bytes free-retained-bytes
            soft-limit-bytes
            threads-runnable threads-running threads-blocked threads-sleeping steals))
