;;; binary-trees, SBCL, Weft peer: binary-trees N [T]. A node is a cons
;;; (left . right); a leaf is (nil . nil). With T > 1 each depth's iterations are
;;; split over T sb-thread threads.
(defpackage :binary-trees (:use :cl))
(in-package :binary-trees)
(declaim (optimize (speed 3) (safety 0) (debug 0)))

(declaim (ftype (function (fixnum) cons) build))
(defun build (depth)
  (declare (fixnum depth))
  (if (zerop depth)
      (cons nil nil)
      (let* ((l (build (1- depth)))
             (r (build (1- depth))))
        (cons l r))))

(declaim (ftype (function (cons) fixnum) count-nodes))
(defun count-nodes (tree)
  (let ((l (car tree)))
    (if l
        (the fixnum (+ 1 (count-nodes l) (count-nodes (cdr tree))))
        1)))

(defun run-range (depth from to)
  (declare (fixnum depth from to))
  (let ((sum 0))
    (declare (fixnum sum))
    (loop for i fixnum from from below to
          do (incf sum (count-nodes (build depth))))
    sum))

(defun arg (i default)
  (let ((s (nth i sb-ext:*posix-argv*)))
    (if s (parse-integer s) default)))

(defun main ()
  (weft-gcpause:start)
  (let* ((n (arg 1 10))
         (workers (max 1 (arg 2 1)))
         (min-depth 4)
         (max-depth (max n (+ min-depth 2))))
    (declare (fixnum n workers min-depth max-depth))
    (format t "stretch tree of depth ~D~C check: ~D~%" (1+ max-depth) #\Tab
            (count-nodes (build (1+ max-depth))))
    (let ((long-lived (build max-depth)))
      (loop for d fixnum from min-depth to max-depth by 2
            do (let* ((iters (ash 1 (+ (- max-depth d) min-depth)))
                      (total
                        (if (= workers 1)
                            (run-range d 0 iters)
                            (let ((threads
                                    (loop for w from 0 below workers
                                          collect (let ((from (floor (* iters w) workers))
                                                        (to (floor (* iters (1+ w)) workers))
                                                        (depth d))
                                                    (sb-thread:make-thread
                                                     (lambda () (run-range depth from to)))))))
                              (loop for th in threads sum (sb-thread:join-thread th))))))
                 (format t "~D~C trees of depth ~D~C check: ~D~%" iters #\Tab d #\Tab total)))
      (format t "long lived tree of depth ~D~C check: ~D~%" max-depth #\Tab
              (count-nodes long-lived))))
  (finish-output)
  (weft-gcpause:report))
