//! Independent clients drive the real binary against the mock.

use serde_json::Value;

use crate::support::{MockApi, bin};

/// The official Python MCP SDK (installed by .ci/run from tests/interop/requirements.txt).
#[tokio::test]
async fn python_sdk_initializes_lists_and_calls() {
    let mock = MockApi::start().await;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
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
    assert!(
        !stderr.contains("No module named 'mcp'"),
        "the Python MCP SDK is missing: pip install -r tests/interop/requirements.txt"
    );
    assert!(out.status.success(), "Python client failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].json.as_ref().unwrap()["taskId"], seen["taskId"]);
}
