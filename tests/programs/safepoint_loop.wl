;; args: --workers 2
;; A loop that neither allocates nor blocks still reaches safepoints ([lisp.safepoint]
;; in tools/lisp/DESIGN.md): a collection main asks for while the spinner runs on the
;; other worker stops the spinner at its next iteration instead of waiting for the loop
;; to end. The loop ends when main, after collecting, sets the flag, or after `limit`
;; iterations, which fails the check: without the poll, main's collection would wait
;; that long.
(define flags (vector #f #f))  ; 0: the spinner runs; 1: main has collected
(define limit 300000000)
(define spinner
  (spawn (lambda ()
           (vector-set! flags 0 #t)
           (let loop ((i 0))
             (if (or (vector-ref flags 1) (= i limit))
                 i
                 (loop (+ i 1)))))
         "spinner"))
;; Main keeps its worker (this loop does not block), so the idle worker takes the spinner.
(let wait () (if (not (vector-ref flags 0)) (wait)))
(define young (list 1 2 3))
(collect 0)
(vector-set! flags 1 #t)
(check (< (join spinner) limit) #t)
(check young '(1 2 3))
