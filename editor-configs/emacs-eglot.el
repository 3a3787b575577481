;;; handinger-eglot.el --- handinger-mcp as an eglot server, with commands  -*- lexical-binding: t -*-
;; Load from init.el (Emacs 28 with the eglot package from ELPA, or Emacs 29+ with
;; the built-in one).  The key comes from Emacs's environment (HANDINGER_API_KEY),
;; or set HANDINGER_API_KEY_FILE there.  Start the server in a project buffer
;; with M-x eglot, then:
;;   M-x handinger-task       start a task; the answer opens in *handinger*
;;   M-x handinger-task-file  the same, attaching the current buffer's file
;;                            (with C-u, a file you choose)
;;   M-x handinger-follow-up  continue the last task
;;   M-x handinger-get        fetch a task that was still running
;;   M-x handinger-cancel     stop waiting for the running command
;; Commands run asynchronously: Emacs never freezes and no timeout applies,
;; however long the task.  Progress shows in the mode line and the echo area.
;; The last taskId is remembered even when a call fails.

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)

(defvar handinger-command '("handinger-mcp" "--lsp")
  "The server command: the binary (a name on `exec-path', or a path) and its arguments.")

(add-to-list 'eglot-server-programs
             `((markdown-mode text-mode org-mode) . ,handinger-command))

(defvar handinger-last-task nil "The taskId of the last Handinger result or error.")
(defvar handinger--counter 0 "Commands sent so far, for work-done tokens.")
(defvar handinger--running nil "(SERVER . REQUEST-ID) of the command in flight.")
(defvar handinger-mode-line "" "Progress of the running command, for the mode line.")
(put 'handinger-mode-line 'risky-local-variable t)
(unless (memq 'handinger-mode-line global-mode-string)
  (setq global-mode-string (append global-mode-string '(handinger-mode-line))))

(defun handinger--server ()
  "The eglot server of this buffer, or a clear error."
  (unless (executable-find (car handinger-command))
    (user-error "Handinger: %s was not found; install handinger-mcp or set `handinger-command'"
                (car handinger-command)))
  (or (eglot-current-server)
      (user-error "Handinger: no server here; run M-x eglot in a project buffer first")))

(defun handinger--remember (task-id)
  (when (and (stringp task-id) (not (string-empty-p task-id)))
    (setq handinger-last-task task-id)))

(defun handinger--progress (text)
  (setq handinger-mode-line (if text (concat " [" text "]") ""))
  (force-mode-line-update t)
  (when text (message "%s" text)))

;; Work-done progress of our own commands ($/progress with our tokens).
(cl-defmethod eglot-handle-notification :before
  (_server (_method (eql $/progress)) &key token value &allow-other-keys)
  (when (and (stringp token) (string-prefix-p "handinger-" token))
    (let ((kind (plist-get value :kind)) (text (plist-get value :message)))
      (handinger--progress (unless (equal kind "end") (concat "Handinger: " (or text "working")))))))

(defun handinger--insert-result (result)
  (let ((cut (plist-get result :truncated)))
    (insert (let ((text (plist-get result :outputText)))
              (if (string-empty-p text) "(no answer yet)" text))
            "\n")
    (when (and cut (< (plist-get cut :shownChars) (plist-get cut :totalChars)))
      (insert (format "\n[Answer cut: %d of %d characters shown. The whole answer: %s]\n"
                      (plist-get cut :shownChars) (plist-get cut :totalChars)
                      (or (plist-get cut :fullAnswerUrl) (plist-get result :url) "the dashboard"))))
    (let ((sources (plist-get result :sources)) (n 0))
      (when (> (length sources) 0)
        (insert "\nSources:\n")
        (seq-doseq (source sources)
          (insert (format "%d. %s %s\n" (cl-incf n) (or (plist-get source :title) "")
                          (plist-get source :url))))))
    (let ((files (plist-get result :files)))
      (when (> (length files) 0)
        (insert "\nFiles produced:\n")
        (seq-doseq (file files)
          (insert (format "- %s (%s) %s\n" (or (plist-get file :filename) "(unnamed)")
                          (or (plist-get file :mediaType) "unknown type") (plist-get file :url))))))
    (insert (format "\ntaskId: %s | status: %s%s\n%s\n"
                    (plist-get result :taskId) (plist-get result :status)
                    (if (plist-get result :url) (concat " | dashboard: " (plist-get result :url)) "")
                    (plist-get result :nextStep)))))

(defun handinger--show (result)
  (handinger--remember (plist-get result :taskId))
  (with-current-buffer (get-buffer-create "*handinger*")
    (let ((inhibit-read-only t))
      (erase-buffer)
      (handinger--insert-result result)
      (goto-char (point-min)))
    (if (fboundp 'markdown-mode) (markdown-mode) (text-mode))
    (visual-line-mode 1)
    (setq buffer-read-only t)
    (display-buffer (current-buffer))))

(defun handinger--run (command argument)
  "Send COMMAND with ARGUMENT (a plist) and show its result when it comes."
  (let* ((server (handinger--server))
         (token (format "handinger-%d" (cl-incf handinger--counter)))
         (done (lambda () (setq handinger--running nil) (handinger--progress nil))))
    (handinger--progress "Handinger: sending")
    ;; jsonrpc numbers requests one after the other: this one's id, for cancelling.
    (let ((id (and (fboundp 'jsonrpc--next-request-id)
                   (1+ (jsonrpc--next-request-id server)))))
      (jsonrpc-async-request
               server :workspace/executeCommand
               (list :command command :arguments (vector argument) :workDoneToken token)
               :success-fn (lambda (result) (funcall done) (handinger--show result))
               :error-fn (lambda (error)
                           (funcall done)
                           (let ((text (replace-regexp-in-string
                                        "\n" " " (or (plist-get error :message) "failed"))))
                             (when (string-match "tsk_[[:alnum:]]+" text)
                               (handinger--remember (match-string 0 text)))
                             (message "Handinger: %s" text)))
               ;; Tasks take minutes: no timeout (jsonrpc's default is 10 s).
               :timeout nil)
      (setq handinger--running (cons server id)))))

(defun handinger-task (input)
  "Hand INPUT to a Handinger worker."
  (interactive "sTask for Handinger: ")
  (handinger--run "handinger.createTask" (list :input input)))

(defun handinger-task-file (input &optional file)
  "Hand INPUT to a Handinger worker, attaching FILE (the current buffer's file;
with a prefix argument, one you choose)."
  (interactive (list (read-string "Task for Handinger: ")
                     (if current-prefix-arg (read-file-name "Attach: ") (buffer-file-name))))
  (let ((file (or file (buffer-file-name) (user-error "Handinger: this buffer has no file"))))
    (handinger--run "handinger.createTask"
                    (list :input input :files (vector (expand-file-name file))))))

(defun handinger-follow-up (input)
  "Send INPUT as a follow-up to the last task."
  (interactive "sFollow-up: ")
  (handinger--run "handinger.followUpTask" (list :taskId handinger-last-task :input input)))

(defun handinger-get (task-id)
  "Fetch the answer of TASK-ID."
  (interactive (list (read-string "taskId: " handinger-last-task)))
  (handinger--run "handinger.getTask" (list :taskId task-id :waitSeconds 50)))

(defun handinger-cancel ()
  "Stop waiting for the running command ($/cancelRequest); the task goes on."
  (interactive)
  (if (not (cdr handinger--running))
      (message "Handinger: nothing is running")
    (jsonrpc-notify (car handinger--running) :$/cancelRequest
                    (list :id (cdr handinger--running)))))

(provide 'handinger-eglot)
;;; handinger-eglot.el ends here
