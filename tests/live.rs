//! An opt-in smoke test against the live Handinger API. It spends a few credits,
//! so it runs only when HANDINGER_LIVE_API_KEY is set (and HANDINGER_LIVE_BASE_URL,
//! if given, points elsewhere than https://handinger.com):
//!
//! ```sh
//! HANDINGER_LIVE_API_KEY=hdg_live_... cargo test --test integration live -- --nocapture
//! ```
//!
//! It creates a tiny task, follows up, gets it, attaches a small file, and tries
//! both multipart field names (`files`, `files[]`), reporting which one the API
//! reads.

use serde_json::{Value, json};

use crate::support::{call, command, connect_with, text};

fn live() -> Option<(String, String)> {
    let key = std::env::var("HANDINGER_LIVE_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    let Some(key) = key else {
        crate::support::skip(
            "the live API smoke test runs only with HANDINGER_LIVE_API_KEY set (it spends a \
             few credits)",
        );
        return None;
    };
    let base = std::env::var("HANDINGER_LIVE_BASE_URL")
        .unwrap_or_else(|_| "https://handinger.com".to_owned());
    Some((key, base))
}

fn structured(result: &rmcp::model::CallToolResult) -> &Value {
    result
        .structured_content
        .as_ref()
        .expect("structuredContent")
}

#[tokio::test]
async fn live_api_create_follow_up_get_and_attach() {
    let Some((key, base)) = live() else {
        return;
    };
    let ws = tempfile::tempdir().unwrap();
    let token = format!("zebra-{}", std::process::id());
    std::fs::write(
        ws.path().join("note.txt"),
        format!("The secret word is {token}.\n"),
    )
    .unwrap();
    let mut readers = Vec::new();
    for field in ["files", "files[]"] {
        let cmd = command(
            &base,
            Some(&key),
            &[
                "--workspace",
                ws.path().to_str().unwrap(),
                "--files-field",
                field,
                "--wait",
                "600",
                "--max-wait",
                "600",
            ],
        );
        let client = connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25).await;
        let created = call(
            &client,
            "create_task",
            json!({"input": "Reply with exactly the word pong.", "budget": "low", "waitSeconds": 600}),
        )
        .await;
        assert_eq!(created.is_error, Some(false), "{}", text(&created));
        let task_id = structured(&created)["taskId"].as_str().unwrap().to_owned();
        eprintln!(
            "{field}: created {task_id}: {}",
            structured(&created)["outputText"]
        );

        let followed = call(
            &client,
            "follow_up_task",
            json!({"taskId": task_id, "input": "What is the secret word in the attached file? Reply with it only.",
                   "files": ["note.txt"], "budget": "low", "waitSeconds": 600}),
        )
        .await;
        assert_eq!(followed.is_error, Some(false), "{}", text(&followed));
        let answer = structured(&followed)["outputText"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if answer.contains(&token) {
            readers.push(field);
        }
        let got = call(
            &client,
            "get_task",
            json!({"taskId": task_id, "waitSeconds": 60}),
        )
        .await;
        assert_eq!(got.is_error, Some(false), "{}", text(&got));
        eprintln!(
            "{field}: follow-up answered {answer:?}; get_task status {}",
            structured(&got)["status"]
        );
        client.cancel().await.unwrap();
    }
    eprintln!("the API reads attached files under: {readers:?}");
    assert!(!readers.is_empty(), "neither field name reached the worker");
}

/// What the live API must confirm before the bridge may hold nothing per task
/// (issue: durable tasks over HTTP). With `stream: true`, `POST /api/tasks` is
/// documented to answer at once with an event stream, and "the task runs to
/// completion on the server even if the connection drops". This checks, and
/// prints, that:
/// 1. the answer's head (2xx, an event stream) comes before the task ends;
/// 2. `GET /api/tasks/{taskId}` lists the task once the first event arrived
///    (it was accepted: a bridge could close the stream and poll);
/// 3. after the stream is dropped, the task still completes with its answer.
///
/// If all three hold, the bridge can send with `stream: true`, close the stream
/// at the first event and poll, holding no connection per task.
#[tokio::test]
async fn live_api_stream_true_accepts_before_the_stream_ends() {
    let Some((key, base)) = live() else {
        return;
    };
    let http = reqwest::Client::new();
    let task_id = format!("tsk_live_stream_{}", std::process::id());
    let started = std::time::Instant::now();
    let mut response = http
        .post(format!("{base}/api/tasks"))
        .bearer_auth(&key)
        .json(
            &json!({"input": "Reply with the single word: pong", "budget": "low",
                      "taskId": task_id, "stream": true}),
        )
        .send()
        .await
        .expect("the API answers");
    let head_after = started.elapsed();
    assert!(response.status().is_success(), "{}", response.status());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), response.chunk())
        .await
        .expect("a first event within 60 s")
        .expect("the stream reads")
        .unwrap_or_default();
    let first_after = started.elapsed();
    eprintln!(
        "stream: head after {head_after:?} ({content_type}), first event after {first_after:?}: {:?}",
        String::from_utf8_lossy(&first)
    );
    let listed = http
        .get(format!("{base}/api/tasks/{task_id}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    eprintln!("GET after the first event: {}", listed.status());
    assert!(
        listed.status().is_success(),
        "the task is listed once accepted"
    );
    drop(response);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let task: Value = http
            .get(format!("{base}/api/tasks/{task_id}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = task["task"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status == "completed" {
            eprintln!("completed after the stream was dropped: {}", task["turns"]);
            break;
        }
        assert!(!matches!(status.as_str(), "error" | "aborted"), "{task}");
        assert!(
            std::time::Instant::now() < deadline,
            "not completed in 10 min: {task}"
        );
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}

/// What the live API must confirm for `--hold-post` (a long POST let go): a task
/// whose `POST /api/tasks` is closed once `GET /api/tasks/{taskId}` lists its
/// turn keeps running, and its answer is then read whole from the API. The
/// bridge runs with `--hold-post 0`, so it lets go as soon as the turn is
/// listed (a task that ends before it is listed is held to its end instead);
/// the call must still end with the worker's answer.
#[tokio::test]
async fn live_api_keeps_a_let_go_task_running() {
    let Some((key, base)) = live() else {
        return;
    };
    let cmd = command(&base, Some(&key), &["--hold-post", "0", "--wait", "600"]);
    let client = connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25).await;
    let result = call(
        &client,
        "create_task",
        json!({"input": "Search the web for today's top headline and quote it in one line.",
               "budget": "low", "waitSeconds": 600}),
    )
    .await;
    eprintln!("let-go answer: {}", text(&result));
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(structured(&result)["status"], "completed");
    client.cancel().await.unwrap();
}
