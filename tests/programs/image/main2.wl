;; Run from the image that more.wl saved.
(display (cube 3)) (display (counter)) (newline)
