;; args: --managed-stack 256k
;; expect-error: error: weft: managed stack overflow
;; expect-error: in runaway at bad_stack_overflow.wl:5
;; Non-tail recursion overflows the (small) managed stack before the native one: exit 1.
(define (runaway n) (+ 1 (runaway (+ n 1))))
(runaway 0)
