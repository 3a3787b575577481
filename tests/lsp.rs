//! The LSP-style front-end through the real binary: framing, lifecycle,
//! executeCommand, work-done progress, cancellation and workspace folders.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    KEY, MockApi, Reply, command, lsp::LspSession, mock::hex, mock::slow_handler,
};

fn uri(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

async fn initialized(mock: &MockApi, args: &[&str], root: Option<&std::path::Path>) -> LspSession {
    let mut session = LspSession::spawn(command(&mock.base_url, Some(KEY), args));
    let params = match root {
        Some(root) => json!({"processId": null, "rootUri": uri(root), "capabilities": {}}),
        None => json!({"processId": null, "rootUri": null, "capabilities": {}}),
    };
    let answer = session.request(1, "initialize", params).await;
    assert_eq!(
        answer["result"]["serverInfo"]["name"], "handinger-mcp",
        "{answer}"
    );
    session.notify("initialized", json!({})).await;
    session
}

fn execute(command: &str, argument: Value) -> Value {
    json!({"command": command, "arguments": [argument]})
}

#[tokio::test]
async fn lifecycle_and_execute_command_with_files_relative_to_the_root() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("notes.txt"), b"lsp file").unwrap();
    let mock = MockApi::start().await;
    // No --lsp: the framing is detected from the first bytes.
    let mut session = initialized(&mock, &[], Some(root.path())).await;
    let init = &session.seen[0];
    let commands = init["result"]["capabilities"]["executeCommandProvider"]["commands"].clone();
    assert_eq!(commands, json!(crate::support::lsp_commands()));

    let created = session
        .request(
            2,
            "workspace/executeCommand",
            execute(
                "handinger.createTask",
                json!({"input": "from the editor", "files": ["notes.txt"]}),
            ),
        )
        .await;
    let result = &created["result"];
    assert_eq!(
        result["outputText"], "Answer to: from the editor",
        "{created}"
    );
    assert_eq!(result["status"], "completed");
    let task_id = result["taskId"].as_str().unwrap().to_owned();
    let part = mock.task_posts()[0]
        .parts
        .iter()
        .find(|p| p.filename.is_some())
        .cloned()
        .unwrap();
    assert_eq!(part.filename.as_deref(), Some("notes.txt"));
    assert_eq!(
        part.sha256,
        hex(&<sha2::Sha256 as sha2::Digest>::digest(b"lsp file"))
    );

    let followed = session
        .request(
            3,
            "workspace/executeCommand",
            execute(
                "handinger.followUpTask",
                json!({"taskId": task_id, "input": "more"}),
            ),
        )
        .await;
    assert_eq!(followed["result"]["outputText"], "Answer to: more");
    let got = session
        .request(
            4,
            "workspace/executeCommand",
            execute("handinger.getTask", json!({"taskId": task_id})),
        )
        .await;
    assert_eq!(got["result"]["outputText"], "Answer to: more");

    assert_eq!(
        session.request(5, "shutdown", Value::Null).await["result"],
        Value::Null
    );
    let after = session
        .request(
            6,
            "workspace/executeCommand",
            execute("handinger.getTask", json!({"taskId": task_id})),
        )
        .await;
    assert_eq!(after["error"]["code"], -32600);
    session.notify("exit", Value::Null).await;
    let status = tokio::time::timeout(Duration::from_secs(5), session.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "exit after shutdown is a clean exit"
    );
}

#[tokio::test]
async fn errors_are_response_errors_with_readable_messages() {
    let mock = MockApi::start_with(std::sync::Arc::new(|_: &crate::support::Recorded| {
        Reply::error(401, "invalid api key")
    }))
    .await;
    let mut session = LspSession::spawn(command(&mock.base_url, Some(KEY), &["--lsp"]));
    let early = session
        .request(
            1,
            "workspace/executeCommand",
            execute("handinger.getTask", json!({"taskId": "x"})),
        )
        .await;
    assert_eq!(early["error"]["code"], -32002, "{early}");
    session
        .request(2, "initialize", json!({"capabilities": {}}))
        .await;

    let cases = [
        (
            "textDocument/hover",
            json!({}),
            -32601,
            "unknown method textDocument/hover",
        ),
        (
            "workspace/executeCommand",
            execute("handinger.nope", json!({})),
            -32602,
            "unknown command \"handinger.nope\"",
        ),
        (
            "workspace/executeCommand",
            execute("handinger.createTask", json!({"input": 5})),
            -32602,
            "invalid arguments for handinger.createTask",
        ),
        (
            "workspace/executeCommand",
            execute("handinger.createTask", json!({"input": "x"})),
            -32803,
            "HTTP 401: invalid api key",
        ),
    ];
    for (n, (method, params, code, text)) in cases.into_iter().enumerate() {
        let answer = session.request(10 + n as i64, method, params).await;
        assert_eq!(answer["error"]["code"], code, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(text), "{message}");
        assert!(!message.contains(KEY));
    }

    // A frame over the size limit is skipped and answered; the stream stays usable.
    let big = format!("{{\"padding\":\"{}\"}}", "x".repeat(17 * 1024 * 1024));
    session
        .send_raw(format!("Content-Length: {}\r\n\r\n{big}", big.len()).as_bytes())
        .await;
    let dropped = session.read().await;
    assert_eq!(dropped["id"], Value::Null);
    assert!(
        dropped["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit"),
        "{dropped}"
    );
    session.send_raw(b"Content-Length: 5\r\n\r\n{oops").await;
    assert_eq!(session.read().await["error"]["code"], -32700);
    let still = session.request(20, "shutdown", Value::Null).await;
    assert_eq!(still["result"], Value::Null);

    // exit without shutdown is an error exit, per LSP.
    let mut session = LspSession::spawn(command(&mock.base_url, Some(KEY), &["--lsp"]));
    session
        .request(1, "initialize", json!({"capabilities": {}}))
        .await;
    session.notify("exit", Value::Null).await;
    let status = tokio::time::timeout(Duration::from_secs(5), session.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[tokio::test]
async fn work_done_progress_brackets_a_running_command() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(1200))).await;
    let mut session = initialized(&mock, &["--progress-interval", "0.25"], None).await;
    let mut params = execute("handinger.createTask", json!({"input": "slow"}));
    params["workDoneToken"] = json!("wd-1");
    session.send(json!({"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand", "params": params})).await;
    let (answer, before) = session.response(2).await;
    assert_eq!(answer["result"]["outputText"], "Answer to: slow");
    let kinds: Vec<&str> = before
        .iter()
        .filter(|m| m["method"] == "$/progress" && m["params"]["token"] == "wd-1")
        .map(|m| m["params"]["value"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"begin"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"end"), "{kinds:?}");
    assert!(
        kinds.iter().filter(|k| **k == "report").count() >= 2,
        "{kinds:?}"
    );
    // The first report names the task at once, as in MCP.
    let first_report = before
        .iter()
        .find(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "report")
        .unwrap();
    let message = first_report["params"]["value"]["message"].as_str().unwrap();
    assert!(
        message.contains("tsk_") && message.contains("was sent"),
        "{message}"
    );
}

#[tokio::test]
async fn cancel_request_answers_request_cancelled_and_the_task_goes_on() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(1500))).await;
    let mut session = initialized(&mock, &[], None).await;
    session
        .send(
            json!({"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
                     "params": execute("handinger.createTask", json!({"input": "stop me"}))}),
        )
        .await;
    for _ in 0..250 {
        if !mock.task_posts().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let task_id = mock.task_posts()[0].field("taskId").unwrap();
    session.notify("$/cancelRequest", json!({"id": 2})).await;
    let (cancelled, _) = session.response(2).await;
    assert_eq!(cancelled["error"]["code"], -32800, "{cancelled}");
    assert!(
        cancelled["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&task_id)
    );
    let got = session
        .request(
            3,
            "workspace/executeCommand",
            execute(
                "handinger.getTask",
                json!({"taskId": task_id, "waitSeconds": 10}),
            ),
        )
        .await;
    assert_eq!(got["result"]["outputText"], "Answer to: stop me");
    assert_eq!(mock.task_posts().len(), 1);
}

#[tokio::test]
async fn workspace_folders_win_over_root_uri_and_follow_changes() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    std::fs::write(first.path().join("one.txt"), b"1").unwrap();
    std::fs::write(second.path().join("two.txt"), b"2").unwrap();
    let mock = MockApi::start().await;
    let mut session = LspSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    session
        .request(
            1,
            "initialize",
            json!({"rootUri": "file:///nonexistent",
            "workspaceFolders": [{"uri": uri(first.path()), "name": "first"}], "capabilities": {}}),
        )
        .await;
    let call = |file: &str| {
        execute(
            "handinger.createTask",
            json!({"input": "x", "files": [file]}),
        )
    };
    let ok = session
        .request(2, "workspace/executeCommand", call("one.txt"))
        .await;
    assert_eq!(ok["result"]["status"], "completed", "{ok}");
    session
        .notify(
            "workspace/didChangeWorkspaceFolders",
            json!({"event": {
            "added": [{"uri": uri(second.path()), "name": "second"}],
            "removed": [{"uri": uri(first.path()), "name": "first"}]}}),
        )
        .await;
    let moved = session
        .request(3, "workspace/executeCommand", call("two.txt"))
        .await;
    assert_eq!(moved["result"]["status"], "completed", "{moved}");
    let gone = session
        .request(4, "workspace/executeCommand", call("one.txt"))
        .await;
    let message = gone["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no such file") && message.contains("the client's workspace roots"),
        "{message}"
    );
}

#[tokio::test]
async fn the_cancel_button_of_work_done_progress_cancels_the_command() {
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(3))).await;
    let mut session = initialized(&mock, &[], None).await;
    let mut params = execute("handinger.createTask", json!({"input": "cancel me"}));
    params["workDoneToken"] = json!("wd-cancel");
    session
        .send(json!({"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand", "params": params}))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    session
        .notify(
            "window/workDoneProgress/cancel",
            json!({"token": "wd-cancel"}),
        )
        .await;
    let started = std::time::Instant::now();
    let (answer, _) = session.response(2).await;
    assert_eq!(answer["error"]["code"], -32800, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cancelled at once"
    );
}

#[tokio::test]
async fn wrong_shaped_json_gets_invalid_request_with_its_id() {
    let mock = MockApi::start().await;
    let mut session = initialized(&mock, &[], None).await;
    let cases = [
        (json!({"jsonrpc": "2.0", "id": 5, "params": {}}), json!(5)),
        (json!({"jsonrpc": "2.0", "id": 6, "method": 7}), json!(6)),
        (
            json!({"jsonrpc": "2.0", "id": "s", "method": ["x"]}),
            json!("s"),
        ),
        (json!([1, 2]), Value::Null),
        (json!(42), Value::Null),
    ];
    for (message, id) in cases {
        session.send(message.clone()).await;
        let answer = session.read().await;
        assert_eq!(answer["id"], id, "{message}: {answer}");
        assert_eq!(answer["error"]["code"], -32600, "{message}: {answer}");
    }
    // Responses to requests of ours are not answered; the session goes on.
    session
        .send(json!({"jsonrpc": "2.0", "id": 99, "result": null}))
        .await;
    let alive = session.request(7, "shutdown", json!(null)).await;
    assert_eq!(alive["result"], Value::Null, "{alive}");
}

/// LSP params are read as types: a wrong shape is "invalid params" naming the
/// method and the field, never a silent default; a request whose id is already in
/// flight is refused, and the first one is still answered.
#[tokio::test]
async fn params_are_typed_and_ids_in_flight_are_unique() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(800))).await;
    let mut session = initialized(&mock, &[], None).await;
    let cases = [
        (json!({"command": 5}), "invalid type: integer `5`"),
        (json!({"arguments": []}), "missing field `command`"),
        (
            json!({"command": "handinger.getTask", "arguments": {}}),
            "invalid type: map",
        ),
        (
            json!({"command": "handinger.getTask", "workDoneToken": [1]}),
            "workDoneToken",
        ),
    ];
    for (n, (params, needle)) in cases.into_iter().enumerate() {
        let id = 10 + n as i64;
        let answer = session
            .request(id, "workspace/executeCommand", params.clone())
            .await;
        assert_eq!(answer["error"]["code"], -32602, "{params}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("workspace/executeCommand")
                && (message.contains(needle) || needle == "workDoneToken"),
            "{params}: {message}"
        );
    }
    let slow = execute("handinger.createTask", json!({"input": "slow"}));
    session
        .send(
            json!({"jsonrpc": "2.0", "id": 30, "method": "workspace/executeCommand",
                     "params": slow.clone()}),
        )
        .await;
    session
        .send(
            json!({"jsonrpc": "2.0", "id": 30, "method": "workspace/executeCommand",
                     "params": slow}),
        )
        .await;
    let refused = session.read().await;
    assert_eq!(refused["id"], 30, "{refused}");
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used by a request in flight"),
        "{refused}"
    );
    let (first, _) = session.response(30).await;
    assert_eq!(first["result"]["status"], "completed", "{first}");
    assert_eq!(
        mock.task_posts().len(),
        1,
        "the refused duplicate sent nothing"
    );
}

#[tokio::test]
async fn a_content_length_past_the_hard_cap_ends_the_session_with_a_log_line() {
    let mock = MockApi::start().await;
    let mut cmd = command(&mock.base_url, Some(KEY), &["--lsp"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    use tokio::io::AsyncWriteExt;
    stdin
        .write_all(b"Content-Length: 5000000000\r\n\r\n{\"jsonrpc\":\"2.0\"}")
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("the session ends by itself")
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("5000000000 bytes") && stderr.contains("stopping"),
        "{stderr}"
    );
}

#[tokio::test]
async fn messages_speak_of_commands_and_the_editor_config() {
    let mock = MockApi::start().await;
    let mut session = LspSession::spawn(command(&mock.base_url, None, &["--lsp"]));
    session.request(1, "initialize", json!({})).await;
    let answer = session
        .request(
            2,
            "workspace/executeCommand",
            execute("handinger.createTask", json!({"input": "no key"})),
        )
        .await;
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("your editor config"), "{message}");
    for mcp_word in ["MCP host", "create_task", "get_task", "follow_up_task"] {
        assert!(!message.contains(mcp_word), "{mcp_word}: {message}");
    }
}

/// Editors show a server's stderr lines as errors, so the LSP-style mode logs
/// warnings and above unless a level is asked for.
#[tokio::test]
async fn lsp_mode_logs_only_warnings_unless_a_level_is_asked_for() {
    use tokio::io::AsyncWriteExt;
    let mock = MockApi::start().await;
    let frame = |body: Value| {
        let body = body.to_string();
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    };
    let session = [
        frame(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})),
        frame(json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})),
        frame(json!({"jsonrpc": "2.0", "method": "exit"})),
    ]
    .concat();
    for (level, expect_info) in [(None, false), (Some("info"), true)] {
        let mut cmd = command(&mock.base_url, Some(KEY), &["--lsp"]);
        match level {
            Some(level) => cmd.env("HANDINGER_LOG", level),
            None => cmd.env_remove("HANDINGER_LOG"),
        };
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(session.as_bytes())
            .await
            .unwrap();
        let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains(" INFO "),
            expect_info,
            "{level:?}: {stderr}"
        );
    }
}

/// When stdin closes right after a batch, every request already read is
/// answered before exit, in LSP mode too.
#[tokio::test]
async fn end_of_input_answers_every_request_already_read() {
    use tokio::io::AsyncWriteExt;
    let frame = |message: serde_json::Value| {
        let body = message.to_string();
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    };
    let batch: String = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
        json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
               "params": {"command": "handinger.getTask", "arguments": [{"taskId": ".."}]}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "no/such/method"}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "shutdown"}),
    ]
    .into_iter()
    .map(frame)
    .collect();
    for run in 0..10 {
        let mut child = command("http://127.0.0.1:9", Some(KEY), &["--lsp"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(batch.as_bytes()).await.unwrap();
        drop(stdin);
        let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
            .await
            .expect("exits")
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        for id in 1..=4 {
            assert!(
                stdout.contains(&format!("\"id\":{id}")),
                "run {run}: no answer to {id}: {stdout}"
            );
        }
    }
}
