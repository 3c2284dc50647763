;; showcase.wl: Weft Lisp on green threads and the moving collector.
;;
;; A pipeline over channels: a generator sends jobs to a pool of builder threads
;; (fan-out); each builds a binary tree and a list of labelled vectors for its job,
;; checks them and sends a summary to a checker thread (fan-in), which verifies every
;; summary against the closed form. Meanwhile the main thread keeps a long-lived
;; structure that it mutates across collections. At the end it prints the result, the
;; collections and the scheduler's figures from (heap-stats).
(define jobs (if (sanitizer?) 40 400))
(define builders 6)
(define job-ch (make-channel 8))
(define summary-ch (make-channel 8))
(define done-ch (make-channel))

(define (make-tree d)
  (if (= d 0) (cons '() '()) (cons (make-tree (- d 1)) (make-tree (- d 1)))))
(define (count-nodes t)
  (if (null? (car t)) 1 (+ 1 (count-nodes (car t)) (count-nodes (cdr t)))))
(define (labels n)
  (map (lambda (i) (vector i (string-append "item-" (number->string i)))) (iota n)))
(define (label-sum ls) (fold-left (lambda (acc v) (+ acc (vector-ref v 0))) 0 ls))

;; Stage 1: the generator.
(define generator
  (spawn (lambda ()
           (do ((j 0 (+ j 1))) ((= j jobs))
             (send job-ch (cons j (+ 6 (modulo j 7)))))
           (close job-ch)
           jobs)
         "generator"))

;; Stage 2: builders (fan-out over job-ch, fan-in into summary-ch).
(define (builder id)
  (spawn (lambda ()
           (let loop ((built 0))
             (let ((job (recv job-ch)))
               (if (eof-object? job)
                   built
                   (let* ((depth (cdr job))
                          (tree (make-tree depth))
                          (ls (labels (* 10 depth))))
                     (send summary-ch (list (car job) depth (count-nodes tree) (label-sum ls)))
                     (loop (+ built 1)))))))
         (string-append "builder-" (number->string id))))
(define pool (map builder (iota builders)))

;; Stage 3: the checker verifies each summary against the closed forms.
(define (cadddr* l) (car (cdddr l)))
(define checker
  (spawn (lambda ()
           (let loop ((seen 0) (bad 0) (nodes 0))
             (if (= seen jobs)
                 (send done-ch (list seen bad nodes))
                 (let* ((s (recv summary-ch))
                        (depth (cadr s))
                        (n (* 10 depth))
                        (ok (and (= (caddr s) (- (expt 2 (+ depth 1)) 1))
                                 (= (cadddr* s) (quotient (* n (- n 1)) 2)))))
                   (loop (+ seen 1) (if ok bad (+ bad 1)) (+ nodes (caddr s)))))))
         "checker"))

;; Meanwhile: old-to-young mutation across collections on the main thread.
(define long-lived (make-vector 64 #f))
(do ((round 0 (+ round 1))) ((= round 32))
  (vector-set! long-lived (modulo (* round 5) 64) (list round (make-tree 4)))
  (when (= 0 (modulo round 8)) (collect 0))
  (yield))

(define result (recv done-ch))
(define built (map join pool))
(join generator)
(join checker)
(collect)
(define intact
  (let loop ((i 0) (ok #t))
    (if (= i 64) ok
        (let ((e (vector-ref long-lived i)))
          (loop (+ i 1) (and ok (or (not e) (= (count-nodes (cadr e)) 31))))))))

(define (stat key) (cdr (assq key (heap-stats))))
(display "Weft Lisp showcase: a generator, ") (display builders)
(display " builders and a checker over channels") (newline)
(display "  jobs checked:         ") (display (car result))
(display " (") (display (cadr result)) (display " bad), tree nodes built: ") (display (caddr result)) (newline)
(display "  jobs per builder:     ") (display built) (newline)
(display "  long-lived data intact after collections: ") (display intact) (newline)
(display "Heap") (newline)
(display "  bytes allocated:      ") (display (stat 'bytes-allocated)) (newline)
(display "  collections per gen:  ") (display (stat 'collections)) (newline)
(display "  generation bytes:     ") (display (stat 'generation-bytes)) (newline)
(display "  promoted bytes:       ") (display (stat 'promoted-bytes)) (newline)
(display "  total / max pause us: ") (display (stat 'total-pause-us)) (display " / ")
(display (stat 'max-pause-us)) (newline)
(display "  pause histogram:      ") (display (stat 'pause-histogram)) (newline)
(display "Scheduler") (newline)
(display "  threads spawned:      ") (display (stat 'threads-total-spawned)) (newline)
(display "  context switches:     ") (display (stat 'context-switches)) (newline)
(display "  steals:               ") (display (stat 'steals)) (newline)
(check (cadr result) 0)
(check (apply + built) jobs)
(check intact #t)
