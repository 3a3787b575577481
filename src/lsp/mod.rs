//! The LSP-style front-end, for editors without MCP: Content-Length framed JSON-RPC
//! on stdio, the LSP lifecycle, and `workspace/executeCommand` running the same
//! tools with the same argument objects and the same structured result.

pub mod codec;
mod params;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::{codec::FramedRead, sync::CancellationToken};

use self::{
    codec::{Frame, FrameError, LspCodec},
    params::{
        CancelParams, DidChangeWorkspaceFoldersParams, ExecuteCommandParams, InitializeParams,
        ProgressToken, WorkDoneProgressCancelParams, WorkspaceFolder,
    },
};
use crate::{
    delegation::{CallOutcome, Progress, Setting, TaskError, TaskFailure, TaskRunner},
    jsonrpc::{
        self, Admission, InFlight, Incoming, Kind, OutgoingQueue, ResponseError, code, id_key,
    },
    render::render_call,
    tools::{self, TOOLS, ToolCall, ToolSpec, Wording},
    workspace::{RootSource, Workspace},
};

/// Largest frame accepted; a bigger one is skipped and answered with an error.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// The commands `workspace/executeCommand` runs: one per tool in the table.
pub fn commands() -> Vec<&'static str> {
    TOOLS.iter().map(|tool| tool.lsp_command).collect()
}

/// Shared by the read loop and the command jobs it spawns.
struct Session {
    runner: Arc<TaskRunner>,
    max_output_chars: usize,
    out: OutgoingQueue,
    /// The editor's workspace folders, from initialize and later changes. With
    /// no folder, nothing can be attached (no fallback to the server's own folder).
    workspace: Mutex<Workspace>,
    /// Commands in flight with their cancellation tokens, by request id.
    in_flight: InFlight<CancellationToken>,
    /// The request id of each command in flight, by its work-done token.
    progress_tokens: Mutex<HashMap<ProgressToken, String>>,
}

impl Session {
    /// Cancel the command in flight with request id `key` (JSON text), if any.
    fn cancel(&self, key: &str) {
        self.in_flight.with(key, CancellationToken::cancel);
    }

    /// Queue a message for the writer, waiting while the queue is full.
    async fn send(&self, message: Value) {
        // A closed output ends the session through the read loop.
        let _ = self.out.send(&message).await;
    }

    async fn respond(&self, id: Value, result: Result<Value, ResponseError>) {
        self.send(jsonrpc::response(id, result)).await;
    }
}

/// Serve the LSP-style protocol on `input`/`output` until `exit` or end of input;
/// at end of input, the commands already read are answered first (at most
/// 2 s).
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
    let closed = CancellationToken::new();
    let session = Arc::new(Session {
        runner,
        max_output_chars: limits.max_output_chars,
        out: OutgoingQueue::spawn(output, codec::frame, closed.clone()),
        workspace: Mutex::new(Workspace::from_uris([], RootSource::Client)),
        in_flight: InFlight::new(limits.max_in_flight),
        progress_tokens: Mutex::new(HashMap::new()),
    });
    let mut frames = FramedRead::new(input, LspCodec::new(MAX_FRAME_BYTES));
    let mut state = Lifecycle::Uninitialized;
    loop {
        let next = tokio::select! {
            next = frames.next() => next,
            _ = closed.cancelled() => break ExitCode::SUCCESS,
        };
        let message = match next {
            None => {
                let until = tokio::time::Instant::now() + jsonrpc::DRAIN_LIMIT;
                jsonrpc::drain(&session.in_flight, &session.out, until).await;
                break ExitCode::SUCCESS;
            }
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
            session.out.flushed().await;
            break code;
        }
    }
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

/// An "invalid params" error naming the method and serde's reason.
fn invalid_params(method: &str, error: &serde_json::Error) -> ResponseError {
    ResponseError::new(
        code::INVALID_PARAMS,
        format!("invalid params for {method}: {error}"),
    )
}

/// Handle one message; `Some(code)` when the process should exit.
async fn handle(session: &Arc<Session>, state: &mut Lifecycle, message: Value) -> Option<ExitCode> {
    let (id, key, method, params) = match Incoming::classify(&message) {
        Incoming::Request {
            id,
            key,
            method,
            params,
        } => (id, key, method, params),
        Incoming::Notification { method, params } => {
            return notification(session, *state, &method, params);
        }
        // An answer to a request of ours (none need reading).
        Incoming::Response { .. } => return None,
        Incoming::Invalid { id, reason } => {
            let error =
                ResponseError::new(code::INVALID_REQUEST, format!("Invalid request: {reason}"));
            session.send(jsonrpc::error_response(id, &error)).await;
            return None;
        }
    };
    let answer = match (method.as_str(), *state) {
        ("initialize", Lifecycle::Uninitialized) => {
            match params::read::<InitializeParams>(params) {
                Ok(params) => {
                    *state = Lifecycle::Running;
                    Ok(initialize(session, params))
                }
                Err(error) => Err(invalid_params("initialize", &error)),
            }
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
            match params::read::<ExecuteCommandParams>(params) {
                Ok(params) => match admit_command(session, id.clone(), &key, params) {
                    Ok(()) => return None,
                    Err(error) => Err(error),
                },
                Err(error) => Err(invalid_params("workspace/executeCommand", &error)),
            }
        }
        (other, _) => Err(ResponseError::new(
            code::METHOD_NOT_FOUND,
            format!("unknown method {other}"),
        )),
    };
    session.respond(id, answer).await;
    None
}

/// Take a slot for a command and start it, or say why not.
fn admit_command(
    session: &Arc<Session>,
    id: Value,
    key: &str,
    params: ExecuteCommandParams,
) -> Result<(), ResponseError> {
    let cancel = CancellationToken::new();
    match session.in_flight.try_admit(key, Kind::Call, cancel.clone()) {
        Admission::Admitted => {
            spawn_command(session.clone(), id, key.to_owned(), params, cancel);
            Ok(())
        }
        Admission::Duplicate => Err(ResponseError::new(
            code::INVALID_REQUEST,
            format!("Invalid request: id {key} is already used by a request in flight"),
        )),
        Admission::Busy | Admission::Wait => Err(ResponseError::new(
            code::SERVER_BUSY,
            session.in_flight.busy_message("commands"),
        )),
    }
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
            if let Ok(params) = params::read::<CancelParams>(params) {
                session.cancel(&id_key(&params.id));
            }
            None
        }
        // The editor's cancel button on a work-done progress: cancel its command.
        "window/workDoneProgress/cancel" => {
            if let Ok(params) = params::read::<WorkDoneProgressCancelParams>(params) {
                let key = session
                    .progress_tokens
                    .lock()
                    .expect("lock")
                    .get(&params.token)
                    .cloned();
                if let Some(key) = key {
                    session.cancel(&key);
                }
            }
            None
        }
        "workspace/didChangeWorkspaceFolders" => {
            match params::read::<DidChangeWorkspaceFoldersParams>(params) {
                Ok(params) => change_folders(session, &params.event.added, &params.event.removed),
                Err(error) => tracing::warn!(%error, "unreadable workspace folder change"),
            }
            None
        }
        _ => None,
    }
}

/// Apply a workspace-folder change to the session's workspace.
fn change_folders(session: &Session, added: &[WorkspaceFolder], removed: &[WorkspaceFolder]) {
    let added = Workspace::from_uris(folder_uris(added), RootSource::Client);
    let removed = Workspace::from_uris(folder_uris(removed), RootSource::Client);
    let mut workspace = session.workspace.lock().expect("lock");
    workspace.roots.retain(|root| !removed.roots.contains(root));
    for root in added.roots {
        if !workspace.roots.contains(&root) {
            workspace.roots.push(root);
        }
    }
    workspace.refused = added.refused;
}

/// The URIs of some workspace folders.
fn folder_uris(folders: &[WorkspaceFolder]) -> Vec<&str> {
    folders.iter().map(|f| f.uri.as_str()).collect()
}

/// Answer `initialize`: remember the workspace folders, announce the commands.
fn initialize(session: &Session, params: InitializeParams) -> Value {
    let folders = params.workspace_folders.unwrap_or_default();
    let workspace = if !folders.is_empty() {
        Workspace::from_uris(folder_uris(&folders), RootSource::Client)
    } else if let Some(root_uri) = &params.root_uri {
        Workspace::from_uris([root_uri.as_str()], RootSource::Client)
    } else if let Some(root_path) = params.root_path {
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
    token: Option<ProgressToken>,
}

impl WorkDone {
    async fn send(&self, value: Value) {
        if let Some(token) = &self.token {
            let params = json!({"token": token, "value": value});
            self.session
                .send(jsonrpc::notification("$/progress", params))
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

/// Run a command in a job of its own, so the read loop keeps serving (and can
/// cancel it). Its slot in the in-flight table is freed when it is answered.
fn spawn_command(
    session: Arc<Session>,
    id: Value,
    key: String,
    params: ExecuteCommandParams,
    cancel: CancellationToken,
) {
    let work_done = params.work_done_token.clone();
    if let Some(token) = &work_done {
        session
            .progress_tokens
            .lock()
            .expect("lock")
            .insert(token.clone(), key.clone());
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
        let result = execute(&session, params, &cancel, &mut progress).await;
        progress.send(json!({"kind": "end"})).await;
        if let Some(token) = &work_done {
            session.progress_tokens.lock().expect("lock").remove(token);
        }
        session.respond(id, result).await;
        session.in_flight.release(&key);
    });
}

async fn execute(
    session: &Session,
    params: ExecuteCommandParams,
    cancel: &CancellationToken,
    progress: &mut WorkDone,
) -> Result<Value, ResponseError> {
    let command = params.command.as_str();
    let argument = params
        .arguments
        .into_iter()
        .next()
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

    fn setting(&self, setting: Setting) -> String {
        let (flag, variable) = tools::setting_names(setting);
        format!(
            "The setting is {flag} in the command your editor starts this server with (or \
             {variable} in its environment)."
        )
    }
}

/// The structured result (as MCP's structuredContent), or a readable error.
fn answer(
    outcome: Result<CallOutcome, TaskError>,
    max_output_chars: usize,
) -> Result<Value, ResponseError> {
    match outcome {
        Ok(outcome) => {
            Ok(render_call(&outcome, max_output_chars, &|step| LspWording.word(step)).structured)
        }
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
