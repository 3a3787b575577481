//! A mock Handinger API on loopback: a small HTTP/1.1 server that records every
//! request (headers, JSON body, or multipart parts hashed while streaming) and
//! answers through a handler each test supplies, including raw faults.

#![allow(dead_code)] // shared by tests that each use a part of it

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

/// One request as the mock saw it.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// When the request head arrived.
    pub at: Option<std::time::Instant>,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body_len: u64,
    pub chunked: bool,
    pub json: Option<Value>,
    pub parts: Vec<Part>,
    /// The mock answered it with an error status: a task POST so refused made
    /// no task, and lookups do not find one.
    pub refused: bool,
    /// When its answer is due (a task POST's task runs until then, whatever
    /// happens to the connection).
    pub due: Option<Instant>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `input` field, from JSON or from a multipart text part.
    pub fn input(&self) -> Option<String> {
        self.field("input")
    }

    /// A scalar field from either body form.
    pub fn field(&self, name: &str) -> Option<String> {
        if let Some(json) = &self.json {
            return json.get(name).and_then(Value::as_str).map(str::to_owned);
        }
        self.parts
            .iter()
            .find(|p| p.name == name && p.filename.is_none())
            .and_then(|p| p.text.clone())
    }
}

/// One multipart part; file bodies are hashed, not kept.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub len: u64,
    pub sha256: String,
    /// The text of a part without a filename.
    pub text: Option<String>,
}

/// How the mock answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        delay: Duration,
    },
    /// Bytes written as they are, then the connection is closed.
    Raw { bytes: Vec<u8>, delay: Duration },
    /// Bytes written, then the connection held open without another byte.
    Stall { bytes: Vec<u8> },
    /// Bytes written, then the connection reset (RST, not a clean close).
    Reset { bytes: Vec<u8> },
    /// Never answer.
    Hang,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply::Http {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Reply::Http {
            status,
            headers: vec![("content-type".into(), "text/html".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn error(status: u16, message: &str) -> Self {
        Reply::json(status, json!({ "error": message }))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Http { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    pub fn after(mut self, wait: Duration) -> Self {
        match &mut self {
            Reply::Http { delay, .. } | Reply::Raw { delay, .. } => *delay = wait,
            Reply::Hang | Reply::Stall { .. } | Reply::Reset { .. } => {}
        }
        self
    }
}

/// A handler that answers task POSTs with [`worker_json`] after `delay`.
pub fn slow_handler(delay: Duration) -> Handler {
    Arc::new(move |request: &Recorded| {
        if request.method == "POST" && request.path == "/api/tasks" {
            Reply::json(200, worker_json(request)).after(delay)
        } else {
            Reply::error(404, "not found")
        }
    })
}

/// The Worker object the mock returns for a task, echoing the input.
pub fn worker_json(request: &Recorded) -> Value {
    let input = request.input().unwrap_or_default();
    let worker_id = request
        .field("workerId")
        .unwrap_or_else(|| "wrk_mock".into());
    let answer = format!("Answer to: {input}");
    json!({
        "id": worker_id,
        "object": "worker",
        "created_at": 1_760_000_000,
        "status": "completed",
        "running": false,
        "output_text": answer,
        "output": [{"id": "msg_1", "role": "assistant", "status": "completed", "type": "message",
                    "content": [{"type": "output_text", "text": answer}]}],
        "sources": [{"id": "src_1", "title": "Mock source", "type": "url", "url": "https://example.com/source"}],
        "files": [{"filename": "report.md", "mediaType": "text/markdown",
                   "url": "https://files.example.com/report.md", "size": 1234}],
        "structured_output": typed_output(&worker_id, &input),
        "messages": [], "metadata": {}, "error": null, "incomplete_details": null,
        "url": format!("https://v3.handinger.com/worker/{worker_id}"),
        "usage": {"credits": 2, "durationMs": 1500}
    })
}

/// The structured output of a task on a template made by [`typed_handler`]: a
/// person, a wrong one when the input says "wrong", none when it says "nothing".
fn typed_output(worker_id: &str, input: &str) -> Value {
    if !worker_id.starts_with("wrk_tpl_") || input.contains("nothing") {
        Value::Null
    } else if input.contains("wrong") {
        json!({"name": 42})
    } else {
        json!({"name": "Ada", "age": 36})
    }
}

/// The default handler, and `POST /api/workers` making templates `wrk_tpl_1`,
/// `wrk_tpl_2`, ... A body the API would refuse (no title, a summary over 80
/// characters, no object outputSchema) gets its 400.
pub fn typed_handler() -> Handler {
    let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Arc::new(
        move |request: &Recorded| match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/api/workers") => {
                let body = request.json.clone().unwrap_or_default();
                let title = body["title"].as_str().unwrap_or_default();
                let summary = body["summary"].as_str().unwrap_or_default();
                if title.is_empty()
                    || title.chars().count() > 200
                    || summary.chars().count() > 80
                    || !body["outputSchema"].is_object()
                {
                    return Reply::error(400, "invalid worker template");
                }
                let n = made.fetch_add(1, Ordering::SeqCst) + 1;
                Reply::json(
                    200,
                    json!({"id": format!("wrk_tpl_{n}"), "title": title, "summary": summary,
                       "instructions": body["instructions"], "outputSchema": body["outputSchema"],
                       "url": format!("https://v3.handinger.com/worker/wrk_tpl_{n}"),
                       "visibility": "private", "organizationId": "org_mock", "userId": "usr_mock",
                       "createdAt": "2026-12-05T10:00:00Z", "updatedAt": "2026-12-05T10:00:00Z"}),
                )
            }
            ("POST", "/api/tasks") => Reply::json(200, worker_json(request)),
            _ => Reply::error(404, "not found"),
        },
    )
}

pub type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// Answers `POST /api/tasks` with [`worker_json`], anything else with 404.
pub fn default_handler() -> Handler {
    Arc::new(|request: &Recorded| {
        if request.method == "POST" && request.path == "/api/tasks" {
            Reply::json(200, worker_json(request))
        } else {
            Reply::error(404, "not found")
        }
    })
}

struct State {
    handler: Mutex<Handler>,
    requests: Mutex<Vec<Recorded>>,
    /// Hash file parts (tests) or only count them (benchmarks, so the mock is not
    /// the bottleneck being measured).
    hash_files: AtomicBool,
    /// Tasks that exist without a POST to this mock (made elsewhere, say).
    known: Mutex<Vec<String>>,
    /// Where each task's accepted POSTs are in `requests`, so that a lookup
    /// does not read every request (benchmarks poll thousands of tasks).
    tasks: Mutex<HashMap<String, Vec<usize>>>,
    /// Task POSTs whose client hung up before the answer was due.
    posts_let_go: std::sync::atomic::AtomicUsize,
}

/// A running mock; it stops with the test's runtime.
#[derive(Clone)]
pub struct MockApi {
    pub base_url: String,
    state: Arc<State>,
}

impl MockApi {
    pub async fn start() -> Self {
        Self::start_with(default_handler()).await
    }

    pub async fn start_with(handler: Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            handler: Mutex::new(handler),
            requests: Mutex::new(Vec::new()),
            hash_files: AtomicBool::new(true),
            known: Mutex::new(Vec::new()),
            tasks: Mutex::default(),
            posts_let_go: Default::default(),
        });
        let accept_state = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, accept_state.clone()));
            }
        });
        Self { base_url, state }
    }

    /// Replace the handler for the requests that follow.
    pub fn set_handler(&self, handler: Handler) {
        *self.state.handler.lock().unwrap() = handler;
    }

    /// Drain multipart bodies without parsing or hashing them (benchmarks: the mock
    /// must not be what is measured). Only `body_len` is recorded.
    pub fn skip_hashing(&self) {
        self.state.hash_files.store(false, Ordering::Relaxed);
    }

    /// Let the mock know a task it was not sent, so a follow-up may name it.
    pub fn know_task(&self, task_id: &str) {
        self.state.known.lock().unwrap().push(task_id.to_owned());
    }

    /// How many task POSTs the client hung up on before their answer was due.
    pub fn posts_let_go(&self) -> usize {
        self.state.posts_let_go.load(Ordering::SeqCst)
    }

    /// Every request recorded so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The `POST /api/workers` requests recorded so far.
    pub fn template_posts(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/api/workers")
            .collect()
    }

    /// The `POST /api/tasks` requests recorded so far.
    pub fn task_posts(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/api/tasks")
            .collect()
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>) {
    let mut reader = BufReader::new(stream);
    loop {
        let Some(mut request) = read_head(&mut reader).await else {
            return;
        };
        let hash = state.hash_files.load(Ordering::Relaxed);
        if read_body(&mut reader, &mut request, hash).await.is_err() {
            return;
        }
        let handler = state.handler.lock().unwrap().clone();
        let mut reply = handler(&request);
        if matches!(reply, Reply::Http { status: 404, .. })
            && let Some(known) = known_task(&state, &request)
        {
            reply = known;
        }
        request.refused = matches!(reply, Reply::Http { status, .. } if status >= 400);
        if let Reply::Http { delay, .. } = &reply {
            request.due = Some(Instant::now() + *delay);
        }
        let posted_task = request.method == "POST" && request.path == "/api/tasks";
        {
            let mut requests = state.requests.lock().unwrap();
            if posted_task && !request.refused {
                let task_id = request.field("taskId").unwrap_or_default();
                let mut tasks = state.tasks.lock().unwrap();
                tasks.entry(task_id).or_default().push(requests.len());
            }
            requests.push(request);
        }
        match reply {
            Reply::Http {
                status,
                headers,
                body,
                delay,
            } => {
                if hung_up_during(&mut reader, delay).await {
                    if posted_task {
                        state.posts_let_go.fetch_add(1, Ordering::SeqCst);
                    }
                    return;
                }
                let mut head = format!(
                    "HTTP/1.1 {status} Mock\r\ncontent-length: {}\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                head.push_str(&body);
                if reader.get_mut().write_all(head.as_bytes()).await.is_err() {
                    return;
                }
            }
            Reply::Raw { bytes, delay } => {
                pause(delay).await;
                let _ = reader.get_mut().write_all(&bytes).await;
                let _ = reader.get_mut().shutdown().await;
                return;
            }
            Reply::Stall { bytes } => {
                let _ = reader.get_mut().write_all(&bytes).await;
                hold_open(&mut reader).await;
                return;
            }
            Reply::Reset { bytes } => {
                let _ = reader.get_mut().write_all(&bytes).await;
                let _ = reader.get_mut().set_zero_linger();
                return;
            }
            Reply::Hang => {
                hold_open(&mut reader).await;
                return;
            }
        }
    }
}

/// What the API says of a task this mock was sent (by POST, or named with
/// [`MockApi::know_task`]), when the test's handler has nothing to say (404): the
/// SDK 0.10 shapes. `GET /api/tasks/{id}` answers TaskWithTurns (each turn holds
/// its input and answer, role "user", as the documented example does), and
/// `GET /api/workers/{workerId}?taskId={id}` the Worker of its latest turn.
fn known_task(state: &State, request: &Recorded) -> Option<Reply> {
    if request.method != "GET" {
        return None;
    }
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    let task_id = match path.strip_prefix("/api/tasks/") {
        Some(id) => id.to_owned(),
        None if path.starts_with("/api/workers/") => query
            .split('&')
            .find_map(|pair| pair.strip_prefix("taskId="))?
            .to_owned(),
        None => return None,
    };
    let requests = state.requests.lock().unwrap();
    let tasks = state.tasks.lock().unwrap();
    let posts: Vec<&Recorded> = tasks
        .get(&task_id)
        .into_iter()
        .flatten()
        .map(|&at| &requests[at])
        // The API shows a task only to the key that made it.
        .filter(|r| r.header("authorization") == request.header("authorization"))
        .collect();
    let named = state.known.lock().unwrap().contains(&task_id);
    if posts.is_empty() && !named {
        return None;
    }
    // A turn runs until its POST's answer is due, as the API's does.
    let running = |post: &Recorded| post.due.is_some_and(|due| due > Instant::now());
    if path.starts_with("/api/workers/") {
        return posts.last().map(|post| {
            let mut worker = worker_json(post);
            if running(post) {
                worker["status"] = json!("running");
                worker["running"] = json!(true);
                worker["output_text"] = json!("");
                worker["output"] = json!([]);
            }
            Reply::json(200, worker)
        });
    }
    let worker_id = posts
        .first()
        .and_then(|p| p.field("workerId"))
        .unwrap_or_else(|| "wrk_mock".into());
    let turns: Vec<Value> = posts
        .iter()
        .enumerate()
        .map(|(seq, post)| {
            let input = post.input().unwrap_or_default();
            let (status, output) = match running(post) {
                true => ("running", None),
                false => ("completed", Some(format!("Answer to: {input}"))),
            };
            json!({"id": format!("trn_{seq}"), "seq": seq + 1, "role": "user",
                   "status": status, "input": input,
                   "outputText": output, "structuredOutput": null,
                   "credits": 2, "durationMs": 1500, "inputTokens": 10, "outputTokens": 20,
                   "startedAt": "2026-05-15T10:00:00Z", "completedAt": "2026-05-15T10:00:02Z",
                   "taskId": task_id})
        })
        .collect();
    let task_status = match posts.last() {
        Some(post) if running(post) => "running",
        _ => "completed",
    };
    Some(Reply::json(
        200,
        json!({"task": {"id": task_id, "status": task_status, "title": "Mock task",
                        "workerId": worker_id, "organizationId": "org_mock",
                        "createdByUserId": "usr_mock", "createdAt": "2026-05-15T10:00:00Z",
                        "completedAt": "2026-05-15T10:00:02Z", "triggeredBy": "api",
                        "totals": {"credits": 2 * turns.len(), "durationMs": 1500,
                                   "turnCount": turns.len()},
                        "url": format!("https://v3.handinger.com/worker/{worker_id}")},
               "turns": turns}),
    ))
}

/// Wait `delay` before answering; no wait at all for zero (tokio's timer would
/// round even a zero sleep up to its 1 ms tick, and every answer would pay it).
async fn pause(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Wait `delay` before answering, as [`pause`] does, unless the client hangs up
/// first (then the connection is let go: an abandoned request holds no socket).
async fn hung_up_during(reader: &mut BufReader<TcpStream>, delay: Duration) -> bool {
    if delay.is_zero() {
        return false;
    }
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    tokio::select! {
        _ = &mut sleep => false,
        filled = reader.fill_buf() => match filled {
            Ok([]) | Err(_) => true,
            // The client sent more (a pipelined request): answer this one first.
            Ok(_) => {
                sleep.await;
                false
            }
        },
    }
}

/// Hold the connection open until the client gives up on it.
async fn hold_open(reader: &mut BufReader<TcpStream>) {
    let mut sink = [0u8; 1];
    let _ = reader.read(&mut sink).await;
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Some(Recorded {
        at: Some(std::time::Instant::now()),
        method,
        path,
        headers,
        ..Recorded::default()
    })
}

async fn read_body(
    reader: &mut BufReader<TcpStream>,
    request: &mut Recorded,
    hash: bool,
) -> std::io::Result<()> {
    request.chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"));
    let length: u64 = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let boundary = request
        .header("content-type")
        .and_then(|ct| multer::parse_boundary(ct).ok());
    if request.chunked {
        let body = read_chunked(reader).await?;
        request.body_len = body.len() as u64;
        match boundary {
            Some(boundary) => {
                let stream = futures_util::stream::once(async move {
                    Ok::<_, std::io::Error>(bytes::Bytes::from(body))
                });
                request.parts = parse_parts(stream, boundary, hash).await;
            }
            None => request.json = serde_json::from_slice(&body).ok(),
        }
        return Ok(());
    }
    request.body_len = length;
    match boundary {
        Some(_) if !hash => {
            // Benchmarks: drain the body as fast as the socket gives it.
            let mut left = length;
            let mut buffer = vec![0u8; 1 << 20];
            while left > 0 {
                let want = buffer.len().min(left as usize);
                let read = reader.read(&mut buffer[..want]).await?;
                if read == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                left -= read as u64;
            }
        }
        Some(boundary) => {
            let limited = (&mut *reader).take(length);
            let stream = tokio_util::io::ReaderStream::with_capacity(limited, 256 * 1024);
            request.parts = parse_parts(stream, boundary, hash).await;
        }
        None => {
            let mut body = vec![0; length as usize];
            reader.read_exact(&mut body).await?;
            request.json = serde_json::from_slice(&body).ok();
        }
    }
    Ok(())
}

async fn read_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).await?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

async fn parse_parts<'r, S>(stream: S, boundary: String, hash: bool) -> Vec<Part>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'r,
{
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Ok(Some(mut field)) = multipart.next_field().await {
        let mut part = Part {
            name: field.name().unwrap_or_default().to_owned(),
            filename: field.file_name().map(str::to_owned),
            content_type: field.content_type().map(|m| m.to_string()),
            ..Part::default()
        };
        let mut hasher = Sha256::new();
        let mut text = Vec::new();
        while let Ok(Some(chunk)) = field.chunk().await {
            part.len += chunk.len() as u64;
            if hash {
                hasher.update(&chunk);
            }
            if part.filename.is_none() && text.len() < 1 << 20 {
                text.extend_from_slice(&chunk);
            }
        }
        part.sha256 = hex(&hasher.finalize());
        if part.filename.is_none() {
            part.text = Some(String::from_utf8_lossy(&text).into_owned());
        }
        parts.push(part);
    }
    parts
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A mock whose tasks run for `runs_for`: the POST answers then, and until
/// then `GET /api/tasks/{id}` says running (after it, the mock's own record of
/// the task answers, completed). The task goes on whatever happens to the
/// connection that started it, as the API's does.
pub fn running_for(runs_for: Duration) -> Handler {
    let started: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    Arc::new(move |request: &Recorded| {
        if request.method == "POST" && request.path == "/api/tasks" {
            let task_id = request.field("taskId").unwrap_or_default();
            started.lock().unwrap().insert(task_id, Instant::now());
            return Reply::json(200, worker_json(request)).after(runs_for);
        }
        let task_id = request.path.strip_prefix("/api/tasks/").unwrap_or_default();
        let running = started
            .lock()
            .unwrap()
            .get(task_id)
            .is_some_and(|at| at.elapsed() < runs_for);
        if request.method == "GET" && running {
            return Reply::json(
                200,
                json!({"task": {"id": task_id, "status": "running", "workerId": "wrk_mock"},
                       "turns": [{"seq": 1, "status": "running", "input": "x"}]}),
            );
        }
        Reply::error(404, "not found")
    })
}
