;; expect-error: error: account overdrawn: 150 (balance 100)
;; expect-error: backtrace:
;; expect-error: in withdraw at bad_uncaught_error.wl:8
;; expect-error: in transfer at bad_uncaught_error.wl:11
;; An uncaught error prints its message and a backtrace of Weft Lisp frames, exit 1.
(define (withdraw balance amount)
  (if (> amount balance)
      (error "account overdrawn:" amount (list 'balance balance))
      (- balance amount)))
(define (transfer from amount)
  (let ((left (withdraw from amount)))
    (list 'left left)))
(display (transfer 100 50))
(newline)
(display (transfer 100 150))
