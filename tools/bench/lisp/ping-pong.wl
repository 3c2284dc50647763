;; ping-pong: 100,000 round trips between two green threads over two channels of
;; capacity 1 (ping-pong-guile.scm is the same with Guile's OS threads).
(define rounds 100000)
(define ping (make-channel 1))
(define pong (make-channel 1))
(define ponger
  (spawn (lambda ()
           (let loop ()
             (let ((v (recv ping)))
               (if (eof-object? v) 'done (begin (send pong (+ v 1)) (loop))))))))
(define (run i v)
  (if (= i rounds) v (begin (send ping v) (run (+ i 1) (recv pong)))))
(display (run 0 0))
(newline)
(close ping)
(join ponger)
