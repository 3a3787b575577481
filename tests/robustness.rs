//! Protocol robustness over stdio: malformed and odd messages are answered per the
//! JSON-RPC and MCP specs or ignored, memory stays bounded, and the server keeps
//! serving. A property test throws random message sequences at the handler.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{KEY, MockApi, command, raw::RawSession};

fn peak_rss_kib(pid: u32) -> u64 {
    crate::support::proc_status_kib(pid, "VmHWM")
}

/// The server still answers a ping with a fresh id.
async fn assert_alive(session: &mut RawSession, id: i64) {
    let pong = session.request(id, "ping", json!({})).await;
    assert_eq!(pong["result"], json!({}), "{pong}");
}

/// The answers with `id` among `lines`.
fn answers_to<'a>(lines: &'a [Value], id: &Value) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| &l["id"] == id && l.get("method").is_none())
        .collect()
}

#[tokio::test]
async fn odd_messages_are_answered_or_ignored_and_the_server_keeps_serving() {
    let mock = MockApi::start().await;
    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));

    // A tools/call before initialize is refused with an error, never run.
    let early = session
        .request(
            100,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": "too early"}}),
        )
        .await;
    assert!(
        early["error"]["code"].is_i64(),
        "a call before initialize: {early}"
    );
    let init = session.initialize("2025-11-25").await;
    assert_eq!(init["result"]["serverInfo"]["name"], "handinger-mcp");
    assert!(
        mock.task_posts().is_empty(),
        "nothing runs before initialize"
    );

    // Malformed JSON whose id can be read from its first bytes: -32700 with the id.
    // Garbage with no id is ignored (answering it invites error storms).
    session
        .send_line("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ")
        .await;
    session.send_line("not json at all").await;
    let deep = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":14,\"params\":{}{}}}",
        "[".repeat(500),
        "]".repeat(500)
    );
    session.send_line(&deep).await;
    let lines = session.request_collecting(2, "ping", json!({})).await;
    for (id, what) in [(1, "EOF while parsing"), (14, "recursion limit")] {
        let answers = answers_to(&lines, &json!(id));
        assert_eq!(answers.len(), 1, "one answer for id {id}: {lines:?}");
        assert_eq!(answers[0]["error"]["code"], -32700, "{}", answers[0]);
        let message = answers[0]["error"]["message"].as_str().unwrap();
        assert!(message.contains(what), "{message}");
    }
    let stray: Vec<_> = lines
        .iter()
        .filter(|l| ![1, 2, 14].contains(&l["id"].as_i64().unwrap_or(0)))
        .collect();
    assert!(
        stray.is_empty(),
        "the id-less garbage got an answer: {stray:?}"
    );

    // Valid JSON of the wrong shape: -32600, with the id when there is one; a
    // known method whose params do not parse: -32602 saying why.
    let shapes = [
        (
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": "oops"}),
            json!(3),
            -32602,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": 5}}),
            json!(4),
            -32602,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": [1, 2]}),
            json!(5),
            -32602,
        ),
        (json!([1, 2, 3]), Value::Null, -32600),
        (json!({"jsonrpc": "2.0"}), Value::Null, -32600),
        (json!(42), Value::Null, -32600),
        (
            json!({"jsonrpc": "2.0", "id": "s", "result": 1, "error": 2, "method": 3}),
            json!("s"),
            -32600,
        ),
    ];
    for (message, id, code) in shapes {
        session.send(message.clone()).await;
        session
            .send(json!({"jsonrpc": "2.0", "id": 6, "method": "ping"}))
            .await;
        // Answers may come in either order.
        let lines = session
            .lines_until_responses(2, Duration::from_secs(10))
            .await;
        let answers = answers_to(&lines, &id);
        assert_eq!(answers.len(), 1, "one answer to {message}: {lines:?}");
        let error = &answers[0]["error"];
        assert!(answers[0].get("result").is_none(), "{message} got a result");
        assert!(
            error["code"] == code || (code == -32602 && error["code"] == -32600),
            "{message}: {error}"
        );
    }
    assert!(mock.task_posts().is_empty());
    let bad_params = session.request(4, "tools/call", json!({"name": 5})).await;
    assert_eq!(bad_params["error"]["code"], -32602, "{bad_params}");
    let message = bad_params["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("tools/call") && message.contains("expected a string"),
        "{message}"
    );

    // Unknown method: -32601.
    let unknown = session.request(7, "handinger/frobnicate", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    assert_eq!(
        unknown["error"]["message"],
        "unknown method handinger/frobnicate"
    );

    // A notification that carries an id, and an unknown notification.
    session
        .send(json!({"jsonrpc": "2.0", "id": 8, "method": "notifications/initialized"}))
        .await;
    session
        .send(json!({"jsonrpc": "2.0", "method": "notifications/whatever"}))
        .await;
    assert_alive(&mut session, 9).await;

    // Duplicate request ids: both requests are answered, one with its result and
    // the other refused; none is lost.
    for _ in 0..2 {
        session
            .send(json!({"jsonrpc": "2.0", "id": 10, "method": "tools/call",
                         "params": {"name": "create_task", "arguments": {"input": "twin"}}}))
            .await;
    }
    let twins = [session.response(10).await, session.response(10).await];
    assert_eq!(
        twins.iter().filter(|a| a.get("result").is_some()).count(),
        1,
        "one of the two ran: {twins:?}"
    );
    let refused = twins.iter().find(|a| a.get("error").is_some()).unwrap();
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{refused}"
    );
    assert_alive(&mut session, 11).await;

    // An oversized line (over the 16 MiB limit) is held only up to the limit, its
    // rest skipped as it streams in, and answered with -32600 for its id.
    let pid = session.child.id().unwrap();
    let before = peak_rss_kib(pid);
    let posts_before = mock.task_posts().len();
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{{\"name\":\"create_task\",\"arguments\":{{\"input\":\"{}\"}}}}}}",
        "x".repeat(40 * 1024 * 1024)
    );
    session.send_line(&huge).await;
    drop(huge);
    let skipped = session.response(12).await;
    assert_eq!(skipped["error"]["code"], -32600, "{skipped}");
    assert!(
        skipped["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 16 MiB")
    );
    assert_alive(&mut session, 13).await;
    let after = peak_rss_kib(pid);
    assert!(
        after < before + 20 * 1024,
        "peak RSS {before} -> {after} KiB: more than the 16 MiB limit of the 40 MiB line was held"
    );
    assert_eq!(
        mock.task_posts().len(),
        posts_before,
        "the oversized call never ran"
    );

    let mut session_done = session;
    session_done.close_stdin();
    let status = tokio::time::timeout(Duration::from_secs(5), session_done.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

/// The binary with piped stdin and stdout, logging errors only (to nowhere).
fn spawn_quiet(
    mock: &MockApi,
    args: &[&str],
) -> (
    tokio::process::Child,
    tokio::process::ChildStdin,
    tokio::process::ChildStdout,
) {
    let mut args = args.to_vec();
    args.extend(["--log-level", "error"]);
    let mut child = command(&mock.base_url, Some(KEY), &args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    (child, stdin, stdout)
}

/// Peak RSS of the server after `pings` pings written while its answers are read
/// only later: the answers it cannot write slow the client down instead of
/// piling up in memory.
#[tokio::test]
async fn a_flood_of_pings_keeps_memory_bounded_and_every_ping_is_answered() {
    use tokio::io::AsyncReadExt;
    const PINGS: usize = 100_000;
    let mock = MockApi::start().await;
    let (child, mut stdin, mut stdout) = spawn_quiet(&mock, &[]);
    let pid = child.id().unwrap();
    let writer = tokio::spawn(async move {
        let init = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "flood", "version": "1"}}});
        let mut batch = format!(
            "{init}\n{}\n",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        );
        for id in 0..PINGS {
            batch.push_str(&format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"ping\"}}\n"
            ));
            if batch.len() > 1 << 16 {
                stdin.write_all(batch.as_bytes()).await.unwrap();
                batch.clear();
            }
        }
        stdin.write_all(batch.as_bytes()).await.unwrap();
        stdin
    });
    // Nobody reads for two seconds: the server must stall, not buffer.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled_kib = crate::support::proc_status_kib(pid, "VmRSS");
    assert!(
        !writer.is_finished(),
        "the server kept reading while nobody read its answers"
    );
    let mut answered = 0usize;
    let mut busy = 0usize;
    let mut buffer = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let read_all = async {
        while answered + busy < PINGS + 1 {
            let n = stdout.read(&mut chunk).await.unwrap();
            assert!(n > 0, "stdout closed after {answered} answers");
            buffer.extend_from_slice(&chunk[..n]);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let value: Value = serde_json::from_slice(&line).expect("stdout carries JSON only");
                if value.get("result").is_some() {
                    answered += 1;
                } else {
                    busy += 1;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read_all)
        .await
        .expect("every ping answered within 120 s");
    let _stdin = writer.await.unwrap();
    let peak_kib = peak_rss_kib(pid);
    eprintln!(
        "{PINGS} pings: {answered} answered, {busy} busy; RSS while stalled {stalled_kib} KiB, peak {peak_kib} KiB"
    );
    assert_eq!(answered + busy, PINGS + 1, "one answer per request");
    assert_eq!(busy, 0, "a ping is never refused, only slowed down");
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB over 64 MiB");
}

/// In LSP mode, an editor that sends and never reads: the server stops reading
/// once its answers back up, so memory stays flat however much is sent.
#[tokio::test]
async fn lsp_requests_with_stdout_never_read_keep_memory_bounded() {
    const SEND_BYTES: usize = 300 * 1024 * 1024;
    let mock = MockApi::start().await;
    let mut child = command(
        &mock.base_url,
        Some(KEY),
        &["--lsp", "--log-level", "error"],
    )
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _stdout_never_read = child.stdout.take().unwrap();
    let frame = |body: String| format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let init =
        frame(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}).to_string());
    stdin.write_all(init.as_bytes()).await.unwrap();
    // Requests with a 4 KiB payload each, answered with an error that echoes
    // little: 300 MB in all, unless the server stops reading first.
    let padding = "p".repeat(4096);
    let mut chunk = String::new();
    for id in 1..=64 {
        chunk.push_str(&frame(
            json!({"jsonrpc": "2.0", "id": id, "method": "handinger/unknown", "params": {"pad": padding}}).to_string(),
        ));
    }
    let mut sent = 0usize;
    let writing = async {
        while sent < SEND_BYTES {
            stdin.write_all(chunk.as_bytes()).await.unwrap();
            sent += chunk.len();
        }
    };
    let stalled = tokio::time::timeout(Duration::from_secs(10), writing)
        .await
        .is_err();
    let peak_kib = peak_rss_kib(pid);
    eprintln!(
        "LSP flood: {} MiB accepted before the server stopped reading; peak RSS {peak_kib} KiB",
        sent >> 20
    );
    assert!(
        stalled,
        "the server read all {SEND_BYTES} bytes while its answers went unread"
    );
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB over 64 MiB");
    child.kill().await.unwrap();
}

/// One message a confused or hostile client might send.
fn message() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z]{1,8}".prop_map(|s| json!(s)),
        Just(Value::Null)
    ];
    let method = prop_oneof![
        Just("tools/call".to_owned()),
        Just("tools/list".to_owned()),
        Just("initialize".to_owned()),
        Just("ping".to_owned()),
        Just("notifications/cancelled".to_owned()),
        Just("notifications/progress".to_owned()),
        Just("notifications/roots/list_changed".to_owned()),
        Just("tasks/get".to_owned()),
        Just("tasks/cancel".to_owned()),
        "[a-z/]{1,20}",
    ];
    let params = prop_oneof![
        Just(Value::Null),
        Just(json!({})),
        Just(json!({"name": "create_task", "arguments": {"input": ""}})),
        Just(json!({"name": "get_task", "arguments": {"taskId": "tsk_x", "waitSeconds": 0}})),
        Just(json!({"name": "nope"})),
        Just(json!({"requestId": 1})),
        Just(json!({"taskId": "nope"})),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    prop_oneof![
        (id, method.clone(), params.clone()).prop_map(|(id, m, p)| {
            json!({"jsonrpc": "2.0", "id": id, "method": m, "params": p}).to_string()
        }),
        (method, params)
            .prop_map(|(m, p)| json!({"jsonrpc": "2.0", "method": m, "params": p}).to_string()),
        "[ -~]{0,60}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever arrives before it, a ping after it is answered.
    #[test]
    fn any_message_sequence_leaves_the_server_answering(lines in prop::collection::vec(message(), 1..12)) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let runner = crate::support::offline_runner();
            let (client_side, server_side) = tokio::io::duplex(1 << 20);
            let (server_read, server_write) = tokio::io::split(server_side);
            let limits = handinger_mcp::StdioLimits { max_output_chars: 1000, max_in_flight: 8 };
            tokio::spawn(handinger_mcp::serve_mcp_stdio(
                runner, limits, server_read, server_write, tokio_util::sync::CancellationToken::new()));
            let (read, mut write) = tokio::io::split(client_side);
            let mut replies = BufReader::new(read).lines();
            let init = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}});
            write.write_all(format!("{init}\n{}\n", json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).as_bytes()).await.unwrap();
            for line in &lines {
                write.write_all(format!("{}\n", line.replace('\n', " ")).as_bytes()).await.unwrap();
            }
            write.write_all(format!("{}\n", json!({"jsonrpc": "2.0", "id": "final-ping", "method": "ping"})).as_bytes()).await.unwrap();
            let answered = tokio::time::timeout(Duration::from_secs(10), async {
                while let Ok(Some(line)) = replies.next_line().await {
                    let value: Value = serde_json::from_str(&line).expect("the server writes only JSON");
                    if value["id"] == "final-ping" {
                        return true;
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            assert!(answered, "no answer to the final ping after {lines:?}");
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The LSP-style front-end, the same way: random framed messages (and frames whose
    /// bodies are not JSON), then a request that must be answered.
    #[test]
    fn any_lsp_message_sequence_leaves_the_server_answering(lines in prop::collection::vec(message(), 1..12)) {
        use tokio::io::AsyncReadExt;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let runner = crate::support::offline_runner();
            let (client_side, server_side) = tokio::io::duplex(1 << 20);
            let (server_read, server_write) = tokio::io::split(server_side);
            let limits = handinger_mcp::SessionLimits { max_output_chars: 1000, max_in_flight: 8 };
            tokio::spawn(handinger_mcp::serve_lsp(runner, limits, server_read, server_write));
            let (mut read, mut write) = tokio::io::split(client_side);
            let frame = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
            let mut input = frame(&json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {}}).to_string());
            // `exit` ends the session by design; everything else must leave it serving.
            for line in lines.iter().filter(|l| !l.contains("\"method\":\"exit\"")) {
                input.push_str(&frame(line));
            }
            input.push_str(&frame(&json!({"jsonrpc": "2.0", "id": "final", "method": "shutdown"}).to_string()));
            write.write_all(input.as_bytes()).await.unwrap();
            let answered = tokio::time::timeout(Duration::from_secs(10), async {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = read.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return false;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if String::from_utf8_lossy(&buffer).contains("\"id\":\"final\"") {
                        return true;
                    }
                }
            })
            .await
            .unwrap_or(false);
            assert!(answered, "no answer to shutdown after {lines:?}");
        });
    }
}
