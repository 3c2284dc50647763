#| block #| nested |# comment |#
#;(ignored datum) (define v '#(1 "two" #\3 (4 . 5)))
`(a ,@(list 1 2) ,(car '(b)) #(c ,(+ 1 2)))
"esc\x41;\n\t\\\"" #\x3bb #\space #\nul #true #false
'(1 . (2 . (3 . ())))
-4611686018427387904 4611686018427387903
