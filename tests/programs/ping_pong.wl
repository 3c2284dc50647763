;; Two threads bounce a counter over unbuffered channels.
(define rounds (if (sanitizer?) 2000 20000))
(define ping (make-channel))
(define pong (make-channel))
(define ponger
  (spawn (lambda ()
           (let loop ()
             (let ((v (recv ping)))
               (if (eof-object? v) 'stopped (begin (send pong (+ v 1)) (loop))))))
         "ponger"))
(define final
  (let loop ((i 0) (v 0))
    (if (= i rounds) v (begin (send ping v) (loop (+ i 1) (recv pong))))))
(close ping)
(check final rounds)
(check (join ponger) 'stopped)
