//! Looking tasks up and continuing them, against the documented API shapes: answers
//! from the turns inline, follow-ups only to tasks that exist, waits that end on
//! time whatever the API does, and task ids that never leave their path segment.

use std::{
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{
    KEY, MockApi, Recorded, Reply, assert_tool_error, call, command, connect, mock::worker_json,
    text,
};

fn structured(result: &rmcp::model::CallToolResult) -> &Value {
    result.structured_content.as_ref().expect("structured")
}

/// TaskWithTurns as SDK 0.10 documents it: the input and the answer on one turn
/// with role "user".
fn task_with_turns(task_id: &str, turns: Value) -> Value {
    json!({"task": {"id": task_id, "status": "completed", "title": "t", "workerId": "wrk_gone",
                    "organizationId": "org_1", "createdByUserId": "usr_1",
                    "createdAt": "2026-05-15T10:00:00Z", "completedAt": "2026-05-15T10:01:00Z",
                    "triggeredBy": "api", "totals": {"credits": 5, "durationMs": 60000, "turnCount": 2},
                    "url": "https://v3.handinger.com/worker/wrk_gone"},
           "turns": turns})
}

fn turn(seq: i64, input: &str, output: Option<&str>) -> Value {
    json!({"id": format!("trn_{seq}"), "seq": seq, "role": "user", "status": "completed",
           "input": input, "outputText": output, "structuredOutput": null, "credits": seq,
           "durationMs": 1000, "inputTokens": 1, "outputTokens": 1,
           "startedAt": "2026-05-15T10:00:00Z", "completedAt": "2026-05-15T10:01:00Z",
           "taskId": "tsk_inline"})
}

#[tokio::test]
async fn answers_come_from_the_turns_inline_whatever_their_role() {
    let mock = MockApi::start_with(Arc::new(|r: &Recorded| match r.path.as_str() {
        "/api/tasks/tsk_inline" => Reply::json(
            200,
            task_with_turns(
                "tsk_inline",
                json!([
                    turn(1, "first question", Some("The first answer")),
                    turn(2, "second question", Some("The full second answer")),
                    turn(3, "a turn with nothing yet", None),
                ]),
            ),
        ),
        // The worker endpoint knows the task but says nothing of its answer.
        "/api/tasks/tsk_empty_worker" => Reply::json(
            200,
            task_with_turns(
                "tsk_empty_worker",
                json!([turn(1, "q", Some("Text only the turn holds"))]),
            ),
        ),
        "/api/workers/wrk_gone?taskId=tsk_empty_worker" => {
            let mut worker = worker_json(&Recorded::default());
            worker["output_text"] = json!("");
            worker["output"] = json!([]);
            Reply::json(200, worker)
        }
        // Everything else is gone: the worker endpoint and the legacy /turns.
        _ => Reply::error(404, "not found"),
    }))
    .await;
    let client = connect(&mock, &[]).await;

    let found = call(&client, "get_task", json!({"taskId": "tsk_inline"})).await;
    assert_eq!(found.is_error, Some(false), "{found:?}");
    assert!(
        text(&found).starts_with("The full second answer"),
        "{}",
        text(&found)
    );
    assert_eq!(structured(&found)["status"], "completed");
    assert_eq!(structured(&found)["usage"]["credits"], 2.0);

    let filled = call(&client, "get_task", json!({"taskId": "tsk_empty_worker"})).await;
    assert!(
        text(&filled).starts_with("Text only the turn holds"),
        "{}",
        text(&filled)
    );
    assert!(
        text(&filled).contains("Mock source"),
        "the worker's sources are kept: {}",
        text(&filled)
    );
    let legacy = mock
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/turns"))
        .count();
    assert_eq!(legacy, 0, "/turns is asked only when no turns came inline");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_follow_up_never_creates_a_task() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &[]).await;
    let typo = call(
        &client,
        "follow_up_task",
        json!({"taskId": "tsk_typo", "input": "and then?"}),
    )
    .await;
    assert_tool_error(
        &typo,
        &[
            "No task with taskId tsk_typo",
            "not sent",
            "call create_task",
        ],
    );
    assert!(mock.task_posts().is_empty(), "nothing was sent");

    // The same from the shell: exit 1, nothing sent.
    let out = command(
        &mock.base_url,
        Some(KEY),
        &["follow-up", "tsk_typo", "more"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No task with taskId tsk_typo"));
    assert!(mock.task_posts().is_empty(), "nothing was sent");

    // A task that exists (made by another process, say) is continued: one GET
    // to check, then the POST.
    mock.know_task("tsk_elsewhere");
    let more = call(
        &client,
        "follow_up_task",
        json!({"taskId": "tsk_elsewhere", "input": "go on"}),
    )
    .await;
    assert_eq!(more.is_error, Some(false), "{more:?}");
    let asked: Vec<(String, String)> = mock
        .requests()
        .iter()
        .filter(|r| r.path.contains("tsk_elsewhere") || r.method == "POST")
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    // The check comes first; then exactly one POST. (The lookup of the dashboard
    // URL for progress runs beside the POST, so it may be recorded before it.)
    assert_eq!(
        asked[0],
        ("GET".to_owned(), "/api/tasks/tsk_elsewhere".to_owned()),
        "{asked:?}"
    );
    let posts: Vec<usize> = (0..asked.len()).filter(|&i| asked[i].0 == "POST").collect();
    assert_eq!(posts.len(), 1, "{asked:?}");
    assert!(posts[0] > 0, "{asked:?}");
    // A task this process started needs no check: with every lookup failing
    // (a check would then refuse the follow-up), the follow-up still goes out.
    let first = call(&client, "create_task", json!({"input": "start"})).await;
    let task_id = structured(&first)["taskId"].as_str().unwrap().to_owned();
    mock.set_handler(Arc::new(|r: &Recorded| {
        if r.method == "GET" {
            Reply::error(500, "lookups are down")
        } else {
            Reply::json(200, worker_json(r))
        }
    }));
    let next = call(
        &client,
        "follow_up_task",
        json!({"taskId": task_id, "input": "next"}),
    )
    .await;
    assert_eq!(next.is_error, Some(false), "{next:?}");
    assert!(
        text(&next).starts_with("Answer to: next"),
        "{}",
        text(&next)
    );
    client.cancel().await.unwrap();
}

/// `get TASK --wait 3` from the shell, timed; its exit code and the GETs made.
async fn timed_get(reply: Reply) -> (Duration, Option<i32>, usize) {
    let mock = MockApi::start_with(Arc::new(move |_: &Recorded| reply.clone())).await;
    let started = Instant::now();
    let out = command(
        &mock.base_url,
        Some(KEY),
        &["get", "tsk_slow", "--wait", "3"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .output()
    .await
    .unwrap();
    let gets = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/api/tasks/tsk_slow")
        .count();
    (started.elapsed(), out.status.code(), gets)
}

#[tokio::test]
async fn waits_end_on_time_whatever_the_api_does() {
    let cases = [
        ("a hanging API", Reply::Hang),
        (
            "an endless 429 with Retry-After: 0",
            Reply::error(429, "slow down").header("retry-after", "0"),
        ),
        (
            "a 429 with Retry-After: 25",
            Reply::error(429, "slow down").header("retry-after", "25"),
        ),
    ];
    for (what, reply) in cases {
        let (took, code, gets) = timed_get(reply).await;
        assert!(took < Duration::from_secs(4), "{what}: took {took:?}");
        assert_eq!(code, Some(3), "{what}: still running is exit 3");
        // Polling pauses at least 1 s: at most 4 lookups in 3 s.
        assert!((1..=4).contains(&gets), "{what}: {gets} GETs");
    }
}

#[tokio::test]
async fn get_task_over_mcp_ends_its_wait_against_a_hanging_api() {
    let mock = MockApi::start_with(Arc::new(|_: &Recorded| Reply::Hang)).await;
    let client = connect(&mock, &[]).await;
    let started = Instant::now();
    let result = call(
        &client,
        "get_task",
        json!({"taskId": "tsk_slow", "waitSeconds": 3}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(result.is_error, Some(false), "{result:?}");
    assert_eq!(structured(&result)["status"], "running");
    assert_eq!(structured(&result)["taskId"], "tsk_slow");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn task_ids_that_would_leave_their_path_segment_are_refused_unsent() {
    let mock = MockApi::start().await;
    let client = connect(&mock, &[]).await;
    let long = "t".repeat(129);
    for id in [
        ".",
        "..",
        "/",
        "a/b",
        "?",
        "a?b=1",
        "#",
        "%2e",
        "%2e%2e",
        long.as_str(),
    ] {
        let got = call(&client, "get_task", json!({"taskId": id})).await;
        assert_tool_error(&got, &["Invalid argument `taskId`", "not a task id"]);
        let more = call(
            &client,
            "follow_up_task",
            json!({"taskId": id, "input": "x"}),
        )
        .await;
        assert_tool_error(&more, &["Invalid argument `taskId`", "not a task id"]);
    }
    assert!(
        mock.requests().is_empty(),
        "nothing reached the API: {:?}",
        mock.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    client.cancel().await.unwrap();
}
