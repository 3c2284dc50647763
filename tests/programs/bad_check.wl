;; expect-error: bad_check.wl:5: check failed: (+ 1 1)
;; expect-error: expected: 3
;; A failed check prints file, line and both values, the run continues, then fails.
(check (* 2 2) 4)
(check (+ 1 1) 3)
(display "still running")
(newline)
