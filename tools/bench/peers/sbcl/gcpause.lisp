;;; GC figures for the SBCL peers: counts collections through *AFTER-GC-HOOKS* and
;;; takes each collection's pause as the growth of SB-EXT:*GC-RUN-TIME* since the
;;; previous hook call (SBCL stops the world for the whole collection).
(defpackage :weft-gcpause (:use :cl) (:export #:start #:report))
(in-package :weft-gcpause)

(defvar *count* 0)
(defvar *seen* 0)
(defvar *base* 0)
(defvar *worst* 0)

(defun after-gc ()
  (let ((now sb-ext:*gc-run-time*))
    (incf *count*)
    (setf *worst* (max *worst* (- now *seen*))
          *seen* now)))

(defun start ()
  (setf *count* 0 *worst* 0 *base* sb-ext:*gc-run-time* *seen* sb-ext:*gc-run-time*)
  (pushnew 'after-gc sb-ext:*after-gc-hooks*))

(defun report ()
  (let ((ms (/ internal-time-units-per-second 1000.0d0)))
    (format *error-output* "gc-count: ~D~%total-pause-ms: ~,3F~%max-pause-ms: ~,3F~%"
            *count* (/ (- sb-ext:*gc-run-time* *base*) ms) (/ *worst* ms)))
  (finish-output *error-output*))
