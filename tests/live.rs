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
