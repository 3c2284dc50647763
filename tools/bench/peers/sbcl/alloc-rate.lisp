;;; Allocation rate, SBCL, Weft peer: alloc-rate N. Allocates N (default 100M)
;;; 16-byte conses (i . nil), keeps the last 1000 in a simple-vector and reads each
;;; evicted one. Prints "allocated N objects, checksum S" (S = N(N-1)/2) and
;;; ns-per-alloc on stderr.
(defpackage :alloc-rate (:use :cl))
(in-package :alloc-rate)
(declaim (optimize (speed 3) (safety 0) (debug 0)))

(defconstant +keep+ 1000)

(defun churn (n keep)
  (declare (fixnum n) (simple-vector keep))
  (let ((sum 0) (slot 0))
    (declare (fixnum sum slot))
    (dotimes (i n)
      (let ((cell (cons i nil))
            (old (svref keep slot)))
        (when old (incf sum (the fixnum (car old))))
        (setf (svref keep slot) cell)
        (incf slot)
        (when (= slot +keep+) (setf slot 0))))
    sum))

(defun main ()
  (weft-gcpause:start)
  (let* ((arg (second sb-ext:*posix-argv*))
         (n (if arg (parse-integer arg) 100000000))
         (keep (make-array +keep+ :initial-element nil))
         (t0 (get-internal-real-time))
         (sum (churn n keep))
         (elapsed (- (get-internal-real-time) t0)))
    (loop for cell across keep when cell do (incf sum (car cell)))
    (format t "allocated ~D objects, checksum ~D~%" n sum)
    (finish-output)
    (format *error-output* "ns-per-alloc: ~,3F~%"
            (/ (* elapsed (/ 1d9 internal-time-units-per-second)) n)))
  (weft-gcpause:report))
