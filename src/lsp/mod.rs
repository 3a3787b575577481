//! The LSP-style front-end, for editors without MCP: Content-Length framed JSON-RPC
//! on stdio, the LSP lifecycle, and `workspace/executeCommand` running the same
//! tools with the same argument objects and the same structured result.

pub mod codec;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::mpsc,
};
use tokio_util::{
    codec::{FramedRead, FramedWrite},
    sync::CancellationToken,
};

use self::codec::{Frame, FrameError, LspCodec};
use crate::{
    render::render_call,
    tasks::{CallOutcome, Progress, TaskError, TaskFailure, TaskRunner},
    tools::{self, TOOLS, ToolCall, ToolSpec, Wording},
    workspace::{RootSource, Workspace},
};

/// Largest frame accepted; a bigger one is skipped and answered with an error.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Messages waiting for the writer. When the editor stops reading, this fills,
/// sending waits, and the read loop stops taking requests: backpressure instead
/// of memory growth.
const OUTGOING_QUEUE: usize = 32;

/// The commands `workspace/executeCommand` runs: one per tool in the table.
pub fn commands() -> Vec<&'static str> {
    TOOLS.iter().map(|tool| tool.lsp_command).collect()
}

mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const SERVER_NOT_INITIALIZED: i64 = -32002;
    pub const REQUEST_FAILED: i64 = -32803;
    pub const REQUEST_CANCELLED: i64 = -32800;
    pub const SERVER_BUSY: i64 = -32000;
}

/// A JSON-RPC error answer.
#[derive(Debug, Clone, PartialEq)]
struct ResponseError {
    code: i64,
    message: String,
}

impl ResponseError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Shared by the read loop and the command tasks it spawns.
struct Session {
    runner: Arc<TaskRunner>,
    max_output_chars: usize,
    /// Commands that may run at once; more are answered "server busy".
    max_in_flight: usize,
    out: mpsc::Sender<Value>,
    /// The editor's workspace folders, from initialize and later changes. With
    /// no folder, nothing can be attached (no fallback to the server's own folder).
    workspace: Mutex<Workspace>,
    /// Cancellation tokens of the commands in flight, by request id.
    in_flight: Mutex<HashMap<String, CancellationToken>>,
    /// The request id of each command in flight, by its work-done token.
    progress_tokens: Mutex<HashMap<String, String>>,
}

impl Session {
    /// Cancel the command in flight with request id `key` (JSON text), if any.
    fn cancel(&self, key: &str) {
        if let Some(token) = self.in_flight.lock().expect("lock").get(key) {
            token.cancel();
        }
    }

    /// Queue a message for the writer, waiting while the queue is full.
    async fn send(&self, message: Value) {
        // The writer ends only when the process does.
        let _ = self.out.send(message).await;
    }

    async fn respond(&self, id: Value, result: Result<Value, ResponseError>) {
        self.send(match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(e) => json!({"jsonrpc": "2.0", "id": id,
                             "error": {"code": e.code, "message": e.message}}),
        })
        .await;
    }
}

/// Serve the LSP-style protocol on `input`/`output` until `exit` or end of input.
pub async fn serve<R, W>(
    runner: Arc<TaskRunner>,
    limits: SessionLimits,
    input: R,
    output: W,
) -> ExitCode
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, mut outgoing) = mpsc::channel::<Value>(OUTGOING_QUEUE);
    let writer = tokio::spawn(async move {
        let mut sink = FramedWrite::new(output, LspCodec::new(MAX_FRAME_BYTES));
        while let Some(message) = outgoing.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
    });
    let session = Arc::new(Session {
        runner,
        max_output_chars: limits.max_output_chars,
        max_in_flight: limits.max_in_flight,
        out,
        workspace: Mutex::new(Workspace::from_uris([], RootSource::Client)),
        in_flight: Mutex::new(HashMap::new()),
        progress_tokens: Mutex::new(HashMap::new()),
    });
    let mut frames = FramedRead::new(input, LspCodec::new(MAX_FRAME_BYTES));
    let mut state = Lifecycle::Uninitialized;
    let code = loop {
        let message = match frames.next().await {
            None => break ExitCode::SUCCESS,
            Some(Ok(Frame::Message(message))) => message,
            Some(Ok(Frame::Dropped(error))) => {
                let code = match error {
                    FrameError::BadJson(_) => code::PARSE_ERROR,
                    _ => code::INVALID_REQUEST,
                };
                session
                    .respond(
                        Value::Null,
                        Err(ResponseError::new(code, error.to_string())),
                    )
                    .await;
                continue;
            }
            Some(Err(error)) => {
                // The framing is lost (a bad header): nothing after it can be trusted.
                tracing::error!(%error, "LSP input unreadable; stopping");
                break ExitCode::FAILURE;
            }
        };
        if let Some(code) = handle(&session, &mut state, message).await {
            break code;
        }
    };
    drop(session);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    code
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Uninitialized,
    Running,
    ShutDown,
}

/// What bounds one LSP session.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Characters of an answer inlined in a result.
    pub max_output_chars: usize,
    /// Commands that may run at once.
    pub max_in_flight: usize,
}

/// Handle one message; `Some(code)` when the process should exit.
async fn handle(session: &Arc<Session>, state: &mut Lifecycle, message: Value) -> Option<ExitCode> {
    let Some(object) = message.as_object() else {
        let reason = "Invalid request: a JSON-RPC message is an object (batches are not supported)";
        let error = ResponseError::new(code::INVALID_REQUEST, reason);
        session.respond(Value::Null, Err(error)).await;
        return None;
    };
    let id = object
        .get("id")
        .filter(|id| id.is_string() || id.is_number())
        .cloned();
    let params = object.get("params").cloned().unwrap_or(Value::Null);
    let (method, id) = match (object.get("method"), id) {
        (Some(Value::String(method)), Some(id)) => (method.clone(), id),
        (Some(Value::String(method)), None) => {
            return notification(session, *state, method, params);
        }
        // A response to a request of ours (none need reading).
        (None, _) if object.contains_key("result") || object.contains_key("error") => {
            return None;
        }
        (_, id) => {
            let reason = "Invalid request: not a JSON-RPC 2.0 request, notification or response \
                          (a request needs a string method and a number or string id)";
            let error = ResponseError::new(code::INVALID_REQUEST, reason);
            session.respond(id.unwrap_or(Value::Null), Err(error)).await;
            return None;
        }
    };
    let answer = match (method.as_str(), *state) {
        ("initialize", Lifecycle::Uninitialized) => {
            *state = Lifecycle::Running;
            Ok(initialize(session, &params))
        }
        ("initialize", _) => Err(ResponseError::new(
            code::INVALID_REQUEST,
            "initialize was already received",
        )),
        (_, Lifecycle::Uninitialized) => Err(ResponseError::new(
            code::SERVER_NOT_INITIALIZED,
            "the server is not initialized: send initialize first",
        )),
        (_, Lifecycle::ShutDown) => Err(ResponseError::new(
            code::INVALID_REQUEST,
            "the server is shut down: only exit is accepted",
        )),
        ("shutdown", Lifecycle::Running) => {
            *state = Lifecycle::ShutDown;
            Ok(Value::Null)
        }
        ("workspace/executeCommand", Lifecycle::Running) => {
            let busy = session.in_flight.lock().expect("lock").len() >= session.max_in_flight;
            if !busy {
                spawn_command(session.clone(), id, params);
                return None;
            }
            Err(ResponseError::new(
                code::SERVER_BUSY,
                format!(
                    "Server busy: {} commands are running (--max-in-flight); retry when one \
                     has finished",
                    session.max_in_flight
                ),
            ))
        }
        (other, _) => Err(ResponseError::new(
            code::METHOD_NOT_FOUND,
            format!("unknown method {other}"),
        )),
    };
    session.respond(id, answer).await;
    None
}

fn notification(
    session: &Session,
    state: Lifecycle,
    method: &str,
    params: Value,
) -> Option<ExitCode> {
    match method {
        "exit" => Some(if state == Lifecycle::ShutDown {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        "$/cancelRequest" => {
            let key = params.get("id").map(Value::to_string).unwrap_or_default();
            session.cancel(&key);
            None
        }
        // The editor's cancel button on a work-done progress: cancel its command.
        "window/workDoneProgress/cancel" => {
            let token = params
                .get("token")
                .map(Value::to_string)
                .unwrap_or_default();
            let key = session
                .progress_tokens
                .lock()
                .expect("lock")
                .get(&token)
                .cloned();
            if let Some(key) = key {
                session.cancel(&key);
            }
            None
        }
        "workspace/didChangeWorkspaceFolders" => {
            let event = &params["event"];
            let added = Workspace::from_uris(folder_uris(&event["added"]), RootSource::Client);
            let removed = Workspace::from_uris(folder_uris(&event["removed"]), RootSource::Client);
            let mut workspace = session.workspace.lock().expect("lock");
            workspace.roots.retain(|root| !removed.roots.contains(root));
            for root in added.roots {
                if !workspace.roots.contains(&root) {
                    workspace.roots.push(root);
                }
            }
            workspace.refused = added.refused;
            None
        }
        _ => None,
    }
}

/// The URIs of a `WorkspaceFolder[]` (`[{uri, name}]`).
fn folder_uris(folders: &Value) -> Vec<&str> {
    folders
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["uri"].as_str())
        .collect()
}

/// Answer `initialize`: remember the workspace folders, announce the commands.
fn initialize(session: &Session, params: &Value) -> Value {
    let folders = folder_uris(&params["workspaceFolders"]);
    let workspace = if !folders.is_empty() {
        Workspace::from_uris(folders, RootSource::Client)
    } else if let Some(root_uri) = params["rootUri"].as_str() {
        Workspace::from_uris([root_uri], RootSource::Client)
    } else if let Some(root_path) = params["rootPath"].as_str() {
        Workspace::new(&[PathBuf::from(root_path)], RootSource::Client)
    } else {
        Workspace::from_uris([], RootSource::Client)
    };
    *session.workspace.lock().expect("lock") = workspace;
    json!({
        "capabilities": {
            "executeCommandProvider": {"commands": commands(), "workDoneProgress": true},
            "workspace": {"workspaceFolders": {"supported": true, "changeNotifications": true}}
        },
        "serverInfo": {"name": "handinger-mcp", "version": env!("CARGO_PKG_VERSION")}
    })
}

/// `$/progress` work-done notifications for one command.
struct WorkDone {
    session: Arc<Session>,
    token: Option<Value>,
}

impl WorkDone {
    async fn send(&self, value: Value) {
        if let Some(token) = &self.token {
            self.session
                .send(json!({"jsonrpc": "2.0", "method": "$/progress",
                             "params": {"token": token, "value": value}}))
                .await;
        }
    }
}

impl Progress for WorkDone {
    fn shown(&self) -> bool {
        self.token.is_some()
    }

    async fn report(&mut self, _: Duration, message: String) {
        self.send(json!({"kind": "report", "message": message, "cancellable": true}))
            .await;
    }
}

/// Run a command in its own task, so the read loop keeps serving (and can cancel it).
fn spawn_command(session: Arc<Session>, id: Value, params: Value) {
    let key = id.to_string();
    let cancel = CancellationToken::new();
    session
        .in_flight
        .lock()
        .expect("lock")
        .insert(key.clone(), cancel.clone());
    let work_done = params.get("workDoneToken").cloned();
    if let Some(token) = &work_done {
        session
            .progress_tokens
            .lock()
            .expect("lock")
            .insert(token.to_string(), key.clone());
    }
    tokio::spawn(async move {
        let mut progress = WorkDone {
            session: session.clone(),
            token: work_done.clone(),
        };
        progress
            .send(
                json!({"kind": "begin", "title": "Handinger", "cancellable": true,
                         "message": "Sending the task"}),
            )
            .await;
        let result = execute(&session, &params, &cancel, &mut progress).await;
        progress.send(json!({"kind": "end"})).await;
        session.in_flight.lock().expect("lock").remove(&key);
        if let Some(token) = &work_done {
            session
                .progress_tokens
                .lock()
                .expect("lock")
                .remove(&token.to_string());
        }
        session.respond(id, result).await;
    });
}

async fn execute(
    session: &Session,
    params: &Value,
    cancel: &CancellationToken,
    progress: &mut WorkDone,
) -> Result<Value, ResponseError> {
    let command = params["command"].as_str().unwrap_or_default();
    let argument = params["arguments"]
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let Some(tool) = tools::by_lsp_command(command) else {
        return Err(ResponseError::new(
            code::INVALID_PARAMS,
            format!(
                "unknown command {command:?}; the commands are {}",
                commands().join(", ")
            ),
        ));
    };
    let call = ToolCall::parse(tool.id, argument).map_err(|e| {
        ResponseError::new(
            code::INVALID_PARAMS,
            format!("invalid arguments for {}: {e}", tool.lsp_command),
        )
    })?;
    // An editor session with no usable folder attaches nothing, unless the user
    // named one with --workspace: the working directory is never used here.
    let folders = session.workspace.lock().expect("lock").clone();
    let workspace = Some(folders.or_configured(session.runner.default_workspace()));
    let outcome = call
        .run(&session.runner, workspace, None, cancel, progress)
        .await;
    answer(outcome, session.max_output_chars)
}

/// Next steps in the editor's terms: the commands, the server's environment.
pub struct LspWording;

impl Wording for LspWording {
    fn invoke(&self, tool: &ToolSpec, task_id: &str) -> String {
        format!(
            "run the command {} with {{\"taskId\": \"{task_id}\"}}",
            tool.lsp_command
        )
    }

    fn start_new(&self, tool: &ToolSpec) -> String {
        format!("run the command {}", tool.lsp_command)
    }

    fn key_place(&self) -> &'static str {
        "Put it in the server's environment in your editor config, then restart the server."
    }
}

/// The structured result (as MCP's structuredContent), or a readable error.
fn answer(
    outcome: Result<CallOutcome, TaskError>,
    max_output_chars: usize,
) -> Result<Value, ResponseError> {
    match outcome {
        Ok(outcome) => Ok(serde_json::to_value(
            render_call(&outcome, max_output_chars, &|step| LspWording.word(step)).structured,
        )
        .expect("TaskResult serializes")),
        Err(error) => {
            let code = match error.failure {
                TaskFailure::Cancelled => code::REQUEST_CANCELLED,
                TaskFailure::InvalidArgument { .. } => code::INVALID_PARAMS,
                _ => code::REQUEST_FAILED,
            };
            Err(ResponseError::new(code, LspWording.describe(&error)))
        }
    }
}
