//! Independent clients drive the real binary against the mock.

use serde_json::Value;

use crate::support::{MockApi, bin};

/// The Python with the MCP SDK: $PYTHON, else the repository's venv, else python3.
fn python() -> String {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python");
    std::env::var("PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new(venv).exists() {
            venv.into()
        } else {
            "python3".into()
        }
    })
}

/// Whether a missing client must fail the test (under .ci/run) or only skip it
/// with a message (a plain `cargo test` on a developer's machine).
fn missing_client(what: &str, how: &str) -> bool {
    let message =
        format!("{what} is missing: {how} (bash .ci/run installs it inside the repository)");
    if std::env::var_os("HANDINGER_TEST_REQUIRE_CLIENTS").is_some() {
        panic!("{message}");
    }
    eprintln!("skipped: {message}");
    true
}

/// The official Python MCP SDK (installed by .ci/run from tests/interop/requirements.txt).
#[tokio::test]
async fn python_sdk_initializes_lists_and_calls() {
    let mock = MockApi::start().await;
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new(venv).exists() {
            venv.into()
        } else {
            "python3".into()
        }
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/python_client.py"
    );
    let out = tokio::process::Command::new(&python)
        .args([script, bin(), &mock.base_url])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'mcp'")
        && missing_client(
            "the Python MCP SDK",
            "pip install -r tests/interop/requirements.txt",
        )
    {
        return;
    }
    assert!(out.status.success(), "Python client failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].json.as_ref().unwrap()["taskId"], seen["taskId"]);
}

/// The MCP Inspector's CLI mode (npm @modelcontextprotocol/inspector, which runs its
/// inspector-cli), installed by .ci/run into .ci/inspector.
#[tokio::test]
async fn mcp_inspector_cli_lists_tools_and_calls_one() {
    let root = env!("CARGO_MANIFEST_DIR");
    let inspector = std::env::var("MCP_INSPECTOR")
        .unwrap_or_else(|_| format!("{root}/.ci/inspector/node_modules/.bin/mcp-inspector"));
    if !std::path::Path::new(&inspector).exists()
        && missing_client(
            "the MCP Inspector",
            "npm install --prefix .ci/inspector @modelcontextprotocol/inspector@0.15.0",
        )
    {
        return;
    }
    let mock = MockApi::start().await;
    let run = |extra: &[&str]| {
        let mut cmd = tokio::process::Command::new(&inspector);
        cmd.args(["--cli", "-e"])
            .arg(format!("HANDINGER_BASE_URL={}", mock.base_url))
            .args(["-e", "HANDINGER_API_KEY=hdg_live_inspector", bin()])
            .args(extra);
        cmd
    };
    let listed = run(&["--method", "tools/list"]).output().await.unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(
        !stderr.contains("unknown format"),
        "schemas must validate cleanly: {stderr}"
    );
    let tools: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["create_task", "follow_up_task", "get_task"]);

    let called = run(&[
        "--method",
        "tools/call",
        "--tool-name",
        "create_task",
        "--tool-arg",
        "input=from the inspector",
    ])
    .output()
    .await
    .unwrap();
    assert!(
        called.status.success(),
        "{}",
        String::from_utf8_lossy(&called.stderr)
    );
    let result: Value = serde_json::from_slice(&called.stdout).unwrap();
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(
        result["structuredContent"]["outputText"],
        "Answer to: from the inspector"
    );
    assert_eq!(mock.task_posts().len(), 1);
}

/// Every tool schema loads in a draft-07 validator and a 2020-12 one (Python's
/// jsonschema, from the SDK's dependencies), and real results validate against
/// the output schema under both: a finished task, and one still running.
#[tokio::test]
async fn schemas_load_in_draft_07_and_2020_12_validators_and_results_validate() {
    let mock = MockApi::start_with(crate::support::mock::slow_handler(
        std::time::Duration::from_millis(600),
    ))
    .await;
    let client = crate::support::connect(&mock, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (n, args) in [
        serde_json::json!({"input": "done"}),
        serde_json::json!({"input": "later", "waitSeconds": 0.1}),
    ]
    .into_iter()
    .enumerate()
    {
        let result = crate::support::call(&client, "create_task", args).await;
        let path = dir.path().join(format!("result{n}.json"));
        std::fs::write(&path, result.structured_content.unwrap().to_string()).unwrap();
        files.push(path);
    }
    client.cancel().await.unwrap();
    let python = python();
    let out = tokio::process::Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/schema_check.py"
        ))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas"))
        .args(&files)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'jsonschema'")
        && missing_client(
            "Python's jsonschema",
            "pip install -r tests/interop/requirements.txt",
        )
    {
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen, serde_json::json!({"schemas": 6, "results": 2}));
}
