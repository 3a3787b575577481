//! MCP over Streamable HTTP (`serve --http ADDR`): rmcp's stateless service at
//! `/mcp`, behind the checks a shared bridge needs: bearer tokens (required off
//! loopback; a missing or wrong one gets 403 with a message, see
//! TOKEN_REFUSED), Host and Origin allow-lists, a body limit and a per-client
//! limit on calls in flight; `/healthz` and `/readyz` beside it. The same
//! server routes `/a2a` and the Agent Card to the A2A front-end
//! ([`crate::a2a`]), behind the same checks.
//!
//! Stateless: no request needs anything an earlier request left on this replica,
//! so any replica answers any request. A task that outlives its call is fetched
//! with get_task, which asks the API; MCP task handles name the Handinger task
//! and turn, so `tasks/get` asks the API too.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::{rt::TokioIo, server::graceful::GracefulShutdown};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;

use super::{HandingerServer, SharedRunners};
use crate::{
    delegation::TaskRunner,
    key::KeySource,
    units::{count_setting, seconds_setting, size_setting},
    workspace::Workspace,
};
use std::path::PathBuf;

/// The header that carries a client's own Handinger key.
pub const CLIENT_KEY_HEADER: &str = "handinger-api-key";
/// The answer to a request without this bridge's bearer token.
const TOKEN_REFUSED: &str = "handinger-mcp: the bearer token for this bridge is missing or \
wrong. Send Authorization: Bearer <token>, with a token from the bridge's --http-tokens-file or \
HANDINGER_HTTP_TOKENS (ask whoever runs the bridge), set in your MCP host's config for this \
server.\n";

/// How long /readyz waits for the API.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a /readyz answer is reused: probes cost the API at most one request
/// a second, however often (and by whomever) /readyz is asked.
const READY_CACHE: Duration = Duration::from_secs(1);
/// Most distinct client keys whose runners are kept, those with calls running
/// included; past it, idle ones go, and a new key waits (503) when none is idle.
const MAX_KEYED_RUNNERS: usize = 1024;
/// Longest `Handinger-Api-Key` value accepted (keys are about 40 characters).
pub const MAX_CLIENT_KEY_BYTES: usize = 512;
/// How long calls still waiting at the end of the grace period get to send
/// their "still running" answer before the streams close.
const FINAL_ANSWER_GRACE: Duration = Duration::from_secs(5);

/// The HTTP front-end's options, which are also its settings (the `serve`
/// command flattens them). Bearer tokens come from a file or
/// HANDINGER_HTTP_TOKENS, never from the command line, where process lists would
/// show them.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpOptions {
    /// Serve MCP over Streamable HTTP on ADDR (host:port; 127.0.0.1:8080 when
    /// ADDR is left out) instead of stdio; the endpoint is /mcp. A non-loopback
    /// address needs tokens.
    #[arg(id = "http", long = "http", env = "HANDINGER_HTTP", value_name = "ADDR",
          num_args = 0..=1, default_missing_value = DEFAULT_ADDR)]
    pub addr: Option<SocketAddr>,
    /// File of bearer tokens clients must present, one per line (# comments);
    /// HANDINGER_HTTP_TOKENS may also list tokens, comma-separated.
    #[arg(
        id = "http_tokens_file",
        long = "http-tokens-file",
        env = "HANDINGER_HTTP_TOKENS_FILE",
        value_name = "PATH"
    )]
    pub tokens_file: Option<PathBuf>,
    /// Bearer tokens a client must present (from [`HttpOptions::load_tokens`]);
    /// empty means no authentication, which only a loopback bind allows.
    #[arg(skip)]
    pub tokens: Vec<String>,
    /// Host names (or host:port) accepted in the Host header, besides loopback and
    /// the bound address; comma-separated (DNS-rebinding defence).
    #[arg(
        id = "http_allowed_hosts",
        long = "http-allowed-hosts",
        env = "HANDINGER_HTTP_ALLOWED_HOSTS",
        value_name = "HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted (scheme://host:port, `:*` for any port);
    /// comma-separated. A request with another Origin gets 403; requests without
    /// Origin (non-browser clients) pass.
    #[arg(
        id = "http_allowed_origins",
        long = "http-allowed-origins",
        env = "HANDINGER_HTTP_ALLOWED_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted (413 beyond).
    #[arg(id = "http_max_body", long = "http-max-body", env = "HANDINGER_HTTP_MAX_BODY",
          value_name = "SIZE", default_value = "4MiB", value_parser = size_setting)]
    pub max_body_bytes: u64,
    /// Most requests one client (one token, or one address without tokens) may
    /// have in flight; beyond it, 429.
    #[arg(id = "http_max_calls_per_client", long = "http-max-calls-per-client",
          env = "HANDINGER_HTTP_MAX_CALLS_PER_CLIENT", value_name = "N", default_value = "64",
          value_parser = count_setting)]
    pub max_calls_per_client: usize,
    /// Time a client has to send a request's headers, and again its body; a
    /// slower one is dropped.
    #[arg(id = "http_header_timeout", long = "http-header-timeout",
          env = "HANDINGER_HTTP_HEADER_TIMEOUT", value_name = "SECS", default_value = "30",
          value_parser = seconds_setting)]
    pub header_timeout: Duration,
    /// Most client connections open at once; past it, new ones wait to be
    /// accepted.
    #[arg(id = "http_max_connections", long = "http-max-connections",
          env = "HANDINGER_HTTP_MAX_CONNECTIONS", value_name = "N", default_value = "10000",
          value_parser = count_setting)]
    pub max_connections: usize,
    /// After SIGTERM, how long calls in flight may go on before the server exits
    /// (their tasks keep running on Handinger; get_task finds them).
    #[arg(long, env = "HANDINGER_SHUTDOWN_GRACE", value_name = "SECS", default_value = "30",
          value_parser = seconds_setting)]
    pub shutdown_grace: Duration,
    /// The A2A version of a request with 1.0's method names and no A2A-Version
    /// header. The spec says 0.3, which has no such methods (such requests get
    /// VersionNotSupportedError); 1.0 serves header-less 1.0 clients. Requests
    /// with 0.3's method names are served as 0.3 either way.
    #[arg(long = "a2a-version-if-missing", env = "HANDINGER_A2A_VERSION_IF_MISSING",
          value_name = "VERSION", default_value = crate::a2a::VERSION_IF_MISSING)]
    pub a2a_version_if_missing: String,
    /// The A2A endpoint's URL as clients reach it (behind a proxy or TLS), for
    /// the Agent Card; by default http://<the request's Host>/a2a.
    #[arg(
        long = "a2a-public-url",
        env = "HANDINGER_A2A_PUBLIC_URL",
        value_name = "URL"
    )]
    pub a2a_public_url: Option<String>,
    /// Characters of an answer inlined in a result (set by the composition root).
    #[arg(skip = usize::MAX)]
    pub max_output_chars: usize,
    /// The only folder files may come from; `None`: files are refused (set by
    /// the composition root: over HTTP only a configured workspace serves).
    #[arg(skip)]
    pub workspace: Option<Workspace>,
}

/// Where `--http` without an address listens.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Shortest bearer token accepted.
const MIN_TOKEN_CHARS: usize = 16;

impl HttpOptions {
    /// The header (and body) timeout; never under 100 ms, which would drop every
    /// client.
    fn header_timeout(&self) -> Duration {
        self.header_timeout.max(Duration::from_millis(100))
    }

    /// The address to listen on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| DEFAULT_ADDR.parse().expect("a valid address"))
    }

    /// Read the bearer tokens: `env_list` (HANDINGER_HTTP_TOKENS, comma-separated)
    /// and the tokens file. A short token or an unreadable file is refused.
    pub fn load_tokens(&mut self, env_list: Option<&str>) -> Result<(), String> {
        let mut tokens: Vec<String> = env_list
            .into_iter()
            .flat_map(|list| list.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(path) = &self.tokens_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "--http-tokens-file {}: cannot read it ({e})",
                    path.display()
                )
            })?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        if let Some(short) = tokens
            .iter()
            .position(|t| t.chars().count() < MIN_TOKEN_CHARS)
        {
            return Err(format!(
                "bearer token number {} is shorter than {MIN_TOKEN_CHARS} characters; use long \
                 random tokens (e.g. `openssl rand -hex 32`)",
                short + 1
            ));
        }
        self.tokens = tokens;
        Ok(())
    }
}

/// Why the HTTP server could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpServeError {
    #[error(
        "refusing to serve on {0} without client authentication: a non-loopback address is \
         reachable by others. Give bearer tokens with --http-tokens-file or HANDINGER_HTTP_TOKENS, \
         or bind to 127.0.0.1"
    )]
    Unauthenticated(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Runners by the key that pays for the call: the server's own, or the one a
/// client sent. Each key has its own runner (and table of calls), so one client's
/// key never serves, or reveals, another client's call.
pub struct KeyedRunners {
    server: Arc<TaskRunner>,
    by_client_key: Mutex<HashMap<String, Arc<TaskRunner>>>,
    /// The workspace calls over HTTP attach from.
    workspace: Workspace,
}

impl KeyedRunners {
    pub fn new(server: Arc<TaskRunner>, workspace: Option<Workspace>) -> Self {
        let workspace = workspace.unwrap_or_else(|| {
            Workspace::unusable(
                crate::workspace::RootSource::Configured,
                "--workspace",
                "over HTTP, files are attached only from a folder configured on the server \
                 (--workspace or HANDINGER_WORKSPACE), and this server has none; a client's \
                 roots do not name this machine's files"
                    .to_owned(),
            )
        });
        Self {
            server,
            by_client_key: Mutex::default(),
            workspace,
        }
    }

    /// The runner for a request's headers: the client's key when it sent the
    /// header, else the server's; an error message when there is neither, or
    /// when the header is there but holds no usable key (an empty value, say,
    /// from a host variable that is unset): that never falls back to the
    /// server's key.
    pub fn for_request(&self, headers: &http::HeaderMap) -> Result<Arc<TaskRunner>, String> {
        let sent = headers.get(CLIENT_KEY_HEADER).map(|value| {
            value
                .to_str()
                .map(str::trim)
                .ok()
                .filter(|key| !key.is_empty())
        });
        let key = match sent {
            Some(Some(key)) => key,
            Some(None) => {
                return Err(format!(
                    "The {CLIENT_KEY_HEADER} header is empty or not text. Set it to your \
                     Handinger API key (hdg_live_...) in your MCP host's config for this \
                     server, or leave the header out to use the server's key."
                ));
            }
            None => return self.server_runner(),
        };
        check_client_key(key)?;
        let mut runners = self.by_client_key.lock().expect("runners lock");
        if let Some(runner) = runners.get(key) {
            return Ok(runner.clone());
        }
        if !make_room(&mut runners) {
            return Err(format!(
                "This server is busy with calls paid by {MAX_KEYED_RUNNERS} other keys; call \
                 again in a few seconds."
            ));
        }
        let runner = Arc::new(self.server.with_key(KeySource {
            env_value: Some(crate::key::ApiKey::new(key.to_owned())),
            file: None,
            header: Some("Handinger-Api-Key"),
        }));
        runners.insert(key.to_owned(), runner.clone());
        Ok(runner)
    }

    /// Whether a request may reach the MCP service, judged on its headers before
    /// anything is stored: a `Handinger-Api-Key` that is too long or not a key
    /// (400), or a new key while the table of runners is full of keys with calls
    /// running (503).
    fn admits(&self, headers: &http::HeaderMap) -> Result<(), Box<Response<HttpBody>>> {
        let Some(value) = headers.get(CLIENT_KEY_HEADER) else {
            return Ok(());
        };
        let key = match value.to_str() {
            Ok(key) => key.trim(),
            // Bytes outside visible ASCII: no key is spelled that way.
            Err(_) => "\u{0}",
        };
        if key.is_empty() {
            // Answered as a tool error, which says how to set the header.
            return Ok(());
        }
        if let Err(message) = check_client_key(key) {
            return Err(Box::new(text(
                StatusCode::BAD_REQUEST,
                &format!("{message}\n"),
            )));
        }
        let mut runners = self.by_client_key.lock().expect("runners lock");
        if runners.contains_key(key) || make_room(&mut runners) {
            return Ok(());
        }
        let mut response = text(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy: too many keys have calls running on this server; retry shortly\n",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        Err(Box::new(response))
    }

    /// Let every waiting call answer now with "still running" (shutdown).
    pub fn end_waits(&self) {
        for runner in self.all() {
            runner.end_waits();
        }
    }

    /// The runner paid by the server's own key, when it has one.
    fn server_runner(&self) -> Result<Arc<TaskRunner>, String> {
        if self.server.has_key() {
            return Ok(self.server.clone());
        }
        Err(format!(
            "No Handinger API key: send yours in the {CLIENT_KEY_HEADER} header (set it in your \
             MCP host's config for this server), or start the server with HANDINGER_API_KEY."
        ))
    }

    /// Every runner, for the shutdown report.
    pub fn all(&self) -> Vec<Arc<TaskRunner>> {
        let runners = self.by_client_key.lock().expect("runners lock");
        std::iter::once(self.server.clone())
            .chain(runners.values().cloned())
            .collect()
    }
}

impl SharedRunners for KeyedRunners {
    fn runner_for(&self, headers: &http::HeaderMap) -> Result<Arc<TaskRunner>, String> {
        self.for_request(headers)
    }

    fn workspace(&self) -> &Workspace {
        &self.workspace
    }
}

/// A key as the API's keys are spelled (letters, digits and `_-.~+/=`), at most
/// [`MAX_CLIENT_KEY_BYTES`]; anything else is refused before it is stored.
fn check_client_key(key: &str) -> Result<(), String> {
    // A host's unexpanded placeholder passes here, to be answered with what it
    // means (the variable is unset where the host runs).
    let spelled_as_key = crate::key::looks_unexpanded(key)
        || key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.~+/=".contains(&b));
    if key.len() > MAX_CLIENT_KEY_BYTES || !spelled_as_key {
        return Err(format!(
            "The {CLIENT_KEY_HEADER} header does not hold a Handinger API key (at most \
             {MAX_CLIENT_KEY_BYTES} letters, digits and _-.~+/=); set it to your key \
             (hdg_live_...)."
        ));
    }
    Ok(())
}

/// Room for one more key's runner: at once below the bound, else by dropping
/// runners with no call running. `false` when every kept runner is busy.
fn make_room(runners: &mut HashMap<String, Arc<TaskRunner>>) -> bool {
    if runners.len() >= MAX_KEYED_RUNNERS {
        runners.retain(|_, runner| !runner.running_calls().is_empty());
    }
    runners.len() < MAX_KEYED_RUNNERS
}

type HttpBody = BoxBody<Bytes, Infallible>;

/// Shared by every connection.
struct State {
    mcp: StreamableHttpService<HandingerServer, NeverSessionManager>,
    runners: Arc<KeyedRunners>,
    tokens: Vec<String>,
    max_calls_per_client: usize,
    calls_by_client: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Time allowed for a request's body, once its headers are in.
    body_timeout: Duration,
    /// The last /readyz probe and when it was made.
    readiness: tokio::sync::Mutex<Option<(tokio::time::Instant, Result<(), String>)>>,
    /// Host names and browser origins accepted (rmcp checks them for /mcp;
    /// the A2A endpoint checks them here).
    hosts: Vec<String>,
    origins: Vec<String>,
    max_body_bytes: u64,
    a2a_version_if_missing: String,
    a2a_public_url: Option<String>,
}

/// Serve until `shutdown` resolves, then let calls finish for the grace period
/// and log the tasks of calls still waiting.
pub async fn serve(
    runner: Arc<TaskRunner>,
    options: HttpOptions,
    shutdown: impl Future<Output = &'static str>,
) -> Result<(), HttpServeError> {
    let addr = options.listen_addr();
    if options.tokens.is_empty() && !addr.ip().is_loopback() {
        return Err(HttpServeError::Unauthenticated(addr));
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| HttpServeError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    let runners = Arc::new(KeyedRunners::new(runner, options.workspace.clone()));
    let cancel = CancellationToken::new();
    let server = HandingerServer::for_http(runners.clone(), options.max_output_chars);
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        transport_config(&options, local, cancel.clone()),
    );
    let state = Arc::new(State {
        mcp,
        runners: runners.clone(),
        tokens: options.tokens.clone(),
        max_calls_per_client: options.max_calls_per_client,
        calls_by_client: Mutex::default(),
        body_timeout: options.header_timeout(),
        readiness: tokio::sync::Mutex::default(),
        hosts: allowed_hosts(&options, local),
        origins: allowed_origins(&options, local),
        max_body_bytes: options.max_body_bytes,
        a2a_version_if_missing: options.a2a_version_if_missing.clone(),
        a2a_public_url: options.a2a_public_url.clone(),
    });
    tracing::info!(
        address = %local,
        authentication = !options.tokens.is_empty(),
        "serving MCP over Streamable HTTP at /mcp"
    );
    // The address plainly on stderr, whatever the log level, so a script that
    // asked for port 0 learns it.
    eprintln!("handinger-mcp: listening on http://{local}/mcp");

    let graceful = GracefulShutdown::new();
    let signal = accept_until(listener, state, &options, &graceful, shutdown).await;
    tracing::info!(
        signal,
        grace_secs = options.shutdown_grace.as_secs_f64(),
        "no longer accepting; letting calls finish"
    );
    let closed = graceful.shutdown();
    tokio::pin!(closed);
    if tokio::time::timeout(options.shutdown_grace, &mut closed)
        .await
        .is_err()
    {
        // Every call still waiting answers now: "still running", with its
        // taskId, so no client is left with an empty stream and nothing to ask.
        tracing::warn!("grace period over with calls still open; answering them as running");
        runners.end_waits();
        let _ = tokio::time::timeout(FINAL_ANSWER_GRACE, &mut closed).await;
    }
    cancel.cancel();
    for runner in runners.all() {
        runner.report_unfinished();
    }
    Ok(())
}

/// rmcp's transport: stateless, event streams with keep-alive, the Host and
/// Origin allow-lists, the body limit.
fn transport_config(
    options: &HttpOptions,
    local: SocketAddr,
    cancel: CancellationToken,
) -> StreamableHttpServerConfig {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        // Every answer is an event stream with a keep-alive comment every 15 s, so
        // a proxy's idle timeout never cuts a call that waits minutes in silence
        // (a plain JSON answer would send nothing until the end).
        .with_json_response(false)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_allowed_hosts(allowed_hosts(options, local))
        .with_allowed_origins(allowed_origins(options, local))
        .enforce_origin_validation()
        .with_max_request_body_bytes(usize::try_from(options.max_body_bytes).unwrap_or(usize::MAX))
        .with_cancellation_token(cancel);
    // No reconnection hints: a stateless stream cannot be resumed.
    config.sse_retry = None;
    config
}

/// Accept connections, each watched by `graceful`, until `shutdown` resolves;
/// the listener is dropped on return, so nothing new is accepted.
async fn accept_until(
    listener: TcpListener,
    state: Arc<State>,
    options: &HttpOptions,
    graceful: &GracefulShutdown,
    shutdown: impl Future<Output = &'static str>,
) -> &'static str {
    let connections = Arc::new(Semaphore::new(options.max_connections));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(options.header_timeout())
        // One buffer per answer: the head and a small body leave in one write.
        .writev(false);
    tokio::pin!(shutdown);
    loop {
        // A free connection slot first, then a connection: past the limit,
        // clients wait in the kernel's backlog.
        let next = async {
            let slot = connections.clone().acquire_owned().await;
            (slot, listener.accept().await)
        };
        let (slot, accepted) = tokio::select! {
            signal = &mut shutdown => return signal,
            next = next => next,
        };
        let Ok(slot) = slot else { return "closed" };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Answers are small and written as head then body: without this, the
        // body would wait for the client's delayed ACK (about 40 ms).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        let state = state.clone();
        let service = hyper::service::service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(route(&state, request, peer).await) }
        });
        let connection = graceful.watch(http1.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
}

/// Loopback names, the bound address, and the configured hosts.
fn allowed_hosts(options: &HttpOptions, local: SocketAddr) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(str::to_owned).into();
    if !local.ip().is_unspecified() {
        hosts.push(local.ip().to_string());
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    hosts
}

/// The server's own origins (a page it served, were it to serve one) and the
/// configured ones. Any other Origin, another port on localhost included, is
/// refused.
fn allowed_origins(options: &HttpOptions, local: SocketAddr) -> Vec<String> {
    let port = local.port();
    let mut origins: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .map(|host| format!("http://{host}:{port}"))
        .collect();
    if !local.ip().is_unspecified() && !local.ip().is_loopback() {
        origins.push(format!("http://{local}"));
    }
    origins.extend(options.allowed_origins.iter().cloned());
    origins
}

async fn route(state: &State, request: Request<Incoming>, peer: SocketAddr) -> Response<HttpBody> {
    match request.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        // Boxed: hyper keeps room for this future per connection, sized for
        // the largest arm.
        "/readyz" => Box::pin(readiness(state)).await,
        "/mcp" => {
            let permit = match admit(state, &request, peer) {
                Ok(permit) => permit,
                Err(response) => return *response,
            };
            let request = owned_head(request).map(|body| TimedBody::new(body, state.body_timeout));
            let response = state.mcp.handle(request).await;
            response.map(|body| {
                PermitBody {
                    inner: body,
                    _permit: permit,
                }
                .boxed()
            })
        }
        // Also under the endpoint's own path, where clients given only the
        // endpoint's URL look for it.
        "/.well-known/agent-card.json" | "/a2a/.well-known/agent-card.json" => {
            match browser_checks(state, request.headers()) {
                Ok(()) => agent_card(state, request.headers()),
                Err(response) => *response,
            }
        }
        "/a2a" => Box::pin(a2a_endpoint(state, request, peer)).await,
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: the MCP endpoint is /mcp, the A2A endpoint /a2a\n",
        ),
    }
}

/// The Agent Card, naming the A2A endpoint as this request reached it (or as
/// configured). Public, as cards are: it holds no secret.
fn agent_card(state: &State, headers: &http::HeaderMap) -> Response<HttpBody> {
    let endpoint = state.a2a_public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}/a2a")
    });
    let card = crate::a2a::card::agent_card(&endpoint, !state.tokens.is_empty());
    json_response(StatusCode::OK, &card)
}

/// `/a2a`: A2A's JSON-RPC binding, behind the same checks as `/mcp`: the
/// token, the client's key header, Host and Origin, the per-client limit and
/// the body limit.
async fn a2a_endpoint(
    state: &State,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<HttpBody> {
    if request.method() != http::Method::POST {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the A2A endpoint takes JSON-RPC requests by POST\n",
        );
    }
    if let Err(response) = browser_checks(state, request.headers()) {
        return *response;
    }
    let permit = match admit(state, &request, peer) {
        Ok(permit) => permit,
        Err(response) => return *response,
    };
    let version = a2a_version(&request);
    let runner = state.runners.for_request(request.headers());
    let body = match read_body(request.into_body(), state).await {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let reply = crate::a2a::answer(crate::a2a::A2aRequest {
        body: &body,
        version: version.as_deref(),
        version_if_missing: &state.a2a_version_if_missing,
        runner,
    })
    .await;
    let response = match reply {
        crate::a2a::Reply::Json(value) => json_response(StatusCode::OK, &value),
        crate::a2a::Reply::Stream(events) => event_stream(events),
    };
    response.map(|body| {
        PermitBody {
            inner: body,
            _permit: permit,
        }
        .boxed()
    })
}

/// The `A2A-Version` header, or the `A2A-Version` query parameter.
fn a2a_version(request: &Request<Incoming>) -> Option<String> {
    if let Some(value) = request.headers().get("a2a-version") {
        return Some(value.to_str().unwrap_or("unreadable").to_owned());
    }
    request.uri().query().and_then(|query| {
        query.split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.eq_ignore_ascii_case("a2a-version")
                .then(|| value.to_owned())
        })
    })
}

/// The whole body, at most the body limit (413 past it), within the body
/// timeout.
async fn read_body(body: Incoming, state: &State) -> Result<Bytes, Box<Response<HttpBody>>> {
    let limit = usize::try_from(state.max_body_bytes).unwrap_or(usize::MAX);
    let limited = http_body_util::Limited::new(TimedBody::new(body, state.body_timeout), limit);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(Box::new(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the request body is larger than this server's limit of {} bytes                  (--http-max-body)\n",
                state.max_body_bytes
            ),
        ))),
        Err(error) => Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            &format!("the request body could not be read: {error}\n"),
        ))),
    }
}

/// A JSON answer.
fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<HttpBody> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Server-sent events, one `data:` line per JSON-RPC response, with a
/// keep-alive comment every 15 s so proxies keep a quiet stream open.
fn event_stream(events: tokio::sync::mpsc::Receiver<serde_json::Value>) -> Response<HttpBody> {
    const KEEP_ALIVE: Duration = Duration::from_secs(15);
    let frames = futures_util::stream::unfold(events, |mut events| async move {
        let chunk = match tokio::time::timeout(KEEP_ALIVE, events.recv()).await {
            Ok(Some(event)) => format!("data: {event}\n\n"),
            Ok(None) => return None,
            Err(_) => ": keep-alive\n\n".to_owned(),
        };
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(chunk))), events))
    });
    let mut response = Response::new(http_body_util::StreamBody::new(frames).boxed());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

/// The DNS-rebinding and cross-site checks rmcp makes for `/mcp`: a Host that
/// is not this server's gets 403, and so does a browser Origin not allowed.
fn browser_checks(state: &State, headers: &http::HeaderMap) -> Result<(), Box<Response<HttpBody>>> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(|host| host_allowed(host, &state.hosts)) {
        return Err(Box::new(text(
            StatusCode::FORBIDDEN,
            "forbidden: this Host is not one this server answers for (--http-allowed-hosts)\n",
        )));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, &state.origins) {
            return Err(Box::new(text(
                StatusCode::FORBIDDEN,
                "forbidden: requests from this browser Origin are not allowed                  (--http-allowed-origins)\n",
            )));
        }
    }
    Ok(())
}

/// Whether a Host header names an allowed host: an allowed name without a port
/// takes any port, one with a port only that port.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let Ok(authority) = http::uri::Authority::try_from(host) else {
        return false;
    };
    let name = authority
        .host()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    allowed.iter().any(|entry| {
        match http::uri::Authority::try_from(entry.trim()) {
            Ok(allowed) => {
                allowed
                    .host()
                    .trim_matches(['[', ']'])
                    .eq_ignore_ascii_case(&name)
                    && allowed
                        .port_u16()
                        .is_none_or(|port| Some(port) == authority.port_u16())
            }
            // A bare IPv6 address ("::1") is no authority.
            Err(_) => entry
                .trim()
                .trim_matches(['[', ']'])
                .eq_ignore_ascii_case(&name),
        }
    })
}

/// Whether a browser Origin is allowed: equal to an entry, or matching one that
/// ends in `:*` on any port.
fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|entry| {
        if let Some(prefix) = entry.strip_suffix(":*") {
            origin.strip_prefix(prefix).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix(':')
                        .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
            })
        } else {
            origin.eq_ignore_ascii_case(entry)
        }
    })
}

/// The checks every call passes, `/mcp`'s and `/a2a`'s alike: the bearer
/// token, the client's key header, and a slot under the client's limit of
/// calls in flight (429 past it), held until the answer is sent.
fn admit(
    state: &State,
    request: &Request<Incoming>,
    peer: SocketAddr,
) -> Result<tokio::sync::OwnedSemaphorePermit, Box<Response<HttpBody>>> {
    let client = authenticate(&state.tokens, request, peer.ip())?;
    state.runners.admits(request.headers())?;
    state.permit(&client).map_err(|()| {
        let mut response = text(
            StatusCode::TOO_MANY_REQUESTS,
            "too many calls in flight for this client; retry when one ends\n",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        Box::new(response)
    })
}

/// The request with its header values and URI copied out of hyper's read buffer.
///
/// hyper hands them out as slices of the connection's 8 KiB read buffer, and rmcp
/// keeps the request's head for as long as the call runs, so a call waiting
/// minutes would pin that buffer while hyper allocates another for the next
/// read. The copy costs the head's few hundred bytes instead.
fn owned_head(request: Request<Incoming>) -> Request<Incoming> {
    let (mut head, body) = request.into_parts();
    for value in head.headers.values_mut() {
        let copy = header::HeaderValue::from_bytes(value.as_bytes());
        // Always Ok: the bytes were a valid header value a moment ago.
        if let Ok(mut copy) = copy {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
    }
    if let Ok(uri) = http::Uri::from_maybe_shared(Bytes::from(head.uri.to_string())) {
        head.uri = uri;
    }
    Request::from_parts(head, body)
}

/// 200 when the API answers HTTP, 503 (with the reason) when it does not. A probe
/// is reused for [`READY_CACHE`]; probes asked meanwhile wait for it.
async fn readiness(state: &State) -> Response<HttpBody> {
    let mut last = state.readiness.lock().await;
    let fresh = last
        .as_ref()
        .filter(|(at, _)| at.elapsed() < READY_CACHE)
        .map(|(_, result)| result.clone());
    let result = match fresh {
        Some(result) => result,
        None => {
            let result = state.runners.server.api_reachable(READY_TIMEOUT).await;
            *last = Some((tokio::time::Instant::now(), result.clone()));
            result
        }
    };
    drop(last);
    match result {
        Ok(()) => text(StatusCode::OK, "ready\n"),
        Err(reason) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the Handinger API is not reachable: {reason}\n"),
        ),
    }
}

/// Who the client is, for its limit: its token's position, or its address when
/// no tokens are configured. A missing or wrong token is a 401.
fn authenticate(
    tokens: &[String],
    request: &Request<Incoming>,
    peer: IpAddr,
) -> Result<String, Box<Response<HttpBody>>> {
    if tokens.is_empty() {
        return Ok(format!("address {peer}"));
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        // The scheme is case-insensitive (RFC 9110, 11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or("");
    // Compare with every token, each in constant time, so neither the match nor
    // its position shows in the timing.
    let mut matched = None;
    for (index, token) in tokens.iter().enumerate() {
        if !presented.is_empty() && constant_time_eq(presented.as_bytes(), token.as_bytes()) {
            matched.get_or_insert(index);
        }
    }
    match matched {
        Some(index) => Ok(format!("token {index}")),
        // 403, not 401: MCP clients take a 401 as the start of an OAuth flow
        // (the MCP authorization spec), which a static token cannot finish; hosts
        // then hide the tools or fail in client registration. A 403 with this
        // text is shown as the error it is.
        None => Err(Box::new(text(StatusCode::FORBIDDEN, TOKEN_REFUSED))),
    }
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = (a.len() ^ b.len()) as u64;
    for (index, byte) in b.iter().enumerate() {
        let other = a.get(index).copied().unwrap_or(0);
        difference |= u64::from(other ^ byte);
    }
    difference == 0
}

impl State {
    fn permit(&self, client: &str) -> Result<tokio::sync::OwnedSemaphorePermit, ()> {
        let semaphore = {
            let mut clients = self.calls_by_client.lock().expect("clients lock");
            if clients.len() > 10_000 {
                // Forget clients with nothing in flight.
                let limit = self.max_calls_per_client;
                clients.retain(|_, s| s.available_permits() < limit);
            }
            clients
                .entry(client.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.max_calls_per_client)))
                .clone()
        };
        semaphore.try_acquire_owned().map_err(|_| ())
    }
}

fn text(status: StatusCode, body: &str) -> Response<HttpBody> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A response body that holds its client's permit until the body (an SSE stream,
/// say) has been sent whole or dropped.
struct PermitBody {
    inner: HttpBody,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Body for PermitBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that must arrive whole within its time: a client that sends
/// one byte a second would otherwise hold its connection and its per-client slot
/// for ever. Past the time the body fails, rmcp answers an error, and hyper
/// closes the connection.
struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// The error of a body that did not arrive in time.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("the request body did not arrive within {} s", .0.as_secs_f64())]
    TooSlow(Duration),
    #[error("{0}")]
    Read(#[from] hyper::Error),
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(BodyError::from)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::info!("a request body was too slow; closing its connection");
                Poll::Ready(Some(Err(BodyError::TooSlow(self.timeout))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_equal() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-tokeN", b"secret-token"));
        assert!(!constant_time_eq(b"secret", b"secret-token"));
        assert!(!constant_time_eq(b"secret-token-longer", b"secret-token"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
