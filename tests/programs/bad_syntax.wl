;; expect-error: bad_syntax.wl:3:7: bad syntax in let: expected (name value)
;; Syntax errors are reported with the position of the bad form.
(let ((x)) x)
