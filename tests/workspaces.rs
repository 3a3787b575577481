//! Which folder files come from when nobody said: never the whole disk. A server
//! started in `/` or in the home folder attaches nothing without a workspace; an
//! explicit `--workspace` stands in for a client's empty roots list; the command
//! line keeps the folder it was typed in.

use std::path::Path;

use serde_json::json;

use crate::support::{
    KEY, MockApi, assert_attachment_refused, assert_tool_error, call, command, connect_with,
    roots::{RootsClient, create_with_files},
    text,
};

/// A server started in `cwd` with `home` as its HOME, connected with a client
/// that declares no roots.
async fn server_in(
    mock: &MockApi,
    cwd: &Path,
    home: &Path,
    args: &[&str],
) -> crate::support::Client {
    let mut cmd = command(&mock.base_url, Some(KEY), args);
    cmd.current_dir(cwd).env("HOME", home);
    connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25).await
}

#[tokio::test]
async fn a_server_started_in_the_root_or_home_folder_attaches_nothing() {
    let base = tempfile::tempdir().unwrap();
    let home = base.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join(".bash_history"), "secret commands").unwrap();
    std::fs::write(base.path().join("beside.txt"), "x").unwrap();
    let mock = MockApi::start().await;
    let cases = [
        (Path::new("/"), "etc/hostname", "the file-system root"),
        (Path::new("/"), "/etc/hostname", "the file-system root"),
        (home.as_path(), ".bash_history", "the home folder"),
        (base.path(), "home/.bash_history", "holds the home folder"),
        (base.path(), "beside.txt", "holds the home folder"),
    ];
    for (cwd, path, why) in cases {
        let client = server_in(&mock, cwd, &home, &[]).await;
        let result = call(
            &client,
            "create_task",
            json!({"input": "read", "files": [path]}),
        )
        .await;
        assert_tool_error(
            &result,
            &[
                why,
                "\"--workspace\", \"/path/to/project\"",
                "Nothing was sent",
            ],
        );
        client.cancel().await.unwrap();
    }
    assert!(mock.requests().is_empty(), "nothing was sent");

    // An ordinary project folder still serves when nothing else is set.
    let project = base.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("notes.md"), "# notes").unwrap();
    let client = server_in(&mock, &project, &home, &[]).await;
    let ok = call(
        &client,
        "create_task",
        json!({"input": "read", "files": ["notes.md"]}),
    )
    .await;
    assert_eq!(ok.is_error, Some(false), "{}", text(&ok));
    // And --cwd-workspace false turns that off.
    let strict = server_in(&mock, &project, &home, &["--cwd-workspace", "false"]).await;
    let refused = call(
        &strict,
        "create_task",
        json!({"input": "read", "files": ["notes.md"]}),
    )
    .await;
    assert_tool_error(&refused, &["--cwd-workspace false", "--workspace"]);
    assert_eq!(mock.task_posts().len(), 1);
}

/// The command line keeps the working directory, even the home folder: the
/// person typing the paths chose it.
#[tokio::test]
async fn the_command_line_keeps_the_folder_it_was_typed_in() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("todo.txt"), "buy milk").unwrap();
    let mock = MockApi::start().await;
    let out = command(
        &mock.base_url,
        Some(KEY),
        &["create", "read it", "--file", "todo.txt"],
    )
    .current_dir(home.path())
    .env("HOME", home.path())
    .output()
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let post = &mock.task_posts()[0];
    let file = post.parts.iter().find(|p| p.filename.is_some()).unwrap();
    assert_eq!(file.filename.as_deref(), Some("todo.txt"));
    assert_eq!(file.len, 8);
}

/// A client that declares roots but lists none (the Inspector does) gets the
/// explicit --workspace, and the error says which source was used and why;
/// without one it attaches nothing, and never from the working directory.
#[tokio::test]
async fn an_explicit_workspace_stands_in_for_an_empty_roots_list() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("data.csv"), "a,b").unwrap();
    let mock = MockApi::start().await;
    let workspace = ws.path().to_str().unwrap();
    let mut cmd = command(&mock.base_url, Some(KEY), &["--workspace", workspace]);
    cmd.current_dir(ws.path());
    let client = RootsClient::offering(Vec::new()).connect(cmd).await;
    let ok = create_with_files(&client, &["data.csv"]).await;
    assert_eq!(ok.is_error, Some(false), "{ok:?}");
    let missing = create_with_files(&client, &["gone.csv"]).await;
    assert_tool_error(
        &missing,
        &[
            "no such file",
            "the configured workspace",
            "used because the client's workspace roots offered no folder",
        ],
    );
    client.cancel().await.unwrap();

    // Without --workspace, nothing: not the working directory that holds the file.
    let mut cmd = command(&mock.base_url, Some(KEY), &[]);
    cmd.current_dir(ws.path());
    let client = RootsClient::offering(Vec::new()).connect(cmd).await;
    let refused = create_with_files(&client, &["data.csv"]).await;
    assert_tool_error(
        &refused,
        &[
            "no usable folder (none was offered)",
            "no workspace is configured (--workspace)",
            "open a folder",
        ],
    );
    assert_eq!(mock.task_posts().len(), 1);
    client.cancel().await.unwrap();
}

/// An LSP session without folders attaches from an explicit --workspace only.
#[tokio::test]
async fn an_lsp_session_without_folders_uses_only_an_explicit_workspace() {
    use crate::support::lsp::LspSession;
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("a.txt"), "x").unwrap();
    let mock = MockApi::start().await;
    let mut cmd = command(
        &mock.base_url,
        Some(KEY),
        &["--lsp", "--workspace", ws.path().to_str().unwrap()],
    );
    cmd.current_dir("/");
    let mut session = LspSession::spawn(cmd);
    session.request(1, "initialize", json!({})).await;
    let answer = session
        .request(
            2,
            "workspace/executeCommand",
            json!({"command": "handinger.createTask",
                   "arguments": [{"input": "x", "files": ["a.txt"]}]}),
        )
        .await;
    assert_eq!(answer["result"]["status"], "completed", "{answer}");
    assert_eq!(mock.task_posts().len(), 1);
}

/// The Claude Desktop extension, launched as its manifest says with the
/// workspace field left empty, attaches nothing, even from a project folder.
#[tokio::test]
async fn the_desktop_extension_with_no_workspace_attaches_nothing() {
    let (manifest, args) = crate::support::mcpb_manifest();
    let config = &manifest["server"]["mcp_config"];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("plan.md"), "# plan").unwrap();
    let mock = MockApi::start().await;
    let mut cmd = command(&mock.base_url, Some(KEY), &args);
    // The host fills ${user_config.workspace} with nothing.
    assert_eq!(
        config["env"]["HANDINGER_WORKSPACE"],
        "${user_config.workspace}"
    );
    cmd.current_dir(project.path())
        .env("HANDINGER_WORKSPACE", "");
    let client = connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_06_18).await;
    assert_attachment_refused(
        &client,
        &mock,
        "plan.md",
        &["no usable folder", "--workspace"],
    )
    .await;
    client.cancel().await.unwrap();
}
