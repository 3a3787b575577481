//! Benchmarks through the real (release) binary against the loopback mock, each
//! printed beside a baseline measured in the same run.
//!
//! `cargo bench --bench bench` runs every section; name sections to run a few:
//! `cargo bench --bench bench -- upload`. Under `cargo test` (no `--bench` flag) each
//! section runs once on small inputs, as a smoke test that keeps the harness working.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
#[allow(dead_code, unused_imports)]
mod support;

mod floor;

use std::{path::Path, process::Stdio, time::Instant};

use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation},
    transport::TokioChildProcess,
};
use serde_json::json;
use support::{KEY, MockApi, command};

type Section = fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// Smoke mode: small inputs, one run (set when not started by `cargo bench`).
static QUICK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn quick() -> bool {
    *QUICK.get().unwrap_or(&false)
}

/// A target as the table shows it: judged only in a real run. A smoke run (a debug
/// build, tiny inputs) proves the harness works, not the figures.
fn target(text: &'static str) -> &'static str {
    if quick() {
        "(smoke run: not judged)"
    } else {
        text
    }
}

fn main() {
    if let Ok(delay_ms) = std::env::var(floor::ROLE) {
        return floor::serve(&delay_ms);
    }
    if let Ok(spec) = std::env::var(floor::HOLD_ROLE) {
        return floor::hold(&spec);
    }
    // The direct-HTTP baselines use reqwest too, with the bridge's crypto: ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    QUICK
        .set(!std::env::args().any(|a| a == "--bench"))
        .unwrap();
    if quick() {
        println!(
            "SMOKE RUN: a debug build on small inputs, to keep the harness working. The figures \
             are not the product's; run `cargo bench --bench bench` for those."
        );
    }
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let sections: &[(&str, Section)] = &[
        ("startup", || Box::pin(startup())),
        ("overhead", || Box::pin(overhead())),
        ("upload", || Box::pin(upload())),
        ("concurrency", || Box::pin(concurrency())),
        ("http", || Box::pin(http_load())),
        ("long", || Box::pin(long_waits())),
        ("handles", || Box::pin(outstanding_handles())),
        ("quick", || Box::pin(quick_answers())),
        ("a2a", || Box::pin(a2a_overhead())),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("machine: {}", machine());
    for (name, section) in sections {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            runtime.block_on(section());
        }
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0);
    format!(
        "{cpu}, {cores} cores, {} GiB RAM, {}",
        mem / 1024 / 1024,
        std::env::consts::OS
    )
}

/// Peak resident set of a live process (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    support::proc_status_kib(pid, "VmHWM")
}

fn median(values: Vec<f64>) -> f64 {
    percentile(values, 50.0)
}

/// The `p`th percentile (nearest rank) of `values`.
fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn ms(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1000.0)
}

/// Spawn to the `initialize` answer, against spawning /bin/true to exit.
async fn startup() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let runs = if quick() { 5 } else { 60 };
    let init = serde_json::to_string(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "1"}}}))
    .unwrap()
        + "\n";
    let mut bridge = Vec::new();
    let mut idle_rss = Vec::new();
    for _ in 0..runs {
        let mut cmd = command("http://127.0.0.1:9", Some(KEY), &[]);
        cmd.env("HANDINGER_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let start = Instant::now();
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(init.as_bytes()).await.unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let answer = lines.next_line().await.unwrap().expect("an answer");
        bridge.push(start.elapsed().as_secs_f64());
        assert!(answer.contains("handinger-mcp"), "{answer}");
        idle_rss.push(peak_rss_kib(child.id().unwrap()) as f64 / 1024.0);
        drop(stdin);
        child.wait().await.unwrap();
    }
    let mut floor = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        tokio::process::Command::new("/bin/true")
            .status()
            .await
            .unwrap();
        floor.push(start.elapsed().as_secs_f64());
    }
    println!("\n## startup: spawn to the initialize answer, {runs} runs");
    println!("| measure | median | p90 | target |");
    println!("|---|---|---|---|");
    println!(
        "| handinger-mcp | {} | {} | {} |",
        ms(median(bridge.clone())),
        ms(percentile(bridge, 90.0)),
        target("<= 10 ms")
    );
    println!(
        "| /bin/true (spawn floor) | {} | {} | |",
        ms(median(floor.clone())),
        ms(percentile(floor, 90.0))
    );
    println!(
        "| RSS after initialize | {:.1} MiB | {:.1} MiB | {} |",
        median(idle_rss.clone()),
        percentile(idle_rss, 90.0),
        target("<= 10 MiB")
    );
    let size = std::fs::metadata(support::bin()).map_or(0, |m| m.len());
    println!(
        "| binary size (this build) | {:.1} MiB | | |",
        size as f64 / (1024.0 * 1024.0)
    );
}

/// What the bridge adds to one create_task: the same POST direct vs through it.
async fn overhead() {
    let calls = if quick() { 20 } else { 500 };
    let mock = MockApi::start().await;
    let http = reqwest::Client::new();
    let body = json!({"input": "overhead", "taskId": "tsk_direct"});
    let mut direct = Vec::new();
    for _ in 0..calls {
        let start = Instant::now();
        let response = http
            .post(format!("{}/api/tasks", mock.base_url))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let bytes = response.bytes().await.unwrap();
        direct.push(start.elapsed().as_secs_f64());
        assert!(!bytes.is_empty());
    }
    let (client, _) = spawn_client(command(&mock.base_url, Some(KEY), &[])).await;
    let args = json!({"input": "overhead"}).as_object().unwrap().clone();
    let mut bridged = Vec::new();
    for _ in 0..calls {
        let start = Instant::now();
        let result = client
            .call_tool(CallToolRequestParams::new("create_task").with_arguments(args.clone()))
            .await
            .unwrap();
        bridged.push(start.elapsed().as_secs_f64());
        assert_eq!(result.is_error, Some(false));
    }
    // A follow-up to a task this process did not start: one GET checks the task
    // exists before the POST (a mistyped id would start a new, billed task). Each
    // call names a task of its own, as the check runs once per task.
    let mut followed = Vec::new();
    for n in 0..calls {
        let task_id = format!("tsk_elsewhere{n}");
        mock.know_task(&task_id);
        let follow_args = json!({"taskId": task_id, "input": "more"})
            .as_object()
            .unwrap()
            .clone();
        let start = Instant::now();
        let result = client
            .call_tool(CallToolRequestParams::new("follow_up_task").with_arguments(follow_args))
            .await
            .unwrap();
        followed.push(start.elapsed().as_secs_f64());
        assert_eq!(result.is_error, Some(false));
    }
    client.cancel().await.unwrap();
    println!("\n## overhead: {calls} sequential create_task calls, mock answers at once");
    println!("| measure | direct HTTP | through the bridge | difference | ratio | target |");
    println!("|---|---|---|---|---|---|");
    for (name, p, target) in [
        ("p50", 50.0, target("difference <= 1 ms")),
        ("p99", 99.0, ""),
    ] {
        let d = percentile(direct.clone(), p);
        let b = percentile(bridged.clone(), p);
        println!(
            "| {name} | {} | {} | {} | {:.2}x | {target} |",
            ms(d),
            ms(b),
            ms(b - d),
            b / d
        );
    }
    println!(
        "\nfollow_up_task of a task another process started (the existence check, one GET, \
         then the POST), {calls} calls:"
    );
    println!("| measure | create_task | follow_up_task | the check's cost |");
    println!("|---|---|---|---|");
    for (name, p) in [("p50", 50.0), ("p99", 99.0)] {
        let b = percentile(bridged.clone(), p);
        let f = percentile(followed.clone(), p);
        println!("| {name} | {} | {} | {} |", ms(b), ms(f), ms(f - b));
    }
}

/// Requests answered without waiting on a task, over `serve --http`: their
/// latency beside the same request to the floor (rmcp's Streamable HTTP service
/// on hyper, alone, with TCP_NODELAY as the bridge sets it), each on one
/// kept-alive connection. `get_task` of a finished task also makes two lookups
/// (the task, then its worker): its floor adds two direct GETs to the mock.
async fn quick_answers() {
    let rounds = if quick() { 20 } else { 2000 };
    let mock = MockApi::start().await;
    mock.know_task("tsk_finished");
    let server = quiet_server(&mock).await;
    let mut floor_command = tokio::process::Command::new(std::env::current_exe().unwrap());
    floor_command.env(floor::ROLE, "0");
    let mut floor_server = support::http::HttpServer::spawn(floor_command).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let timed = |url: String, message: serde_json::Value| {
        let http = http.clone();
        async move {
            let mut latencies = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let start = Instant::now();
                let answer = support::http::post(&http, &url, &message, &[]).await;
                latencies.push(start.elapsed().as_secs_f64());
                assert_eq!(answer.status, 200, "{url}: {}", answer.text);
            }
            latencies
        }
    };
    let mut direct_get = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let response = http
            .get(format!("{}/api/tasks/tsk_finished", mock.base_url))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        response.bytes().await.unwrap();
        direct_get.push(start.elapsed().as_secs_f64());
    }
    let requests: Vec<(&str, serde_json::Value, serde_json::Value)> = vec![
        (
            "initialize",
            support::http::initialize(1),
            support::http::initialize(1),
        ),
        (
            "tools/list",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        ),
        (
            "an immediate error (unknown tool)",
            support::http::tool_call(1, "no_such_tool", json!({})),
            support::http::tool_call(1, "no_such_tool", json!({})),
        ),
    ];
    println!(
        "\n## quick: requests that wait on no task, over serve --http, {rounds} of each in a \
         row on a kept-alive connection, beside the floor (rmcp's Streamable HTTP on hyper \
         alone)"
    );
    println!(
        "direct GET to the mock (reference): p50 {} / p99 {}",
        ms(percentile(direct_get.clone(), 50.0)),
        ms(percentile(direct_get.clone(), 99.0))
    );
    println!("| request | bridge p50 / p99 | floor p50 / p99 | added p50 | added p99 | target |");
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, bridge: &[f64], floor: &[f64]| {
        latency_row(name, bridge, floor, "added p50 <= 0.5 ms");
    };
    for (name, to_bridge, to_floor) in requests {
        let bridge = timed(server.mcp_url(), to_bridge).await;
        let floor = timed(floor_server.mcp_url(), to_floor).await;
        row(name, &bridge, &floor);
    }
    // The bridge's get_task and the two GETs it makes, round by round, so that
    // both meet the mock in the same state.
    let get_task = support::http::tool_call(1, "get_task", json!({"taskId": "tsk_finished"}));
    let floor_call = timed(
        floor_server.mcp_url(),
        support::http::tool_call(1, "sleep", json!({"input": "x"})),
    )
    .await;
    let mut bridge = Vec::with_capacity(rounds);
    let mut with_lookups = Vec::with_capacity(rounds);
    for call in &floor_call {
        let start = Instant::now();
        let answer = support::http::post(&http, &server.mcp_url(), &get_task, &[]).await;
        bridge.push(start.elapsed().as_secs_f64());
        assert_eq!(answer.status, 200, "{}", answer.text);
        let start = Instant::now();
        for path in [
            "/api/tasks/tsk_finished",
            "/api/workers/wrk_mock?taskId=tsk_finished",
        ] {
            let response = http
                .get(format!("{}{path}", mock.base_url))
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap();
            response.bytes().await.unwrap();
        }
        with_lookups.push(call + start.elapsed().as_secs_f64());
    }
    row(
        "get_task of a finished task (floor: a tool call + 2 direct GETs)",
        &bridge,
        &with_lookups,
    );
    let _ = floor_server.child.kill().await;
}

/// The A2A front-end's cost per call: quick answers (the Agent Card, GetTask of
/// a finished task) beside direct requests to the mock, on one kept-alive
/// connection each; and 1 s tasks sent with a blocking SendMessage, many at
/// once, beside the same POSTs sent directly.
async fn a2a_overhead() {
    let rounds = if quick() { 20 } else { 2000 };
    let (batch, batches) = if quick() { (5, 2) } else { (50, 4) };
    let delay = std::time::Duration::from_secs(1);
    let mock = MockApi::start_with(support::mock::running_for(delay)).await;
    let server = quiet_server(&mock).await;
    let a2a_url = format!("{}/a2a", server.base);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(batch)
        .build()
        .unwrap();
    let a2a = |method: &str, params: serde_json::Value| {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (http, url) = (http.clone(), a2a_url.clone());
        async move {
            let answer =
                support::http::post(&http, &url, &request, &[("a2a-version", "1.0")]).await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            assert!(
                answer.messages[0].get("result").is_some(),
                "{}",
                answer.text
            );
            answer
        }
    };
    let direct_get = |path: String| {
        let (http, url) = (http.clone(), format!("{}{path}", mock.base_url));
        async move {
            let response = http.get(url).bearer_auth(KEY).send().await.unwrap();
            response.bytes().await.unwrap();
        }
    };

    // A finished task to get: one message, answered.
    let sent = a2a(
        "SendMessage",
        json!({"message": {"messageId": "m", "role": "ROLE_USER",
                                                      "parts": [{"text": "finish"}]}}),
    )
    .await;
    let task = sent.messages[0]["result"]["task"].clone();
    let (task_id, context) = (
        task["id"].clone(),
        task["contextId"].as_str().unwrap().to_owned(),
    );
    tokio::time::sleep(delay).await;

    let mut rows = Vec::new();
    let (mut card, mut card_floor) = (Vec::new(), Vec::new());
    let (mut get, mut get_floor) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        let response = http
            .get(format!("{}/.well-known/agent-card.json", server.base))
            .send()
            .await
            .unwrap();
        response.bytes().await.unwrap();
        card.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        direct_get(format!("/api/tasks/{context}")).await;
        card_floor.push(start.elapsed().as_secs_f64());

        let start = Instant::now();
        a2a("GetTask", json!({"id": task_id})).await;
        get.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        direct_get(format!("/api/tasks/{context}")).await;
        direct_get(format!("/api/workers/wrk_mock?taskId={context}")).await;
        get_floor.push(start.elapsed().as_secs_f64());
    }
    rows.push((
        "the Agent Card (baseline: one direct GET to the mock)",
        card,
        card_floor,
        "added p50 <= 0.5 ms",
    ));
    rows.push((
        "GetTask of a finished task (baseline: the 2 direct GETs it makes)",
        get,
        get_floor,
        "added p50 <= 0.5 ms",
    ));

    // 1 s tasks: a batch spread over a second (a steady state, not one burst),
    // blocking SendMessage beside direct POSTs.
    let stagger = move |n: usize| delay.mul_f64(n as f64 / batch as f64);
    let (mut sends, mut posts) = (Vec::new(), Vec::new());
    for round in 0..batches {
        let direct = futures_util::future::join_all((0..batch).map(|n| {
            let (http, url) = (http.clone(), format!("{}/api/tasks", mock.base_url));
            async move {
                tokio::time::sleep(stagger(n)).await;
                let start = Instant::now();
                let response = http
                    .post(url)
                    .bearer_auth(KEY)
                    .json(&json!({"input": format!("direct {round} {n}"),
                                  "taskId": format!("tsk_a2adirect{round}x{n}")}))
                    .send()
                    .await
                    .unwrap();
                response.bytes().await.unwrap();
                start.elapsed().as_secs_f64()
            }
        }))
        .await;
        let bridged = futures_util::future::join_all((0..batch).map(|n| {
            let send = a2a(
                "SendMessage",
                json!({"message": {"messageId": format!("m{round}-{n}"), "role": "ROLE_USER",
                                   "parts": [{"text": format!("a2a {round} {n}")}]}}),
            );
            async move {
                tokio::time::sleep(stagger(n)).await;
                let start = Instant::now();
                let answer = send.await;
                let state = &answer.messages[0]["result"]["task"]["status"]["state"];
                assert_eq!(state, "TASK_STATE_COMPLETED", "{}", answer.text);
                start.elapsed().as_secs_f64()
            }
        }))
        .await;
        // The first batch warms the connections up; the rest are measured.
        if round > 0 {
            posts.extend(direct);
            sends.extend(bridged);
        }
    }
    rows.push((
        "SendMessage, blocking, of a 1 s task (baseline: the direct POST)",
        sends,
        posts,
        "added p50 <= 2 ms",
    ));

    println!(
        "\n## a2a: the A2A front-end on serve --http, beside direct requests to the mock \
         ({rounds} quick requests in a row; batches of {batch} 1 s tasks spread over a second, \
         {} batches measured)",
        batches - 1
    );
    println!("| request | A2A p50 / p99 | baseline p50 / p99 | added p50 | added p99 | target |");
    println!("|---|---|---|---|---|---|");
    for (name, bridge, baseline, limit) in rows {
        latency_row(name, &bridge, &baseline, limit);
    }
}

/// One row of a latency table: p50 and p99 of `measured` and of `baseline`,
/// what the first adds at each, and the target.
fn latency_row(name: &str, measured: &[f64], baseline: &[f64], limit: &'static str) {
    let (m50, m99) = (
        percentile(measured.to_vec(), 50.0),
        percentile(measured.to_vec(), 99.0),
    );
    let (b50, b99) = (
        percentile(baseline.to_vec(), 50.0),
        percentile(baseline.to_vec(), 99.0),
    );
    println!(
        "| {name} | {} / {} | {} / {} | {} | {} | {} |",
        ms(m50),
        ms(m99),
        ms(b50),
        ms(b99),
        ms(m50 - b50),
        ms(m99 - b99),
        target(limit)
    );
}

/// `serve --http` on a free port against `mock`, logging only warnings.
async fn quiet_server(mock: &MockApi) -> support::http::HttpServer {
    let env = [("HANDINGER_LOG", "warn")];
    support::http::HttpServer::start_at(&mock.base_url, Some(KEY), "127.0.0.1:0", &[], &env).await
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Spawn the binary, connect an MCP client, and return it with the child's pid.
async fn spawn_client(cmd: tokio::process::Command) -> (support::Client, u32) {
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = transport.id().expect("child pid");
    let config = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("bench", "1"),
    );
    (config.serve(transport).await.unwrap(), pid)
}

/// Upload one big file through the bridge and with `curl -F` to the same mock.
async fn upload() {
    let size_mib: u64 = std::env::var("BENCH_UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick() { 8 } else { 1024 });
    let runs = if quick() { 1 } else { 3 };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let file = dir.path().join("big.bin");
    write_file(&file, size_mib);
    let bytes = size_mib * 1024 * 1024;
    let mock = MockApi::start().await;
    mock.skip_hashing();

    let mut bridge_secs = Vec::new();
    let mut bridge_rss = Vec::new();
    for _ in 0..runs {
        let cmd = command(
            &mock.base_url,
            Some(KEY),
            &["--workspace", dir.path().to_str().unwrap()],
        );
        let (client, pid) = spawn_client(cmd).await;
        let args = json!({"input": "bench", "files": ["big.bin"]})
            .as_object()
            .unwrap()
            .clone();
        let start = Instant::now();
        let result = client
            .call_tool(CallToolRequestParams::new("create_task").with_arguments(args))
            .await
            .unwrap();
        bridge_secs.push(start.elapsed().as_secs_f64());
        assert_eq!(result.is_error, Some(false), "{result:?}");
        bridge_rss.push(peak_rss_kib(pid));
        client.cancel().await.unwrap();
    }
    let received = mock.task_posts().last().unwrap().body_len;
    assert!(received > bytes, "the mock received the whole file");

    let mut curl_secs = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let status = tokio::process::Command::new("curl")
            // No `Expect: 100-continue`: the mock does not answer it, and curl would
            // wait a second for it before sending the body.
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-H",
                "Expect:",
                "-F",
                "input=bench",
                "-F",
                "taskId=tsk_curl",
            ])
            .arg("-F")
            .arg(format!("files=@{}", file.display()))
            .arg(format!("{}/api/tasks", mock.base_url))
            .status()
            .await
            .expect("curl runs");
        curl_secs.push(start.elapsed().as_secs_f64());
        assert!(status.success());
    }

    let bridge = mib(bytes) / median(bridge_secs.clone());
    let curl = mib(bytes) / median(curl_secs.clone());
    let peak = *bridge_rss.iter().max().unwrap() as f64 / 1024.0;
    println!("\n## upload: one {size_mib} MiB file, median of {runs} runs, loopback mock");
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| bridge peak RSS | {peak:.1} MiB | {} |",
        target("<= 32 MiB")
    );
    println!("| bridge throughput (tool call, spawn excluded) | {bridge:.0} MiB/s | |");
    println!("| curl -F throughput (same file, same mock) | {curl:.0} MiB/s | |");
    println!(
        "| bridge / curl | {:.2}x | {} |",
        bridge / curl,
        target(">= 0.8x")
    );
}

/// Many create_task calls at once against a mock that answers each after 1 s.
async fn concurrency() {
    let calls: usize = if quick() { 20 } else { 200 };
    let delay = std::time::Duration::from_secs(1);
    let mock = MockApi::start_with(support::mock::slow_handler(delay)).await;

    // Baseline: the same number of direct POSTs to the same mock, at once.
    let http = reqwest::Client::new();
    let start = Instant::now();
    let direct = futures_util::future::join_all((0..calls).map(|n| {
        http.post(format!("{}/api/tasks", mock.base_url))
            .json(&json!({"input": format!("direct {n}"), "taskId": format!("tsk_direct{n}")}))
            .send()
    }))
    .await;
    let direct_secs = start.elapsed().as_secs_f64();
    assert!(
        direct
            .iter()
            .all(|r| r.as_ref().is_ok_and(|r| r.status().is_success()))
    );

    let cmd = command(&mock.base_url, Some(KEY), &["--wait", "60"]);
    let (client, pid) = spawn_client(cmd).await;
    let idle_rss = peak_rss_kib(pid);
    let start = Instant::now();
    let results = futures_util::future::join_all((0..calls).map(|n| {
        let args = json!({"input": format!("call {n}")})
            .as_object()
            .unwrap()
            .clone();
        client.call_tool(CallToolRequestParams::new("create_task").with_arguments(args))
    }))
    .await;
    let bridge_secs = start.elapsed().as_secs_f64();
    let answered = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.is_error == Some(false)))
        .count();
    assert_eq!(answered, calls, "every call answered");
    let peak = peak_rss_kib(pid);
    client.cancel().await.unwrap();

    println!("\n## concurrency: {calls} create_task calls at once, mock answers each after 1 s");
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| bridge wall time / 1 s | {:.2} | {} |",
        bridge_secs / delay.as_secs_f64(),
        target("<= 1.5")
    );
    println!(
        "| direct HTTP wall time / 1 s (baseline) | {:.2} | |",
        direct_secs / delay.as_secs_f64()
    );
    println!(
        "| bridge RSS after initialize | {:.1} MiB | |",
        idle_rss as f64 / 1024.0
    );
    println!("| bridge peak RSS | {:.1} MiB | |", peak as f64 / 1024.0);
}

/// How many Streamable HTTP sessions the http and long sections run:
/// `HANDINGER_BENCH_HTTP_SESSIONS`, else 1,000 (20 in the smoke run).
fn http_sessions() -> usize {
    match std::env::var("HANDINGER_BENCH_HTTP_SESSIONS") {
        Ok(n) => n
            .parse()
            .expect("HANDINGER_BENCH_HTTP_SESSIONS is a number"),
        Err(_) if quick() => 20,
        Err(_) => 1000,
    }
}

/// MCP over Streamable HTTP under load, as a closed loop: each of many sessions
/// initializes, then calls create_task again and again, against a mock that
/// answers each task after 1 s, so that every session always has a call waiting.
/// Sessions start spread over the first second (a steady state, not a single
/// burst). Two baselines run in the same way: the same loop of direct POSTs to the
/// mock (for latency), and the same loop of MCP calls to the floor, rmcp's
/// transport on hyper with a tool that only sleeps (for memory).
async fn http_load() {
    let sessions = http_sessions();
    let rounds = match std::env::var("HANDINGER_BENCH_HTTP_ROUNDS") {
        Ok(n) => n.parse().expect("HANDINGER_BENCH_HTTP_ROUNDS is a number"),
        Err(_) if quick() => 2,
        Err(_) => 4,
    };
    let delay = std::time::Duration::from_secs(1);
    let mock = MockApi::start_with(support::mock::slow_handler(delay)).await;
    mock.skip_hashing();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(sessions)
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap();
    let closed_loop = ClosedLoop {
        http: &http,
        sessions,
        rounds,
        delay,
        spread: delay,
        sample_after: std::time::Duration::ZERO,
    };

    // Baseline: the same closed loop, straight to the mock.
    let direct: Vec<f64> = futures_util::future::join_all((0..sessions).map(|n| {
        let (http, url) = (http.clone(), format!("{}/api/tasks", mock.base_url));
        async move {
            tokio::time::sleep(closed_loop.stagger(n)).await;
            let mut latencies = Vec::new();
            for round in 0..rounds {
                let start = Instant::now();
                let response = http
                    .post(&url)
                    .json(&json!({"input": format!("direct {n} {round}"),
                                  "taskId": format!("tsk_direct{n}_{round}")}))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
                // The first round ramps up; the steady state is measured.
                if round > 0 {
                    latencies.push(start.elapsed().as_secs_f64());
                }
            }
            latencies
        }
    }))
    .await
    .concat();

    // The floor: rmcp's transport and hyper alone, in a process of its own.
    let mut floor_command = tokio::process::Command::new(std::env::current_exe().unwrap());
    floor_command.env(floor::ROLE, delay.as_millis().to_string());
    let mut floor_server = support::http::HttpServer::spawn(floor_command).await;
    let floor = closed_loop.run(&floor_server).await;
    let _ = floor_server.child.kill().await;

    let mut server = roomy_bridge(&mock, sessions * 2, &["--wait", "60"], &[]).await;
    let posts_before = mock.task_posts().len() + 1;
    let bridge = closed_loop.run(&server).await;
    // A clean stop, as an operator's would be.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().unwrap().to_string()])
        .status();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), server.child.wait()).await;
    let posts = mock.task_posts();
    let mut inputs: Vec<String> = posts[posts_before..]
        .iter()
        .filter_map(|p| p.input())
        .collect();
    let calls = sessions * rounds;
    inputs.sort();
    inputs.dedup();
    assert_eq!(inputs.len(), calls, "each task sent exactly once");
    assert_eq!(posts.len() - posts_before, calls, "and nothing sent twice");

    let latencies = &bridge.latencies;
    let overhead = |p: f64| percentile(latencies.clone(), p) - percentile(direct.clone(), p);
    let (bridge_kib, floor_kib) = (bridge.kib_per_waiting_call(), floor.kib_per_waiting_call());
    println!(
        "\n## http: {sessions} Streamable HTTP sessions, each calling create_task {rounds} times \
         in a row (mock answers each after 1 s; sessions start over the first second; the first \
         call of each is ramp-up, not counted)"
    );
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| throughput | {:.0} calls/s ({calls} calls in {:.2} s) | |",
        calls as f64 / bridge.wall,
        bridge.wall
    );
    println!(
        "| direct POST latency p50 / p99 (baseline) | {} / {} | |",
        ms(percentile(direct.clone(), 50.0)),
        ms(percentile(direct.clone(), 99.0))
    );
    println!(
        "| create_task latency p50 / p99 | {} / {} | |",
        ms(percentile(latencies.clone(), 50.0)),
        ms(percentile(latencies.clone(), 99.0))
    );
    println!(
        "| overhead p50 | {} | {} |",
        ms(overhead(50.0)),
        target("<= 2 ms")
    );
    println!("| overhead p99 | {} | |", ms(overhead(99.0)));
    println!(
        "| RSS per waiting call | {bridge_kib:.1} KiB ({}) | |",
        bridge.memory(),
    );
    println!(
        "| floor: rmcp's transport on hyper, a tool that sleeps (baseline) | {floor_kib:.1} KiB ({}) | |",
        floor.memory()
    );
    // Every call here ends within its hold, so each holds its POST open; the
    // target for a waiting call is judged in the long section.
    println!(
        "| the bridge's own, above the floor, each call's POST held open | {:.1} KiB ({:.2}x the \
         floor in all) | |",
        bridge_kib - floor_kib,
        bridge_kib / floor_kib,
    );
    println!("| answered exactly once | {calls} of {calls} | all |");
}

/// Long calls over Streamable HTTP: each session makes one create_task call on a
/// task that runs longer than the bridge holds its POST (`--hold-post`, at its
/// default), so every call waits with its POST let go and the API polled.
/// Sessions start spread over a minute (arrivals over time, as a server meets
/// them, not one burst whose held requests all end at once); memory is sampled
/// once every call has passed its hold, beside the floor's (rmcp's transport on
/// hyper, a tool that sleeps as long), run the same way.
async fn long_waits() {
    use std::time::Duration;
    let sessions = http_sessions();
    // The smoke run holds for 1 s, not the default 10 s, to stay short.
    let (spread, hold, runs_for) = match quick() {
        true => (Duration::from_secs(2), Some("1"), Duration::from_secs(8)),
        false => (Duration::from_secs(60), None, Duration::from_secs(90)),
    };
    let hold_for = hold.map_or(Duration::from_secs(10), |h| {
        Duration::from_secs(h.parse().unwrap())
    });
    let slow = support::mock::slow_handler(runs_for);
    let mock = MockApi::start_with(std::sync::Arc::new(move |r: &support::Recorded| {
        match r.input().as_deref() == Some(floor::WARM_UP) {
            true => support::Reply::json(200, support::mock::worker_json(r)),
            false => slow(r),
        }
    }))
    .await;
    mock.skip_hashing();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(sessions)
        .timeout(runs_for * 2)
        .build()
        .unwrap();
    let closed_loop = ClosedLoop {
        http: &http,
        sessions,
        rounds: 1,
        delay: runs_for,
        spread,
        // Every call started and past its hold, with a few seconds to spare.
        sample_after: spread + hold_for + Duration::from_secs(3),
    };
    let mut floor_command = tokio::process::Command::new(std::env::current_exe().unwrap());
    floor_command.env(floor::ROLE, runs_for.as_millis().to_string());
    let mut floor_server = support::http::HttpServer::spawn(floor_command).await;
    let floor = closed_loop.run(&floor_server).await;
    let _ = floor_server.child.kill().await;

    let mut args = vec!["--wait", "600"];
    if let Some(hold) = hold {
        args.extend(["--hold-post", hold]);
    }
    let mut server = roomy_bridge(&mock, sessions * 2, &args, &[]).await;
    let posts_before = mock.task_posts().len();
    let let_go_before = mock.posts_let_go();
    let bridge = closed_loop.run(&server).await;
    let _ = server.child.kill().await;
    let posts = mock.task_posts().len() - posts_before;
    let let_go = mock.posts_let_go() - let_go_before;
    assert_eq!(posts, sessions + 1, "each task sent once (and the warm-up)");
    assert_eq!(let_go, sessions, "every call's POST let go past its hold");
    let (bridge_kib, floor_kib) = (bridge.kib_per_waiting_call(), floor.kib_per_waiting_call());
    println!(
        "\n## long: {sessions} Streamable HTTP sessions, each calling create_task once on a task \
         that runs {} s (sessions start over {} s; the POST held {} s{}, then let go; memory \
         sampled once every call is past its hold)",
        runs_for.as_secs(),
        spread.as_secs(),
        hold_for.as_secs(),
        if hold.is_some() { "" } else { ", the default" },
    );
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!("| POSTs let go before their answer | {let_go} of {sessions} | all |");
    println!(
        "| RSS per waiting call | {bridge_kib:.1} KiB ({}) | |",
        bridge.memory()
    );
    println!(
        "| floor: rmcp's transport on hyper, a tool that sleeps (baseline) | {floor_kib:.1} KiB ({}) | |",
        floor.memory()
    );
    println!(
        "| the bridge's own, above the floor | {:.1} KiB ({:.2}x the floor in all) | {} |",
        bridge_kib - floor_kib,
        bridge_kib / floor_kib,
        target("<= 40 KiB")
    );
    println!("| answered exactly once | {sessions} of {sessions} | all |");
}

/// MCP task handles over HTTP: clients of the tasks extension start N tasks
/// that stay running (the mock holds each POST open); each call is answered at
/// once with a handle. The bridge's RSS per outstanding handle, beside the floor
/// under it: a process that holds N requests to the API open with the same HTTP
/// client and nothing else. What the bridge keeps above that is its own share.
async fn outstanding_handles() {
    let count: usize = match std::env::var("HANDINGER_BENCH_HANDLES") {
        Ok(n) => n.parse().expect("HANDINGER_BENCH_HANDLES is a number"),
        Err(_) if quick() => 200,
        Err(_) => 10_000,
    };
    // Tasks run for an hour; the warm-up answers at once.
    let mock = MockApi::start_with(std::sync::Arc::new(|request: &support::Recorded| {
        if request.method != "POST" || request.path != "/api/tasks" {
            return support::Reply::error(404, "not found");
        }
        let reply = support::Reply::json(200, support::mock::worker_json(request));
        match request.input() {
            Some(input) if input.starts_with("warm-up") => reply,
            _ => reply.after(std::time::Duration::from_secs(3600)),
        }
    }))
    .await;
    mock.skip_hashing();
    let held = |prefix: &'static str| {
        let mock = mock.clone();
        move || {
            mock.task_posts()
                .iter()
                .filter(|p| p.input().is_some_and(|i| i.starts_with(prefix)))
                .count()
        }
    };
    let settle = |what: &'static str, sent: Box<dyn Fn() -> usize>| async move {
        let deadline = Instant::now() + std::time::Duration::from_secs(300);
        while sent() < count {
            assert!(
                Instant::now() < deadline,
                "{what}: only {} of {count} sent",
                sent()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Let the sockets and buffers settle before sampling.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };

    // The floor: N requests to the API held open, nothing else.
    let mut floor = tokio::process::Command::new(std::env::current_exe().unwrap())
        .env(
            floor::HOLD_ROLE,
            format!("{}/api/tasks {count}", mock.base_url),
        )
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let floor_pid = floor.id().unwrap();
    {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(floor.stderr.take().unwrap()).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("ready") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    }
    let floor_idle = support::proc_status_kib(floor_pid, "VmRSS");
    {
        use tokio::io::AsyncWriteExt;
        floor
            .stdin
            .as_mut()
            .unwrap()
            .write_all(b"go\n")
            .await
            .unwrap();
    }
    settle("floor", Box::new(held("hold "))).await;
    let floor_held = support::proc_status_kib(floor_pid, "VmRSS");
    let _ = floor.kill().await;

    // The bridge, with room for every task.
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_string_lossy().into_owned();
    let mut server = roomy_bridge(
        &mock,
        count * 2,
        &[],
        &[("HANDINGER_STATE_DIR", &state_dir)],
    )
    .await;
    let (pid, url) = (server.child.id().unwrap(), server.mcp_url());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let warm = support::http::post(
        &http,
        &url,
        &support::http::tool_call(0, "create_task", json!({"input": "warm-up"})),
        &[],
    )
    .await;
    assert_eq!(warm.status, 200);
    let bridge_idle = support::proc_status_kib(pid, "VmRSS");
    let start = Instant::now();
    use futures_util::StreamExt;
    let handles: Vec<String> = futures_util::stream::iter(0..count)
        .map(|n| {
            let (http, url) = (http.clone(), url.clone());
            let call = support::http::tasks_request(
                1,
                "tools/call",
                json!({"name": "create_task", "arguments": {"input": format!("handle {n}")}}),
            );
            async move {
                let answer = support::http::post(&http, &url, &call, &[]).await;
                answer.response(1)["result"]["taskId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a handle: {:?}", answer.messages))
                    .to_owned()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let issued = start.elapsed().as_secs_f64();
    settle("bridge", Box::new(held("handle "))).await;
    let bridge_held = support::proc_status_kib(pid, "VmRSS");
    // A handle is still answered (from the API), while all are outstanding.
    let get = support::http::tasks_request(2, "tasks/get", json!({"taskId": handles[0]}));
    let got = support::http::post(&http, &url, &get, &[]).await;
    assert!(
        got.response(2)["result"]["status"].is_string(),
        "{:?}",
        got.messages
    );
    let _ = server.child.kill().await;
    assert_eq!(handles.len(), count);

    let per = |held: u64, idle: u64| held.saturating_sub(idle) as f64 / count as f64;
    let (bridge_kib, floor_kib) = (per(bridge_held, bridge_idle), per(floor_held, floor_idle));
    println!(
        "\n## handles: {count} MCP task handles outstanding over HTTP (each task's POST held \
         open by the mock; clients of the tasks extension, 64 calls at a time)"
    );
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| handles issued | {count} in {issued:.2} s ({:.0}/s) | |",
        count as f64 / issued
    );
    println!(
        "| RSS per outstanding handle | {bridge_kib:.1} KiB ({:.1} MiB idle, {:.1} MiB with all outstanding) | |",
        bridge_idle as f64 / 1024.0,
        bridge_held as f64 / 1024.0
    );
    println!(
        "| floor: one request to the API held open, same HTTP client (baseline) | {floor_kib:.1} KiB | |"
    );
    println!(
        "| the bridge's own share per handle, above the floor | {:.1} KiB | {} |",
        bridge_kib - floor_kib,
        target("<= the floor")
    );
}

/// `serve --http` against `mock` with room for `room` calls in flight (for the
/// client and the whole server), logging warnings only.
async fn roomy_bridge(
    mock: &MockApi,
    room: usize,
    args: &[&str],
    env: &[(&str, &str)],
) -> support::http::HttpServer {
    let room = room.to_string();
    let mut all = vec![
        "--http-max-calls-per-client",
        &room,
        "--max-in-flight",
        &room,
    ];
    all.extend_from_slice(args);
    let mut all_env = vec![("HANDINGER_LOG", "warn")];
    all_env.extend_from_slice(env);
    support::http::HttpServer::start_at(&mock.base_url, Some(KEY), "127.0.0.1:0", &all, &all_env)
        .await
}

/// Sessions in a closed loop against one MCP server over HTTP.
#[derive(Clone, Copy)]
struct ClosedLoop<'a> {
    http: &'a reqwest::Client,
    sessions: usize,
    rounds: usize,
    /// How long the mock (or the floor's tool) takes per task.
    delay: std::time::Duration,
    /// Sessions start spread over this long.
    spread: std::time::Duration,
    /// Memory is sampled only after this long.
    sample_after: std::time::Duration,
}

/// What one closed loop measured.
struct LoopRun {
    /// Steady-state create_task latencies (first round left out), in seconds.
    latencies: Vec<f64>,
    wall: f64,
    idle_rss_kib: u64,
    /// The sample with the most calls in flight, and the RSS then.
    waiting: usize,
    waiting_rss_kib: u64,
}

impl LoopRun {
    fn kib_per_waiting_call(&self) -> f64 {
        self.waiting_rss_kib.saturating_sub(self.idle_rss_kib) as f64 / self.waiting.max(1) as f64
    }

    fn memory(&self) -> String {
        format!(
            "{:.1} MiB idle, {:.1} MiB with {} calls waiting",
            self.idle_rss_kib as f64 / 1024.0,
            self.waiting_rss_kib as f64 / 1024.0,
            self.waiting
        )
    }
}

impl ClosedLoop<'_> {
    /// When session `n` starts: spread evenly over the first delay.
    fn stagger(&self, n: usize) -> std::time::Duration {
        self.spread.mul_f64(n as f64 / self.sessions as f64)
    }

    /// One warm-up call, the idle RSS, then every session's loop while sampling
    /// the server's RSS; checks each call is answered exactly once, with its own
    /// answer.
    async fn run(&self, server: &support::http::HttpServer) -> LoopRun {
        use support::http::{initialize, post, tool_call};
        let (pid, url) = (server.child.id().unwrap(), server.mcp_url());
        // One call first, so the HTTP client and its pool exist before measuring.
        let warm_up = tool_call(0, "create_task", json!({"input": floor::WARM_UP}));
        post(self.http, &url, &warm_up, &[]).await;
        let idle_rss_kib = support::proc_status_kib(pid, "VmRSS");

        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let load = futures_util::future::join_all((0..self.sessions).map(|n| {
            let (url, in_flight) = (url.clone(), in_flight.clone());
            async move {
                tokio::time::sleep(self.stagger(n)).await;
                let init = post(self.http, &url, &initialize(1), &[]).await;
                assert_eq!(init.status, 200);
                let mut latencies = Vec::new();
                for round in 0..self.rounds {
                    let input = format!("session {n} round {round}");
                    let id = 2 + round as i64;
                    let call = tool_call(id, "create_task", json!({"input": input}));
                    let call_start = Instant::now();
                    in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let answer = post(self.http, &url, &call, &[]).await;
                    in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    let latency = call_start.elapsed().as_secs_f64();
                    let responses: Vec<_> =
                        answer.messages.iter().filter(|m| m["id"] == id).collect();
                    assert_eq!(responses.len(), 1, "exactly one answer: {answer:?}");
                    let text = responses[0]["result"]["content"][0]["text"]
                        .as_str()
                        .unwrap_or("");
                    assert!(text.contains(&format!("Answer to: {input}\n")), "{text}");
                    if round > 0 {
                        latencies.push(latency);
                    }
                }
                latencies
            }
        }));
        // Sample the server's memory while the calls wait; keep the sample taken
        // with the most calls in flight.
        let sampler = async {
            let mut best = (0, 0);
            while start.elapsed() < self.delay.mul_f64(self.rounds as f64) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                if start.elapsed() < self.sample_after {
                    continue;
                }
                let waiting = in_flight.load(std::sync::atomic::Ordering::SeqCst);
                let rss = support::proc_status_kib(pid, "VmRSS");
                if waiting > best.0 || (waiting == best.0 && rss > best.1) {
                    best = (waiting, rss);
                }
            }
            best
        };
        let (latencies, (waiting, waiting_rss_kib)) = tokio::join!(load, sampler);
        LoopRun {
            latencies: latencies.concat(),
            wall: start.elapsed().as_secs_f64(),
            idle_rss_kib,
            waiting,
            waiting_rss_kib,
        }
    }
}

fn write_file(path: &Path, size_mib: u64) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    for _ in 0..size_mib {
        out.write_all(&block).unwrap();
    }
    out.flush().unwrap();
}
