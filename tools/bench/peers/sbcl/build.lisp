;;; sbcl --non-interactive --load build.lisp SOURCE PACKAGE OUTPUT
;;; Compiles gcpause.lisp and SOURCE (fasls beside OUTPUT), loads both and saves an
;;; executable core whose toplevel runs PACKAGE::MAIN.
(destructuring-bind (source package output) (last sb-ext:*posix-argv* 3)
  (let ((dir (directory-namestring (merge-pathnames output)))
        (here (directory-namestring *load-truename*)))
    (flet ((compile-load (file fasl)
             (load (compile-file (merge-pathnames file here)
                                 :output-file (concatenate 'string dir fasl)))))
      (compile-load "gcpause.lisp" (format nil "gcpause-~A.fasl" package))
      (compile-load source (format nil "~A.fasl" package)))
    (let ((main (find-symbol "MAIN" (string-upcase package))))
      (sb-ext:save-lisp-and-die output :executable t
                                       :toplevel (lambda ()
                                                   (funcall main)
                                                   (sb-ext:exit :code 0))))))
