;; args: --managed-stack 1m
;; expect-error: error: weft: managed stack overflow
;; expect-error: in runaway at bad_stack_overflow.wl:5
;; Unbounded non-tail recursion overflows the managed stack: reported, exit 1.
(define (runaway n) (+ 1 (runaway (+ n 1))))
(runaway 0)
