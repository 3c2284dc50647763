(display "bye")
(exit 3)
