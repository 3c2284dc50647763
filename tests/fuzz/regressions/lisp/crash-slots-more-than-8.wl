(display (let ((a 1) (b 2) (c 3) (d 4) (e 5) (f 6) (g 7) (h 8) (i 9)) (list a i)))
(define (f a b c d e f2 g h i) (list a i))
(f 1 2 3 4 5 6 7 8 9)
