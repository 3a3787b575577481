//! The trust boundaries, tried as an attacker would: files swapped under the
//! check, redirects, echoed keys, roots that name nothing usable, numbers that
//! overflow, and a shutdown in the middle of an upload.

use std::{
    path::Path,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::{RoleClient, service::RunningService};
use serde_json::json;

use crate::support::{
    KEY, MockApi, Reply, assert_tool_error, call, command, connect,
    mock::default_handler,
    raw::RawSession,
    roots::{RootsClient, create_with_files},
    swap::keep_exchanging,
    text,
};

/// Send `count` create_task calls attaching `file`, fifty at a time (the server
/// stops reading while its answers go unread), and read every answer.
async fn file_calls(session: &mut RawSession, count: i64, file: &str) -> Vec<serde_json::Value> {
    let mut answers = Vec::new();
    for batch in (1..=count).collect::<Vec<_>>().chunks(50) {
        for id in batch {
            session
                .send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                    "params": {"name": "create_task", "arguments": {"input": "x", "files": [file]}}}))
                .await;
        }
        answers.extend(
            session
                .lines_until_responses(batch.len(), Duration::from_secs(60))
                .await,
        );
    }
    answers
}

#[tokio::test]
async fn through_the_server_a_swapped_file_or_folder_never_uploads_outside_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(root.join("a.txt"), "inside bytes").unwrap();
    std::fs::write(root.join("sub/b.txt"), "inside bytes").unwrap();
    std::fs::write(outside.join("a.txt"), "OUTSIDE SECRET").unwrap();
    std::fs::write(outside.join("b.txt"), "OUTSIDE SECRET").unwrap();
    std::os::unix::fs::symlink(outside.join("a.txt"), root.join("file-swap")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("dir-swap")).unwrap();
    let mock = MockApi::start().await;
    for (a, b, given) in [
        ("a.txt", "file-swap", "a.txt"),
        ("sub", "dir-swap", "sub/b.txt"),
    ] {
        let mut session = RawSession::spawn(command(
            &mock.base_url,
            Some(KEY),
            &[
                "--workspace",
                root.to_str().unwrap(),
                "--log-level",
                "error",
            ],
        ));
        session.initialize("2025-11-25").await;
        let stop = Arc::new(AtomicBool::new(false));
        keep_exchanging(root.clone(), a, b, stop.clone());
        let answers = file_calls(&mut session, 1000, given).await;
        stop.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let succeeded = answers
            .iter()
            .filter(|a| a["result"]["isError"] == false)
            .count();
        eprintln!("{given}: {succeeded} of 1000 calls uploaded");
        assert!(succeeded > 0, "the race ran");
    }
    let parts: Vec<u64> = mock
        .task_posts()
        .iter()
        .flat_map(|r| {
            r.parts
                .iter()
                .filter(|p| p.filename.is_some())
                .map(|p| p.len)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!parts.is_empty());
    assert!(
        parts.iter().all(|len| *len == "inside bytes".len() as u64),
        "{} of {} uploads carried the outside file",
        parts.iter().filter(|len| **len != 12).count(),
        parts.len()
    );
}

/// The pid's process ended within `limit`.
async fn exits_within(session: &mut RawSession, limit: Duration) -> bool {
    tokio::time::timeout(limit, session.child.wait())
        .await
        .is_ok()
}

#[tokio::test]
async fn a_fifo_swapped_in_never_blocks_the_server() {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path().to_owned();
    std::fs::write(root.join("f"), "plain").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("p"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    keep_exchanging(root.clone(), "f", "p", stop.clone());
    let mock = MockApi::start().await;
    let mut session = RawSession::spawn(command(
        &mock.base_url,
        Some(KEY),
        &["--workspace", root.to_str().unwrap()],
    ));
    session.initialize("2025-11-25").await;
    // Every call is answered (a blocked open would leave one unanswered forever),
    // and pings in between are answered at once.
    let answers = file_calls(&mut session, 1000, "f").await;
    assert!(
        answers.iter().all(|a| a.get("result").is_some()),
        "every call answered"
    );
    for ping in 0..5 {
        let started = Instant::now();
        session.request(10_000 + ping, "ping", json!({})).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "ping took {:?}",
            started.elapsed()
        );
    }
    stop.store(true, Ordering::Relaxed);
    let pid = session.child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(
        exits_within(&mut session, Duration::from_secs(5)).await,
        "SIGTERM ended the server"
    );
    for recorded in mock.task_posts() {
        for part in recorded.parts.iter().filter(|p| p.filename.is_some()) {
            assert_eq!(part.len, 5, "only the plain file was ever sent");
        }
    }
}

/// A second loopback server that must never see a request.
async fn other_host() -> MockApi {
    MockApi::start().await
}

#[tokio::test]
async fn redirects_never_carry_the_key_away_or_resend_a_task() {
    let elsewhere = other_host().await;
    let mock = MockApi::start().await;
    let client = connect(&mock, &[]).await;

    // A POST redirected to another host: not followed; the error names the
    // Location and the taskId.
    let away = format!("{}/api/tasks", elsewhere.base_url);
    mock.set_handler(Arc::new(move |_| {
        Reply::text(307, "").header("location", &away)
    }));
    let result = call(&client, "create_task", json!({"input": "x"})).await;
    assert_tool_error(
        &result,
        &["redirect (HTTP 307)", &elsewhere.base_url, "taskId is tsk_"],
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the other host saw a request"
    );

    // A POST redirected to the same host: sent once, never again.
    mock.set_handler(Arc::new(|_| {
        Reply::text(307, "").header("location", "/api/tasks")
    }));
    let before = mock.task_posts().len();
    let result = call(&client, "create_task", json!({"input": "loop"})).await;
    assert_tool_error(&result, &["redirect (HTTP 307)", "never sent twice"]);
    assert_eq!(mock.task_posts().len(), before + 1, "one POST, no re-send");

    // A 302 is an error too, never a GET whose answer passes for the result.
    mock.set_handler(Arc::new(|request| {
        if request.method == "POST" {
            Reply::text(302, "").header("location", "/api/fake")
        } else {
            default_handler()(request)
        }
    }));
    let result = call(&client, "create_task", json!({"input": "x"})).await;
    assert_tool_error(&result, &["redirect (HTTP 302)"]);
    assert!(mock.requests().iter().all(|r| r.path != "/api/fake"));

    // A GET follows a redirect within the API's origin, but not off it.
    let off = format!("{}/api/tasks/tsk_x", elsewhere.base_url);
    mock.set_handler(Arc::new(move |request| match request.path.as_str() {
        "/api/tasks/tsk_moved" => Reply::text(301, "").header("location", "/api/tasks/tsk_here"),
        "/api/tasks/tsk_here" => Reply::json(200, json!({"task": {"id": "tsk_here", "status": "running", "url": "https://v3.handinger.com/worker/wrk_1"}})),
        _ => Reply::text(302, "").header("location", &off),
    }));
    let followed = call(
        &client,
        "get_task",
        json!({"taskId": "tsk_moved", "waitSeconds": 0}),
    )
    .await;
    assert_eq!(followed.is_error, Some(false), "{}", text(&followed));
    let refused = call(
        &client,
        "get_task",
        json!({"taskId": "tsk_off", "waitSeconds": 0}),
    )
    .await;
    assert_tool_error(&refused, &["leads away from the API's origin"]);
    assert!(
        elsewhere.requests().is_empty(),
        "the key never left the API's origin"
    );
    client.cancel().await.unwrap();
}

/// A server whose base URL carries a user name and `password`, initialized.
async fn session_with_password(mock: &MockApi, password: &str) -> RawSession {
    let with_userinfo = mock
        .base_url
        .replace("http://", &format!("http://admin:{password}@"));
    let mut session = RawSession::spawn(command(&with_userinfo, Some(KEY), &["--retries", "0"]));
    session.initialize("2025-11-25").await;
    session
}

/// The whole answer to one create_task, as JSON text.
async fn create_task_answer(session: &mut RawSession) -> String {
    tool_answer(
        session,
        1,
        json!({"name": "create_task", "arguments": {"input": "x"}}),
    )
    .await
}

/// The whole answer to one get_task of a task the mock does not know.
async fn get_task_answer(session: &mut RawSession) -> String {
    tool_answer(
        session,
        2,
        json!({"name": "get_task", "arguments": {"taskId": "tsk_a"}}),
    )
    .await
}

async fn tool_answer(session: &mut RawSession, id: i64, params: serde_json::Value) -> String {
    session.request(id, "tools/call", params).await.to_string()
}

#[tokio::test]
async fn the_key_and_base_url_userinfo_never_reach_results_or_logs() {
    let mock = MockApi::start().await;
    mock.set_handler(Arc::new(|request| {
        let echoed = request
            .header("authorization")
            .unwrap_or_default()
            .to_owned();
        Reply::error(400, &format!("bad request with {echoed}"))
    }));
    let mut session = session_with_password(&mock, "pa55word-xyz").await;
    let shown = create_task_answer(&mut session).await;
    assert!(
        shown.contains("bad request with Bearer [redacted]"),
        "{shown}"
    );
    // A refused connection echoes the URL: with its userinfo removed.
    drop(mock);
    let refused = get_task_answer(&mut session).await;
    session.close_stdin();
    let stderr = session.stderr().await;
    for text in [&shown, &refused, &stderr] {
        assert!(!text.contains(KEY), "the key leaked: {text}");
        assert!(
            !text.contains("pa55word-xyz"),
            "the base URL's password leaked: {text}"
        );
    }
}

/// The key spelled every way JSON allows: as is, with `\uXXXX` escapes (one
/// character, several, all), in an answer and in an error, and the base URL's
/// percent-encoded password decoded in an answer. None of it reaches the client.
#[tokio::test]
async fn the_key_is_masked_whatever_json_spelling_echoes_it() {
    fn escaped(text: &str, every: usize) -> String {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                if i % every == 0 {
                    format!("\\u{:04x}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect()
    }
    let spellings: Vec<String> = vec![
        KEY.to_owned(),
        escaped(KEY, 1),
        escaped(KEY, 3),
        escaped(KEY, 100),
        escaped("p@ss/word-xyz", 2),
    ];
    let echo = spellings.join(" | ");
    let mock = MockApi::start().await;
    let body = format!(
        r#"{{"id":"wrk_1","status":"completed","output_text":"echo: {echo}",
            "sources":[{{"id":"s","title":"{echo}","type":"url","url":"https://x.example/{}"}}],
            "files":[],"usage":{{"credits":1}}}}"#,
        escaped(KEY, 2)
    );
    let answer = body.clone();
    mock.set_handler(Arc::new(move |request| {
        if request.method == "POST" {
            Reply::Http {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: answer.clone(),
                delay: Duration::ZERO,
            }
        } else {
            Reply::Http {
                status: 400,
                headers: vec![("content-type".into(), "application/json".into())],
                body: format!(r#"{{"error":"bad key {}"}}"#, escaped(KEY, 2)),
                delay: Duration::ZERO,
            }
        }
    }));
    assert!(
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap()
            .to_string()
            .contains(KEY),
        "the mock's answer really spells the key once decoded"
    );
    let mut session = session_with_password(&mock, "p%40ss%2Fword-xyz").await;
    let answered = create_task_answer(&mut session).await;
    assert!(answered.contains("echo: [redacted]"), "{answered}");
    let refused = get_task_answer(&mut session).await;
    assert!(refused.contains("bad key [redacted]"), "{refused}");
    session.close_stdin();
    let stderr = session.stderr().await;
    for text in [&answered, &refused, &stderr] {
        assert!(!text.contains(KEY), "the key leaked: {text}");
        assert!(
            !text.contains("p@ss/word-xyz"),
            "the password leaked: {text}"
        );
    }
}

#[tokio::test]
async fn an_insecure_or_malformed_base_url_is_refused_at_start() {
    for url in ["http://api.example.com", "ftp://x/"] {
        let output = command(url, Some(KEY), &[]).output().await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("HANDINGER_BASE_URL"), "{stderr}");
    }
}

#[tokio::test]
async fn doctor_accepts_the_key_only_on_the_apis_own_404() {
    let mock = MockApi::start().await;
    mock.set_handler(Arc::new(|_| Reply::text(404, "<html>Not Found</html>")));
    let output = command(&mock.base_url, Some(KEY), &["doctor"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("not the Handinger API's"), "{stdout}");
    mock.set_handler(Arc::new(|_| Reply::error(404, "task not found")));
    let output = command(&mock.base_url, Some(KEY), &["doctor"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("key was accepted"),
        "{stdout}"
    );
}

#[tokio::test]
async fn huge_numbers_are_clamped_or_refused_never_a_panic() {
    let mock = MockApi::start().await;
    // A Retry-After of 1e20 on a success changes nothing.
    mock.set_handler(Arc::new(|request| match default_handler()(request) {
        reply @ Reply::Http { .. } => reply.header("retry-after", "1e20"),
        other => other,
    }));
    let client = connect(&mock, &[]).await;
    let done = call(
        &client,
        "create_task",
        json!({"input": "x", "waitSeconds": 1e20}),
    )
    .await;
    assert_eq!(done.is_error, Some(false), "{}", text(&done));
    // On a 429 it is clamped, reported, and nothing ran.
    mock.set_handler(Arc::new(|_| {
        Reply::error(429, "slow down").header("retry-after", "1e300")
    }));
    let limited = call(&client, "create_task", json!({"input": "x"})).await;
    assert_tool_error(&limited, &["Rate limited: nothing ran", "86400"]);
    let waited = call(
        &client,
        "get_task",
        json!({"taskId": "tsk_x", "waitSeconds": 1e308}),
    )
    .await;
    assert!(waited.is_error.is_some(), "answered");
    client.cancel().await.unwrap();

    let output = command(
        &mock.base_url,
        Some(KEY),
        &["get", "tsk_x", "--wait", "1e20"],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--wait <SECS>") && stderr.contains("from 0 to"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_command_line_survives_a_closed_stdout_and_non_utf8_arguments() {
    use std::os::unix::ffi::OsStrExt;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = tokio::process::Command::new(crate::support::bin())
        .arg("schema")
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let output = tokio::process::Command::new(crate::support::bin())
        .arg("create")
        .arg(std::ffi::OsStr::from_bytes(b"brief \xff"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid UTF-8"), "{stderr}");
}

/// The binary started in `cwd`, with a client that declares roots.
async fn connect_offering(
    mock: &MockApi,
    roots: RootsClient,
    cwd: &Path,
) -> RunningService<RoleClient, RootsClient> {
    let mut cmd = command(&mock.base_url, Some(KEY), &[]);
    cmd.current_dir(cwd);
    roots.connect(cmd).await
}

#[tokio::test]
async fn a_client_that_declares_roots_but_offers_none_usable_attaches_nothing() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("a.txt"), "in the server's folder").unwrap();
    let mock = MockApi::start().await;
    let missing = format!("file://{}/gone", cwd.path().display());
    let offers: Vec<(Vec<String>, Vec<&str>)> = vec![
        (vec![], vec!["none was offered"]),
        (
            vec![
                "https://example.com/repo".into(),
                "file://otherhost/srv".into(),
            ],
            vec!["https: URI", "another host (otherhost)"],
        ),
        (vec![missing], vec!["gone", "unusable folder"]),
    ];
    for (uris, needles) in offers {
        let client = connect_offering(&mock, RootsClient::offering(uris), cwd.path()).await;
        let result = create_with_files(&client, &["a.txt"]).await;
        let mut all = needles.clone();
        all.push("no usable folder");
        assert_tool_error(&result, &all);
        client.cancel().await.unwrap();
    }
    assert!(mock.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn an_unanswered_roots_list_fails_only_the_calls_that_wait_for_it() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("a.txt"), "x").unwrap();
    let mock = MockApi::start().await;
    let client = Arc::new(connect_offering(&mock, RootsClient::silent(), cwd.path()).await);
    let started = Instant::now();
    let file_call = |client: Arc<RunningService<RoleClient, RootsClient>>| async move {
        create_with_files(&client, &["a.txt"]).await
    };
    let first = tokio::spawn(file_call(client.clone()));
    let second = tokio::spawn(file_call(client.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A call without files is not held behind the pending roots/list.
    let args = json!({"taskId": "tsk_x", "waitSeconds": 0})
        .as_object()
        .unwrap()
        .clone();
    let quick = Instant::now();
    client
        .call_tool(rmcp::model::CallToolRequestParams::new("get_task").with_arguments(args))
        .await
        .unwrap();
    assert!(
        quick.elapsed() < Duration::from_secs(2),
        "{:?}",
        quick.elapsed()
    );
    for call in [first, second] {
        let result = call.await.unwrap();
        assert_tool_error(&result, &["did not answer roots/list", "no usable folder"]);
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the two waits overlapped ({:?})",
        started.elapsed()
    );
    assert!(mock.task_posts().is_empty());
}

#[tokio::test]
async fn an_lsp_session_without_folders_attaches_nothing() {
    use crate::support::lsp::LspSession;
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("a.txt"), "x").unwrap();
    let mock = MockApi::start().await;
    let folder = format!("file://{}", cwd.path().display());
    for (params, removal) in [
        (json!({}), false),
        (
            json!({"workspaceFolders": [{"uri": folder, "name": "w"}]}),
            true,
        ),
    ] {
        let mut cmd = command(&mock.base_url, Some(KEY), &["--lsp"]);
        cmd.current_dir(cwd.path());
        let mut session = LspSession::spawn(cmd);
        session.request(1, "initialize", params).await;
        if removal {
            session
                .notify(
                    "workspace/didChangeWorkspaceFolders",
                    json!({"event": {"added": [], "removed": [{"uri": folder, "name": "w"}]}}),
                )
                .await;
        }
        let answer = session
            .request(
                2,
                "workspace/executeCommand",
                json!({"command": "handinger.createTask",
                "arguments": [{"input": "x", "files": ["a.txt"]}]}),
            )
            .await;
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("no usable folder"), "{answer}");
    }
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn a_hard_link_to_an_outside_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(dir.path().join("secret"), "outside").unwrap();
    std::fs::hard_link(dir.path().join("secret"), ws.join("linked.txt")).unwrap();
    let mock = MockApi::start().await;
    let client = connect(&mock, &["--workspace", ws.to_str().unwrap()]).await;
    crate::support::assert_attachment_refused(
        &client,
        &mock,
        "linked.txt",
        &["2 hard links", "--allow-hard-links"],
    )
    .await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn shutdown_during_an_upload_reports_the_task_as_not_started() {
    // An API that accepts the connection and never reads: the upload stalls.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("big.bin"), vec![7u8; 64 << 20]).unwrap();
    let mut session = RawSession::spawn(command(
        &base_url,
        Some(KEY),
        &["--workspace", ws.path().to_str().unwrap()],
    ));
    session.initialize("2025-11-25").await;
    session
        .send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "create_task", "arguments": {"input": "x", "files": ["big.bin"]}}}))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = session.child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(exits_within(&mut session, Duration::from_secs(5)).await);
    let stderr = session.stderr().await;
    assert!(stderr.contains("the task was not started"), "{stderr}");
    assert!(!stderr.contains("may still run"), "{stderr}");
    held.abort();
}

#[tokio::test]
async fn tasks_left_running_by_short_waits_are_bounded_too() {
    // Calls that return "still running" at once leave their requests running: past
    // --max-in-flight such tasks, a new one is refused and nothing more is sent.
    let mock =
        MockApi::start_with(crate::support::mock::slow_handler(Duration::from_secs(30))).await;
    let client = connect(&mock, &["--max-in-flight", "3"]).await;
    for n in 0..3 {
        let running = call(
            &client,
            "create_task",
            json!({"input": format!("long {n}"), "waitSeconds": 0}),
        )
        .await;
        assert_eq!(running.is_error, Some(false), "{}", text(&running));
    }
    let refused = call(
        &client,
        "create_task",
        json!({"input": "one too many", "waitSeconds": 0}),
    )
    .await;
    assert_tool_error(
        &refused,
        &["Not sent", "3 tasks are already running", "--max-in-flight"],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mock.task_posts().len(), 3, "the fourth task was never sent");
    client.cancel().await.unwrap();
}
