;; args: --workers 2
;; A loop that neither allocates nor blocks still reaches safepoints ([lisp.safepoint]
;; in tools/lisp/DESIGN.md): a collection main asks for while the spinner runs on the
;; other worker stops the spinner at its next iteration instead of waiting for the loop
;; to end. The spinner spins for `spin-ms`, then reports on `done`; main reports there
;; once its collection is over. Main's report must come first: without the poll, its
;; collection would wait until the spinner had finished and reported. (The threads
;; share nothing but channels: a flag in a vector would be a data race.)
(define spin-ms 3000)
(define started (make-channel 1))
(define done (make-channel 2))
(define spinner
  (spawn (lambda ()
           (send started #t)
           (let ((end (+ (current-time-ms) spin-ms)))
             (let loop ((i 0))
               (if (< (current-time-ms) end) (loop (+ i 1)) i)))
           (send done 'spinner))
         "spinner"))
(recv started)
(define young (list 1 2 3))
(collect 0)
(send done 'main)
(check (recv done) 'main)
(check (recv done) 'spinner)
(join spinner)
(check young '(1 2 3))
