//! Long-running tasks: the wait deadline, background completion, get_task (kept,
//! in flight, after a restart), progress, cancellation, follow-ups on a running
//! task, the MCP tasks extension, and shutdown with calls in flight.

use std::{sync::Arc, time::Duration};

use rmcp::{
    ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
        ClientCapabilities, ClientConfig, GetTaskParams, Implementation, TaskPayload, TaskStatus,
        UpdateTaskParams,
    },
    transport::TokioChildProcess,
};
use serde_json::{Value, json};

use crate::support::{
    KEY, MockApi, Recorded, Reply, assert_tool_error, call, command, connect,
    mock::{slow_handler, worker_json},
    raw::RawSession,
    text,
};

fn structured(result: &CallToolResult) -> Value {
    result
        .structured_content
        .clone()
        .expect("structuredContent")
}

fn first_task_id(mock: &MockApi) -> String {
    mock.task_posts()[0].field("taskId").expect("taskId sent")
}

/// Wait until the first POST has reached the mock, and return its task id.
async fn posted_task_id(mock: &MockApi) -> String {
    for _ in 0..250 {
        if !mock.task_posts().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first_task_id(mock)
}

#[tokio::test]
async fn a_call_past_its_deadline_returns_running_and_get_task_finds_the_result() {
    // The POST answers after 1.5 s; meanwhile the task's status names its worker.
    let slow = slow_handler(Duration::from_millis(1500));
    let mock = MockApi::start_with(Arc::new(move |r: &Recorded| {
        if r.method == "GET" && r.path.starts_with("/api/tasks/tsk_") {
            return Reply::json(
                200,
                json!({"task": {"id": "x", "status": "running", "workerId": "wrk_live",
                "url": "https://v3.handinger.com/worker/wrk_live"}}),
            );
        }
        slow(r)
    }))
    .await;
    let client = connect(&mock, &["--wait", "0.3"]).await;
    let started = std::time::Instant::now();
    let result = call(&client, "create_task", json!({"input": "slow work"})).await;
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "returned at the deadline"
    );
    assert_eq!(
        result.is_error,
        Some(false),
        "still running is not an error"
    );
    let s = structured(&result);
    assert_eq!(s["status"], "running");
    let task_id = s["taskId"].as_str().unwrap().to_owned();
    assert_eq!(task_id, first_task_id(&mock));
    assert!(s["nextStep"].as_str().unwrap().contains("get_task"));
    assert_eq!(
        s["workerId"], "wrk_live",
        "the worker, once the API names it"
    );
    assert_eq!(s["url"], "https://v3.handinger.com/worker/wrk_live");
    assert!(text(&result).contains("dashboard: https://v3.handinger.com/worker/wrk_live"));
    assert!(text(&result).contains(&format!("call get_task with taskId \"{task_id}\"")));

    // While it runs, a zero wait answers at once with "running".
    let now = call(
        &client,
        "get_task",
        json!({"taskId": task_id, "waitSeconds": 0}),
    )
    .await;
    assert_eq!(structured(&now)["status"], "running");

    let done = call(
        &client,
        "get_task",
        json!({"taskId": task_id, "waitSeconds": 10}),
    )
    .await;
    assert_eq!(done.is_error, Some(false), "{done:?}");
    assert!(text(&done).contains("Answer to: slow work"));
    assert_eq!(structured(&done)["status"], "completed");

    // Kept: read again without asking the API.
    let asked = mock.requests().len();
    let again = call(&client, "get_task", json!({"taskId": task_id})).await;
    assert!(text(&again).contains("Answer to: slow work"));
    assert_eq!(
        mock.requests().len(),
        asked,
        "a kept result needs no request"
    );
    assert_eq!(mock.task_posts().len(), 1, "one POST");
    let expected_path = format!("/api/tasks/{task_id}");
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.method == "POST" || r.path == expected_path),
        "besides the POST, only status look-ups: {:?}",
        mock.requests()
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn wait_seconds_is_capped_by_the_configured_maximum() {
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(3))).await;
    let client = connect(&mock, &["--wait", "10", "--max-wait", "0.5"]).await;
    let started = std::time::Instant::now();
    let result = call(
        &client,
        "create_task",
        json!({"input": "x", "waitSeconds": 60}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(structured(&result)["status"], "running");
    client.cancel().await.unwrap();
}

/// The API as a restarted bridge sees it: task status and worker endpoints.
fn api_with_tasks() -> crate::support::mock::Handler {
    Arc::new(|r: &Recorded| {
        let worker = |id: &str| {
            let mut w = worker_json(&Recorded::default());
            w["id"] = json!(id);
            w["output_text"] = json!(format!("Stored answer of {id}"));
            w
        };
        let task = |status: &str, worker: &str| {
            json!({"task": {"id": "x", "status": status, "workerId": worker,
                            "url": format!("https://v3.handinger.com/worker/{worker}")}})
        };
        match r.path.as_str() {
            "/api/tasks/tsk_done" => Reply::json(200, task("completed", "wrk_done")),
            "/api/workers/wrk_done?taskId=tsk_done" => Reply::json(200, worker("wrk_done")),
            "/api/tasks/tsk_turns" => Reply::json(200, task("completed", "wrk_gone")),
            "/api/tasks/tsk_turns/turns" => Reply::json(
                200,
                json!({"taskId": "tsk_turns", "items": [
                    {"seq": 1, "role": "user", "input": "q", "outputText": null},
                    {"seq": 2, "role": "assistant", "status": "completed", "outputText": "From the turns",
                     "credits": 3, "durationMs": 2000,
                     "files": [{"filename": "out.csv", "mediaType": "text/csv", "url": "https://f/out.csv"}]}
                ]}),
            ),
            "/api/tasks/tsk_busy" => Reply::json(200, task("running", "wrk_busy")),
            "/api/tasks/tsk_failed" => Reply::json(200, task("error", "wrk_f")),
            _ => Reply::error(404, "task not found"),
        }
    })
}

#[tokio::test]
async fn after_a_restart_get_task_asks_the_api() {
    let mock = MockApi::start_with(api_with_tasks()).await;
    let client = connect(&mock, &[]).await;

    let done = call(&client, "get_task", json!({"taskId": "tsk_done"})).await;
    assert_eq!(done.is_error, Some(false), "{done:?}");
    assert!(text(&done).starts_with("Stored answer of wrk_done"));
    assert!(text(&done).contains("Sources:\n1. Mock source"));
    assert_eq!(structured(&done)["taskId"], "tsk_done");
    assert_eq!(
        mock.requests()
            .iter()
            .map(|r| (r.method.as_str(), r.header("authorization").unwrap_or("")))
            .collect::<Vec<_>>(),
        vec![
            ("GET", format!("Bearer {KEY}").as_str()),
            ("GET", format!("Bearer {KEY}").as_str())
        ]
    );

    let turns = call(&client, "get_task", json!({"taskId": "tsk_turns"})).await;
    assert!(
        text(&turns).starts_with("From the turns"),
        "{}",
        text(&turns)
    );
    assert_eq!(structured(&turns)["files"][0]["filename"], "out.csv");
    assert_eq!(structured(&turns)["usage"]["credits"], 3.0);

    let busy = call(
        &client,
        "get_task",
        json!({"taskId": "tsk_busy", "waitSeconds": 0}),
    )
    .await;
    assert_eq!(busy.is_error, Some(false));
    assert_eq!(structured(&busy)["status"], "running");
    assert_eq!(
        structured(&busy)["url"],
        "https://v3.handinger.com/worker/wrk_busy"
    );

    let failed = call(&client, "get_task", json!({"taskId": "tsk_failed"})).await;
    assert_tool_error(
        &failed,
        &["tsk_failed", "ended on Handinger with status error"],
    );

    let unknown = call(&client, "get_task", json!({"taskId": "tsk_nope"})).await;
    assert_tool_error(&unknown, &["HTTP 404", "No task with taskId tsk_nope"]);
    assert!(mock.task_posts().is_empty(), "get_task never starts work");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn progress_arrives_while_waiting_and_never_after_the_result() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(1300))).await;
    let mut session = RawSession::spawn(command(
        &mock.base_url,
        Some(KEY),
        &["--progress-interval", "0.25"],
    ));
    session.initialize("2025-06-18").await;
    let lines = session
        .request_collecting(
            1,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": "tick"}, "_meta": {"progressToken": "p-1"}}),
        )
        .await;
    let progress: Vec<&Value> = lines
        .iter()
        .filter(|l| l["method"] == "notifications/progress")
        .collect();
    assert!(
        progress.len() >= 3,
        "expected several progress notifications: {lines:?}"
    );
    let values: Vec<f64> = progress
        .iter()
        .map(|p| p["params"]["progress"].as_f64().unwrap())
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "progress increases: {values:?}"
    );
    for (n, p) in progress.iter().enumerate() {
        assert_eq!(p["params"]["progressToken"], "p-1");
        let message = p["params"]["message"].as_str().unwrap();
        let expected = if n == 0 { "was sent" } else { "is running" };
        assert!(
            message.contains("tsk_") && message.contains(expected),
            "{message}"
        );
    }
    assert_eq!(
        lines.last().unwrap()["id"],
        1,
        "the response ends the stream"
    );
    let after = session.lines_within(Duration::from_millis(800)).await;
    assert!(after.is_empty(), "nothing after the result: {after:?}");

    // Without a token, no progress at all.
    let lines = session
        .request_collecting(
            2,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": "quiet"}}),
        )
        .await;
    let progress = lines
        .iter()
        .filter(|l| l["method"] == "notifications/progress")
        .count();
    assert_eq!(progress, 0, "{lines:?}");
    assert_eq!(lines.last().unwrap()["id"], 2, "{lines:?}");
}

/// A mock whose task runs for `delay` and names worker `wrk_live` at once, whose
/// worker endpoint shows `output` so far, and which counts the worker lookups.
fn live_worker_mock(delay: Duration, output: &'static str) -> crate::support::mock::Handler {
    let slow = slow_handler(delay);
    Arc::new(move |r: &Recorded| {
        if r.method == "GET" && r.path.starts_with("/api/tasks/tsk_") {
            return Reply::json(
                200,
                json!({"task": {"id": "x", "status": "running", "workerId": "wrk_live"}}),
            );
        }
        if r.method == "GET" && r.path.starts_with("/api/workers/wrk_live?taskId=tsk_") {
            return Reply::json(
                200,
                json!({"id": "wrk_live", "status": "running", "running": true,
                       "output_text": output, "output": [], "sources": [], "files": []}),
            );
        }
        slow(r)
    })
}

/// While a call waits with progress shown, each tick looks at the worker once,
/// and the report carries the worker's latest line, short and cleaned of
/// control and bidi characters; a result still running carries the output so
/// far, marked partial. Without progress, the worker is never asked.
#[tokio::test]
async fn live_worker_output_goes_into_progress_and_a_running_result() {
    let output = "Searching the web\nReading \u{1b}[2Jsource \u{202e}two\u{2069} of many";
    let mock = MockApi::start_with(live_worker_mock(Duration::from_millis(2500), output)).await;
    let mut session = RawSession::spawn(command(
        &mock.base_url,
        Some(KEY),
        &["--progress-interval", "0.25", "--wait", "1.2"],
    ));
    session.initialize("2025-06-18").await;
    let lines = session
        .request_collecting(
            1,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": "live"},
                   "_meta": {"progressToken": "live-1"}}),
        )
        .await;
    let messages: Vec<&str> = lines
        .iter()
        .filter(|l| l["method"] == "notifications/progress")
        .map(|p| p["params"]["message"].as_str().unwrap())
        .collect();
    let live: Vec<&&str> = messages
        .iter()
        .filter(|m| m.ends_with(": Reading [2Jsource two of many"))
        .collect();
    assert!(!live.is_empty(), "no live line in {messages:?}");
    assert!(
        messages
            .iter()
            .all(|m| !m.contains('\u{1b}') && !m.contains('\u{202e}'))
    );
    let result = &lines.last().unwrap()["result"];
    let s = &result["structuredContent"];
    assert_eq!(s["status"], "running", "{result}");
    assert!(
        s["partialOutput"]
            .as_str()
            .is_some_and(|p| p.starts_with("Searching the web\nReading")),
        "{s}"
    );
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Partial output so far"),
        "{result}"
    );
    let ticks = messages.len();
    let looks = mock
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/workers/"))
        .count();
    assert!(
        looks >= 1 && looks <= ticks,
        "{looks} looks, {ticks} reports"
    );

    // Without a progress token, the worker is never asked.
    let before = looks;
    let quiet = session
        .request_collecting(
            2,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": "quiet"}}),
        )
        .await;
    let s = &quiet.last().unwrap()["result"]["structuredContent"];
    assert!(s.get("partialOutput").is_none(), "{s}");
    let looks = mock
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/workers/"))
        .count();
    assert_eq!(looks, before, "no progress, no look at the worker");
}

/// get_task on a task this process does not hold polls the API; while progress
/// is shown, each poll also looks at the worker, and the report and a result
/// still running carry its output.
#[tokio::test]
async fn live_worker_output_reaches_a_lookup_of_a_task_started_elsewhere() {
    let mock = MockApi::start_with(live_worker_mock(
        Duration::from_secs(30),
        "Checked 12 sources\nWriting the comparison",
    ))
    .await;
    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    session.initialize("2025-06-18").await;
    let lines = session
        .request_collecting(
            1,
            "tools/call",
            json!({"name": "get_task",
                   "arguments": {"taskId": "tsk_startedElsewhere", "waitSeconds": 1.5},
                   "_meta": {"progressToken": "remote"}}),
        )
        .await;
    let messages: Vec<&str> = lines
        .iter()
        .filter(|l| l["method"] == "notifications/progress")
        .map(|p| p["params"]["message"].as_str().unwrap())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.ends_with("): Writing the comparison")),
        "{messages:?}"
    );
    let s = &lines.last().unwrap()["result"]["structuredContent"];
    assert_eq!(s["status"], "running", "{s}");
    assert!(
        s["partialOutput"]
            .as_str()
            .is_some_and(|p| p.contains("Writing the comparison")),
        "{s}"
    );
}

#[tokio::test]
async fn cancelling_stops_the_wait_but_not_the_task() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(1500))).await;
    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    session.initialize("2025-11-25").await;
    session
        .send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": {"name": "create_task", "arguments": {"input": "cancel me"}}}))
        .await;
    // Wait until the POST is in flight, then cancel the call.
    let task_id = posted_task_id(&mock).await;
    session
        .send(
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                     "params": {"requestId": 1, "reason": "user pressed stop"}}),
        )
        .await;
    let started = std::time::Instant::now();
    let listed = session.request(2, "tools/list", json!({})).await;
    assert!(listed["result"]["tools"].is_array());
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "the server answers others at once"
    );

    let got = session
        .request(
            3,
            "tools/call",
            json!({"name": "get_task", "arguments": {"taskId": task_id, "waitSeconds": 10}}),
        )
        .await;
    assert_eq!(
        got["result"]["structuredContent"]["outputText"], "Answer to: cancel me",
        "{got}"
    );
    assert!(
        !session
            .lines
            .iter()
            .any(|l| serde_json::from_str::<Value>(l).unwrap()["id"] == 1),
        "a cancelled request gets no response"
    );
    assert_eq!(mock.task_posts().len(), 1);
    session.close_stdin();
    session.child.wait().await.unwrap();
    let stderr = session.stderr().await;
    assert!(
        stderr.contains("cancelled") && stderr.contains(&task_id),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_follow_up_never_runs_beside_the_turn_still_running() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(1500))).await;
    let client = connect(&mock, &["--wait", "0.2"]).await;
    let first = call(&client, "create_task", json!({"input": "turn one"})).await;
    let task_id = structured(&first)["taskId"].as_str().unwrap().to_owned();

    let refused = call(
        &client,
        "follow_up_task",
        json!({"taskId": task_id, "input": "turn two"}),
    )
    .await;
    assert_eq!(refused.is_error, Some(false));
    assert!(text(&refused).contains("NOT sent"), "{}", text(&refused));
    assert_eq!(structured(&refused)["status"], "running");
    assert_eq!(mock.task_posts().len(), 1, "the follow-up was not sent");

    let second = call(
        &client,
        "follow_up_task",
        json!({"taskId": task_id, "input": "turn two", "waitSeconds": 10}),
    )
    .await;
    assert!(
        text(&second).contains("Answer to: turn two"),
        "{}",
        text(&second)
    );
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 2);
    let gap = posts[1].at.unwrap().duration_since(posts[0].at.unwrap());
    assert!(
        gap >= Duration::from_millis(1500),
        "sent only after the first turn ended ({gap:?})"
    );

    // Two follow-ups at once while a turn runs: each waits, and they go one by one.
    let third = call(
        &client,
        "follow_up_task",
        json!({"taskId": task_id, "input": "turn three"}),
    )
    .await;
    assert_eq!(structured(&third)["status"], "running");
    let (a, b) = tokio::join!(
        call(
            &client,
            "follow_up_task",
            json!({"taskId": task_id, "input": "turn four", "waitSeconds": 15})
        ),
        call(
            &client,
            "follow_up_task",
            json!({"taskId": task_id, "input": "turn five", "waitSeconds": 15})
        ),
    );
    assert!(text(&a).contains("Answer to: turn four") && text(&b).contains("Answer to: turn five"));
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 5);
    for pair in posts[2..].windows(2) {
        let gap = pair[1].at.unwrap().duration_since(pair[0].at.unwrap());
        assert!(
            gap >= Duration::from_millis(1500),
            "turns overlapped ({gap:?})"
        );
    }
    client.cancel().await.unwrap();
}

fn tasks_client() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::builder().enable_tasks().build(),
        Implementation::new("tasks-client", "1.0.0"),
    )
}

#[tokio::test]
async fn clients_of_the_tasks_extension_get_handles() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(800))).await;
    let (transport, _) = TokioChildProcess::builder(command(
        &mock.base_url,
        Some(KEY),
        &["--progress-interval", "0.2"],
    ))
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let client = tasks_client().serve(transport).await.unwrap();
    let caps = client.peer_info().unwrap().capabilities.clone();
    assert!(
        caps.extensions
            .unwrap()
            .contains_key("io.modelcontextprotocol/tasks")
    );

    // Each call opts in itself, in its own _meta, as the extension asks.
    let start = |input: &str| {
        let mut meta = rmcp::model::RequestMetaObject::new();
        meta.set_client_capabilities(ClientCapabilities::builder().enable_tasks().build());
        let mut params = CallToolRequestParams::new("create_task")
            .with_arguments(json!({"input": input}).as_object().unwrap().clone());
        params.meta = Some(meta);
        params
    };
    let CallToolResponse::Task(created) = client.call_tool_once(start("as a task")).await.unwrap()
    else {
        panic!("expected a task")
    };
    let id = created.task.task_id.clone();
    // tasks/update is accepted (this server asks for no input, so there is nothing
    // to answer, and unknown keys are ignored per SEP-2663).
    client
        .peer()
        .update_task(UpdateTaskParams::new(id.clone(), Default::default()))
        .await
        .expect("tasks/update works");
    let mut messages = Vec::new();
    let finished = loop {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let got = client
            .peer()
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .unwrap();
        messages.extend(got.task.task.status_message.clone());
        if got.task.status().is_terminal() {
            break got.task;
        }
    };
    assert!(
        messages.iter().any(|m| m.contains("is running")),
        "{messages:?}"
    );
    let TaskPayload::Completed { result } = finished.payload else {
        panic!("expected completed, got {:?}", finished.payload)
    };
    let result: CallToolResult = serde_json::from_value(Value::Object(result)).unwrap();
    assert!(text(&result).contains("Answer to: as a task"));

    // tasks/cancel settles the MCP task as cancelled; the Handinger task goes on.
    let CallToolResponse::Task(second) = client.call_tool_once(start("cancel this")).await.unwrap()
    else {
        panic!("expected a task")
    };
    client
        .peer()
        .cancel_task(CancelTaskParams::new(second.task.task_id.clone()))
        .await
        .unwrap();
    let mut status = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let got = client
            .peer()
            .get_task(GetTaskParams::new(second.task.task_id.clone()))
            .await
            .unwrap();
        if got.task.status().is_terminal() {
            status = Some(got.task.status());
            break;
        }
    }
    assert_eq!(status, Some(TaskStatus::Cancelled));
    client.cancel().await.unwrap();
}

/// The attack's numbers: 3,000 tasks with 60 KB answers run as MCP tasks took
/// 328 MiB, kept for hours. Results kept whole are bounded by count and bytes;
/// an evicted one is fetched again from the API when asked, whole.
#[tokio::test]
async fn results_kept_for_the_tasks_extension_are_bounded() {
    const TASKS: usize = 3_000;
    let mock = MockApi::start().await;
    mock.skip_hashing();
    let (transport, _) =
        TokioChildProcess::builder(command(&mock.base_url, Some(KEY), &["--log-level", "warn"]))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    let pid = transport.id().unwrap();
    let client = tasks_client().serve(transport).await.unwrap();
    let start = |n: usize| {
        let mut meta = rmcp::model::RequestMetaObject::new();
        meta.set_client_capabilities(ClientCapabilities::builder().enable_tasks().build());
        let input = format!("task {n:05} {}", "x".repeat(60 * 1024));
        let mut params = CallToolRequestParams::new("create_task")
            .with_arguments(json!({"input": input}).as_object().unwrap().clone());
        params.meta = Some(meta);
        params
    };
    let mut ids = Vec::new();
    for n in 0..TASKS {
        let CallToolResponse::Task(created) = client.call_tool_once(start(n)).await.unwrap() else {
            panic!("expected a task")
        };
        ids.push(created.task.task_id);
        if n % 200 == 199 {
            // Let the answers land, as a client polling now and then would.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let last = loop {
        let got = client
            .peer()
            .get_task(GetTaskParams::new(ids[TASKS - 1].clone()))
            .await
            .unwrap();
        if got.task.status().is_terminal() {
            break got.task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(last.status(), TaskStatus::Completed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = crate::support::proc_status_kib(pid, "VmHWM");
    let now = crate::support::proc_status_kib(pid, "VmRSS");
    eprintln!("{TASKS} MCP tasks of 60 KB answers: peak RSS {peak} KiB, now {now} KiB");
    assert!(now < 160 * 1024, "RSS {now} KiB after {TASKS} tasks");
    assert_eq!(mock.task_posts().len(), TASKS, "each task sent once");

    // The first result was evicted long ago: tasks/get fetches it again, whole.
    let first = client
        .peer()
        .get_task(GetTaskParams::new(ids[0].clone()))
        .await
        .unwrap();
    let TaskPayload::Completed { result } = first.task.payload else {
        panic!("expected completed, got {:?}", first.task.payload)
    };
    let result: CallToolResult = serde_json::from_value(Value::Object(result)).unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    assert!(text(&result).starts_with("Answer to: task 00000 xxx"));
    let posted = mock.task_posts()[0].field("taskId").unwrap();
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == format!("/api/tasks/{posted}")),
        "fetched again from the API"
    );
    client.cancel().await.unwrap();
}

/// Start a call that will not finish, then stop the server with `stop`.
async fn stop_with_a_call_in_flight(stop: &str) {
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(30))).await;
    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    session.initialize("2025-11-25").await;
    session
        .send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": {"name": "create_task", "arguments": {"input": "forever"}}}))
        .await;
    let task_id = posted_task_id(&mock).await;
    match stop {
        "stdin" => session.close_stdin(),
        signal => {
            let pid = session.child.id().unwrap().to_string();
            assert!(
                std::process::Command::new("kill")
                    .args([signal, &pid])
                    .status()
                    .unwrap()
                    .success()
            );
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(5), session.child.wait())
        .await
        .unwrap_or_else(|_| panic!("exits within 5 s of {stop}"))
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stop}");
    let stderr = session.stderr().await;
    assert!(
        stderr.contains(&task_id) && stderr.contains("may still run on Handinger"),
        "{stop}: {stderr}"
    );
}

#[tokio::test]
async fn shutdown_names_the_tasks_still_running_and_exits_promptly() {
    for stop in ["stdin", "-TERM", "-INT"] {
        stop_with_a_call_in_flight(stop).await;
    }
}

/// In every protocol era, with the extension declared at initialize (or in every
/// request's _meta, in 2026-07-28): a plain call gets a normal result, and only a
/// call that opts in itself gets a task.
#[tokio::test]
async fn only_a_request_that_opts_in_gets_a_task_in_every_protocol_era() {
    let mock = MockApi::start().await;
    let tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    let call = |id: i64, meta: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "create_task", "arguments": {"input": "era"}, "_meta": meta}})
    };
    for version in [
        "2024-11-05",
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        "2026-07-28",
    ] {
        let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
        let (plain_meta, opted_meta) = if version == "2026-07-28" {
            let meta = |caps: Value| {
                json!({"io.modelcontextprotocol/protocolVersion": version,
                       "io.modelcontextprotocol/clientInfo": {"name": "era", "version": "1"},
                       "io.modelcontextprotocol/clientCapabilities": caps})
            };
            (meta(json!({})), meta(tasks.clone()))
        } else {
            let init = session
                .request(
                    0,
                    "initialize",
                    json!({"protocolVersion": version, "capabilities": tasks,
                    "clientInfo": {"name": "era", "version": "1"}}),
                )
                .await;
            assert!(init.get("result").is_some(), "{version}: {init}");
            session
                .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
                .await;
            (
                json!({}),
                json!({"io.modelcontextprotocol/clientCapabilities": tasks}),
            )
        };
        session.send(call(1, plain_meta)).await;
        let plain = session.response(1).await;
        assert!(
            plain["result"]["content"].is_array(),
            "{version}: plain call: {plain}"
        );
        assert_ne!(plain["result"]["resultType"], "task", "{version}: {plain}");
        session.send(call(2, opted_meta)).await;
        let opted = session.response(2).await;
        assert_eq!(
            opted["result"]["resultType"], "task",
            "{version}: opted in: {opted}"
        );
        assert!(opted["result"]["taskId"].is_string(), "{version}: {opted}");
        session.close_stdin();
    }
}

/// A mock API where `tsk_later` runs for its first `polls` lookups, then completes
/// (and `tsk_broken` fails after one), as a task started by another process would.
fn api_finishing_after(polls: usize) -> crate::support::mock::Handler {
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Arc::new(move |r: &Recorded| {
        let task = |status: &str| {
            json!({"task": {"id": "x", "status": status, "workerId": "wrk_later",
                            "url": "https://v3.handinger.com/worker/wrk_later"}})
        };
        match r.path.as_str() {
            "/api/tasks/tsk_later" => {
                let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Reply::json(200, task(if n < polls { "running" } else { "completed" }))
            }
            "/api/workers/wrk_later?taskId=tsk_later" => {
                let mut w = worker_json(&Recorded::default());
                w["id"] = json!("wrk_later");
                w["output_text"] = json!("Finished elsewhere");
                Reply::json(200, w)
            }
            "/api/tasks/tsk_broken" => {
                let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Reply::json(200, task(if n < 1 { "running" } else { "error" }))
            }
            _ => Reply::error(404, "task not found"),
        }
    })
}

#[tokio::test]
async fn a_task_started_elsewhere_is_awaited_by_polling_the_api() {
    // Over MCP, with progress while polling.
    let mock = MockApi::start_with(api_finishing_after(2)).await;
    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    session.initialize("2025-11-25").await;
    let lines = session
        .request_collecting(
            1,
            "tools/call",
            json!({"name": "get_task", "arguments": {"taskId": "tsk_later", "waitSeconds": 20},
                   "_meta": {"progressToken": "poll"}}),
        )
        .await;
    let answer = lines.last().unwrap();
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Finished elsewhere"), "{answer}");
    assert_eq!(answer["result"]["structuredContent"]["status"], "completed");
    let progress: Vec<&Value> = lines
        .iter()
        .filter(|l| l["method"] == "notifications/progress")
        .collect();
    assert!(progress.len() >= 2, "progress while polling: {lines:?}");
    assert!(
        progress[0]["params"]["message"]
            .as_str()
            .unwrap()
            .contains("https://v3.handinger.com/worker/wrk_later")
    );
    let polls: Vec<_> = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/api/tasks/tsk_later")
        .map(|r| r.at.unwrap())
        .collect();
    assert_eq!(polls.len(), 3, "two running answers, then completed");
    let gaps: Vec<Duration> = polls.windows(2).map(|w| w[1] - w[0]).collect();
    // Pauses are lower bounds (a sleep never ends early), so load can only
    // lengthen the gaps: at least 1 s, then at least 2 s.
    assert!(
        gaps[0] >= Duration::from_millis(990) && gaps[1] >= Duration::from_millis(1990),
        "backoff from 1 s, doubling: {gaps:?}"
    );
    // A task that fails on the API's side returns its error.
    let failed = session
        .request(
            2,
            "tools/call",
            json!({"name": "get_task", "arguments": {"taskId": "tsk_broken", "waitSeconds": 20}}),
        )
        .await;
    assert_eq!(failed["result"]["isError"], true, "{failed}");
    let message = failed["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        message.contains("ended on Handinger with status error"),
        "{message}"
    );
    session.close_stdin();

    // From the shell, in another process: `get --wait` polls the same way.
    let mock = MockApi::start_with(api_finishing_after(1)).await;
    let out = command(
        &mock.base_url,
        Some(KEY),
        &["get", "tsk_later", "--wait", "20"],
    )
    .output()
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("Finished elsewhere"), "{stdout}");
    // A wait that runs out first says "still running" (exit 3).
    let mock = MockApi::start_with(api_finishing_after(100)).await;
    let out = command(
        &mock.base_url,
        Some(KEY),
        &["get", "tsk_later", "--wait", "1.5"],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[tokio::test]
async fn the_first_progress_names_the_task_at_once_and_then_its_dashboard() {
    let mock = MockApi::start_with(Arc::new(|r: &Recorded| {
        if r.method == "POST" {
            slow_handler(Duration::from_secs(3))(r)
        } else {
            Reply::json(
                200,
                json!({"task": {"id": "x", "status": "running", "workerId": "wrk_1",
                                "url": "https://v3.handinger.com/worker/wrk_1"}}),
            )
        }
    }))
    .await;
    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    session.initialize("2025-11-25").await;
    session
        .send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "create_task", "arguments": {"input": "early"},
                       "_meta": {"progressToken": "early"}}}))
        .await;
    // The interval is 10 s; the first two reports still come within about a second.
    let early = session.lines_within(Duration::from_millis(1500)).await;
    let messages: Vec<&str> = early
        .iter()
        .filter(|l| l["method"] == "notifications/progress")
        .filter_map(|l| l["params"]["message"].as_str())
        .collect();
    assert!(
        messages
            .first()
            .is_some_and(|m| m.contains("tsk_") && m.contains("was sent")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("https://v3.handinger.com/worker/wrk_1")),
        "{messages:?}"
    );
    session.close_stdin();
}

/// A call without a progress token shows no progress, so nothing is looked up
/// to report: the POST is the only request. (rmcp's client sends a token with
/// every call, so this one is spoken raw.)
#[tokio::test]
async fn a_call_without_a_progress_token_costs_no_dashboard_lookup() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(1500))).await;
    let mut session = RawSession::spawn(command(&mock.base_url, Some(KEY), &[]));
    session.initialize("2025-11-25").await;
    let answer = session
        .request(
            1,
            "tools/call",
            json!({"name": "create_task", "arguments": {"input": "quiet"}}),
        )
        .await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    let requests: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(requests, ["POST /api/tasks"]);
    session.close_stdin();
}

/// How many lookups of `task_id` the mock saw.
fn lookups_of(mock: &MockApi, task_id: &str) -> usize {
    let path = format!("/api/tasks/{task_id}");
    mock.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .count()
}

/// Past the hold, once the API lists the turn, the POST is closed and the API
/// polled: the answer still comes whole (text, sources, files), for a new task
/// and for a follow-up, and each turn is sent once.
#[tokio::test]
async fn a_long_call_lets_its_post_go_and_takes_the_whole_answer_from_the_api() {
    // Each task runs 3 s on the mock, whatever happens to its connection.
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(3))).await;
    let client = connect(&mock, &["--hold-post", "0.5"]).await;
    let result = call(&client, "create_task", json!({"input": "a long one"})).await;
    let answer = text(&result);
    assert!(answer.contains("Answer to: a long one"), "{answer}");
    assert!(
        answer.contains("https://example.com/source"),
        "sources: {answer}"
    );
    assert!(answer.contains("report.md"), "files: {answer}");
    assert_eq!(
        mock.posts_let_go(),
        1,
        "the POST was let go before its answer"
    );
    let task_id = first_task_id(&mock);
    assert!(lookups_of(&mock, &task_id) >= 2, "listed, then polled");

    let result = call(
        &client,
        "follow_up_task",
        json!({"taskId": task_id, "input": "and then?"}),
    )
    .await;
    let answer = text(&result);
    assert!(answer.contains("Answer to: and then?"), "{answer}");
    assert!(!answer.contains("Answer to: a long one"), "{answer}");
    assert_eq!(mock.posts_let_go(), 2);
    assert_eq!(mock.task_posts().len(), 2, "each turn sent once");
    client.cancel().await.unwrap();
}

/// A turn the API does not list is never let go: its POST is held to its end.
/// Here the API is an older one that lists no turns with the task.
#[tokio::test]
async fn a_post_whose_turn_the_api_does_not_list_is_held_to_its_answer() {
    let slow = slow_handler(Duration::from_millis(2500));
    let mock = MockApi::start_with(Arc::new(move |r: &Recorded| match r.method.as_str() {
        "GET" => Reply::json(200, json!({"task": {"id": "x", "status": "running"}})),
        _ => slow(r),
    }))
    .await;
    let client = connect(&mock, &["--hold-post", "0"]).await;
    let result = call(&client, "create_task", json!({"input": "unlisted"})).await;
    assert!(
        text(&result).contains("Answer to: unlisted"),
        "{}",
        text(&result)
    );
    assert_eq!(mock.posts_let_go(), 0, "held, not let go");
    assert!(lookups_of(&mock, &first_task_id(&mock)) >= 1, "looked for");
    client.cancel().await.unwrap();
}

/// A let-go turn that ends in error on the server is that error, with the
/// task's id; the server goes on answering.
#[tokio::test]
async fn a_let_go_turn_that_fails_on_the_server_is_reported() {
    let looks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mock = MockApi::start_with(Arc::new(move |r: &Recorded| {
        if r.method == "POST" {
            return Reply::json(200, worker_json(r)).after(Duration::from_secs(60));
        }
        let task_id = r.path.trim_start_matches("/api/tasks/");
        let status = match looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => "running",
            _ => "error",
        };
        Reply::json(
            200,
            json!({"task": {"id": task_id, "status": status, "workerId": "wrk_mock",
                            "url": "https://v3.handinger.com/worker/wrk_mock"},
                   "turns": [{"seq": 1, "status": status, "input": "doomed"}]}),
        )
    }))
    .await;
    let client = connect(&mock, &["--hold-post", "0"]).await;
    let result = call(&client, "create_task", json!({"input": "doomed"})).await;
    let task_id = first_task_id(&mock);
    assert_tool_error(&result, &[&task_id, "ended on Handinger with status error"]);
    assert_eq!(mock.posts_let_go(), 1);
    assert_eq!(mock.task_posts().len(), 1, "not sent again");
    client.cancel().await.unwrap();
}

/// A let-go turn that ends `aborted` may mean the API stops a task whose POST
/// is closed (it documents that it does not): the process then holds every
/// later POST to its end, and says so in its log.
#[tokio::test]
async fn after_a_let_go_turn_is_aborted_every_post_is_held_to_its_end() {
    let posted: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let looks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mock = MockApi::start_with(Arc::new(move |r: &Recorded| {
        if r.method == "POST" {
            posted
                .lock()
                .unwrap()
                .push(r.field("taskId").unwrap_or_default());
            return Reply::json(200, worker_json(r)).after(Duration::from_secs(2));
        }
        let task_id = r.path.trim_start_matches("/api/tasks/");
        // The first task is aborted once let go; any other runs on.
        let first = posted.lock().unwrap().first().map(String::as_str) == Some(task_id);
        let status = match first && looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
            true => "aborted",
            false => "running",
        };
        Reply::json(
            200,
            json!({"task": {"id": task_id, "status": status, "workerId": "wrk_mock"},
                   "turns": [{"seq": 1, "status": status, "input": "x"}]}),
        )
    }))
    .await;
    let cmd = command(&mock.base_url, Some(KEY), &["--hold-post", "0"]);
    let mut child = RawSession::spawn(cmd);
    child.initialize("2025-11-25").await;
    for (id, input) in [(1, "first"), (2, "second")] {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                             "params": {"name": "create_task", "arguments": {"input": input}}});
        child.send(request).await;
        let answer = child.response(id).await;
        let text = answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        match input {
            "first" => assert!(text.contains("status aborted"), "{answer}"),
            _ => assert!(text.contains("Answer to: second"), "{answer}"),
        }
    }
    assert_eq!(
        mock.posts_let_go(),
        1,
        "the second POST was held to its end"
    );
    child.close_stdin();
    let stderr = child.stderr().await;
    assert!(stderr.contains("holds every POST to its end"), "{stderr}");
}
