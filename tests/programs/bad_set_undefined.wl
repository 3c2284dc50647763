;; expect-error: error: set!: unbound variable: not-defined-yet
(set! not-defined-yet 5)
