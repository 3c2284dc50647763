(check (* 2 2) 4)
(check (+ 1 1) 3)
(display "still running")
(newline)
