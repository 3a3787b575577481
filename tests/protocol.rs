//! The wire: protocol versions old and new, stdout discipline, lifecycle.

use std::time::Duration;

use rmcp::model::ProtocolVersion;
use serde_json::json;

use crate::support::{
    KEY, MockApi, Reply, bin, call, command, connect_with, raw::RawSession, text,
};

#[tokio::test]
async fn initialize_negotiates_every_handshake_version() {
    let mock = MockApi::start().await;
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
        let answer = session.initialize(version).await;
        let result = &answer["result"];
        assert_eq!(result["protocolVersion"], version, "{answer}");
        assert_eq!(result["serverInfo"]["name"], "handinger-mcp");
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(
            result["instructions"]
                .as_str()
                .unwrap()
                .contains("follow_up_task")
        );
        assert!(result["capabilities"]["tools"].is_object());
        let tools = session.request(1, "tools/list", json!({})).await;
        assert_eq!(
            tools["result"]["tools"].as_array().unwrap().len(),
            handinger_mcp::TOOLS.len(),
            "{version}"
        );
        let called = session
            .request(
                2,
                "tools/call",
                json!({"name": "create_task", "arguments": {"input": version}}),
            )
            .await;
        assert_eq!(called["result"]["isError"], false, "{version}: {called}");
        // resource_link blocks only for clients that know them (2025-06-18 on); the
        // text lists the same sources and files for the others.
        let types: Vec<&str> = called["result"]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        let expected: &[&str] = if version >= "2025-06-18" {
            &["text", "resource_link", "resource_link"]
        } else {
            &["text"]
        };
        assert_eq!(types, expected, "{version}");
        let text = called["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("https://example.com/source") && text.contains("report.md"));
        session.close_stdin();
        session.child.wait().await.unwrap();
    }
}

#[tokio::test]
async fn the_2026_discover_flow_serves_tools() {
    let mock = MockApi::start().await;
    let client = connect_with(
        command(&mock.base_url, Some(KEY), &[]),
        ProtocolVersion::V_2026_07_28,
    )
    .await;
    let info = client.peer_info().expect("server info known");
    assert_eq!(info.server_info.as_ref().unwrap().name, "handinger-mcp");
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        handinger_mcp::TOOLS.len()
    );
    let result = call(&client, "create_task", json!({"input": "new protocol"})).await;
    assert!(text(&result).contains("Answer to: new protocol"));
    client.cancel().await.unwrap();

    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let discovered = session
        .request(1, "server/discover", json!({"_meta": meta}))
        .await;
    let result = &discovered["result"];
    assert!(
        result["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28")),
        "{discovered}"
    );
    assert!(
        result["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2024-11-05"))
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "handinger-mcp"
    );
}

#[tokio::test]
async fn stdout_carries_only_json_rpc_while_a_call_runs() {
    let mock = MockApi::start_with(std::sync::Arc::new(|r: &crate::support::Recorded| {
        Reply::json(200, crate::support::mock::worker_json(r)).after(Duration::from_millis(300))
    }))
    .await;
    let mut cmd = command(&mock.base_url, Some(KEY), &[]);
    cmd.env("HANDINGER_LOG", "trace");
    let mut session = RawSession::spawn(cmd);
    session.initialize("2025-06-18").await;
    session
        .request(
            1,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": "quiet"}}),
        )
        .await;
    session
        .request(
            2,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": ""}}),
        )
        .await;
    session.close_stdin();
    let status = session.child.wait().await.unwrap();
    assert!(status.success());
    for line in &session.lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["jsonrpc"], "2.0", "not JSON-RPC on stdout: {line}");
    }
    let stderr = session.stderr().await;
    assert!(
        stderr.contains("sending POST /api/tasks"),
        "logs go to stderr: {stderr}"
    );
    assert!(!stderr.contains(KEY), "the key must never be logged");
}

#[tokio::test]
async fn closing_stdin_exits_zero_promptly() {
    let mut session = RawSession::spawn(command("http://127.0.0.1:9", None, &[]));
    session.initialize("2025-11-25").await;
    session.close_stdin();
    let status = tokio::time::timeout(Duration::from_secs(5), session.child.wait())
        .await
        .expect("exits within 5 s of stdin closing")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn help_version_and_bad_flags() {
    let run = |args: &[&str]| {
        std::process::Command::new(bin())
            .args(args)
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for needle in [
        "HANDINGER_API_KEY",
        "--base-url",
        "HANDINGER_REQUEST_TIMEOUT",
        "--api-key-file",
    ] {
        assert!(help.contains(needle), "{needle} missing from --help");
    }
    let version = run(&["--version"]);
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("handinger-mcp {}", env!("CARGO_PKG_VERSION"))
    );
    let bad = run(&["--no-such-flag"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty(), "usage errors go to stderr");
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .contains("unexpected argument '--no-such-flag'")
    );
}

/// A host pings to decide whether a server is alive: `ping` is answered even
/// when `--max-in-flight` calls are running, within a second.
#[tokio::test]
async fn ping_is_answered_when_the_in_flight_cap_is_reached() {
    let mock =
        MockApi::start_with(crate::support::mock::slow_handler(Duration::from_secs(8))).await;
    let mut session = RawSession::spawn(command(
        &mock.base_url,
        Some(KEY),
        &["--max-in-flight", "4", "--wait", "30"],
    ));
    session.initialize("2025-11-25").await;
    for id in 1..=6 {
        session
            .send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                         "params": {"name": "create_task", "arguments": {"input": format!("job {id}")}}}))
            .await;
    }
    // The two calls past the cap are refused as busy: the cap is reached.
    let refused = session
        .lines_until_responses(2, Duration::from_secs(10))
        .await;
    assert!(
        refused.iter().all(|r| r["error"]["code"] == -32000),
        "{refused:?}"
    );
    let started = std::time::Instant::now();
    let pong = session.request(100, "ping", json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "ping took {:?}",
        started.elapsed()
    );
    assert_eq!(pong["result"], json!({}), "{pong}");
    // Notifications pass too: a cancellation of one call is taken.
    session
        .send(
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                     "params": {"requestId": 1, "reason": "test"}}),
        )
        .await;
    let pong = session.request(101, "ping", json!({})).await;
    assert_eq!(pong["result"], json!({}), "{pong}");
}

/// When stdin closes right after a batch, every request that needs no API call
/// is answered before exit; a call still waiting on the API is reported with its
/// task id after a short drain.
#[tokio::test]
async fn end_of_input_answers_every_request_already_read() {
    let mock =
        MockApi::start_with(crate::support::mock::slow_handler(Duration::from_secs(30))).await;
    for with_call in [false, true] {
        let mut lines = vec![
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "pipe", "version": "1"}}}),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        ];
        if with_call {
            lines.push(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                              "params": {"name": "create_task", "arguments": {"input": "slow"}}}));
        }
        lines.push(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
        lines.push(json!({"jsonrpc": "2.0", "id": 3, "method": "no/such/method"}));
        lines.push(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                          "params": {"name": "get_task", "arguments": {"taskId": ".."}}}));
        for run in 0..5 {
            let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
            for line in &lines {
                session.send(line.clone()).await;
            }
            session.close_stdin();
            let answers = session.lines_within(Duration::from_secs(6)).await;
            let ids: Vec<i64> = answers
                .iter()
                .filter(|a| a.get("method").is_none())
                .filter_map(|a| a["id"].as_i64())
                .collect();
            for id in [0, 2, 3, 4] {
                assert!(
                    ids.contains(&id),
                    "run {run}: no answer to {id}: {answers:?}"
                );
            }
            let tools = answers.iter().find(|a| a["id"] == 2).unwrap();
            assert_eq!(
                tools["result"]["tools"].as_array().unwrap().len(),
                handinger_mcp::TOOLS.len()
            );
            let status = tokio::time::timeout(Duration::from_secs(5), session.child.wait())
                .await
                .expect("exits after the drain")
                .unwrap();
            assert_eq!(status.code(), Some(0));
            let stderr = session.stderr().await;
            if with_call {
                assert!(
                    stderr.contains("may still run on Handinger") && stderr.contains("tsk_"),
                    "the waiting call is reported with its task id: {stderr}"
                );
            }
        }
    }
}
