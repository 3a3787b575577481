//! MCP over Streamable HTTP (`serve --http`): the real binary on loopback, spoken
//! to over real HTTP: stateless replicas, authentication, Host and Origin checks,
//! limits, per-client keys, the server-only workspace, health and shutdown.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};

use crate::support::{
    KEY, MockApi, Recorded, Reply,
    http::{
        Answer, HttpServer, bearer_of_key, call_text, http_client, initialize, post, serve_command,
        tool_call,
    },
    mock::{slow_handler, worker_json},
};

const TOKEN: &str = "test-token-0123456789abcdef";

fn ping(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
}

#[tokio::test]
async fn tools_are_listed_and_called_over_http_without_a_session() {
    let mock = MockApi::start().await;
    let server = HttpServer::start(&mock.base_url, Some(KEY), &[]).await;
    let http = http_client();
    let url = server.mcp_url();

    let init = post(&http, &url, &initialize(1), &[]).await;
    assert_eq!(init.status, 200, "{}", init.text);
    assert!(
        init.headers.get("mcp-session-id").is_none(),
        "stateless: no session ID"
    );
    let result = &init.response(1)["result"];
    assert_eq!(result["serverInfo"]["name"], "handinger-mcp");
    assert!(result["capabilities"]["tools"].is_object());
    assert!(
        result["capabilities"].get("tasks").is_none(),
        "no tasks extension over HTTP: its tasks would live on one replica"
    );

    // No session id is handed out, and none is needed.
    let list = post(
        &http,
        &url,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        &[],
    )
    .await;
    let names: Vec<&str> = list.response(2)["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, crate::support::tool_names());

    let called = post(
        &http,
        &url,
        &tool_call(3, "create_task", json!({"input": "over HTTP"})),
        &[],
    )
    .await;
    let (text, is_error) = call_text(called.response(3));
    assert!(!is_error && text.contains("Answer to: over HTTP"), "{text}");
    // An event stream, which carries keep-alive comments while a call waits.
    assert!(
        called.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].header("authorization"),
        Some(bearer_of_key().as_str())
    );
    assert_eq!(post(&http, &url, &ping(4), &[]).await.status, 200);
}

/// The API as a second replica sees it: the task and its worker, once the first
/// replica's POST has been answered.
fn api_keeping_answers() -> crate::support::mock::Handler {
    Arc::new(|r: &Recorded| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/api/tasks") => {
            Reply::json(200, worker_json(r)).after(Duration::from_millis(1500))
        }
        ("GET", path) if path.starts_with("/api/tasks/") => Reply::json(
            200,
            json!({"task": {"id": "x", "status": "completed", "workerId": "wrk_mock",
                            "url": "https://v3.handinger.com/worker/wrk_mock"}}),
        ),
        ("GET", path) if path.starts_with("/api/workers/wrk_mock") => {
            let mut worker = worker_json(&Recorded::default());
            worker["output_text"] = json!("Answer kept by the API");
            Reply::json(200, worker)
        }
        _ => Reply::error(404, "not found"),
    })
}

#[tokio::test]
async fn any_replica_answers_any_request_and_get_task_finds_a_task_started_on_another() {
    let mock = MockApi::start_with(api_keeping_answers()).await;
    let a = HttpServer::start(&mock.base_url, Some(KEY), &[]).await;
    let b = HttpServer::start(&mock.base_url, Some(KEY), &[]).await;
    let http = http_client();

    // Initialize on one replica, call on the other.
    assert_eq!(
        post(&http, &a.mcp_url(), &initialize(1), &[]).await.status,
        200
    );
    let started = post(
        &http,
        &b.mcp_url(),
        &tool_call(
            2,
            "create_task",
            json!({"input": "long one", "waitSeconds": 0}),
        ),
        &[],
    )
    .await;
    let response = started.response(2);
    let task_id = response["result"]["structuredContent"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("a taskId: {response}"))
        .to_owned();
    assert_eq!(response["result"]["structuredContent"]["status"], "running");

    let fetched = post(
        &http,
        &a.mcp_url(),
        &tool_call(3, "get_task", json!({"taskId": task_id, "waitSeconds": 10})),
        &[],
    )
    .await;
    let (text, is_error) = call_text(fetched.response(3));
    assert!(
        !is_error && text.starts_with("Answer kept by the API"),
        "{text}"
    );
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == format!("/api/tasks/{task_id}")),
        "replica A asked the API"
    );
}

#[tokio::test]
async fn a_non_loopback_bind_needs_tokens_and_the_tokens_are_checked() {
    let mock = MockApi::start().await;
    let refused = serve_command(&mock.base_url, Some(KEY), "0.0.0.0:0", &[])
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("without client authentication"), "{stderr}");
    assert!(stderr.contains("--http-tokens-file"), "{stderr}");

    let short = serve_command(&mock.base_url, Some(KEY), "0.0.0.0:0", &[])
        .env("HANDINGER_HTTP_TOKENS", "short")
        .output()
        .await
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("shorter than 16"));

    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("# clients\n{TOKEN}\n\nsecond-token-0123456789\n"),
    )
    .unwrap();
    let server = HttpServer::start_at(
        &mock.base_url,
        Some(KEY),
        "0.0.0.0:0",
        &["--http-tokens-file", tokens.to_str().unwrap()],
        &[],
    )
    .await;
    let http = http_client();
    let url = server.mcp_url().replace("0.0.0.0", "127.0.0.1");
    for bad in [
        None,
        Some("Bearer wrong-token-0123456789abc"),
        Some("Bearer "),
        Some(TOKEN),
    ] {
        let headers: Vec<(&str, &str)> = bad.map(|b| ("authorization", b)).into_iter().collect();
        let answer = post(&http, &url, &ping(1), &headers).await;
        assert_eq!(answer.status, 403, "{bad:?}");
        assert!(
            answer.text.contains("bearer token for this bridge"),
            "{}",
            answer.text
        );
        assert!(
            answer.headers.get("www-authenticate").is_none(),
            "no OAuth challenge"
        );
    }
    // The scheme is case-insensitive (RFC 9110); only Bearer is accepted.
    let basic = post(
        &http,
        &url,
        &ping(1),
        &[("authorization", &format!("Basic {TOKEN}"))],
    )
    .await;
    assert_eq!(basic.status, 403);
    for good in [
        format!("Bearer {TOKEN}"),
        format!("BEARER {TOKEN}"),
        format!("bearer {TOKEN}"),
        format!("bEaReR  {TOKEN}"),
        "Bearer second-token-0123456789".to_owned(),
    ] {
        let answer = post(&http, &url, &ping(1), &[("authorization", &good)]).await;
        assert_eq!(answer.status, 200, "{good}: {}", answer.text);
    }
    // Health checks need no token (load balancers call them).
    let health = http.get(format!(
        "{}/healthz",
        server.base.replace("0.0.0.0", "127.0.0.1")
    ));
    assert_eq!(health.send().await.unwrap().status(), 200);
    assert!(!server.stderr().contains(TOKEN), "a token was logged");
}

#[tokio::test]
async fn foreign_hosts_and_origins_get_403_and_allowed_ones_pass() {
    let mock = MockApi::start().await;
    let server = HttpServer::start(
        &mock.base_url,
        Some(KEY),
        &[
            "--http-allowed-origins",
            "https://app.example.com",
            "--http-allowed-hosts",
            "bridge.example.com",
        ],
    )
    .await;
    let http = http_client();
    let url = server.mcp_url();
    let status = |answer: Answer| answer.status;
    assert_eq!(
        status(post(&http, &url, &ping(1), &[]).await),
        200,
        "no Origin: a non-browser client"
    );
    assert_eq!(
        status(post(&http, &url, &ping(1), &[("origin", "https://evil.example")]).await),
        403
    );
    assert_eq!(
        status(
            post(
                &http,
                &url,
                &ping(1),
                &[("origin", "http://localhost:1234")]
            )
            .await
        ),
        403,
        "only listed origins"
    );
    assert_eq!(
        status(
            post(
                &http,
                &url,
                &ping(1),
                &[("origin", "https://app.example.com")]
            )
            .await
        ),
        200
    );
    assert_eq!(
        status(post(&http, &url, &ping(1), &[("host", "evil.example")]).await),
        403,
        "DNS rebinding: a foreign Host"
    );
    assert_eq!(
        status(post(&http, &url, &ping(1), &[("host", "bridge.example.com")]).await),
        200
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_and_each_client_has_a_call_limit() {
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(2))).await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\nsecond-token-0123456789\n")).unwrap();
    let server = HttpServer::start(
        &mock.base_url,
        Some(KEY),
        &[
            "--http-max-body",
            "64KiB",
            "--http-max-calls-per-client",
            "2",
            "--http-tokens-file",
            tokens.to_str().unwrap(),
        ],
    )
    .await;
    let http = http_client();
    let url = server.mcp_url();
    let first = format!("Bearer {TOKEN}");
    let auth = [("authorization", first.as_str())];

    let big = tool_call(1, "create_task", json!({"input": "x".repeat(100 * 1024)}));
    assert_eq!(post(&http, &url, &big, &auth).await.status, 413);
    assert!(mock.task_posts().is_empty());

    // Two slow calls fill the first client's limit; its third is refused at once
    // with 429, while the second client is served.
    let slow = |id: i64, auth: String| {
        let http = http.clone();
        let url = url.clone();
        tokio::spawn(async move {
            post(
                &http,
                &url,
                &tool_call(id, "create_task", json!({"input": format!("slow {id}")})),
                &[("authorization", &auth)],
            )
            .await
        })
    };
    let running = [slow(2, first.clone()), slow(3, first.clone())];
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = post(&http, &url, &ping(4), &auth).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.headers["retry-after"], "1");
    let other = post(
        &http,
        &url,
        &ping(5),
        &[("authorization", "Bearer second-token-0123456789")],
    )
    .await;
    assert_eq!(other.status, 200);
    for call in running {
        let answer = call.await.unwrap();
        assert_eq!(answer.status, 200);
    }
    // The permits come back when the calls end.
    assert_eq!(post(&http, &url, &ping(6), &auth).await.status, 200);
}

#[tokio::test]
async fn each_client_key_pays_for_its_own_calls_and_sees_only_its_own_tasks() {
    let mock = MockApi::start_with(slow_handler(Duration::from_millis(300))).await;
    // The server has no key of its own: every call must bring one.
    let server = HttpServer::start(&mock.base_url, None, &[]).await;
    let http = http_client();
    let url = server.mcp_url();

    let none = post(
        &http,
        &url,
        &tool_call(1, "create_task", json!({"input": "no key"})),
        &[],
    )
    .await;
    let (text, is_error) = call_text(none.response(1));
    assert!(is_error && text.contains("handinger-api-key"), "{text}");
    assert!(mock.task_posts().is_empty());

    let keys = ["hdg_live_client_a_0000", "hdg_live_client_b_1111"];
    let mut calls = Vec::new();
    for round in 0..10 {
        for (who, key) in keys.iter().enumerate() {
            let (http, url, key) = (http.clone(), url.clone(), key.to_string());
            calls.push(tokio::spawn(async move {
                let input = format!("from client {who} call {round}");
                let answer = post(
                    &http,
                    &url,
                    &tool_call(1, "create_task", json!({"input": input})),
                    &[("handinger-api-key", &key)],
                )
                .await;
                let (text, is_error) = call_text(answer.response(1));
                assert!(!is_error && text.contains(&input), "{text}");
            }));
        }
    }
    for call in calls {
        call.await.unwrap();
    }
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 20);
    for post in &posts {
        let who: usize = post.input().unwrap()["from client ".len()..][..1]
            .parse()
            .unwrap();
        assert_eq!(
            post.header("authorization"),
            Some(format!("Bearer {}", keys[who]).as_str()),
            "client {who}'s call went out with another key"
        );
    }

    // A task client A left running is not answered to client B from A's table:
    // B's get_task asks the API with B's key.
    mock.set_handler(slow_handler(Duration::from_secs(3)));
    let started = post(
        &http,
        &url,
        &tool_call(
            1,
            "create_task",
            json!({"input": "private to A", "waitSeconds": 0}),
        ),
        &[("handinger-api-key", keys[0])],
    )
    .await;
    let task_id = started.response(1)["result"]["structuredContent"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let peek = post(
        &http,
        &url,
        &tool_call(2, "get_task", json!({"taskId": task_id, "waitSeconds": 5})),
        &[("handinger-api-key", keys[1])],
    )
    .await;
    let (text, _) = call_text(peek.response(2));
    assert!(
        !text.contains("Answer to: private to A"),
        "B saw A's answer: {text}"
    );
    let lookups: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains(&task_id))
        .collect();
    let with_b = format!("Bearer {}", keys[1]);
    assert!(
        lookups
            .iter()
            .any(|r| r.header("authorization") == Some(with_b.as_str())),
        "B's get_task asked the API with B's key: {lookups:?}"
    );
    // A gets its own answer, kept by A's runner.
    let own = post(
        &http,
        &url,
        &tool_call(3, "get_task", json!({"taskId": task_id, "waitSeconds": 10})),
        &[("handinger-api-key", keys[0])],
    )
    .await;
    let (text, is_error) = call_text(own.response(3));
    assert!(
        !is_error && text.contains("Answer to: private to A"),
        "{text}"
    );
    let log = server.stderr();
    for key in keys {
        assert!(!log.contains(key), "a client key was logged");
    }
}

#[tokio::test]
async fn files_come_only_from_a_workspace_configured_on_the_server() {
    let mock = MockApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "server-side notes").unwrap();
    let http = http_client();
    let attach = tool_call(
        1,
        "create_task",
        json!({"input": "read", "files": ["notes.txt"]}),
    );

    // No --workspace: refused, nothing sent, even though the server's working
    // directory holds the file.
    let mut cmd = serve_command(&mock.base_url, Some(KEY), "127.0.0.1:0", &[]);
    cmd.current_dir(dir.path());
    let bare = HttpServer::spawn(cmd).await;
    let refused = post(&http, &bare.mcp_url(), &attach, &[]).await;
    let (text, is_error) = call_text(refused.response(1));
    assert!(is_error, "{text}");
    assert!(text.contains("configured on the server"), "{text}");
    assert!(mock.task_posts().is_empty(), "nothing is sent");

    let served = HttpServer::start(
        &mock.base_url,
        Some(KEY),
        &["--workspace", dir.path().to_str().unwrap()],
    )
    .await;
    let sent = post(&http, &served.mcp_url(), &attach, &[]).await;
    let (text, is_error) = call_text(sent.response(1));
    assert!(!is_error, "{text}");
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 1);
    let part = posts[0]
        .parts
        .iter()
        .find(|p| p.filename.as_deref() == Some("notes.txt"));
    assert_eq!(part.map(|p| p.len), Some(17));
}

#[tokio::test]
async fn healthz_is_liveness_and_readyz_asks_the_api() {
    let mock = MockApi::start().await;
    let up = HttpServer::start(&mock.base_url, Some(KEY), &[]).await;
    let http = http_client();
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(format!("{}/healthz", up.base)).await, 200);
    assert_eq!(get(format!("{}/readyz", up.base)).await, 200);

    // An API nobody listens on: alive, not ready.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = HttpServer::start(&dead_url, Some(KEY), &[]).await;
    assert_eq!(get(format!("{}/healthz", down.base)).await, 200);
    let ready = http
        .get(format!("{}/readyz", down.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.text().await.unwrap().contains("not reachable"));
    assert_eq!(get(format!("{}/elsewhere", down.base)).await, 404);
}

#[tokio::test]
async fn sigterm_lets_calls_finish_then_names_the_tasks_still_waiting() {
    // A call that ends within the grace period gets its answer.
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(2))).await;
    let server = HttpServer::start(&mock.base_url, Some(KEY), &["--shutdown-grace", "10"]).await;
    let http = http_client();
    let url = server.mcp_url();
    let call = {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            post(
                &http,
                &url,
                &tool_call(1, "create_task", json!({"input": "finish me"})),
                &[],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    terminate(&server);
    let answer = call.await.unwrap();
    let (text, is_error) = call_text(answer.response(1));
    assert!(!is_error && text.contains("Answer to: finish me"), "{text}");
    let mut server = server;
    let status = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("exits once the call is done")
        .unwrap();
    assert!(status.success());
    assert!(
        http.get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );

    // A call longer than the grace period: the server exits after it, naming the
    // task, which get_task finds later.
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(30))).await;
    let mut server = HttpServer::start(&mock.base_url, Some(KEY), &["--shutdown-grace", "1"]).await;
    let url = server.mcp_url();
    let _call = tokio::spawn(async move {
        post(
            &http,
            &url,
            &tool_call(1, "create_task", json!({"input": "too long"})),
            &[],
        )
        .await
    });
    let task_id = loop {
        if let Some(post) = mock.task_posts().first() {
            break post.field("taskId").unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    terminate(&server);
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("exits after the grace period")
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the grace period"
    );
    // The waiting client was answered before its stream closed: still running,
    // with the taskId to fetch it by.
    let answer = tokio::time::timeout(Duration::from_secs(5), _call)
        .await
        .expect("the client's stream ended")
        .unwrap();
    let result = &answer.response(1)["result"];
    assert_eq!(result["isError"], false, "{answer:?}");
    assert_eq!(
        result["structuredContent"]["status"], "running",
        "{answer:?}"
    );
    assert_eq!(result["structuredContent"]["taskId"], task_id.as_str());
    assert!(call_text(answer.response(1)).0.contains("get_task"));
    let log = server.stderr_to_the_end().await;
    assert!(
        log.contains("may still run on Handinger")
            && (task_id.is_empty() || log.contains(&task_id)),
        "{log}"
    );
}

fn terminate(server: &HttpServer) {
    let pid = server.child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// What a remote-server snippet in editor-configs/http/ makes its host send: the
/// URL and each header, with the host's placeholders for the bridge token and the
/// Handinger key filled in.
fn snippet_request(
    path: &std::path::Path,
    token: &str,
    key: &str,
) -> (String, Vec<(String, String)>) {
    let text = std::fs::read_to_string(path).unwrap();
    let fill = |value: &str| {
        value
            .replace("${input:handinger-bridge-token}", token)
            .replace("${env:HANDINGER_BRIDGE_TOKEN}", token)
            .replace("$HANDINGER_BRIDGE_TOKEN", token)
            .replace("${input:handinger-api-key}", key)
            .replace("${env:HANDINGER_API_KEY}", key)
            .replace("$HANDINGER_API_KEY", key)
    };
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    if name.ends_with(".sh") {
        let line = text
            .lines()
            .find(|l| l.starts_with("claude mcp add"))
            .unwrap();
        assert!(line.contains("--transport http"), "{name}");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap()
            .to_owned();
        let headers = line
            .split("--header \"")
            .skip(1)
            .map(|h| {
                let h = &h[..h.find('"').unwrap()];
                let (n, v) = h.split_once(": ").unwrap();
                (n.to_owned(), fill(v))
            })
            .collect();
        return (url, headers);
    }
    if name.ends_with(".toml") {
        let value: toml::Value = toml::from_str(&text).unwrap();
        let server = &value["mcp_servers"]["handinger"];
        let from_env = |var: &str| match var {
            "HANDINGER_BRIDGE_TOKEN" => token.to_owned(),
            "HANDINGER_API_KEY" => key.to_owned(),
            other => panic!("{name}: unknown variable {other}"),
        };
        let mut headers = vec![(
            "Authorization".to_owned(),
            format!(
                "Bearer {}",
                from_env(server["bearer_token_env_var"].as_str().unwrap())
            ),
        )];
        for (header, var) in server["env_http_headers"].as_table().unwrap() {
            headers.push((header.clone(), from_env(var.as_str().unwrap())));
        }
        return (server["url"].as_str().unwrap().to_owned(), headers);
    }
    let value: Value = serde_json::from_str(&text).unwrap();
    let server = value
        .get("servers")
        .or_else(|| value.get("mcpServers"))
        .map(|s| &s["handinger"])
        .unwrap();
    if let Some(kind) = server.get("type") {
        assert_eq!(kind, "http", "{name}");
    }
    let headers = server["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.clone(), fill(v.as_str().unwrap())))
        .collect();
    // Gemini CLI names Streamable HTTP `httpUrl` (its `url` is SSE).
    let url = server.get("httpUrl").or_else(|| server.get("url")).unwrap();
    (url.as_str().unwrap().to_owned(), headers)
}

/// Each remote-host snippet, filled in as its host would, reaches a bridge with
/// tokens: the bearer token is accepted and the user's own key pays for the call.
#[tokio::test]
async fn every_remote_host_snippet_authenticates_and_sends_its_own_key() {
    let mock = MockApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    let server = HttpServer::start(
        &mock.base_url,
        None,
        &["--http-tokens-file", tokens.to_str().unwrap()],
    )
    .await;
    let http = http_client();
    let snippets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("editor-configs/http");
    let mut checked = 0;
    for entry in std::fs::read_dir(snippets).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let key = format!("hdg_live_snippet_{}", name.replace(['.', '-'], "_"));
        let (url, headers) = snippet_request(&path, TOKEN, &key);
        assert!(url.ends_with("/mcp"), "{name}: {url}");
        assert!(
            headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("handinger-api-key")),
            "{name} sends no Handinger-Api-Key"
        );
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let input = format!("from {name}");
        let answer = post(
            &http,
            &server.mcp_url(),
            &tool_call(1, "create_task", json!({"input": input})),
            &headers,
        )
        .await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.text);
        let (text, is_error) = call_text(answer.response(1));
        assert!(!is_error, "{name}: {text}");
        let sent = mock
            .task_posts()
            .into_iter()
            .find(|p| p.input().as_deref() == Some(input.as_str()))
            .unwrap();
        assert_eq!(
            sent.header("authorization"),
            Some(format!("Bearer {key}").as_str()),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}

/// A client that never finishes its headers is dropped after the header timeout,
/// and past the connection limit new connections wait until one closes.
#[tokio::test]
async fn slow_headers_are_dropped_and_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mock = MockApi::start().await;
    let server = HttpServer::start(
        &mock.base_url,
        Some(KEY),
        &["--http-header-timeout", "1", "--http-max-connections", "2"],
    )
    .await;
    let addr = server.base.trim_start_matches("http://").to_owned();

    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();

    // Both slots are taken: a third client waits...
    let http = http_client();
    let third = tokio::spawn({
        let url = format!("{}/healthz", server.base);
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !third.is_finished(),
        "a third connection was served past the limit"
    );

    // ...until the slow ones are dropped for taking too long over their headers.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the slow client is dropped within 5 s");
    let status = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the waiting client is served once a slot frees")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    drop(idle);
}

/// A key header that is there but empty (a host variable that is unset, say) is
/// an error, never a silent fall-back to the server's own key.
#[tokio::test]
async fn an_empty_key_header_never_falls_back_to_the_server_key() {
    let mock = MockApi::start().await;
    let server = HttpServer::start(&mock.base_url, Some(KEY), &[]).await;
    let http = http_client();
    let call = tool_call(1, "create_task", json!({"input": "whose key?"}));
    for value in ["", "   "] {
        let answer = post(
            &http,
            &server.mcp_url(),
            &call,
            &[("handinger-api-key", value)],
        )
        .await;
        let (text, is_error) = call_text(answer.response(1));
        assert!(
            is_error && text.contains("header is empty"),
            "{value:?}: {text}"
        );
    }
    let unexpanded = post(
        &http,
        &server.mcp_url(),
        &call,
        &[("handinger-api-key", "${env:HANDINGER_API_KEY}")],
    )
    .await;
    let (text, is_error) = call_text(unexpanded.response(1));
    assert!(is_error && text.contains("literal text"), "{text}");
    assert!(
        text.contains("The Handinger-Api-Key header holds"),
        "{text}"
    );
    assert!(!text.contains("\"env\" block"), "{text}");

    // A key the API refuses: the advice is about the header it came in.
    let refusing = MockApi::start_with(Arc::new(|_: &Recorded| Reply::error(401, "revoked"))).await;
    let refused_server =
        HttpServer::start(&refusing.base_url, Some(KEY), &["--retries", "0"]).await;
    let refused = post(
        &http,
        &refused_server.mcp_url(),
        &call,
        &[("handinger-api-key", "hdg_live_revoked_0123456789")],
    )
    .await;
    let (text, is_error) = call_text(refused.response(1));
    assert!(is_error, "{text}");
    assert!(
        text.contains("It came from the Handinger-Api-Key header"),
        "{text}"
    );
    assert!(!text.contains("\"env\" block"), "{text}");
    assert!(
        mock.task_posts().is_empty(),
        "nothing sent with the server's key"
    );
    // Without the header at all, the server's key pays.
    let answer = post(&http, &server.mcp_url(), &call, &[]).await;
    assert!(!call_text(answer.response(1)).1);
    assert_eq!(
        mock.task_posts()[0].header("authorization"),
        Some(bearer_of_key().as_str())
    );
}

/// A call that waits in silence still sends something every 15 s (an SSE
/// comment), so proxies with idle timeouts keep the connection.
#[tokio::test]
async fn a_long_call_keeps_its_stream_alive() {
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(17))).await;
    let server = HttpServer::start(&mock.base_url, Some(KEY), &[]).await;
    let http = http_client();
    let started = std::time::Instant::now();
    let mut response = http
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", crate::support::http::PROTOCOL)
        .body(tool_call(1, "create_task", json!({"input": "slow and silent"})).to_string())
        .send()
        .await
        .unwrap();
    let mut before_result = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        let text = String::from_utf8_lossy(&chunk).into_owned();
        if text.contains("\"result\"") {
            break;
        }
        before_result.push((started.elapsed(), text));
    }
    assert!(
        before_result
            .iter()
            .any(|(at, text)| *at > Duration::from_secs(10) && text.trim_start().starts_with(':')),
        "no keep-alive while waiting: {before_result:?}"
    );
}

/// The server started through `sh` after `ulimit ULIMIT`.
#[cfg(target_os = "linux")]
async fn serve_under_ulimit(mock: &MockApi, ulimit: &str) -> HttpServer {
    let inner = serve_command(&mock.base_url, Some(KEY), "127.0.0.1:0", &[]);
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit {ulimit} && exec \"$0\" \"$@\""))
        .arg(inner.as_std().get_program())
        .args(inner.as_std().get_args())
        .envs(inner.as_std().get_envs().filter_map(|(k, v)| Some((k, v?))))
        .kill_on_drop(true);
    HttpServer::spawn(cmd).await
}

/// Each waiting call holds two sockets; started with a soft open-file limit of
/// 64 (a hard one well above), the server raises its own, and 60 calls waiting
/// at once (about 120 sockets, more than 64) are all answered.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_low_open_file_limit_is_raised_so_calls_are_not_refused() {
    let hard: u64 = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(u64::MAX);
    if hard < 1024 {
        crate::support::skip(&format!("this machine's hard open-file limit is {hard}"));
        return;
    }
    let mock = MockApi::start_with(slow_handler(Duration::from_secs(1))).await;
    let server = serve_under_ulimit(&mock, "-Sn 64").await;
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", server.child.id().unwrap())).unwrap();
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(soft > 64, "the soft limit was raised: {limits}");

    let http = http_client();
    let url = server.mcp_url();
    let calls = (0..60).map(|n| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let call = tool_call(n, "create_task", json!({"input": format!("fd {n}")}));
            let answer = post(&http, &url, &call, &[]).await;
            let (text, is_error) = call_text(answer.response(n));
            assert!(!is_error, "{text}");
            assert!(text.contains(&format!("Answer to: fd {n}\n")), "{text}");
        }
    });
    futures_util::future::join_all(calls).await;
    assert_eq!(mock.task_posts().len(), 60);
}

/// A hard limit too low for --http-max-connections (10,000 by default) is named
/// at start, with what to change.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_hard_open_file_limit_too_low_for_the_connection_limit_is_reported() {
    let mock = MockApi::start().await;
    let server = serve_under_ulimit(&mock, "-n 512").await;
    let stderr = server.stderr();
    assert!(
        stderr.contains("allows about 256 calls at once") && stderr.contains("LimitNOFILE"),
        "{stderr}"
    );
}

/// A `Handinger-Api-Key` header that cannot be a key is refused before anything
/// is stored; the attack's numbers (1,024 keys of 300 KB) leave memory flat.
#[tokio::test]
async fn key_headers_that_are_no_keys_are_refused_before_anything_is_stored() {
    let mock = MockApi::start().await;
    let server = HttpServer::start(&mock.base_url, Some(KEY), &[]).await;
    let http = http_client();
    let url = server.mcp_url();
    let call = tool_call(1, "get_task", json!({"taskId": "tsk_x"}));
    for bad in [
        "k".repeat(513),
        "hdg live key".to_owned(),
        "hdg_live_\u{e9}t\u{e9}".to_owned(),
    ] {
        let answer = post(&http, &url, &call, &[("handinger-api-key", &bad)]).await;
        assert_eq!(answer.status, 400, "{bad:?}");
        assert!(
            answer.text.contains("does not hold a Handinger API key"),
            "{}",
            answer.text
        );
    }
    let fine = post(
        &http,
        &url,
        &call,
        &[("handinger-api-key", &"k".repeat(512))],
    )
    .await;
    assert_eq!(fine.status, 200);
    let pid = server.child.id().unwrap();
    let before = crate::support::proc_status_kib(pid, "VmRSS");
    for i in 0..1024 {
        let key = format!("{i:04}{}", "k".repeat(300 * 1024));
        let answer = post(&http, &url, &call, &[("handinger-api-key", &key)]).await;
        assert_eq!(answer.status, 400);
    }
    let peak = crate::support::proc_status_kib(pid, "VmHWM");
    eprintln!("RSS before {before} KiB, peak after 1,024 keys of 300 KB: {peak} KiB");
    assert!(
        peak < before + 64 * 1024,
        "peak {peak} KiB from {before} KiB"
    );
    assert!(
        mock.requests().iter().all(
            |r| r.header("authorization") == Some(bearer_of_key().as_str())
                || r.header("authorization").is_some_and(|a| a.len() < 600)
        ),
        "no refused key reached the API"
    );
}

/// Runners are kept for at most 1,024 keys, those with calls running counted:
/// past that, a new key gets 503 with Retry-After, and known keys still work.
#[tokio::test]
async fn the_table_of_keys_is_bounded_even_with_calls_running() {
    raise_open_file_limit();
    let mock = MockApi::start_with(Arc::new(|r: &Recorded| {
        if r.method == "POST" {
            Reply::Hang
        } else {
            Reply::error(404, "not found")
        }
    }))
    .await;
    let server = HttpServer::start(
        &mock.base_url,
        None,
        &["--http-max-calls-per-client", "2048"],
    )
    .await;
    let http = http_client();
    let url = server.mcp_url();
    let start = |i: usize| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let key = format!("hdg_live_client_{i:05}");
            let call = tool_call(1, "create_task", json!({"input": "hold", "waitSeconds": 0}));
            post(&http, &url, &call, &[("handinger-api-key", &key)]).await
        }
    };
    for batch in (0..1024).collect::<Vec<_>>().chunks(64) {
        let answers = futures_util::future::join_all(batch.iter().map(|i| start(*i))).await;
        for answer in answers {
            assert_eq!(answer.status, 200, "{}", answer.text);
            assert_eq!(
                answer.response(1)["result"]["structuredContent"]["status"],
                "running"
            );
        }
    }
    let refused = start(5000).await;
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert_eq!(
        refused
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let known = start(7).await;
    assert_eq!(known.status, 200, "a key with a runner is still served");
    assert_eq!(
        mock.task_posts().len(),
        1025,
        "the refused key sent nothing"
    );
}

/// The tests' own process holds the mock's side of every connection.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum {
        limit.current = Some(hard.min(65_536));
    } else {
        limit.current = Some(65_536);
    }
    let _ = setrlimit(Resource::Nofile, limit);
}

/// The attack's numbers: 20 connections sending a body one byte a second used
/// up the client's slots and blocked a real client for over 12 s. Now each is
/// closed at the body timeout and frees its slot.
#[tokio::test]
async fn slow_bodies_are_cut_and_free_their_slots() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mock = MockApi::start().await;
    let server = HttpServer::start(
        &mock.base_url,
        Some(KEY),
        &[
            "--http-header-timeout",
            "3",
            "--http-max-calls-per-client",
            "20",
        ],
    )
    .await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let started = std::time::Instant::now();
    let mut dribblers = Vec::new();
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n\
                  accept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{",
            )
            .await
            .unwrap();
        dribblers.push(tokio::spawn(async move {
            // One byte a second until the server closes the connection.
            let mut buf = [0u8; 4096];
            loop {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    },
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {
                        if stream.write_all(b" ").await.is_err() {
                            return;
                        }
                    }
                }
            }
        }));
    }
    // A second for the server to take all twenty (their bodies have 3 s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Every slot is held now: a real client is refused for the moment.
    let http = http_client();
    let busy = post(&http, &server.mcp_url(), &ping(1), &[]).await;
    assert_eq!(busy.status, 429, "the dribblers hold every slot");
    for dribbler in dribblers {
        tokio::time::timeout(Duration::from_secs(5), dribbler)
            .await
            .expect("each slow body is cut within the timeout")
            .unwrap();
    }
    let served = post(&http, &server.mcp_url(), &ping(2), &[]).await;
    assert_eq!(served.status, 200, "{}", served.text);
    // The attack blocked a real client for over 12 s.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "a real client waited {:?}",
        started.elapsed()
    );
}

/// /readyz answers from a cached probe: 600 probes cost the API about one
/// request a second.
#[tokio::test]
async fn readyz_asks_the_api_at_most_once_a_second() {
    let mock = MockApi::start().await;
    let server = HttpServer::start(&mock.base_url, Some(KEY), &[]).await;
    let http = http_client();
    let url = format!("{}/readyz", server.base);
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let probes = (0..30).map(|_| {
            let (http, url) = (http.clone(), url.clone());
            async move { http.get(url).send().await.unwrap().status().as_u16() }
        });
        let statuses = futures_util::future::join_all(probes).await;
        assert!(statuses.iter().all(|s| *s == 200));
    }
    let seconds = started.elapsed().as_secs_f64();
    let upstream = mock.requests().len();
    eprintln!("600 probes in {seconds:.2} s made {upstream} upstream requests");
    assert!(
        upstream as f64 <= seconds.ceil() + 1.0,
        "{upstream} upstream requests in {seconds:.2} s"
    );
}
