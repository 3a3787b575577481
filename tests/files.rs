//! Attaching workspace files: what is sent, what is refused, and which base paths
//! resolve against (configured folders, the working directory, the client's roots).

// Roots are deprecated by SEP-2577 in the SDK, but hosts still send them.
#![allow(deprecated)]

use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{
    KEY, MockApi, assert_tool_error, call, command, connect, connect_with,
    mock::hex,
    roots::{RootsClient, create_with_files, folder_uri},
};

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Deterministic bytes that are not all alike, so a shifted or padded upload shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed as usize) % 251) as u8)
        .collect()
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn files_go_as_multipart_parts_with_exact_bytes_names_and_types() {
    let ws = tempfile::tempdir().unwrap();
    let csv = pattern(300_000, 1);
    let md = b"# Notes\nhello\n".to_vec();
    let blob = pattern(70_001, 9);
    write(ws.path(), "data.csv", &csv);
    let nested = write(ws.path(), "docs/notes.md", &md);
    write(ws.path(), "blob.unknownext", &blob);

    let mock = MockApi::start().await;
    let client = connect(&mock, &["--workspace", ws.path().to_str().unwrap()]).await;
    let result = call(
        &client,
        "create_task",
        json!({"input": "Analyse these", "budget": "high", "workerId": "wrk_7",
               "files": ["data.csv", nested.to_str().unwrap(), "./blob.unknownext"]}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{result:?}");

    let post = &mock.task_posts()[0];
    assert!(
        post.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    assert!(
        !post.chunked,
        "the upload must carry a Content-Length, not chunked encoding"
    );
    assert!(post.header("content-length").is_some());
    assert_eq!(post.field("input").as_deref(), Some("Analyse these"));
    assert_eq!(post.field("budget").as_deref(), Some("high"));
    assert_eq!(post.field("workerId").as_deref(), Some("wrk_7"));
    assert!(post.field("taskId").unwrap().starts_with("tsk_"));

    let files: Vec<_> = post.parts.iter().filter(|p| p.filename.is_some()).collect();
    let seen: Vec<_> = files
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.filename.as_deref().unwrap(),
                p.content_type.as_deref().unwrap(),
                p.len,
                p.sha256.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("files", "data.csv", "text/csv", 300_000, sha256(&csv)),
            (
                "files",
                "notes.md",
                "text/markdown",
                md.len() as u64,
                sha256(&md)
            ),
            (
                "files",
                "blob.unknownext",
                "application/octet-stream",
                70_001,
                sha256(&blob)
            ),
        ]
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_files_field_name_is_a_setting_and_no_files_means_json() {
    let ws = tempfile::tempdir().unwrap();
    write(ws.path(), "a.txt", b"hello");
    let mock = MockApi::start().await;
    let client = connect(
        &mock,
        &[
            "--workspace",
            ws.path().to_str().unwrap(),
            "--files-field",
            "files[]",
        ],
    )
    .await;
    mock.know_task("tsk_x");
    call(
        &client,
        "follow_up_task",
        json!({"taskId": "tsk_x", "input": "see", "files": ["a.txt"]}),
    )
    .await;
    call(
        &client,
        "create_task",
        json!({"input": "no files", "files": []}),
    )
    .await;
    let posts = mock.task_posts();
    let part = posts[0]
        .parts
        .iter()
        .find(|p| p.filename.is_some())
        .unwrap();
    assert_eq!(part.name, "files[]");
    assert_eq!(posts[0].field("taskId").as_deref(), Some("tsk_x"));
    assert_eq!(posts[1].header("content-type"), Some("application/json"));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn unsafe_or_unsuitable_paths_are_refused_before_anything_is_sent() {
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = ws.path().canonicalize().unwrap();
    let secret = write(outside.path(), "secret.txt", b"top secret");
    write(ws.path(), "ok.txt", b"fine");
    std::fs::create_dir(ws.path().join("folder")).unwrap();
    std::os::unix::fs::symlink(&secret, ws.path().join("link.txt")).unwrap();
    let fifo = ws.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let _socket = std::os::unix::net::UnixListener::bind(ws.path().join("sock")).unwrap();
    write(ws.path(), "a.bin", &[1; 2048]);
    write(ws.path(), "b.bin", &[2; 2048]);
    write(ws.path(), "c.bin", &[3; 2048]);
    write(ws.path(), "big.bin", &[4; 4096]);
    write(ws.path(), "one/same.txt", b"1");
    write(ws.path(), "two/same.txt", b"2");

    let mock = MockApi::start().await;
    let client = connect(
        &mock,
        &[
            "--workspace",
            ws.path().to_str().unwrap(),
            "--workspace",
            "/dev",
            "--max-file-size",
            "3KiB",
            "--max-total-size",
            "5KiB",
            "--max-files",
            "3",
        ],
    )
    .await;
    let base = format!(
        "resolve against {} (the configured workspace",
        root.display()
    );
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec!["../escape.txt".into()],
            vec!["\"../escape.txt\"", "`..` leads out of the workspace"],
        ),
        (
            vec!["ok.txt".into(), "folder/../../x".into()],
            vec!["folder/../../x", "`..`"],
        ),
        (
            vec![secret.to_str().unwrap().into()],
            vec!["secret.txt", "outside the workspace"],
        ),
        (
            vec!["link.txt".into()],
            vec!["link.txt", "symbolic link", "links are not followed"],
        ),
        (vec!["folder".into()], vec!["\"folder\"", "is a directory"]),
        (vec!["pipe".into()], vec!["\"pipe\"", "FIFO"]),
        (vec!["sock".into()], vec!["\"sock\"", "socket"]),
        (
            vec!["/dev/zero".into()],
            vec!["/dev/zero", "character device"],
        ),
        (
            vec!["missing.txt".into()],
            vec!["missing.txt", "no such file"],
        ),
        (
            vec!["big.bin".into()],
            vec!["big.bin", "4.0 KiB", "per-file limit of 3.0 KiB"],
        ),
        (
            vec!["a.bin".into(), "b.bin".into(), "c.bin".into()],
            vec!["total at least 6.0 KiB", "limit of 5.0 KiB"],
        ),
        (
            vec![
                "a.bin".into(),
                "b.bin".into(),
                "c.bin".into(),
                "ok.txt".into(),
            ],
            vec!["Too many files: 4 given, at most 3"],
        ),
        (
            vec!["one/same.txt".into(), "two/same.txt".into()],
            vec!["two/same.txt", "\"one/same.txt\" has the same file name"],
        ),
        (vec!["".into()], vec!["the path is empty"]),
    ];
    for (files, needles) in cases {
        let result = call(
            &client,
            "create_task",
            json!({"input": "x", "files": files}),
        )
        .await;
        assert_tool_error(&result, &needles);
        let message = crate::support::text(&result);
        if message.starts_with("Cannot attach") {
            assert!(message.contains(&base), "the base is named: {message}");
        }
        assert!(message.contains("Nothing was sent"), "{message}");
    }
    assert!(
        mock.requests().is_empty(),
        "no request was sent for a refused file"
    );

    client.cancel().await.unwrap();
}

#[tokio::test]
async fn without_roots_or_workspace_paths_resolve_against_the_working_directory() {
    let cwd = tempfile::tempdir().unwrap();
    write(cwd.path(), "here.txt", b"from cwd");
    let mock = MockApi::start().await;
    let mut cmd = command(&mock.base_url, Some(KEY), &[]);
    cmd.current_dir(cwd.path());
    let client = connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25).await;
    let ok = call(
        &client,
        "create_task",
        json!({"input": "x", "files": ["here.txt"]}),
    )
    .await;
    assert_eq!(ok.is_error, Some(false), "{ok:?}");
    let missing = call(
        &client,
        "create_task",
        json!({"input": "x", "files": ["nope.txt"]}),
    )
    .await;
    assert_tool_error(
        &missing,
        &[
            "nope.txt",
            "the server's working directory",
            &cwd.path().canonicalize().unwrap().display().to_string(),
        ],
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn client_roots_win_and_are_re_read_when_they_change() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::Builder::new()
        .prefix("with space")
        .tempdir()
        .unwrap();
    let configured = tempfile::tempdir().unwrap();
    write(first.path(), "a.txt", b"in the first root");
    write(second.path(), "b.txt", b"in the second root");
    write(configured.path(), "c.txt", b"configured");

    let mock = MockApi::start().await;
    let roots = RootsClient::offering(vec![folder_uri(first.path())]);
    let offered = roots.uris.clone();
    let cmd = command(
        &mock.base_url,
        Some(KEY),
        &["--workspace", configured.path().to_str().unwrap()],
    );
    let client = roots.connect(cmd).await;
    let call_with = |file: &'static str| {
        let client = &client;
        async move { create_with_files(client, &[file]).await }
    };
    assert_eq!(call_with("a.txt").await.is_error, Some(false));
    let refused = call_with("c.txt").await;
    assert_tool_error(
        &refused,
        &["c.txt", "no such file", "the client's workspace roots"],
    );

    *offered.lock().unwrap() = vec![folder_uri(second.path())];
    #[allow(deprecated)]
    client.notify_roots_list_changed().await.unwrap();
    // The notification and the next call race: until the server has seen it, a
    // call with b.txt is refused (nothing sent); it must be taken within 10 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let result = call_with("b.txt").await;
        if result.is_error == Some(false) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new roots never applied: {result:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let gone = call_with("a.txt").await;
    assert_tool_error(
        &gone,
        &[
            "a.txt",
            "no such file",
            &second.path().canonicalize().unwrap().display().to_string(),
        ],
    );

    let sent: Vec<_> = mock
        .task_posts()
        .iter()
        .flat_map(|r| {
            r.parts
                .iter()
                .filter_map(|p| p.filename.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(sent, vec!["a.txt", "b.txt"]);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn an_unreadable_file_is_refused_naming_the_reason() {
    use std::os::unix::fs::PermissionsExt;
    let ws = tempfile::tempdir().unwrap();
    std::fs::set_permissions(ws.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = write(ws.path(), "locked.txt", b"secret");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let mock = MockApi::start().await;
    let args = ["--workspace", ws.path().to_str().unwrap()];
    // Root reads any file, so run the server as `nobody` when the tests run as root.
    let as_root = std::fs::File::open(&locked).is_ok();
    if as_root && !crate::support::has_system_tool("setpriv") {
        return;
    }
    let cmd = if as_root {
        let mut cmd = tokio::process::Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            crate::support::bin(),
        ])
        .args(args)
        .env("HANDINGER_BASE_URL", &mock.base_url)
        .env("HANDINGER_API_KEY", KEY)
        .env("HANDINGER_STATE_DIR", crate::support::state_dir())
        .kill_on_drop(true);
        cmd
    } else {
        command(&mock.base_url, Some(KEY), &args)
    };
    let client = connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25).await;
    let result = call(
        &client,
        "create_task",
        json!({"input": "x", "files": ["locked.txt"]}),
    )
    .await;
    assert_tool_error(
        &result,
        &["locked.txt", "cannot be read", "ermission denied"],
    );
    assert!(mock.requests().is_empty());
    client.cancel().await.unwrap();
}
