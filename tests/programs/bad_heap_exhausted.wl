;; args: --heap-soft-limit 24m
;; expect-error: error: weft: heap exhausted
;; expect-error: in hoard at bad_heap_exhausted.wl:6
;; Keeping more live data than the soft limit allows: reported, exit 1.
(define (hoard n acc)
  (if (= n 0) acc (hoard (- n 1) (cons (make-vector 8 n) acc))))
(length (hoard 100000000 '()))
