;; expect-exit: 3
;; (exit n) ends the program with status n.
(display "bye")
(newline)
(exit 3)
(display "not reached")
