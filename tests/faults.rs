//! Fault injection: every way the API's side can fail ends in a clear tool error
//! within the configured timeouts, and the server keeps answering; a bounded stress
//! run of mixed faults shows one response per request, no POST that ran sent twice,
//! and flat memory.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{
    KEY, MockApi, Recorded, Reply, assert_tool_error, call, command, connect, connect_with,
    mock::worker_json, raw::RawSession,
};

const HEAD_200: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4000\r\n\r\n";

/// The reply for a fault named in the task's input (`fault:NAME`).
fn fault_reply(name: &str, request: &Recorded) -> Reply {
    let partial = format!("{HEAD_200}{{\"id\":\"wrk_1\",\"output_text\":\"cut");
    match name {
        "slow-headers" => Reply::json(200, worker_json(request)).after(Duration::from_secs(5)),
        "stalled-body" => Reply::Stall {
            bytes: partial.into_bytes(),
        },
        "reset-mid-body" => Reply::Reset {
            bytes: partial.into_bytes(),
        },
        "truncated-body" => Reply::Raw {
            bytes: partial.into_bytes(),
            delay: Duration::ZERO,
        },
        "invalid-json" => Reply::text(200, "{\"id\": \"wrk_1\", \"output_text\": oops}"),
        "huge-body" => Reply::Raw {
            bytes: [
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
                    .to_vec(),
                vec![b' '; 40 * 1024 * 1024],
            ]
            .concat(),
            delay: Duration::ZERO,
        },
        "huge-length" => Reply::Stall {
            bytes: b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n{".to_vec(),
        },
        "server-error" => Reply::error(503, "overloaded"),
        "rate-limited" => Reply::error(429, "slow down").header("retry-after-ms", "5"),
        _ => Reply::json(200, worker_json(request)),
    }
}

fn fault_handler() -> crate::support::mock::Handler {
    Arc::new(|r: &Recorded| {
        let input = r.input().unwrap_or_default();
        fault_reply(input.strip_prefix("fault:").unwrap_or(""), r)
    })
}

#[tokio::test]
async fn each_fault_ends_in_a_clear_tool_error_within_the_timeouts() {
    let mock = MockApi::start_with(fault_handler()).await;
    let client = connect(&mock, &["--request-timeout", "1", "--retries", "2"]).await;
    let cases: &[(&str, &[&str])] = &[
        (
            "slow-headers",
            &["within 1 s", "may still have run", "get_task"],
        ),
        ("stalled-body", &["within 1 s", "may still have run"]),
        (
            "reset-mid-body",
            &["connection", "broke before the answer was complete"],
        ),
        ("truncated-body", &["broke before the answer was complete"]),
        ("invalid-json", &["not a Worker object", "oops"]),
        ("huge-body", &["larger than the 32 MiB the bridge accepts"]),
        (
            "huge-length",
            &["larger than the 32 MiB the bridge accepts"],
        ),
        (
            "server-error",
            &["HTTP 503", "overloaded", "taskId is tsk_"],
        ),
        ("rate-limited", &["HTTP 429", "nothing ran"]),
    ];
    for (fault, needles) in cases {
        let before = mock.task_posts().len();
        let started = Instant::now();
        let result = call(
            &client,
            "create_task",
            json!({"input": format!("fault:{fault}")}),
        )
        .await;
        assert_tool_error(&result, needles);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{fault} took {:?}",
            started.elapsed()
        );
        let sent = mock.task_posts().len() - before;
        let expected = if *fault == "rate-limited" { 3 } else { 1 };
        assert_eq!(sent, expected, "{fault}: POSTs sent");
        let ok = call(&client, "create_task", json!({"input": "fine"})).await;
        assert_eq!(
            ok.is_error,
            Some(false),
            "the server still answers after {fault}"
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn refused_and_unresolvable_hosts_are_reported_as_never_sent() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = connect_with(
        command(&format!("http://{closed}"), Some(KEY), &["--retries", "0"]),
        rmcp::model::ProtocolVersion::V_2025_11_25,
    )
    .await;
    let refused = call(&client, "create_task", json!({"input": "x"})).await;
    assert_tool_error(
        &refused,
        &["Could not reach", "Connection refused", "Nothing was sent"],
    );
    client.cancel().await.unwrap();

    // In a network namespace of its own the lookup fails at once, and no query
    // leaves this machine.
    if !crate::support::has_system_tool("unshare") {
        return;
    }
    let mut cmd = tokio::process::Command::new("unshare");
    cmd.arg("-n").arg(crate::support::bin());
    cmd.env("HANDINGER_BASE_URL", "http://handinger-api.invalid")
        .env("HANDINGER_API_KEY", KEY)
        .env("HANDINGER_STATE_DIR", crate::support::state_dir())
        .env("HANDINGER_RETRIES", "1")
        .env("HANDINGER_ALLOW_INSECURE_HTTP", "true")
        .kill_on_drop(true);
    let client = connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25).await;
    let unresolved = call(&client, "create_task", json!({"input": "x"})).await;
    assert_tool_error(
        &unresolved,
        &[
            "Could not reach",
            "handinger-api.invalid",
            "2 attempts",
            "Nothing was sent",
        ],
    );
    client.cancel().await.unwrap();
}

fn rss_kib(pid: u32) -> u64 {
    crate::support::proc_status_kib(pid, "VmRSS")
}

#[tokio::test]
async fn a_thousand_calls_with_mixed_faults_get_one_answer_each() {
    const FAULTS: [&str; 10] = [
        "",
        "",
        "",
        "",
        "server-error",
        "invalid-json",
        "truncated-body",
        "reset-mid-body",
        "rate-limited-once",
        "slow-headers",
    ];
    let refused_once: Arc<Mutex<HashSet<String>>> = Arc::default();
    let seen = refused_once.clone();
    let mock = MockApi::start_with(Arc::new(move |r: &Recorded| {
        let input = r.input().unwrap_or_default();
        let fault = input.split(':').nth(1).unwrap_or("");
        if fault == "rate-limited-once" {
            let task_id = r.field("taskId").unwrap_or_default();
            if seen.lock().unwrap().insert(task_id) {
                return fault_reply("rate-limited", r);
            }
            return fault_reply("", r);
        }
        fault_reply(fault, r)
    }))
    .await;
    let mut session = RawSession::spawn(command(
        &mock.base_url,
        Some(KEY),
        &["--request-timeout", "0.5", "--retries", "1"],
    ));
    session.initialize("2025-11-25").await;
    let pid = session.child.id().unwrap();

    let total: usize = std::env::var("STRESS_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let batch = 100;
    let mut answers: HashMap<i64, Value> = HashMap::new();
    let mut rss_after_warmup = 0;
    let started = Instant::now();
    for first in (0..total).step_by(batch) {
        for id in first..first + batch {
            let fault = FAULTS[id % FAULTS.len()];
            session
                .send(json!({"jsonrpc": "2.0", "id": id as i64 + 1, "method": "tools/call",
                             "params": {"name": "create_task", "arguments": {"input": format!("call {id}:{fault}")}}}))
                .await;
        }
        for message in session
            .lines_until_responses(batch, Duration::from_secs(60))
            .await
        {
            let id = message["id"]
                .as_i64()
                .expect("responses carry the request id");
            assert!(
                answers.insert(id, message).is_none(),
                "request {id} answered twice"
            );
        }
        if first == 2 * batch || (rss_after_warmup == 0 && first + batch >= total) {
            rss_after_warmup = rss_kib(pid);
        }
    }
    assert_eq!(
        answers.len(),
        total,
        "every request got exactly one response"
    );
    let elapsed = started.elapsed();
    let rss_end = rss_kib(pid);

    for (id, answer) in &answers {
        let fault = FAULTS[(*id as usize - 1) % FAULTS.len()];
        let result = &answer["result"];
        let is_error = result["isError"].as_bool().expect("a tool result");
        assert_eq!(
            is_error,
            !(fault.is_empty() || fault == "rate-limited-once"),
            "{fault}: {answer}"
        );
    }
    // No POST that reached a handler that ran it was sent twice; a 429 is the only
    // refusal that may be sent again.
    let mut runs: HashMap<String, usize> = HashMap::new();
    let mut refusals: HashMap<String, usize> = HashMap::new();
    let refused = refused_once.lock().unwrap().clone();
    for post in mock.task_posts() {
        let task_id = post.field("taskId").unwrap();
        *runs.entry(task_id.clone()).or_default() += 1;
        if refused.contains(&task_id) {
            *refusals.entry(task_id).or_default() += 1;
        }
    }
    assert_eq!(runs.len(), total, "one task id per call");
    for (task_id, count) in &runs {
        let allowed = if refused.contains(task_id) { 2 } else { 1 };
        assert_eq!(*count, allowed, "{task_id} sent {count} times");
    }
    assert!(
        rss_end < rss_after_warmup + 8 * 1024,
        "memory grew from {rss_after_warmup} KiB to {rss_end} KiB over {total} calls"
    );
    eprintln!(
        "{total} calls with mixed faults in {elapsed:?}; RSS {rss_after_warmup} -> {rss_end} KiB"
    );
}
