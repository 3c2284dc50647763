(set! not-defined-yet 5)
