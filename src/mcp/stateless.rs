//! Task handles over HTTP that any replica can answer. The handle names the
//! Handinger task, the turn and when it was made
//! (`hdg1.<taskId>.<turn>.<unix seconds>`), so `tasks/get` is answered from the
//! API by whichever replica receives it, and a replica that dies holds nothing
//! a client needs. Nothing is kept per handle here; the call's request to the
//! API is the one thing the replica that sent it keeps open.
//!
//! Who may read a handle is the API's call: each `tasks/get` asks with the
//! caller's key, and the API shows a task only to the key that made it.

use rmcp::{
    ErrorData, Peer, RoleServer,
    model::{
        CallToolResponse, CallToolResult, ContentBlock, CreateTaskResult, DetailedTask,
        GetTaskResult, JsonObject, Task, TaskPayload, TaskStatus,
    },
    service::RequestContext,
};

use super::{HandingerServer, TASK_POLL, tool_error};
use crate::{
    delegation::{TaskRunner, TurnId, TurnView, unix_now},
    render::utc_timestamp,
    tools::ToolCall,
};

/// The MCP task a handle stands for, in `status`.
fn handle_task(handle: &TurnId, status: TaskStatus, message: String) -> Task {
    let made = utc_timestamp(handle.made_at);
    Task::new(handle.encode(), status, made, utc_timestamp(unix_now()))
        .with_poll_interval_ms(TASK_POLL.as_millis() as u64)
        .with_status_message(message)
}

impl HandingerServer {
    /// Send a call that starts work and answer at once with a handle; a call
    /// refused before anything was sent gets its error result instead.
    pub(super) async fn start_stateless(
        &self,
        call: ToolCall,
        runner: &TaskRunner,
        peer: &Peer<RoleServer>,
    ) -> CallToolResponse {
        let workspace = self.workspace_for(&call, runner, peer).await;
        let started = match call.start(runner, workspace).await {
            Some(Ok(started)) => started,
            Some(Err(error)) => return tool_error(&error).into(),
            None => {
                let message = "only calls that start work run under a task handle";
                return CallToolResult::error(vec![ContentBlock::text(message)]).into();
            }
        };
        let handle = TurnId::of(started);
        tracing::info!(
            mcp_task = handle.encode(),
            "call runs under a stateless task handle"
        );
        let message = format!("Handinger task {} was sent", handle.task_id);
        CallToolResponse::Task(CreateTaskResult::new(handle_task(
            &handle,
            TaskStatus::Working,
            message,
        )))
    }

    /// `tasks/get` for a stateless handle: asked of the API.
    pub(super) async fn get_stateless(
        &self,
        handle: TurnId,
        context: &RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let runner = self
            .runner_for(context)
            .map_err(|message| ErrorData::internal_error(message, None))?;
        let running = format!("Handinger task {} is running", handle.task_id);
        let (status, message, payload) = match runner.view_turn(&handle).await {
            TurnView::Working { note: None, .. } => {
                (TaskStatus::Working, running, TaskPayload::Working)
            }
            // The API could not answer just now: the task is not over, ask again.
            TurnView::Working {
                note: Some(why), ..
            } => {
                let message = format!("{running}; the API could not be asked just now: {why}");
                (TaskStatus::Working, message, TaskPayload::Working)
            }
            TurnView::NeverArrived => {
                let message = handle.never_arrived();
                let error = CallToolResult::error(vec![ContentBlock::text(message.clone())]);
                (TaskStatus::Failed, message, completed(error))
            }
            TurnView::Done { outcome, .. } => {
                let result = self.result(&context.peer, Ok(*outcome));
                let message = format!("Handinger task {} answered", handle.task_id);
                (TaskStatus::Completed, message, completed(result))
            }
            TurnView::Failed(error) => {
                let result = tool_error(&error);
                (TaskStatus::Completed, error.to_string(), completed(result))
            }
        };
        Ok(GetTaskResult::new(DetailedTask::new(
            handle_task(&handle, status, message),
            payload,
        )))
    }
}

/// A tool result as a completed task's payload.
fn completed(result: CallToolResult) -> TaskPayload {
    let result = match serde_json::to_value(&result) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => JsonObject::new(),
    };
    TaskPayload::Completed { result }
}
