//! A2A 1.0 (Agent2Agent) over its JSON-RPC binding: agent frameworks hand a
//! message to a Handinger worker as they would to any remote agent. A sibling
//! of the MCP front-end, on the same HTTP server and behind the same checks
//! (`serve --http`: `/a2a`, and the card at `/.well-known/agent-card.json`).
//! Clients on A2A 0.3 are served by the same code through `v03`, which
//! rewrites their requests and answers.
//!
//! The mapping: an A2A `contextId` is a Handinger task; each message is one
//! Handinger turn and one A2A task, whose id names the task and turn
//! ([`TurnId`]). Nothing is kept per task here: any replica answers GetTask,
//! CancelTask and SubscribeToTask from the Handinger API.

pub mod card;
mod error;
mod list;
mod stream;
mod v03;
mod wire;

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::delegation::{
    CallOutcome, TaskError, TaskKind, TaskRequest, TaskRunner, TurnId, TurnView, is_task_id,
};
pub use error::A2aError;
use wire::{Message, SendMessageRequest, TaskQuery, TaskState, TaskView, user_message};

/// The A2A version this agent speaks (`Major.Minor`, as the spec compares).
pub const PROTOCOL_VERSION: &str = "1.0";

/// The version the spec says a request without `A2A-Version` speaks
/// (section 3.6.2: "Agents MUST interpret empty value as 0.3 version").
pub const VERSION_IF_MISSING: &str = "0.3";

/// One JSON-RPC request to the A2A endpoint, as the HTTP server hands it over.
pub struct A2aRequest<'a> {
    pub body: &'a [u8],
    /// The `A2A-Version` header (or query parameter), if sent.
    pub version: Option<&'a str>,
    /// The version assumed when none was sent.
    pub version_if_missing: &'a str,
    /// The runner paid by the caller's key, or why there is none.
    pub runner: Result<Arc<TaskRunner>, String>,
}

/// The answer: one JSON-RPC response, or (streaming methods) a stream of them.
pub enum Reply {
    Json(Value),
    /// Each item is a whole JSON-RPC response; the stream ends at the task's
    /// terminal state.
    Stream(mpsc::Receiver<Value>),
}

/// Answer one JSON-RPC request.
pub async fn answer(request: A2aRequest<'_>) -> Reply {
    let call: Value = match serde_json::from_slice(request.body) {
        Ok(call) => call,
        Err(error) => {
            let message = format!("Invalid JSON payload: {error}");
            return Reply::Json(failure(&Value::Null, &A2aError::parse(message)));
        }
    };
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let (method, params) = match parse_call(&call) {
        Ok(parsed) => parsed,
        Err(error) => return Reply::Json(failure(&id, &error)),
    };
    let face = match Face::of(&method, request.version, request.version_if_missing) {
        Ok(face) => face,
        Err(error) => return Reply::Json(failure(&id, &error)),
    };
    let (method, params) = match face {
        Face::V1 => (method, params),
        Face::V03 => match v03::params_in_1_0(params) {
            Ok(params) => (
                v03::method_in_1_0(&method).unwrap_or_default().to_owned(),
                params,
            ),
            Err(error) => return Reply::Json(failure(&id, &error)),
        },
    };
    let runner = match request.runner {
        Ok(runner) => runner,
        Err(message) => return Reply::Json(failure(&id, &A2aError::internal(message))),
    };
    let result = match method.as_str() {
        "SendMessage" => send_message(&runner, params).await,
        "SendStreamingMessage" => {
            let started = match params_as(params) {
                Ok(request) => send_turn(&runner, request, None).await,
                Err(error) => Err(error),
            };
            return match started {
                Ok((view, _)) => Reply::Stream(stream::follow(runner, view, id, face)),
                Err(error) => Reply::Json(failure(&id, &error)),
            };
        }
        "SubscribeToTask" => {
            return match subscribable(&runner, params).await {
                Ok(view) => Reply::Stream(stream::follow(runner, view, id, face)),
                Err(error) => Reply::Json(failure(&id, &error)),
            };
        }
        "GetTask" => get_task(&runner, params).await,
        "CancelTask" => cancel_task(&runner, params).await,
        "ListTasks" => list::list_tasks(&runner, params).await,
        "CreateTaskPushNotificationConfig"
        | "GetTaskPushNotificationConfig"
        | "ListTaskPushNotificationConfigs"
        | "DeleteTaskPushNotificationConfig" => Err(A2aError::push_not_supported()),
        "GetExtendedAgentCard" if face == Face::V03 => Err(v03::no_extended_card()),
        "GetExtendedAgentCard" => Err(A2aError::unsupported(
            "This agent has no extended Agent Card (its card says \
             capabilities.extendedAgentCard is false)",
        )),
        other => Err(A2aError::method_not_found(other)),
    };
    Reply::Json(match result {
        Ok(value) => success(&id, face.outgoing(value)),
        Err(error) => failure(&id, &error),
    })
}

/// Which version's shapes a request speaks. A 0.3 client sends 0.3's method
/// names and (being older than the header) no `A2A-Version`, or `0.3`; any
/// other request must ask for 1.0, by header or by the server's setting for a
/// missing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    V1,
    V03,
}

impl Face {
    fn of(method: &str, sent: Option<&str>, if_missing: &str) -> Result<Self, A2aError> {
        let sent = sent.map(str::trim).filter(|v| !v.is_empty());
        if v03::method_in_1_0(method).is_some() {
            return match sent {
                None => Ok(Face::V03),
                Some(version) if same_major_minor(version, VERSION_IF_MISSING) => Ok(Face::V03),
                Some(version) => Err(A2aError::method_not_found(method).with_message(format!(
                    "Method not found: {method} is an A2A 0.3 method, and this request asks \
                     for A2A {version}; send it without the A2A-Version header (or with 0.3)"
                ))),
            };
        }
        let version = sent.unwrap_or(if_missing);
        if same_major_minor(version, PROTOCOL_VERSION) {
            Ok(Face::V1)
        } else {
            Err(A2aError::version(version, PROTOCOL_VERSION))
        }
    }

    /// A 1.0 result as this face sends it.
    fn outgoing(self, result: Value) -> Value {
        match self {
            Face::V1 => result,
            Face::V03 => v03::result_in_0_3(result),
        }
    }
}

/// Whether `version` is `wanted` (`Major.Minor`; a patch number is ignored,
/// as the spec asks).
fn same_major_minor(version: &str, wanted: &str) -> bool {
    let mut numbers = version.split('.');
    let major_minor = (numbers.next(), numbers.next());
    let wanted = wanted.split_once('.').map(|(a, b)| (Some(a), Some(b)));
    Some(major_minor) == wanted && numbers.all(|n| n.chars().all(|c| c.is_ascii_digit()))
}

/// The method and params of a JSON-RPC 2.0 request.
fn parse_call(call: &Value) -> Result<(String, Value), A2aError> {
    let Some(object) = call.as_object() else {
        return Err(A2aError::invalid_request(
            "The request is not a JSON-RPC object",
        ));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(A2aError::invalid_request(
            r#"The request lacks "jsonrpc": "2.0""#,
        ));
    }
    if !matches!(
        object.get("id"),
        Some(Value::String(_) | Value::Number(_) | Value::Null) | None
    ) {
        return Err(A2aError::invalid_request(
            "The id is not a string, number or null",
        ));
    }
    let Some(method) = object.get("method").and_then(Value::as_str) else {
        return Err(A2aError::invalid_request("The request has no method"));
    };
    let params = object.get("params").cloned().unwrap_or_else(|| json!({}));
    if !params.is_object() {
        return Err(A2aError::invalid_params("params is not an object"));
    }
    Ok((method.to_owned(), params))
}

fn success(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn failure(id: &Value, error: &A2aError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()})
}

fn params_as<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, A2aError> {
    serde_json::from_value(params).map_err(|e| A2aError::invalid_params(format!("params: {e}")))
}

/// `SendMessage`: send the turn; unless asked to return at once, wait for its
/// answer (at most the server's longest wait, then the task is reported
/// working).
async fn send_message(runner: &TaskRunner, params: Value) -> Result<Value, A2aError> {
    let request: SendMessageRequest = params_as(params)?;
    let blocking = !request
        .configuration
        .as_ref()
        .is_some_and(|c| c.return_immediately);
    let wait = blocking.then_some(runner.wait.max_wait);
    let (view, history_length) = send_turn(runner, request, wait).await?;
    Ok(json!({"task": view.to_json(history_length)}))
}

/// A message checked and made a turn request: the request, the message as
/// the task's history keeps it (once the turn is known), and the history
/// length asked for.
struct Checked {
    request: TaskRequest,
    message_id: Option<String>,
    input: String,
    history_length: Option<i64>,
}

async fn check_message(
    runner: &TaskRunner,
    request: SendMessageRequest,
) -> Result<Checked, A2aError> {
    let configuration = request.configuration.unwrap_or_default();
    if configuration.history_length.is_some_and(|n| n < 0) {
        return Err(A2aError::invalid_params(
            "historyLength must not be negative",
        ));
    }
    let message = request
        .message
        .ok_or_else(|| A2aError::invalid_params("params.message is missing"))?;
    let wire::Content { input, files } = message.content()?;
    let follows = conversation_of(runner, &message).await?;
    let request = TaskRequest {
        kind: if follows.is_some() {
            TaskKind::FollowUp
        } else {
            TaskKind::New
        },
        task_id: follows,
        input: input.clone(),
        budget: None,
        budget_confirmed: false,
        worker_id: None,
        files: Vec::new(),
        uploads: files,
        workspace: None,
        output_schema: None,
    };
    Ok(Checked {
        request,
        message_id: message.message_id,
        input,
        history_length: configuration.history_length,
    })
}

/// The task a turn just sent is: working, with the message as its history.
fn sent_view(id: TurnId, message_id: Option<&str>, input: &str) -> TaskView {
    tracing::info!(
        a2a_task = id.encode(),
        "A2A message sent as a Handinger turn"
    );
    let mut view = TaskView::new(id, TaskState::Working);
    view.history = vec![user_message(&view.id, message_id, input)];
    view
}

/// Send a message's turn. With `wait`, wait up to that long for its answer;
/// without, return once the API has it: the task, working.
async fn send_turn(
    runner: &TaskRunner,
    request: SendMessageRequest,
    wait: Option<std::time::Duration>,
) -> Result<(TaskView, Option<i64>), A2aError> {
    let Checked {
        request,
        message_id,
        input,
        history_length,
    } = check_message(runner, request).await?;
    let refused = |error: TaskError| A2aError::from(&error);
    let (started, outcome) = match wait {
        None => (runner.start(request).await.map_err(refused)?, None),
        Some(wait) => {
            let (started, outcome) = runner
                .start_and_wait(request, wait)
                .await
                .map_err(refused)?;
            (started, Some(outcome))
        }
    };
    let sent = sent_view(TurnId::of(started), message_id.as_deref(), &input);
    let Some(outcome) = outcome else {
        return Ok((sent, history_length));
    };
    let mut view = view_of_outcome(sent.id, outcome);
    view.history = sent.history;
    Ok((view, history_length))
}

/// The Handinger task a message continues: its contextId (checked by the core
/// before anything is sent, as the API would start a new, billed task under an
/// unknown id), or none for a new task. A message naming one of this agent's
/// tasks is refused: each turn is a task of its own, and a finished one takes
/// no more messages.
async fn conversation_of(
    runner: &TaskRunner,
    message: &Message,
) -> Result<Option<String>, A2aError> {
    if let Some(task_id) = message.task() {
        let Some(turn) = TurnId::decode(task_id) else {
            return Err(A2aError::task_not_found(task_id));
        };
        if message.context().is_some_and(|c| c != turn.task_id) {
            return Err(A2aError::invalid_params(format!(
                "message.taskId {task_id} belongs to context {}, not to message.contextId",
                turn.task_id
            )));
        }
        let why = match runner.view_turn(&turn).await {
            TurnView::Working { .. } => format!(
                "Task {task_id} is still working and takes no more messages: each message is a \
                 task of its own here. Wait for it (GetTask or SubscribeToTask; in A2A 0.3, \
                 tasks/get or tasks/resubscribe), then send the next message with contextId {} \
                 and no taskId.",
                turn.task_id
            ),
            _ => format!(
                "Task {task_id} is in a terminal state and takes no more messages. Send the next \
                 message with contextId {} and no taskId to continue the conversation.",
                turn.task_id
            ),
        };
        return Err(A2aError::unsupported(why));
    }
    match message.context() {
        None => Ok(None),
        Some(context) if is_task_id(context) => Ok(Some(context.to_owned())),
        Some(context) => Err(A2aError::task_not_found(context)),
    }
}

/// The task a finished, failed or still-running wait leaves.
fn view_of_outcome(id: TurnId, outcome: Result<CallOutcome, TaskError>) -> TaskView {
    match outcome {
        Ok(CallOutcome::Finished(finished)) => TaskView::finished(id, &finished),
        Ok(CallOutcome::Running(running)) => {
            let mut view = TaskView::new(id, TaskState::Working);
            view.note = Some(match running.partial_output {
                Some(partial) => format!("Still working. Output so far: {partial}"),
                None => "Still working on Handinger; ask again with GetTask (A2A 0.3: tasks/get)"
                    .to_owned(),
            });
            view.url = running.url;
            view
        }
        Ok(CallOutcome::Listed(_) | CallOutcome::Archived { .. }) => {
            TaskView::new(id, TaskState::Working)
        }
        Err(error) => failed(id, error.to_string()),
    }
}

fn failed(id: TurnId, reason: String) -> TaskView {
    let mut view = TaskView::new(id, TaskState::Failed);
    view.note = Some(reason);
    view
}

/// The task an id names, as the API tells it now, with the turn's input as
/// its history when the API gives it.
async fn current(runner: &TaskRunner, id: TurnId) -> TaskView {
    let (mut view, input) = match runner.view_turn(&id).await {
        TurnView::Working { note, input } => {
            let mut view = TaskView::new(id, TaskState::Working);
            view.note = note
                .map(|why| format!("Still working; the API could not be asked just now: {why}"));
            (view, input)
        }
        TurnView::Done { outcome, input } => (view_of_outcome(id, Ok(*outcome)), input),
        TurnView::NeverArrived => {
            let reason = id.never_arrived();
            (failed(id, reason), None)
        }
        TurnView::Failed(error) => (failed(id, error.to_string()), None),
    };
    if let Some(input) = input {
        view.history = vec![user_message(&view.id, None, &input)];
    }
    view
}

/// The [`TurnId`] a request's `id` names, or TaskNotFoundError.
fn task_id_of(params: Value) -> Result<(TurnId, TaskQuery), A2aError> {
    let query: TaskQuery = params_as(params)?;
    let Some(given) = query.id.as_deref() else {
        return Err(A2aError::invalid_params(
            "params.id (the task id) is missing",
        ));
    };
    let id = TurnId::decode(given).ok_or_else(|| A2aError::task_not_found(given))?;
    Ok((id, query))
}

/// `GetTask`.
async fn get_task(runner: &TaskRunner, params: Value) -> Result<Value, A2aError> {
    let (id, query) = task_id_of(params)?;
    if query.history_length.is_some_and(|n| n < 0) {
        return Err(A2aError::invalid_params(
            "historyLength must not be negative",
        ));
    }
    Ok(current(runner, id).await.to_json(query.history_length))
}

/// `CancelTask`: Handinger has no cancel, so no task here is cancelable
/// (TaskNotCancelableError); a running one goes on at Handinger.
async fn cancel_task(runner: &TaskRunner, params: Value) -> Result<Value, A2aError> {
    let (id, _) = task_id_of(params)?;
    let view = current(runner, id).await;
    let message = if view.state.is_terminal() {
        format!("Task {} is already in a terminal state", view.id.encode())
    } else {
        format!(
            "Task {} cannot be canceled: Handinger has no cancel, and the work continues there \
             until it ends. Its answer stays available with GetTask (A2A 0.3: tasks/get).",
            view.id.encode()
        )
    };
    Err(A2aError::not_cancelable(message))
}

/// The task `SubscribeToTask` names, when it is still working (a finished one
/// gets UnsupportedOperationError, as the spec says).
async fn subscribable(runner: &TaskRunner, params: Value) -> Result<TaskView, A2aError> {
    let (id, _) = task_id_of(params)?;
    let view = current(runner, id).await;
    if view.state.is_terminal() {
        return Err(A2aError::unsupported(format!(
            "Task {} is in a terminal state; GetTask (A2A 0.3: tasks/get) returns it whole",
            view.id.encode()
        )));
    }
    Ok(view)
}
