//! Many replicas over HTTP: MCP task handles any replica answers. No request
//! needs one an earlier request went to, and a replica's death loses nothing.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{
    MockApi, Recorded, Reply,
    http::{HttpServer, http_client, post, tasks_request as request},
    mock::worker_json,
};

/// How long the mock's tasks run.
const RUNS_FOR: Duration = Duration::from_millis(1500);

/// One replica, with a state folder of its own (nothing is shared but the API).
async fn replica(mock: &MockApi, state: &std::path::Path) -> HttpServer {
    let state = state.to_string_lossy().into_owned();
    HttpServer::start_at(
        &mock.base_url,
        Some(crate::support::KEY),
        "127.0.0.1:0",
        &[],
        &[("HANDINGER_STATE_DIR", &state)],
    )
    .await
}

/// create_task, opted in to run under a task handle.
fn call_as_task(id: i64, input: &str) -> Value {
    request(
        id,
        "tools/call",
        json!({"name": "create_task", "arguments": {"input": input}}),
    )
}

/// A request of the 2026-07-28 era: its version in the header as in `_meta`,
/// and the method and name headers that era asks for.
async fn ask_2026(server: &HttpServer, message: &Value) -> Value {
    let id = message["id"].clone();
    let params = &message["params"];
    let name = params["name"].as_str().or(params["taskId"].as_str());
    let text = http_client()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", message["method"].as_str().unwrap())
        .header("mcp-name", name.unwrap_or_default())
        .body(message.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .chain(std::iter::once(text.as_str()))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no answer to {message}: {text}"))
}

async fn ask(server: &HttpServer, message: &Value) -> Value {
    let id = message["id"].as_i64().unwrap();
    let answer = post(&http_client(), &server.mcp_url(), message, &[]).await;
    answer.response(id).clone()
}

/// Poll `tasks/get` on the replicas in turn until the handle ends: its last
/// answer, and how many said it was still working.
async fn poll_until_done(replicas: &[&HttpServer], handle: &str) -> (Value, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    for n in 0.. {
        assert!(
            Instant::now() < deadline,
            "the handle never ended; the last answer: {last}"
        );
        let server = replicas[n % replicas.len()];
        let got = ask(
            server,
            &request(100 + n as i64, "tasks/get", json!({"taskId": handle})),
        )
        .await;
        let status = got["result"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(matches!(status.as_str(), "working" | "completed"), "{got}");
        if status == "completed" {
            return (got["result"].clone(), n);
        }
        last = got;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unreachable!()
}

fn answer_text(result: &Value) -> String {
    result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn any_replica_answers_a_handle_and_a_replicas_death_loses_nothing() {
    let mock = MockApi::start_with(crate::support::mock::running_for(RUNS_FOR)).await;
    let (state_a, state_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = replica(&mock, state_a.path()).await;
    let b = replica(&mock, state_b.path()).await;

    // Every request goes to the other replica than the one before: no request
    // needs the replica an earlier one went to (no sticky sessions).
    let init = ask(&a, &crate::support::http::initialize(1)).await;
    assert!(
        init["result"]["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"].is_object(),
        "{init}"
    );
    let started = ask(&b, &call_as_task(2, "alternating")).await;
    assert_eq!(started["result"]["resultType"], "task", "{started}");
    let handle = started["result"]["taskId"].as_str().unwrap().to_owned();
    assert!(handle.starts_with("hdg1.tsk_"), "{handle}");
    let (done, working) = poll_until_done(&[&a, &b], &handle).await;
    assert!(
        answer_text(&done).contains("Answer to: alternating"),
        "{done}"
    );
    assert!(working >= 2, "both replicas saw it working");

    // The 2026-07-28 era (no handshake; each request names its version): the
    // same handle, and the completed task carries its result inline.
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientInfo": {"name": "era", "version": "1"},
                      "io.modelcontextprotocol/clientCapabilities":
                          {"extensions": {"io.modelcontextprotocol/tasks": {}}}});
    let with_meta = |id: i64, method: &str, mut params: Value| {
        params["_meta"] = meta.clone();
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
    };
    let started = ask_2026(
        &a,
        &with_meta(
            6,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": "new era"}}),
        ),
    )
    .await;
    assert_eq!(started["result"]["resultType"], "task", "{started}");
    let handle = started["result"]["taskId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let got = ask_2026(&b, &with_meta(7, "tasks/get", json!({"taskId": handle}))).await;
        if got["result"]["status"] == "completed" {
            break got;
        }
        assert!(Instant::now() < deadline, "{got}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        answer_text(&done["result"]).contains("Answer to: new era"),
        "{done}"
    );

    // A starts a task and dies (SIGKILL) while its request to the API is open.
    let started = ask(&a, &call_as_task(3, "outlives its replica")).await;
    let handle = started["result"]["taskId"].as_str().unwrap().to_owned();
    a.child.kill().await.unwrap();
    let (done, working) = poll_until_done(&[&b], &handle).await;
    assert!(
        answer_text(&done).contains("Answer to: outlives its replica"),
        "{done}"
    );
    assert!(working >= 1, "B saw it working before it ended");
    assert_eq!(
        mock.task_posts().len(),
        3,
        "each task was sent exactly once"
    );

    // tasks/cancel is acknowledged by any replica; the work goes on at Handinger.
    let cancelled = ask(&b, &request(4, "tasks/cancel", json!({"taskId": handle}))).await;
    assert!(cancelled.get("result").is_some(), "{cancelled}");
    // A handle that names no turn of this bridge's making is refused.
    let unknown = ask(
        &b,
        &request(5, "tasks/get", json!({"taskId": "hdg1.tsk/../x.1.1"})),
    )
    .await;
    assert!(unknown.get("error").is_some(), "{unknown}");
}

/// A poll the API cannot answer (503, say) leaves the handle working: the task
/// is not over, and the next poll gets its answer.
#[tokio::test]
async fn a_poll_the_api_cannot_answer_leaves_the_handle_working() {
    // Armed once the handle is given: the API fails the next two lookups.
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let left = failures.clone();
    let mock = MockApi::start_with(Arc::new(move |request: &Recorded| {
        if request.method == "POST" && request.path == "/api/tasks" {
            return Reply::json(200, worker_json(request));
        }
        if request.method == "GET"
            && left
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok()
        {
            return Reply::error(503, "busy");
        }
        Reply::error(404, "not found")
    }))
    .await;
    let state = tempfile::tempdir().unwrap();
    let server = replica(&mock, state.path()).await;
    let started = ask(&server, &call_as_task(1, "through a busy API")).await;
    let handle = started["result"]["taskId"].as_str().unwrap().to_owned();
    failures.store(2, std::sync::atomic::Ordering::SeqCst);
    let get = |id| request(id, "tasks/get", json!({"taskId": handle}));
    for id in [2, 3] {
        let busy = ask(&server, &get(id)).await;
        assert_eq!(busy["result"]["status"], "working", "{busy}");
        let message = busy["result"]["statusMessage"].as_str().unwrap_or_default();
        assert!(message.contains("503"), "{busy}");
    }
    let done = ask(&server, &get(4)).await;
    assert_eq!(done["result"]["status"], "completed", "{done}");
    assert!(answer_text(&done["result"]).contains("Answer to: through a busy API"));
    assert_eq!(failures.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// A handle is given only once the API has the task: a call the API refuses
/// before it runs gets that refusal at once, not a handle naming nothing.
#[tokio::test]
async fn a_call_refused_before_it_runs_gets_no_handle() {
    let mock = MockApi::start_with(Arc::new(|request: &Recorded| {
        if request.method == "POST" {
            Reply::error(400, "input is too long")
        } else {
            Reply::error(404, "not found")
        }
    }))
    .await;
    let state = tempfile::tempdir().unwrap();
    let server = replica(&mock, state.path()).await;
    let answer = ask(&server, &call_as_task(1, "refused")).await;
    assert_ne!(answer["result"]["resultType"], "task", "{answer}");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        answer_text(&answer).contains("input is too long"),
        "{answer}"
    );
}
