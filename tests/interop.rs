//! Independent clients drive the real binary against the mock.

use serde_json::Value;

use crate::support::{MockApi, bin, missing_client};

/// The Python with the MCP SDK: $PYTHON, else the repository's venv, else python3.
pub fn python() -> String {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python");
    std::env::var("PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new(venv).exists() {
            venv.into()
        } else {
            "python3".into()
        }
    })
}

/// Run one of the Python SDK client scripts in tests/interop with `args`; `None`
/// when the SDK is not installed (the test then skips, or fails under .ci/run).
/// A script that ran but failed fails the test, with its stderr.
pub async fn python_sdk_client(script: &str, args: &[&str]) -> Option<Value> {
    let python = python();
    let path = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new(&python)
        .arg(&path)
        .args(args)
        .env("HANDINGER_STATE_DIR", crate::support::state_dir())
        .env(
            crate::support::EXPECTED_TOOLS,
            crate::support::tool_names().join(","),
        )
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
        return None;
    }
    assert!(out.status.success(), "{script} {args:?} failed:\n{stderr}");
    Some(serde_json::from_slice(&out.stdout).expect("one JSON line"))
}

/// The official Python MCP SDK (installed by .ci/run from tests/interop/requirements.txt),
/// plainly and as a client that declares the tasks extension at initialize: a
/// plain call must get a normal result either way.
#[tokio::test]
async fn python_sdk_initializes_lists_and_calls() {
    for extra in [None, Some("--tasks-extension")] {
        let mock = MockApi::start().await;
        let mut args = vec![bin(), mock.base_url.as_str()];
        args.extend(extra);
        let Some(seen) = python_sdk_client("python_client.py", &args).await else {
            return;
        };
        let posts = mock.task_posts();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].json.as_ref().unwrap()["taskId"], seen["taskId"]);
    }
}

/// The MCP Inspector 2.x CLI (npm @modelcontextprotocol/inspector, pinned in
/// .ci/run; it needs Node >= 22.19, which .ci/run installs from the npm package
/// node@22 into .ci/node22), as a command to which the target and the method's
/// arguments are added; `None` when it is missing and that is allowed.
fn inspector_cli() -> Option<tokio::process::Command> {
    let root = env!("CARGO_MANIFEST_DIR");
    let node = format!("{root}/.ci/node22/node_modules/node/bin/node");
    let inspector = format!("{root}/.ci/inspector/node_modules/.bin/mcp-inspector");
    if !(std::path::Path::new(&inspector).exists() && std::path::Path::new(&node).exists())
        && missing_client(
            "the MCP Inspector 2.x with Node 22",
            "npm install --prefix .ci/node22 node@22 and --prefix .ci/inspector \
             @modelcontextprotocol/inspector@2",
        )
    {
        return None;
    }
    let mut cmd = tokio::process::Command::new(node);
    cmd.arg(inspector).arg("--cli");
    Some(cmd)
}

/// Through the Inspector CLI (`run` adds the target to the method's arguments):
/// tools/list --strict reports no portability problem, and tools/call works in
/// the legacy and the modern protocol era.
async fn inspector_lists_strictly_and_calls_in_both_eras(
    run: impl Fn(&[&str]) -> tokio::process::Command,
) {
    let listed = run(&["--method", "tools/list", "--strict"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(listed.status.success(), "{stderr}");
    for word in ["Warning", "Error", "error"] {
        assert!(!stderr.contains(word), "--strict found problems: {stderr}");
    }
    let tools: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, crate::support::tool_names());

    for era in ["legacy", "modern"] {
        let input = serde_json::json!({"input": format!("from the inspector, {era}")}).to_string();
        let called = run(&[
            "--protocol-era",
            era,
            "--method",
            "tools/call",
            "--tool-name",
            "create_task",
            "--tool-args-json",
            &input,
        ])
        .output()
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&called.stderr);
        assert!(called.status.success(), "{era}: {stderr}");
        let result: Value = serde_json::from_slice(&called.stdout)
            .unwrap_or_else(|e| panic!("{era}: {e}: {}", String::from_utf8_lossy(&called.stdout)));
        assert_eq!(result["isError"], false, "{era}: {result}");
        assert_eq!(
            result["structuredContent"]["outputText"],
            format!("Answer to: from the inspector, {era}")
        );
    }
}

/// The Inspector CLI spawning the binary over stdio.
#[tokio::test]
async fn mcp_inspector_cli_strict_lists_tools_and_calls_in_both_eras() {
    if inspector_cli().is_none() {
        return;
    }
    let mock = MockApi::start().await;
    inspector_lists_strictly_and_calls_in_both_eras(|extra: &[&str]| {
        let mut cmd = inspector_cli().unwrap();
        cmd.arg("-e")
            .arg(format!("HANDINGER_BASE_URL={}", mock.base_url))
            .args([
                "-e",
                "HANDINGER_API_KEY=hdg_live_inspector",
                "-e",
                "HANDINGER_LOG=warn",
            ])
            .arg("-e")
            .arg(format!(
                "HANDINGER_STATE_DIR={}",
                crate::support::state_dir().display()
            ))
            .args(extra)
            .arg(bin());
        cmd
    })
    .await;
    assert_eq!(mock.task_posts().len(), 2);
}

/// The Inspector CLI over Streamable HTTP against `serve --http`, in both eras,
/// with its own key in a header (the server has none).
#[tokio::test]
async fn mcp_inspector_cli_speaks_streamable_http_in_both_eras() {
    if inspector_cli().is_none() {
        return;
    }
    let mock = MockApi::start().await;
    let server = crate::support::http::HttpServer::start(&mock.base_url, None, &[]).await;
    let url = server.mcp_url();
    inspector_lists_strictly_and_calls_in_both_eras(|extra: &[&str]| {
        let mut cmd = inspector_cli().unwrap();
        cmd.arg(&url)
            .args(["--transport", "http"])
            .args(["--header", "Handinger-Api-Key: hdg_live_inspector_http"])
            .args(extra);
        cmd
    })
    .await;
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 2);
    for post in posts {
        assert_eq!(
            post.header("authorization"),
            Some("Bearer hdg_live_inspector_http")
        );
    }
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
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/tools.json"))
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
    let schemas = 2 * handinger_mcp::TOOLS.len();
    assert_eq!(seen, serde_json::json!({"schemas": schemas, "results": 2}));
}

/// Run tests/interop/ts_client.mjs with the official TypeScript SDK (1.x,
/// installed by .ci/run into .ci/ts-client) and `args` after the SDK's folder;
/// what it saw, or `None` when the SDK is missing and that is allowed.
async fn typescript_sdk_client(args: &[&str]) -> Option<Value> {
    typescript_sdk_script("ts_client.mjs", args).await
}

/// Run `script` from tests/interop/ with the TypeScript SDK's folder and `args`.
pub async fn typescript_sdk_script(script: &str, args: &[&str]) -> Option<Value> {
    let root = env!("CARGO_MANIFEST_DIR");
    let sdk = format!("{root}/.ci/ts-client");
    if !std::path::Path::new(&format!("{sdk}/node_modules/@modelcontextprotocol/sdk")).exists()
        && missing_client(
            "the TypeScript MCP SDK",
            "npm install --prefix .ci/ts-client @modelcontextprotocol/sdk@1",
        )
    {
        return None;
    }
    let out = tokio::process::Command::new("node")
        .arg(format!("{root}/tests/interop/{script}"))
        .arg(&sdk)
        .args(args)
        .env("HANDINGER_STATE_DIR", crate::support::state_dir())
        .env(
            crate::support::EXPECTED_TOOLS,
            crate::support::tool_names().join(","),
        )
        .output()
        .await
        .expect("node runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "TypeScript client failed:\n{stderr}");
    Some(serde_json::from_slice(&out.stdout).expect("one JSON line"))
}

/// The TypeScript SDK over stdio: lists the tools, calls one with progress, and
/// validates structuredContent against the output schema.
#[tokio::test]
async fn typescript_sdk_lists_calls_with_progress_and_validates_the_result() {
    let mock = MockApi::start_with(crate::support::mock::slow_handler(
        std::time::Duration::from_millis(700),
    ))
    .await;
    let Some(seen) = typescript_sdk_client(&["stdio", bin(), &mock.base_url]).await else {
        return;
    };
    let progress = seen["progress"].as_array().unwrap();
    assert!(
        progress
            .iter()
            .any(|m| m.as_str().unwrap_or("").contains("was sent")),
        "progress reached the SDK: {seen}"
    );
    assert_eq!(
        mock.task_posts()[0].json.as_ref().unwrap()["taskId"],
        seen["taskId"]
    );
}

/// The official Python SDK 2.x (installed by .ci/run into .ci/venv-mcp2), in its
/// legacy mode (initialize; plainly and advertising the tasks extension) and its
/// 2026-07-28 mode (no handshake, per-request _meta). In 2026-07-28 a client that
/// advertises the extension opts every request in, and gets a task, as the
/// extension says; SDK 2.3 only advertises it (it implements no tasks client), so
/// that side is covered by the raw JSON-RPC test in tests/long.rs.
#[tokio::test]
async fn python_sdk_2_works_in_the_legacy_and_the_2026_modes() {
    let Some(python) = crate::support::venv_python(
        "venv-mcp2",
        "the Python MCP SDK 2.x",
        "requirements-sdk2.txt",
    ) else {
        return;
    };
    for mode in ["legacy", "2026-07-28"] {
        let mock = MockApi::start().await;
        let out = tokio::process::Command::new(&python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/interop/python2_client.py"
            ))
            .args([mode, bin(), &mock.base_url])
            .env("HANDINGER_STATE_DIR", crate::support::state_dir())
            .env(
                crate::support::EXPECTED_TOOLS,
                crate::support::tool_names().join(","),
            )
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "Python SDK 2 in {mode} failed:\n{stderr}"
        );
        let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        assert_eq!(seen["mode"], mode);
        assert_eq!(
            mock.task_posts()[0].json.as_ref().unwrap()["taskId"],
            seen["taskId"]
        );
    }
}

/// An SDK's Streamable HTTP client (`client`, given the URL) against
/// `serve --http` with no key of its own: the client's `key`, sent in a header,
/// pays; no session is needed; progress arrives; the taskId it saw is the one
/// sent.
async fn sdk_client_over_http<F, Fut>(key: &str, client: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let mock = MockApi::start_with(crate::support::mock::slow_handler(
        std::time::Duration::from_millis(1500),
    ))
    .await;
    let server = crate::support::http::HttpServer::start(
        &mock.base_url,
        None,
        &["--progress-interval", "0.5"],
    )
    .await;
    let Some(seen) = client(server.mcp_url()).await else {
        return;
    };
    assert!(seen["sessionId"].is_null(), "stateless: {seen}");
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].header("authorization"),
        Some(format!("Bearer {key}").as_str())
    );
    assert_eq!(posts[0].json.as_ref().unwrap()["taskId"], seen["taskId"]);
    assert!(seen["progress"].as_array().unwrap().len() >= 2, "{seen}");
}

/// The official Python SDK's Streamable HTTP client: initialize, list, a call
/// with progress, structuredContent validated by the SDK.
#[tokio::test]
async fn python_sdk_speaks_streamable_http_with_its_own_key() {
    let key = "hdg_live_python_client";
    sdk_client_over_http(key, |url| async move {
        python_sdk_client("python_http_client.py", &[&url, key]).await
    })
    .await;
}

/// The TypeScript SDK's Streamable HTTP client: the same list, call with
/// progress and validation.
#[tokio::test]
async fn typescript_sdk_speaks_streamable_http_with_its_own_key() {
    let key = "hdg_live_typescript_http";
    sdk_client_over_http(key, |url| async move {
        typescript_sdk_client(&["http", &url, key]).await
    })
    .await;
}

/// The official MCP conformance suite (npm @modelcontextprotocol/conformance,
/// pinned in .ci/run, on Node 22 from .ci/node22) against `serve --http`: the
/// whole active suite, with tests/conformance/expected-failures.yml naming the
/// scenarios that do not apply (and why). The suite fails on an unexpected
/// failure and on a baseline entry that passes.
#[tokio::test]
async fn the_conformance_suite_passes_every_scenario_that_applies_over_http() {
    let root = env!("CARGO_MANIFEST_DIR");
    let node = format!("{root}/.ci/node22/node_modules/node/bin/node");
    let suite = format!("{root}/.ci/conformance/node_modules/.bin/conformance");
    if !(std::path::Path::new(&suite).exists() && std::path::Path::new(&node).exists())
        && missing_client(
            "the MCP conformance suite or Node 22",
            "npm install --prefix .ci/node22 node@22 and --prefix .ci/conformance \
             @modelcontextprotocol/conformance",
        )
    {
        return;
    }
    let mock = MockApi::start().await;
    let server =
        crate::support::http::HttpServer::start(&mock.base_url, Some(crate::support::KEY), &[])
            .await;
    let results = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(&node)
        .arg(&suite)
        .args(["server", "--url", &server.mcp_url(), "--expected-failures"])
        .arg(format!("{root}/tests/conformance/expected-failures.yml"))
        .current_dir(results.path())
        .output()
        .await
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    for passed in [
        "✓ server-initialize: 1 passed, 0 failed",
        "✓ ping: 1 passed, 0 failed",
        "✓ tools-list: 1 passed, 0 failed",
        "✓ resources-list: 1 passed, 0 failed",
        "✓ prompts-list: 1 passed, 0 failed",
        "✓ dns-rebinding-protection: 2 passed, 0 failed",
    ] {
        assert!(report.contains(passed), "{passed:?} not in:\n{report}");
    }
}

/// A wrong bridge token, as hosts meet it: the bridge answers 403 with a message
/// naming the token (a 401 would send SDK clients into an OAuth flow the bridge
/// cannot finish). The TypeScript SDK, with an OAuth provider configured as hosts
/// do, reports the message and fetches nothing for OAuth; the Python SDK reports
/// a 403.
#[tokio::test]
async fn a_wrong_bridge_token_is_an_error_hosts_show_not_an_oauth_flow() {
    let mock = MockApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "the-right-token-0123456789\n").unwrap();
    let server = crate::support::http::HttpServer::start(
        &mock.base_url,
        Some(crate::support::KEY),
        &["--http-tokens-file", tokens.to_str().unwrap()],
    )
    .await;
    let url = server.mcp_url();
    let root = env!("CARGO_MANIFEST_DIR");
    let sdk = format!("{root}/.ci/ts-client");
    if std::path::Path::new(&format!("{sdk}/node_modules/@modelcontextprotocol/sdk")).exists()
        || !missing_client(
            "the TypeScript MCP SDK",
            "npm install --prefix .ci/ts-client @modelcontextprotocol/sdk@1",
        )
    {
        let out = tokio::process::Command::new("node")
            .arg(format!("{root}/tests/interop/ts_wrong_token.mjs"))
            .args([&sdk, &url, "a-wrong-token-0123456789"])
            .output()
            .await
            .expect("node runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        let message = seen["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("bearer token for this bridge is missing or wrong"),
            "{seen}"
        );
        assert_eq!(
            seen["oauth"],
            serde_json::json!([]),
            "no OAuth flow: {seen}"
        );
    }
    if let Some(seen) =
        python_sdk_client("python_wrong_token.py", &[&url, "a-wrong-token-0123"]).await
    {
        let error = seen["error"].as_str().unwrap_or_default();
        assert!(error.contains("403"), "{seen}");
    }
    assert!(mock.requests().is_empty(), "nothing reached the API");
}
