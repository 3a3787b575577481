//! The floor under the HTTP mode's memory per waiting call: rmcp's stateless
//! Streamable HTTP service on hyper's HTTP/1.1, set up as `serve --http` sets them
//! up, with one tool that only sleeps. Nothing of the bridge is in it (no routing,
//! tokens, limits, runners, nor a connection to the API), so what the bridge uses
//! beyond this is the bridge's own.
//!
//! The bench runs itself as this server (see [`ROLE`]) so that its memory is
//! measured in a process of its own, as the bridge's is.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use hyper_util::rt::{TokioIo, TokioTimer};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ServerCapabilities,
        ServerConfig,
    },
    service::RequestContext,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
    },
};

/// Set to the tool's delay in milliseconds, this variable makes the bench binary
/// serve the floor instead of running benchmarks.
pub const ROLE: &str = "HANDINGER_BENCH_FLOOR_DELAY_MS";

/// The input of the call each run starts with, before memory is measured.
pub const WARM_UP: &str = "warm-up";

/// A tool that waits, then answers as the mock's tasks do.
#[derive(Clone)]
struct Sleeper {
    delay: Duration,
}

impl ServerHandler for Sleeper {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let input = request
            .arguments
            .as_ref()
            .and_then(|arguments| arguments.get("input"))
            .and_then(|input| input.as_str())
            .unwrap_or_default();
        // tokio's timer rounds even a zero sleep up to its 1 ms tick. The bench's
        // warm-up call is answered at once, as the mock answers it.
        if !self.delay.is_zero() && input != WARM_UP {
            tokio::time::sleep(self.delay).await;
        }
        let answer = format!("Answer to: {input}\n");
        Ok(CallToolResult::success(vec![ContentBlock::text(answer)]).into())
    }
}

/// Serve on 127.0.0.1 (an ephemeral port, announced on stderr as the bridge
/// announces it) until killed, on a runtime shaped like the bridge's.
pub fn serve(delay_ms: &str) {
    let delay = Duration::from_millis(delay_ms.parse().expect("a delay in milliseconds"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(accept(delay));
}

async fn accept(delay: Duration) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local: SocketAddr = listener.local_addr().unwrap();
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(false)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_allowed_hosts([local.ip().to_string(), local.to_string()]);
    config.sse_retry = None;
    let sleeper = Sleeper { delay };
    let mcp = Arc::new(StreamableHttpService::new(
        move || Ok(sleeper.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    ));
    eprintln!("floor: listening on http://{local}/mcp");
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // As the bridge does: quick answers do not wait for a delayed ACK.
        let _ = stream.set_nodelay(true);
        let mcp = mcp.clone();
        let service = hyper::service::service_fn(move |request| {
            let mcp = mcp.clone();
            async move { Ok::<_, Infallible>(mcp.handle(request).await) }
        });
        let connection = http1.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(connection);
    }
}

/// Set to `URL N`, this variable makes the bench binary the floor under a task
/// handle: a process that holds N requests to the API open, as the bridge must
/// for the tasks it sent, with the same HTTP client settings, and nothing else.
pub const HOLD_ROLE: &str = "HANDINGER_BENCH_HOLD";

/// Say `ready` on stderr, wait for a line on stdin, then send N `POST URL`
/// requests and hold them open until killed.
pub fn hold(spec: &str) {
    let (url, count) = spec.split_once(' ').expect("URL N");
    let count: usize = count.parse().expect("a count");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .http1_only()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(3600))
            .build()
            .unwrap();
        eprintln!("floor: ready");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let requests: Vec<_> = (0..count)
            .map(|n| {
                let request = http
                    .post(url)
                    .bearer_auth("hdg_live_hold")
                    .json(&serde_json::json!({"input": format!("hold {n}"),
                                              "taskId": format!("tsk_hold{n}")}));
                tokio::spawn(async move { request.send().await.map(drop) })
            })
            .collect();
        eprintln!("floor: holding {}", requests.len());
        for request in requests {
            let _ = request.await;
        }
    });
}
