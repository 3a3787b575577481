//! The task history: tasks started by one process are listed by another (MCP,
//! the command line, the LSP-style mode), statuses refresh from the API, a
//! corrupt file is set aside and reported, `--no-history` writes nothing; and
//! archiving.

use std::{path::Path, process::Stdio, sync::Arc};

use serde_json::{Value, json};

use crate::support::{
    KEY, MockApi, Recorded, Reply, assert_tool_error, call, command, connect_with, lsp::LspSession,
    mock::default_handler,
};

/// A server with its task history in `state`.
async fn server(mock: &MockApi, state: &Path, args: &[&str]) -> crate::support::Client {
    let mut cmd = command(&mock.base_url, Some(KEY), args);
    cmd.env("HANDINGER_STATE_DIR", state);
    connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25).await
}

fn structured(result: &rmcp::model::CallToolResult) -> &Value {
    result.structured_content.as_ref().expect("structured")
}

/// The command line with its history in `state`: exit code and stdout.
async fn shell(mock: &MockApi, state: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = command(&mock.base_url, Some(KEY), args);
    cmd.env("HANDINGER_STATE_DIR", state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().await.unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn one_history_is_shared_by_processes_and_listed_in_every_front_end() {
    let mock = MockApi::start().await;
    let state = tempfile::tempdir().unwrap();
    let first = server(&mock, state.path(), &[]).await;
    let made = call(
        &first,
        "create_task",
        json!({"input": "Compare the\nthree offers"}),
    )
    .await;
    let task_id = structured(&made)["taskId"].as_str().unwrap().to_owned();
    call(&first, "create_task", json!({"input": "Another brief"})).await;
    first.cancel().await.unwrap();

    // Another process, the same key: it lists both, newest first.
    let second = server(&mock, state.path(), &[]).await;
    let listed = call(&second, "list_tasks", json!({})).await;
    assert_eq!(listed.is_error, Some(false), "{listed:?}");
    let s = structured(&listed);
    assert_eq!(s["total"], 2, "{s}");
    assert_eq!(s["tasks"][0]["input"], "Another brief", "{s}");
    assert_eq!(s["tasks"][1]["taskId"], task_id.as_str());
    assert_eq!(s["tasks"][1]["input"], "Compare the", "the first line only");
    assert_eq!(s["tasks"][1]["status"], "completed");
    assert!(s["tasks"][1]["startedAt"].as_str().unwrap().ends_with('Z'));
    let filtered = call(&second, "list_tasks", json!({"text": "OFFERS", "limit": 5})).await;
    let tasks = structured(&filtered)["tasks"].as_array().unwrap().clone();
    assert!(
        tasks.is_empty(),
        "the text is matched in the kept first line only"
    );
    let filtered = call(&second, "list_tasks", json!({"text": "compare"})).await;
    assert_eq!(structured(&filtered)["tasks"].as_array().unwrap().len(), 1);
    let none = call(&second, "list_tasks", json!({"status": "running"})).await;
    assert!(structured(&none)["tasks"].as_array().unwrap().is_empty());
    second.cancel().await.unwrap();

    // The command line: a table, or JSON.
    let (code, table) = shell(&mock, state.path(), &["list"]).await;
    assert_eq!(code, Some(0), "{table}");
    assert!(
        table.contains(&task_id) && table.contains("Compare the"),
        "{table}"
    );
    let (code, json_out) = shell(&mock, state.path(), &["list", "--json", "--limit", "1"]).await;
    assert_eq!(code, Some(0));
    let listed: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 1);

    // The LSP-style mode: a command.
    let mut cmd = command(&mock.base_url, Some(KEY), &["--lsp"]);
    cmd.env("HANDINGER_STATE_DIR", state.path());
    let mut lsp = LspSession::spawn(cmd);
    lsp.request(1, "initialize", json!({})).await;
    let answer = lsp
        .request(
            2,
            "workspace/executeCommand",
            json!({"command": "handinger.listTasks", "arguments": [{"limit": 10}]}),
        )
        .await;
    assert_eq!(answer["result"]["total"], 2, "{answer}");
}

#[tokio::test]
async fn a_corrupt_history_is_set_aside_and_reported_never_a_crash() {
    let mock = MockApi::start().await;
    let state = tempfile::tempdir().unwrap();
    let client = server(&mock, state.path(), &[]).await;
    call(&client, "create_task", json!({"input": "kept"})).await;
    // Listing writes what the history has queued.
    call(&client, "list_tasks", json!({})).await;
    let file = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a history file");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("tasks-") && !name.contains(KEY), "{name}");
    std::fs::write(&file, b"\x00\x01 not a journal").unwrap();
    let listed = call(&client, "list_tasks", json!({})).await;
    assert_eq!(listed.is_error, Some(false), "{listed:?}");
    let s = structured(&listed);
    assert_eq!(s["total"], 0);
    assert!(s["note"].as_str().unwrap().contains("set aside"), "{s}");
    let aside: Vec<String> = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("unreadable"))
        .collect();
    assert_eq!(aside.len(), 1, "the bad file is kept aside");
    // The server goes on, and the history starts again.
    call(&client, "create_task", json!({"input": "after"})).await;
    let listed = call(&client, "list_tasks", json!({})).await;
    assert_eq!(structured(&listed)["total"], 1);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn no_history_writes_nothing_and_says_so() {
    let mock = MockApi::start().await;
    let state = tempfile::tempdir().unwrap();
    let client = server(&mock, state.path(), &["--no-history"]).await;
    call(&client, "create_task", json!({"input": "forget me"})).await;
    let listed = call(&client, "list_tasks", json!({})).await;
    let s = structured(&listed);
    assert_eq!(s["total"], 0);
    assert!(s["note"].as_str().unwrap().contains("--no-history"), "{s}");
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 0);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn archive_task_deletes_and_shows_the_apis_refusal() {
    let fallback = default_handler();
    let mock = MockApi::start_with(Arc::new(move |r: &Recorded| {
        if r.method == "DELETE" && r.path == "/api/tasks/tsk_mine" {
            return Reply::json(200, json!({"archived": true}));
        }
        if r.method == "DELETE" {
            return Reply::error(403, "Only the creator of this worker can archive its tasks");
        }
        fallback(r)
    }))
    .await;
    let state = tempfile::tempdir().unwrap();
    let client = server(&mock, state.path(), &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let archive = tools.iter().find(|t| t.name == "archive_task").unwrap();
    let hints = archive.annotations.as_ref().unwrap();
    assert_eq!(hints.destructive_hint, Some(true));
    let done = call(&client, "archive_task", json!({"taskId": "tsk_mine"})).await;
    assert_eq!(done.is_error, Some(false), "{done:?}");
    assert_eq!(structured(&done)["archived"], true);
    let refused = call(&client, "archive_task", json!({"taskId": "tsk_theirs"})).await;
    assert_tool_error(
        &refused,
        &[
            "HTTP 403",
            "Only the creator of this worker can archive its tasks",
        ],
    );
    let deletes: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(deletes, ["/api/tasks/tsk_mine", "/api/tasks/tsk_theirs"]);
    client.cancel().await.unwrap();

    // The command line too.
    let (code, out) = shell(&mock, state.path(), &["archive", "tsk_mine"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("is archived"), "{out}");
}

/// A mock that archives every task it is asked to.
async fn archiving_mock() -> MockApi {
    let fallback = default_handler();
    MockApi::start_with(Arc::new(move |r: &Recorded| {
        if r.method == "DELETE" {
            return Reply::json(200, json!({"archived": true}));
        }
        fallback(r)
    }))
    .await
}

/// The same through the official Python MCP SDK: list_tasks, resources (list,
/// template, read), the list-changed notification, prompts (one with an
/// embedded task answer) and archive_task.
#[tokio::test]
async fn the_python_sdk_lists_reads_prompts_and_archives() {
    let mock = archiving_mock().await;
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let Some(seen) = crate::interop::python_sdk_client(
        "python_history.py",
        &[crate::support::bin(), &mock.base_url, &state_arg],
    )
    .await
    else {
        return;
    };
    assert!(seen["listChanged"].as_u64().unwrap() >= 1, "{seen}");
    assert_eq!(mock.task_posts().len(), 1);
}

/// The same through the official TypeScript MCP SDK.
#[tokio::test]
async fn the_typescript_sdk_lists_reads_prompts_and_archives() {
    let mock = archiving_mock().await;
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let Some(seen) = crate::interop::typescript_sdk_script(
        "ts_history.mjs",
        &[crate::support::bin(), &mock.base_url, &state_arg],
    )
    .await
    else {
        return;
    };
    assert_eq!(seen["resources"], 1, "{seen}");
    assert_eq!(mock.task_posts().len(), 1);
}

/// Listing refreshes a status that may still change from the API: a task whose
/// call returned "running" lists as the API sees it now.
#[tokio::test]
async fn listing_refreshes_open_statuses_from_the_api() {
    // The API already has the task finished (another replica took its answer,
    // say) while this bridge's call of it still runs.
    let slow = crate::support::mock::slow_handler(std::time::Duration::from_secs(3));
    let mock = MockApi::start_with(std::sync::Arc::new(move |r: &crate::support::Recorded| {
        let Some(task_id) = r.path.strip_prefix("/api/tasks/") else {
            return slow(r);
        };
        crate::support::Reply::json(
            200,
            json!({"task": {"id": task_id, "status": "completed", "workerId": "wrk_mock"},
                   "turns": [{"seq": 1, "status": "completed", "input": "slow one",
                              "outputText": "Answer to: slow one"}]}),
        )
    }))
    .await;
    let state = tempfile::tempdir().unwrap();
    let client = server(&mock, state.path(), &[]).await;
    let made = call(
        &client,
        "create_task",
        json!({"input": "slow one", "waitSeconds": 0.2}),
    )
    .await;
    assert_eq!(structured(&made)["status"], "running");
    let task_id = structured(&made)["taskId"].as_str().unwrap().to_owned();
    let listed = call(&client, "list_tasks", json!({})).await;
    let task = &structured(&listed)["tasks"][0];
    assert_eq!(task["taskId"], task_id.as_str());
    assert_eq!(task["status"], "completed", "refreshed: {task}");
    let lookups = mock
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == format!("/api/tasks/{task_id}"))
        .count();
    assert!(lookups >= 1, "the status came from the API");
    client.cancel().await.unwrap();
}

/// A task refused before it ran (a wrong key) is forgotten: trying keys leaves
/// no history file behind.
#[tokio::test]
async fn a_refused_key_leaves_no_history_behind() {
    let mock = MockApi::start_with(Arc::new(|r: &Recorded| {
        if r.method == "POST" {
            return Reply::error(401, "invalid API key");
        }
        Reply::error(404, "task not found")
    }))
    .await;
    let state = tempfile::tempdir().unwrap();
    let client = server(&mock, state.path(), &[]).await;
    let refused = call(&client, "create_task", json!({"input": "with a wrong key"})).await;
    assert_tool_error(&refused, &["HTTP 401"]);
    // The history is written by a job of its own: listing waits for it.
    let listed = call(&client, "list_tasks", json!({})).await;
    assert_eq!(structured(&listed)["total"], 0, "forgotten");
    let files: Vec<String> = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("tasks-"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
    client.cancel().await.unwrap();
}
