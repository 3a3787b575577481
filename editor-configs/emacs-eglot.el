;;; handinger-eglot.el --- handinger-mcp as an eglot server, with commands  -*- lexical-binding: t -*-
;; Load from init.el.  The key comes from Emacs's environment (HANDINGER_API_KEY).
;;   M-x handinger-task       start a task, show the answer
;;   M-x handinger-follow-up  continue the last task
;;   M-x handinger-get        fetch a task that was still running

(require 'eglot)

(add-to-list 'eglot-server-programs
             '((markdown-mode text-mode org-mode) . ("handinger-mcp" "--lsp")))

(defvar handinger-last-task nil "The taskId of the last Handinger result.")

(defun handinger--run (command argument)
  "Run the handinger COMMAND with ARGUMENT (a plist) and show its result."
  (let* ((server (or (eglot-current-server) (user-error "Start eglot first: M-x eglot")))
         (result (jsonrpc-request server :workspace/executeCommand
                                  (list :command command :arguments (vector argument)))))
    (setq handinger-last-task (plist-get result :taskId))
    (with-current-buffer (get-buffer-create "*handinger*")
      (erase-buffer)
      (insert (let ((text (plist-get result :outputText)))
                (if (string-empty-p text) (plist-get result :nextStep) text)))
      (display-buffer (current-buffer)))))

(defun handinger-task (input)
  "Hand INPUT to a Handinger worker."
  (interactive "sTask for Handinger: ")
  (handinger--run "handinger.createTask" (list :input input)))

(defun handinger-follow-up (input)
  "Send INPUT as a follow-up to the last task."
  (interactive "sFollow-up: ")
  (handinger--run "handinger.followUpTask" (list :taskId handinger-last-task :input input)))

(defun handinger-get (task-id)
  "Fetch the answer of TASK-ID."
  (interactive (list (read-string "taskId: " handinger-last-task)))
  (handinger--run "handinger.getTask" (list :taskId task-id :waitSeconds 50)))

(provide 'handinger-eglot)
;;; handinger-eglot.el ends here
