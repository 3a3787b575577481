//! Protocol robustness over stdio: malformed and odd messages are answered per the
//! JSON-RPC and MCP specs or ignored, memory stays bounded, and the server keeps
//! serving. A property test throws random message sequences at the handler.

use std::time::Duration;

use proptest::prelude::*;
use rmcp::ServiceExt;
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

#[tokio::test]
async fn odd_messages_are_answered_or_ignored_and_the_server_keeps_serving() {
    let mock = MockApi::start().await;
    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));

    // A tools/call before initialize: refused or ignored, never run.
    session
        .send(json!({"jsonrpc": "2.0", "id": 100, "method": "tools/call",
                     "params": {"name": "create_task", "arguments": {"input": "too early"}}}))
        .await;
    let init = session.initialize("2025-11-25").await;
    for line in &session.lines {
        let value: Value = serde_json::from_str(line).unwrap();
        if value["id"] == 100 {
            assert!(
                value.get("error").is_some(),
                "a call before initialize ran: {value}"
            );
        }
    }
    assert_eq!(init["result"]["serverInfo"]["name"], "handinger-mcp");
    assert!(
        mock.task_posts().is_empty(),
        "nothing runs before initialize"
    );

    // Malformed JSON: a parse error (id null) or nothing; then the next message works.
    session
        .send_line("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ")
        .await;
    session.send_line("not json at all").await;
    assert_alive(&mut session, 2).await;

    // Valid JSON of the wrong shape: an error for its id, or ignored; never run.
    session
        .send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": "oops"}))
        .await;
    session
        .send(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": 5}}))
        .await;
    session
        .send(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": [1, 2]}))
        .await;
    session.send(json!([1, 2, 3])).await;
    session.send(json!({"jsonrpc": "2.0"})).await;
    session.send(json!(42)).await;
    let lines = session.request_collecting(6, "ping", json!({})).await;
    for line in &lines {
        if [3, 4, 5].contains(&line["id"].as_i64().unwrap_or(0)) {
            assert!(
                line.get("error").is_some(),
                "a wrong-shaped request got a result: {line}"
            );
        }
    }
    assert_eq!(lines.last().unwrap()["result"], json!({}));
    assert!(mock.task_posts().is_empty());
    // A known method with params that do not parse: -32602, saying why. (Answers
    // may come in any order.)
    let bad_params = match lines.iter().find(|l| l["id"] == 4) {
        Some(line) => line.clone(),
        None => session.response(4).await,
    };
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

    // Duplicate request ids: each call is still answered or refused, none lost.
    for _ in 0..2 {
        session
            .send(json!({"jsonrpc": "2.0", "id": 10, "method": "tools/call",
                         "params": {"name": "create_task", "arguments": {"input": "twin"}}}))
            .await;
    }
    let first = session.response(10).await;
    assert!(first.get("result").is_some() || first.get("error").is_some());
    assert_alive(&mut session, 11).await;

    // An oversized line (over rmcp's 16 MiB limit) is dropped without keeping it.
    let pid = session.child.id().unwrap();
    let before = peak_rss_kib(pid);
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{{\"name\":\"create_task\",\"arguments\":{{\"input\":\"{}\"}}}}}}",
        "x".repeat(40 * 1024 * 1024)
    );
    session.send_line(&huge).await;
    assert_alive(&mut session, 13).await;
    let after = peak_rss_kib(pid);
    assert!(
        after < before + 40 * 1024,
        "peak RSS {before} -> {after} KiB: the 40 MiB line was buffered"
    );

    let mut session_done = session;
    session_done.close_stdin();
    let status = tokio::time::timeout(Duration::from_secs(5), session_done.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
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
            let server = handinger_mcp::mcp::HandingerServer::new(runner, 1000);
            let (client_side, server_side) = tokio::io::duplex(1 << 20);
            let (server_read, server_write) = tokio::io::split(server_side);
            tokio::spawn(async move {
                if let Ok(service) = server.serve((server_read, server_write)).await {
                    let _ = service.waiting().await;
                }
            });
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
            tokio::spawn(handinger_mcp::lsp::serve(runner, 1000, server_read, server_write));
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
