//! The command line through the real binary against the mock: each command,
//! human and --json output, and the documented exit codes.

use std::{process::Stdio, sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::{KEY, MockApi, Recorded, Reply, command, mock::slow_handler};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

async fn run(
    base_url: &str,
    key: Option<&str>,
    args: &[&str],
    cwd: Option<&std::path::Path>,
    stdin: &str,
) -> Run {
    let mut cmd = command(base_url, key, args);
    cmd.env_remove("HANDINGER_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("finishes within 30 s")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[tokio::test]
async fn task_prints_the_answer_and_attaches_files_from_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.csv"), b"a,b\n1,2\n").unwrap();
    let mock = MockApi::start().await;
    let out = run(
        &mock.base_url,
        Some(KEY),
        &[
            "create",
            "Analyse it",
            "--file",
            "data.csv",
            "--budget",
            "low",
            "--worker",
            "wrk_9",
        ],
        Some(dir.path()),
        "",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("Answer to: Analyse it"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Sources:\n1. Mock source"));
    let post = &mock.task_posts()[0];
    assert_eq!(post.field("budget").as_deref(), Some("low"));
    assert_eq!(post.field("workerId").as_deref(), Some("wrk_9"));
    assert_eq!(
        post.parts
            .iter()
            .find(|p| p.filename.is_some())
            .unwrap()
            .filename
            .as_deref(),
        Some("data.csv")
    );
    assert!(
        out.stderr.is_empty(),
        "no progress or logs when stderr is not a terminal: {}",
        out.stderr
    );
}

#[tokio::test]
async fn json_output_input_from_stdin_and_follow_up() {
    let mock = MockApi::start().await;
    let out = run(
        &mock.base_url,
        Some(KEY),
        &["create", "-", "--json"],
        None,
        "from a pipe\n",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let result = out.json();
    assert_eq!(result["outputText"], "Answer to: from a pipe\n");
    let task_id = result["taskId"].as_str().unwrap().to_owned();

    let out = run(
        &mock.base_url,
        Some(KEY),
        &["follow-up", &task_id, "and then?", "--json"],
        None,
        "",
    )
    .await;
    assert_eq!(out.code, 0);
    assert_eq!(out.json()["outputText"], "Answer to: and then?");
    assert_eq!(
        mock.task_posts()[1].json.as_ref().unwrap()["taskId"],
        json!(task_id)
    );
}

#[tokio::test]
async fn still_running_exits_3_and_get_fetches_it_later() {
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(2))).await;
    let out = run(
        &mock.base_url,
        Some(KEY),
        &["create", "slow", "--wait", "0.3", "--json"],
        None,
        "",
    )
    .await;
    assert_eq!(out.code, 3, "{} {}", out.stdout, out.stderr);
    assert_eq!(out.json()["status"], "running");
    let next = out.json()["nextStep"].as_str().unwrap().to_owned();
    assert!(next.contains("run `handinger-mcp get tsk_"), "{next}");

    // A new process knows the task only through the API.
    mock.set_handler(Arc::new(|r: &Recorded| match r.path.as_str() {
        p if p.starts_with("/api/tasks/tsk_") => Reply::json(
            200,
            json!({"task": {"id": "x", "status": "completed", "workerId": "wrk_mock"}}),
        ),
        p if p.starts_with("/api/workers/wrk_mock") => {
            Reply::json(200, crate::support::mock::worker_json(&Recorded::default()))
        }
        _ => Reply::error(404, "task not found"),
    }));
    let task_id = mock.task_posts()[0].field("taskId").unwrap();
    let out = run(&mock.base_url, Some(KEY), &["get", &task_id], None, "").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("Answer to: "), "{}", out.stdout);
}

#[tokio::test]
async fn failures_exit_1_with_the_message_and_usage_errors_exit_2() {
    let mock =
        MockApi::start_with(Arc::new(|_: &Recorded| Reply::error(404, "task not found"))).await;
    let out = run(&mock.base_url, Some(KEY), &["get", "tsk_missing"], None, "").await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("No task with taskId tsk_missing"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    let out = run(
        &mock.base_url,
        Some(KEY),
        &["get", "tsk_missing", "--json"],
        None,
        "",
    )
    .await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.json()["taskId"],
        serde_json::Value::Null,
        "a 404 names no work that may exist"
    );
    let error = out.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("HTTP 404"), "{error}");
    assert!(error.contains("`handinger-mcp create INPUT`"), "{error}");
    assert!(
        !error.contains("create_task") && !error.contains("get_task"),
        "{error}"
    );

    let out = run(&mock.base_url, None, &["create", "no key"], None, "").await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("HANDINGER_API_KEY"));

    let out = run(&mock.base_url, Some(KEY), &["create"], None, "").await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("<INPUT>"), "{}", out.stderr);
    // An empty input, given or read from an empty stdin, is a usage error too.
    let out = run(&mock.base_url, Some(KEY), &["create", ""], None, "").await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = run(&mock.base_url, Some(KEY), &["create", "-"], None, " \n").await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("stdin"), "{}", out.stderr);
    assert!(mock.task_posts().is_empty());
}

#[tokio::test]
async fn doctor_checks_key_reach_and_auth() {
    let mock = MockApi::start_with(Arc::new(|r: &Recorded| {
        if r.header("authorization") == Some(&format!("Bearer {KEY}")) {
            Reply::error(404, "task not found")
        } else {
            Reply::error(401, "invalid api key")
        }
    }))
    .await;
    let good = run(&mock.base_url, Some(KEY), &["doctor"], None, "").await;
    assert_eq!(good.code, 0, "{}", good.stdout);
    assert!(
        good.stdout.contains("the key was accepted"),
        "{}",
        good.stdout
    );
    assert!(good.stdout.contains("\"mcpServers\""));
    assert!(!good.stdout.contains(KEY), "the key is never printed");
    // The snippet carries what this setup needs: the non-default base URL, and the
    // workspace when one is configured (otherwise a hint to add one).
    let (binary_part, npx_part) = good
        .stdout
        .split_once("Or, with npx")
        .expect("an npx form beside the binary's");
    let json_in = |text: &str| -> serde_json::Value {
        serde_json::from_str(&text[text.find('{').unwrap()..=text.rfind('}').unwrap()]).unwrap()
    };
    let snippet = json_in(binary_part);
    let entry = &snippet["mcpServers"]["handinger"];
    assert!(
        entry["command"]
            .as_str()
            .unwrap()
            .ends_with("/handinger-mcp")
    );
    let npx = json_in(npx_part);
    let npx_entry = &npx["mcpServers"]["handinger"];
    assert_eq!(npx_entry["command"], "npx");
    assert_eq!(npx_entry["args"], json!(["-y", "handinger-mcp"]));
    assert_eq!(npx_entry["env"], entry["env"]);
    assert_eq!(
        entry["env"]["HANDINGER_BASE_URL"],
        format!("{}/", mock.base_url)
    );
    assert!(
        good.stdout.contains("add \"--workspace\""),
        "{}",
        good.stdout
    );
    assert!(good.stderr.is_empty(), "no log lines: {}", good.stderr);
    let ws = tempfile::tempdir().unwrap();
    let with_ws = run(
        &mock.base_url,
        Some(KEY),
        &["doctor", "--workspace", ws.path().to_str().unwrap()],
        None,
        "",
    )
    .await;
    let canonical = ws.path().canonicalize().unwrap().display().to_string();
    assert!(
        with_ws
            .stdout
            .contains(&format!("\"--workspace\",\n        \"{canonical}\"")),
        "{}",
        with_ws.stdout
    );

    let refused = run(
        &mock.base_url,
        Some("hdg_live_wrong"),
        &["doctor"],
        None,
        "",
    )
    .await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stdout.contains("FAIL") && refused.stdout.contains("key was refused"),
        "{}",
        refused.stdout
    );

    let missing = run(&mock.base_url, None, &["doctor"], None, "").await;
    assert_eq!(missing.code, 1);
    assert!(missing.stdout.contains("No Handinger API key"));

    let unreachable = run(
        "http://127.0.0.1:9",
        Some(KEY),
        &["doctor", "--retries", "0"],
        None,
        "",
    )
    .await;
    assert_eq!(unreachable.code, 1);
    assert!(
        unreachable.stdout.contains("could not reach"),
        "{}",
        unreachable.stdout
    );
}

#[tokio::test]
async fn progress_goes_to_stderr_when_it_is_a_terminal() {
    if !crate::support::has_system_tool("script") {
        return;
    }
    // The task runs for 1.5 s; meanwhile its worker has written a line.
    let slow = slow_handler(Duration::from_millis(1500));
    let mock = MockApi::start_with(std::sync::Arc::new(move |r: &crate::support::Recorded| {
        if r.method == "GET" && r.path.starts_with("/api/workers/") {
            return crate::support::Reply::json(
                200,
                serde_json::json!({"id": "wrk_mock", "status": "running",
                                   "output_text": "Drafting the summary"}),
            );
        }
        slow(r)
    }))
    .await;
    // `script` gives the command a pseudo-terminal, as a person's shell would.
    let inner = format!(
        "HANDINGER_BASE_URL={} HANDINGER_API_KEY={KEY} HANDINGER_STATE_DIR={} {} create 'watch me' \
         --progress-interval 0.2",
        mock.base_url,
        crate::support::state_dir().display(),
        crate::support::bin()
    );
    let out = tokio::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env_remove("HANDINGER_LOG")
        .output()
        .await
        .expect("script (util-linux) runs");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{seen}");
    assert!(
        seen.contains("is running ("),
        "progress shown on the terminal: {seen}"
    );
    assert!(
        seen.contains("): Drafting the summary"),
        "the worker's latest line on the status line: {seen}"
    );
    assert!(seen.contains("Answer to: watch me"));
}

#[tokio::test]
async fn started_bare_on_a_terminal_it_says_what_it_is_and_ctrl_d_exits_0() {
    use tokio::io::AsyncWriteExt;
    if !crate::support::has_system_tool("script") {
        return;
    }
    // `script` gives the server a pseudo-terminal; Ctrl-D (EOT) ends its input.
    let inner = format!("{} --base-url http://127.0.0.1:9", crate::support::bin());
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env_remove("HANDINGER_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdin = child.stdin.take().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stdin.write_all(b"\x04").await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits after Ctrl-D")
        .unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit 0 after Ctrl-D: {seen}");
    assert!(
        seen.contains("--help") && seen.contains("Ctrl-D quits"),
        "{seen}"
    );
}

#[tokio::test]
async fn completions_and_the_man_page_come_from_the_parser() {
    for (shell, marker) in [
        ("bash", "_handinger__mcp()"),
        ("zsh", "#compdef handinger-mcp"),
        ("fish", "complete -c handinger-mcp"),
    ] {
        let out = run(
            "http://127.0.0.1:9",
            None,
            &["completions", shell],
            None,
            "",
        )
        .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout.contains(marker),
            "{shell}: {}",
            &out.stdout[..200.min(out.stdout.len())]
        );
        assert!(
            out.stdout.contains("max-in-flight") && out.stdout.contains("follow-up"),
            "{shell}"
        );
    }
    let man = run("http://127.0.0.1:9", None, &["man"], None, "").await;
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH handinger-mcp"),
        "{}",
        &man.stdout[..200]
    );
    assert!(man.stdout.contains("HANDINGER_BASE_URL"));
    let bad = run(
        "http://127.0.0.1:9",
        None,
        &["completions", "tcsh"],
        None,
        "",
    )
    .await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("possible values"), "{}", bad.stderr);
}

#[tokio::test]
async fn empty_environment_values_count_as_unset() {
    // Hosts write "VAR": "" for "not configured": such a value is no value at all,
    // so neither an empty base URL nor an empty number is a usage error.
    for args in [&["schema"][..], &["get", "tsk_x", "--wait", "0"][..]] {
        let mut cmd = crate::support::command("", None, args);
        for name in [
            "HANDINGER_BASE_URL",
            "HANDINGER_WAIT",
            "HANDINGER_BUDGET",
            "HANDINGER_MAX_FILE_SIZE",
            "HANDINGER_WORKER_ID",
            "HANDINGER_ALLOW_HARD_LINKS",
        ] {
            cmd.env(name, " ");
        }
        let out = cmd.output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(
            out.status.code(),
            Some(2),
            "{args:?}: a usage error: {stderr}"
        );
        if args[0] == "get" {
            // It got as far as the missing key: the settings were accepted.
            assert!(stderr.contains("No Handinger API key"), "{stderr}");
        }
    }
}

#[tokio::test]
async fn handinger_workspace_is_a_list_and_a_flag_is_one_folder() {
    let mock =
        MockApi::start_with(Arc::new(|_: &Recorded| Reply::error(404, "task not found"))).await;
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let list = format!("{}:{}", one.path().display(), two.path().display());
    let mut cmd = crate::support::command(&mock.base_url, Some(KEY), &["doctor"]);
    cmd.env("HANDINGER_WORKSPACE", &list);
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for dir in [one.path(), two.path()] {
        let shown = dir.canonicalize().unwrap().display().to_string();
        assert!(
            stdout.contains(&format!("\"{shown}\"")),
            "{shown} not in {stdout}"
        );
    }
    // As a flag, the same text is one folder (which does not exist, so the snippet
    // keeps it as given).
    let out = crate::support::command(&mock.base_url, Some(KEY), &["doctor", "--workspace", &list])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("\"{list}\"")), "{stdout}");
}

/// A log filter that does not parse is reported, and the server still starts
/// (logging at info); a valid one with targets is taken as given.
#[tokio::test]
async fn a_log_filter_that_does_not_parse_is_reported_not_fatal() {
    let mock = MockApi::start().await;
    let bad = command(&mock.base_url, Some(KEY), &[])
        .env("HANDINGER_LOG", "[span{field=1}]")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("log filter \"[span{field=1}]\" not understood"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stdin closed before any message"),
        "info still logs: {stderr}"
    );

    let quiet = command(&mock.base_url, Some(KEY), &[])
        .env("HANDINGER_LOG", "warn,handinger_mcp=error")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(quiet.status.success());
    assert_eq!(
        String::from_utf8_lossy(&quiet.stderr),
        "",
        "nothing at info"
    );
}

/// A closed stdout never changes the exit status: 100 runs of
/// `task … --wait 0 | head -1` under pipefail all exit 3 (still running).
#[tokio::test]
async fn a_closed_stdout_never_changes_the_exit_code() {
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(20))).await;
    let script = format!(
        "set -o pipefail; {} create 'long job' --wait 0 | head -c 1 >/dev/null",
        crate::support::bin()
    );
    let mut codes = Vec::new();
    for _ in 0..10 {
        let batch = (0..10).map(|_| {
            let mut cmd = command(&mock.base_url, Some(KEY), &[]);
            cmd.env_remove("HANDINGER_LOG");
            let cmd = cmd.as_std();
            let mut bash = tokio::process::Command::new("bash");
            bash.args(["-c", &script])
                .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (name, _) in std::env::vars() {
                if name.starts_with("HANDINGER_") && cmd.get_envs().all(|(k, _)| k != name.as_str())
                {
                    bash.env_remove(name);
                }
            }
            async move { bash.status().await.unwrap().code() }
        });
        codes.extend(futures_util::future::join_all(batch).await);
    }
    assert_eq!(codes.len(), 100);
    assert!(codes.iter().all(|c| *c == Some(3)), "{codes:?}");
}

/// Every refusal before sending has its own exit code, and nothing is sent:
/// a blank input or a taskId that is not an id is a usage error (2), a refused
/// file is 4; an API failure stays 1.
#[tokio::test]
async fn refusals_before_sending_have_their_own_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockApi::start().await;
    let cases: [(&[&str], &str, i32, &str); 7] = [
        (&["create", ""], "", 2, "empty"),
        (&["create", "   "], "", 2, "empty"),
        (&["create", "\t\n"], "", 2, "empty"),
        (&["create", "-"], "  \n\t", 2, "stdin"),
        (&["follow-up", "tsk_x", "  "], "", 2, "empty"),
        (&["get", ".."], "", 2, "not a task id"),
        (
            &["create", "read it", "--file", "missing.txt"],
            "",
            4,
            "no such file",
        ),
    ];
    for (args, stdin, code, needle) in cases {
        let out = run(&mock.base_url, Some(KEY), args, Some(dir.path()), stdin).await;
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
    assert!(mock.requests().is_empty(), "nothing was sent");
    let help = run(&mock.base_url, None, &["--help"], None, "").await;
    assert!(
        help.stdout.contains("4 a file was refused"),
        "{}",
        help.stdout
    );
}

/// `serve` reads its own settings the same way: an empty variable is unset, and
/// no help text shows a variable's value.
#[tokio::test]
async fn serve_treats_empty_variables_as_unset_and_help_shows_no_values() {
    let mut cmd = command("", None, &["serve", "--http", "127.0.0.1:0"]);
    for name in [
        "HANDINGER_HTTP_MAX_BODY",
        "HANDINGER_HTTP_HEADER_TIMEOUT",
        "HANDINGER_HTTP_MAX_CONNECTIONS",
        "HANDINGER_SHUTDOWN_GRACE",
        "HANDINGER_HTTP_ALLOWED_HOSTS",
    ] {
        cmd.env(name, "");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let listening = tokio::time::timeout(Duration::from_secs(10), async {
        use tokio::io::AsyncBufReadExt;
        while stderr.read_line(&mut seen).await.unwrap() > 0 {
            if seen.contains("listening on") {
                return;
            }
        }
    })
    .await;
    let _ = child.kill().await;
    assert!(listening.is_ok(), "serve did not start: {seen}");

    for args in [&["--help"][..], &["serve", "--help"], &["create", "--help"]] {
        let mut cmd = command("https://base.example.invalid", None, args);
        cmd.env("HANDINGER_HTTP_MAX_BODY", "12345MiB")
            .env("HANDINGER_WORKER_ID", "wrk_secretvalue")
            .env(
                "HANDINGER_HTTP_ALLOWED_ORIGINS",
                "https://origin.example.invalid",
            );
        let out = cmd.output().await.unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        for value in [
            "12345MiB",
            "wrk_secretvalue",
            "origin.example.invalid",
            "base.example.invalid",
        ] {
            assert!(!help.contains(value), "{args:?} shows {value}: {help}");
        }
    }
}

/// Run through npm or npx, `doctor` prints the npx form: the binary's own path
/// is inside node_modules or npx's cache, which an update replaces.
#[tokio::test]
async fn doctor_under_npm_or_npx_prints_the_npx_form_not_a_cache_path() {
    let mock = MockApi::start().await;
    let root = tempfile::tempdir().unwrap();
    for folder in [
        "project/node_modules/handinger-mcp-linux-x64/bin",
        ".npm/_npx/3f2a/node_modules/handinger-mcp-linux-x64/bin",
    ] {
        let dir = root.path().join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("handinger-mcp");
        std::fs::copy(crate::support::bin(), &copy).unwrap();
        let mut cmd = crate::support::command_for(&copy, &mock.base_url, Some(KEY), &["doctor"]);
        let out = cmd.output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("node_modules"), "{folder}: {stdout}");
        assert!(!stdout.contains("_npx"), "{folder}: {stdout}");
        assert!(
            stdout.contains("\"command\": \"npx\""),
            "{folder}: {stdout}"
        );
        assert!(stdout.contains("started through npm"), "{stdout}");
    }
}

/// Every subcommand has its man page, and each page names every flag that
/// subcommand takes (its own and the global settings).
#[tokio::test]
async fn man_pages_cover_every_subcommand_and_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let written = run(
        "http://127.0.0.1:9",
        None,
        &["man", "--out-dir", out_dir],
        None,
        "",
    )
    .await;
    assert_eq!(written.code, 0, "{}", written.stderr);
    let mut command = handinger_mcp::cli_command().disable_help_subcommand(true);
    command.build();
    let mut pages = vec![("handinger-mcp.1".to_owned(), command.clone())];
    for sub in command.get_subcommands() {
        pages.push((format!("handinger-mcp-{}.1", sub.get_name()), sub.clone()));
    }
    assert!(pages.len() >= 8, "{} pages", pages.len());
    for (file, command) in pages {
        let page = std::fs::read_to_string(dir.path().join(&file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                // roff escapes the dashes.
                let flag = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(page.contains(&flag), "{file} lacks {flag}");
            }
        }
    }
    // One page on stdout, by name.
    let task = run("http://127.0.0.1:9", None, &["man", "create"], None, "").await;
    assert_eq!(task.code, 0);
    assert!(
        task.stdout.contains("handinger\\-mcp\\-create"),
        "{}",
        &task.stdout[..300]
    );
    assert!(task.stdout.contains("\\-\\-json"));
    let unknown = run("http://127.0.0.1:9", None, &["man", "nope"], None, "").await;
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("follow-up"), "{}", unknown.stderr);
}

/// The completion script as a shell loads it, asked what completes `line`.
async fn bash_completes(script: &str, line: &str) -> Vec<String> {
    let words: Vec<String> = if line.ends_with(' ') {
        line.split_whitespace()
            .map(str::to_owned)
            .chain([String::new()])
            .collect()
    } else {
        line.split_whitespace().map(str::to_owned).collect()
    };
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let driver = format!(
        "source '{script}'\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE='{line}'\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         fn=$(complete -p handinger-mcp | sed -E 's/.* -F ([^ ]+) .*/\\1/')\n\
         \"$fn\" handinger-mcp '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = tokio::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Bash's real completion function, driven with COMP_WORDS: subcommands, and
/// each subcommand's own options (clap_complete's script for a hyphenated name
/// never completed those; the script is repaired).
#[tokio::test]
async fn bash_completion_completes_subcommand_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("handinger-mcp.bash");
    let out = run(
        "http://127.0.0.1:9",
        None,
        &["completions", "bash"],
        None,
        "",
    )
    .await;
    std::fs::write(&script, &out.stdout).unwrap();
    let script = script.to_str().unwrap();
    let cases: [(&str, &[&str]); 6] = [
        ("handinger-mcp cr", &["create"]),
        ("handinger-mcp create --js", &["--json"]),
        ("handinger-mcp follow-up --fi", &["--file"]),
        ("handinger-mcp serve --http-tok", &["--http-tokens-file"]),
        ("handinger-mcp get tsk_x --wa", &["--wait"]),
        ("handinger-mcp completions ", &["bash", "fish", "zsh"]),
    ];
    for (line, expected) in cases {
        let got = bash_completes(script, line).await;
        for want in expected {
            assert!(got.iter().any(|g| g == want), "{line:?} gave {got:?}");
        }
    }
    // Only the subcommand's own: `get` takes no --file (--files-field is a
    // setting every command takes).
    let get = bash_completes(script, "handinger-mcp get --fi").await;
    assert!(!get.iter().any(|g| g == "--file"), "{get:?}");
    assert!(get.iter().any(|g| g == "--files-field"), "{get:?}");
}

/// fish's own completion engine (`complete -C`) on the fish script, where fish
/// runs (.ci/run installs it when CI=true); zsh's script is checked for the
/// same per-subcommand options.
#[tokio::test]
async fn fish_and_zsh_completions_know_each_subcommands_options() {
    let zsh = run(
        "http://127.0.0.1:9",
        None,
        &["completions", "zsh"],
        None,
        "",
    )
    .await;
    let create_arm = zsh.stdout.split("(create)").nth(1).expect("a create arm");
    let create_arm = &create_arm[..create_arm.find(";;").unwrap()];
    assert!(
        create_arm.contains("'--json[") && create_arm.contains("--file"),
        "{create_arm}"
    );
    let fish_script = run(
        "http://127.0.0.1:9",
        None,
        &["completions", "fish"],
        None,
        "",
    )
    .await;
    if std::process::Command::new("fish")
        .arg("--version")
        .output()
        .is_err()
    {
        crate::support::skip("fish is missing: apt-get install fish (.ci/run does when CI=true)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("handinger-mcp.fish");
    std::fs::write(&script, &fish_script.stdout).unwrap();
    for (line, want) in [
        ("handinger-mcp create --js", "--json"),
        ("handinger-mcp serve --http-tok", "--http-tokens-file"),
        ("handinger-mcp follow", "follow-up"),
    ] {
        let out = tokio::process::Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!("source {}; complete -C '{line}'", script.display()))
            .env("HOME", dir.path())
            .output()
            .await
            .unwrap();
        let got = String::from_utf8_lossy(&out.stdout);
        assert!(
            got.lines().any(|l| l.split('\t').next() == Some(want)),
            "{line:?} gave {got}"
        );
    }
}
