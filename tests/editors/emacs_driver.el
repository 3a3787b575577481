;;; emacs_driver.el --- drive the eglot snippet in Emacs, headless  -*- lexical-binding: t -*-
;; Run as: emacs -Q --batch -l SNIPPET -l emacs_driver.el, from a git workspace
;; holding notes.txt, with HANDINGER_TEST_BIN, the mock's HANDINGER_BASE_URL, a key
;; and HANDINGER_REPORT in the environment.  Writes what a user would have seen.

(require 'json)
(defvar driver-messages nil)
(advice-add 'message :around
            (lambda (orig format &rest args)
              (when format (push (apply #'format-message format args) driver-messages))
              (apply orig format args)))

(setq handinger-command (list (getenv "HANDINGER_TEST_BIN") "--lsp"))
(setq eglot-server-programs `((text-mode . ,handinger-command)))

(defun driver-wait (predicate seconds)
  "Run the event loop until PREDICATE holds or SECONDS pass; non-nil if it held."
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (funcall predicate)))

(defun driver-result ()
  (let ((buffer (get-buffer "*handinger*")))
    (and buffer (with-current-buffer buffer (buffer-string)))))

(defun driver-next-result (before seconds)
  "Wait for *handinger* to show something other than BEFORE."
  (driver-wait (lambda () (let ((now (driver-result))) (and now (not (equal now before))))) seconds))

(defvar report nil)
(defun note (key value) (push (cons key value) report))
(note 'emacs_version emacs-version)
(note 'eglot_file (locate-library "eglot"))

(condition-case failure
    (progn
      (find-file "notes.txt")
      (text-mode)
      (eglot '(text-mode) (project-current) 'eglot-lsp-server handinger-command "text")
      (note 'connected (and (driver-wait #'eglot-current-server 20) t))
      ;; 1. A task longer than 10 s: asynchronous, no timeout, progress shown.
      (let ((started (float-time)))
        (handinger-task "slow brief")
        (note 'returned_at_once (< (- (float-time) started) 2))
        (note 'long_done (driver-next-result nil 40))
        (note 'long_seconds (- (float-time) started)))
      (note 'long_result (driver-result))
      (note 'mode (with-current-buffer "*handinger*" (symbol-name major-mode)))
      (note 'wrapped (with-current-buffer "*handinger*" visual-line-mode))
      (note 'after_long handinger-last-task)
      ;; 2. A follow-up.
      (let ((before (driver-result)))
        (handinger-follow-up "and then?")
        (note 'follow_up_done (driver-next-result before 20)))
      ;; 3. The current buffer's file attached.
      (let ((before (driver-result)))
        (handinger-task-file "summarise this file")
        (note 'attach_done (driver-next-result before 20)))
      ;; 4. An error: one readable line, and its taskId remembered.
      (handinger-task "fail please")
      (note 'error_seen (driver-wait (lambda () (seq-find (lambda (m) (string-match-p "HTTP 500" m))
                                                          driver-messages))
                                     20))
      (note 'after_error handinger-last-task)
      ;; 5. Cancelling a running command.
      (handinger-task "slow, then cancelled")
      (driver-wait (lambda () nil) 1)
      (handinger-cancel)
      (note 'cancelled (driver-wait (lambda () (seq-find (lambda (m) (string-match-p "cancelled" m))
                                                         driver-messages))
                                    5))
      ;; 6. A missing binary: one clear line.
      (let ((handinger-command '("/nonexistent/handinger-mcp" "--lsp")))
        (note 'missing_binary (condition-case error (progn (handinger-task "x") nil)
                                (user-error (error-message-string error))))))
  (error (note 'driver_error (format "%S" failure))))

(note 'messages (vconcat (reverse driver-messages)))
(with-temp-file (getenv "HANDINGER_REPORT")
  (insert (json-encode report)))
(kill-emacs 0)
