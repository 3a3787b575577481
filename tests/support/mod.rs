//! Helpers shared by the integration tests: the mock API, spawning the real binary
//! with a real MCP client, and reading results.

pub mod http;
pub mod lsp;
pub mod mock;
pub mod raw;
pub mod roots;
pub mod swap;
pub mod tls;

use std::{process::Stdio, time::Duration};

use rmcp::{
    RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
        ProtocolVersion,
    },
    service::RunningService,
    transport::TokioChildProcess,
};
use serde_json::Value;
use tokio::process::Command;

pub use mock::{MockApi, Recorded, Reply};

pub const KEY: &str = "hdg_live_test_secret_key";

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_handinger-mcp")
}

/// A command for the binary pointed at `base_url`, with a clean environment: no
/// HANDINGER_* variable leaks in from the machine running the tests.
/// The task history folder of this test process, inside the build's temporary
/// folder (never the user's state folder).
pub fn state_dir() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    })
    .clone()
}

pub fn command(base_url: &str, key: Option<&str>, args: &[&str]) -> Command {
    command_for(bin(), base_url, key, args)
}

/// Like [`command`], for another program that starts the server (a packaged
/// launcher, say).
pub fn command_for(
    program: impl AsRef<std::ffi::OsStr>,
    base_url: &str,
    key: Option<&str>,
    args: &[&str],
) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars() {
        if name.starts_with("HANDINGER_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("HANDINGER_BASE_URL", base_url)
        .env("HANDINGER_LOG", "debug")
        .env("HANDINGER_STATE_DIR", state_dir())
        .args(args)
        .kill_on_drop(true);
    if let Some(key) = key {
        cmd.env("HANDINGER_API_KEY", key);
    }
    cmd
}

pub type Client = RunningService<RoleClient, ClientConfig>;

/// Spawn the binary and connect rmcp's client to it, speaking `version`.
pub async fn connect_with(cmd: Command, version: ProtocolVersion) -> Client {
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn handinger-mcp");
    let mut config = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("integration-test", "1.0.0"),
    );
    config.protocol_version = version;
    tokio::time::timeout(Duration::from_secs(20), config.serve(transport))
        .await
        .expect("initialize within 20 s")
        .expect("initialize succeeds")
}

/// Spawn the binary against `mock` with the test key and connect.
pub async fn connect(mock: &MockApi, args: &[&str]) -> Client {
    connect_with(
        command(&mock.base_url, Some(KEY), args),
        ProtocolVersion::V_2025_11_25,
    )
    .await
}

/// Call a tool with JSON arguments; protocol errors fail the test.
pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let args = args.as_object().expect("arguments are an object").clone();
    tokio::time::timeout(
        Duration::from_secs(60),
        client.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args)),
    )
    .await
    .expect("tool answers within 60 s")
    .expect("tools/call succeeds at the protocol level")
}

/// A `/proc/<pid>/status` figure in KiB: `VmRSS` (now) or `VmHWM` (peak). Panics
/// when it cannot be read, so a memory check can never pass by reading nothing.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .filter(|kib| *kib > 0)
        .unwrap_or_else(|| panic!("no {field} figure in /proc/{pid}/status"))
}

/// Skip the running test, saying why. The reason is printed, and recorded in the
/// file named by HANDINGER_TEST_SKIPS (which `.ci/run` lists at the end of the
/// run, so no skip hides behind an "ok"). Under CI=true a skip fails the test,
/// except the live-API test's (it spends credits, so it runs only when asked).
pub fn skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_owned();
    eprintln!("skipped: {reason}");
    if let Some(path) = std::env::var_os("HANDINGER_TEST_SKIPS") {
        use std::io::Write;
        let line = format!("{test}: {}\n", reason.replace('\n', " "));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut file) = file {
            let _ = file.write_all(line.as_bytes());
        }
    }
    let on_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !on_ci || test.starts_with("live::"),
        "{test} may not skip under CI=true: {reason}"
    );
}

/// Whether the system tool `name` (from util-linux: script, unshare, setpriv) is
/// there. Under .ci/run or CI a missing one fails the test; elsewhere the test
/// skips, saying what to install.
pub fn has_system_tool(name: &str) -> bool {
    let found = std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        let message = format!("{name} is missing: install util-linux (apt-get install util-linux)");
        assert!(
            std::env::var_os("HANDINGER_TEST_REQUIRE_CLIENTS").is_none(),
            "{message}"
        );
        skip(&message);
    }
    found
}

/// Whether a missing client must fail the test (under .ci/run) or only skip it
/// with a message (a plain `cargo test` on a developer's machine).
pub fn missing_client(what: &str, how: &str) -> bool {
    let message =
        format!("{what} is missing: {how} (bash .ci/run installs it inside the repository)");
    if std::env::var_os("HANDINGER_TEST_REQUIRE_CLIENTS").is_some() {
        panic!("{message}");
    }
    skip(&message);
    true
}

/// The Python of `.ci/<venv>`, which `.ci/run` fills from
/// `tests/interop/<requirements>`; `None` when it is missing and the test is to
/// skip (see [`missing_client`]).
pub fn venv_python(venv: &str, what: &str, requirements: &str) -> Option<String> {
    let python = format!("{}/.ci/{venv}/bin/python", env!("CARGO_MANIFEST_DIR"));
    if std::path::Path::new(&python).exists() {
        return Some(python);
    }
    missing_client(
        what,
        &format!(
            "python3 -m venv .ci/{venv} && .ci/{venv}/bin/pip install -r \
             tests/interop/{requirements}"
        ),
    );
    None
}

/// The Claude Desktop extension's manifest, and the arguments its
/// `server.mcp_config` starts the binary with.
pub fn mcpb_manifest() -> (Value, Vec<String>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/mcpb/manifest.json"
    ))
    .expect("the manifest is readable");
    let manifest: Value = serde_json::from_str(&text).expect("the manifest is JSON");
    let args = manifest["server"]["mcp_config"]["args"]
        .as_array()
        .expect("args is a list")
        .iter()
        .map(|a| a.as_str().expect("each arg is text").to_owned())
        .collect();
    (manifest, args)
}

/// A runner for in-process tests, pointed at a closed port.
pub fn offline_runner() -> std::sync::Arc<handinger_mcp::TaskRunner> {
    let args = [
        "handinger-mcp",
        "--base-url",
        "http://127.0.0.1:9",
        "--retries",
        "0",
        "--wait",
        "0.2",
    ];
    let handinger_mcp::Command::Serve { settings, .. } =
        handinger_mcp::Command::parse_from(args, |_| None).expect("valid flags")
    else {
        unreachable!("no subcommand means serve")
    };
    std::sync::Arc::new(handinger_mcp::runner(&settings))
}

/// Call create_task attaching `file` and check it is refused with every one of
/// `needles` in the error, and that nothing reached the API.
pub async fn assert_attachment_refused(
    client: &Client,
    mock: &MockApi,
    file: &str,
    needles: &[&str],
) {
    let result = call(
        client,
        "create_task",
        serde_json::json!({"input": "read", "files": [file]}),
    )
    .await;
    assert_tool_error(&result, needles);
    assert!(mock.requests().is_empty(), "nothing may reach the API");
}

/// The first text block of a result.
pub fn text(result: &CallToolResult) -> &str {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.as_str())
        .expect("result starts with a text block")
}

/// Assert a result is a tool error whose text contains every one of `needles`.
pub fn assert_tool_error(result: &CallToolResult, needles: &[&str]) {
    assert_eq!(result.is_error, Some(true), "expected isError: {result:?}");
    let message = text(result);
    for needle in needles {
        assert!(
            message.contains(needle),
            "{needle:?} not in error: {message}"
        );
    }
    assert!(
        !message.contains(KEY),
        "the key leaked into an error: {message}"
    );
}

/// The table's tool names, in order: what every client must list.
pub fn tool_names() -> Vec<&'static str> {
    handinger_mcp::TOOLS.iter().map(|t| t.name).collect()
}

/// The table's LSP commands, in order.
pub fn lsp_commands() -> Vec<&'static str> {
    handinger_mcp::TOOLS.iter().map(|t| t.lsp_command).collect()
}

/// The variable the interop clients read their expected tool names from.
pub const EXPECTED_TOOLS: &str = "EXPECTED_TOOLS";
