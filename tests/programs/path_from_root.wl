;; path-from-root: who keeps an object alive, as a list of strings: the root (a
;; thread's frame and slot, or a global slot), each object on the way with the field
;; it follows, then the object; #f when nothing but the argument keeps it.
(define (prefix? p s)
  (and (<= (string-length p) (string-length s))
       (string=? p (substring s 0 (string-length p)))))
(define (suffix? x s)
  (and (<= (string-length x) (string-length s))
       (string=? x (substring s (- (string-length s) (string-length x)) (string-length s)))))
(define (contains? x s)
  (let loop ((i 0))
    (cond ((> (+ i (string-length x)) (string-length s)) #f)
          ((string=? x (substring s i (+ i (string-length x)))) #t)
          (else (loop (+ i 1))))))

;; Two hops: the top-level form's slot holding `inner`, its slot [1], the string.
(define inner (vector 'x (string-append "nee" "dle")))
(define p (path-from-root (vector-ref inner 1)))
(check (length p) 3)
(check (prefix? "thread 1 \"main\" frame toplevel slot [" (car p)) #t)
(check (prefix? "vector[2] 0x" (cadr p)) #t)
(check (suffix? " .[1]" (cadr p)) #t)
(check (caddr p) "string \"needle\"")

;; A procedure's local variable: its frame is named after the procedure.
(define (keep-and-ask)
  (let ((mine (list 7 8)))
    (path-from-root mine)))
(define q (keep-and-ask))
(check (length q) 2)
(check (prefix? "thread 1 \"main\" frame keep-and-ask slot [" (car q)) #t)
(check (prefix? "pair 0x" (cadr q)) #t)

;; Another green thread's stack: the root names the thread. The keeper hands its
;; list over a channel (a receive orders the box's store before the read; polling the
;; box would be a data race between the two workers).
(define ch (make-channel))
(define ready (make-channel))
(define box (make-vector 1 #f))
(define keeper
  (spawn (lambda ()
           (let ((mine (list 1 2 3)))
             (vector-set! box 0 mine)
             (send ready 'stored)
             (recv ch)
             (car mine)))
         "keeper"))
(recv ready)
(define r (path-from-root (vector-ref box 0)))
(check (length r) 2)
(check (prefix? "thread " (car r)) #t)
(check (not (prefix? "thread 1 " (car r))) #t)
(check (contains? " \"keeper\" frame " (car r)) #t)
(send ch 'go)
(check (join keeper) 1)

;; Symbols are interned: a global slot keeps each one.
(check (car (path-from-root 'some-symbol)) "global slot")

;; Nothing keeps it but the argument, or it is not a heap object.
(check (path-from-root (make-vector 2 0)) #f)
(check (path-from-root 42) #f)
(check (path-from-root #\a) #f)
