;; Run from an image of prelude.wl, saved again with one more definition.
(define (cube x) (* x (square x)))
