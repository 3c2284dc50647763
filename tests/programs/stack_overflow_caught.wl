;; args: --managed-stack 512k
;; (512 KiB, not more: the main thread's 64 MiB native stack holds the recursion a
;; larger managed stack allows, but under --config=tsan 1 MiB meant 131,000 native
;; frames, and ThreadSanitizer crashed inside its own bookkeeping, 2026-12-03.)
;; Managed-stack overflow is caught as a condition; the program continues normally.
(define (deep n) (+ 1 (deep (+ n 1))))
(define r (guard (e ((eq? (condition-kind e) 'stack-overflow) 'overflow-caught)) (deep 0)))
(check r 'overflow-caught)
;; and in a spawned thread too
(define t (spawn (lambda () (guard (e (#t (condition-kind e))) (deep 0)))))
(check (join t) 'stack-overflow)
;; deep but finite non-tail recursion still works afterwards
(define (count n) (if (= n 0) 0 (+ 1 (count (- n 1)))))
(check (count 2000) 2000)
