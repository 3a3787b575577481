//! Task handles over HTTP that any replica can answer. The handle names the
//! Handinger task, the turn and when it was made
//! (`hdg1.<taskId>.<turn>.<unix seconds>`), so `tasks/get` is answered from the
//! API by whichever replica receives it, and a replica that dies holds nothing
//! a client needs. Nothing is kept per handle here; the call's request to the
//! API is the one thing the replica that sent it keeps open.
//!
//! Who may read a handle is the API's call: each `tasks/get` asks with the
//! caller's key, and the API shows a task only to the key that made it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    delegation::{TaskRunner, TurnState, is_task_id},
    render::utc_timestamp,
    tools::ToolCall,
};

const PREFIX: &str = "hdg1";

/// How long a handle may name a turn the API has never listed before it is
/// reported failed: its request never arrived (a replica died before sending).
const UNSEEN_FOR_AT_MOST: Duration = Duration::from_secs(10 * 60);

/// What a handle names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    pub task_id: String,
    pub turn: usize,
    /// Seconds since 1970 when it was made.
    pub made_at: u64,
}

impl Handle {
    pub fn encode(&self) -> String {
        format!("{PREFIX}.{}.{}.{}", self.task_id, self.turn, self.made_at)
    }

    /// A handle made by [`Handle::encode`]; `None` for anything else.
    pub fn decode(id: &str) -> Option<Self> {
        let mut parts = id.split('.');
        let (Some(PREFIX), Some(task_id), Some(turn), Some(made_at), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let turn: usize = turn.parse().ok().filter(|t| (1..=1_000_000).contains(t))?;
        Some(Self {
            task_id: is_task_id(task_id).then(|| task_id.to_owned())?,
            turn,
            made_at: made_at.parse().ok()?,
        })
    }

    fn task(&self, status: TaskStatus, message: String) -> Task {
        let made = utc_timestamp(self.made_at);
        Task::new(self.encode(), status, made, utc_timestamp(now()))
            .with_poll_interval_ms(TASK_POLL.as_millis() as u64)
            .with_status_message(message)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
        let handle = Handle {
            task_id: started.task_id,
            turn: started.turn,
            made_at: now(),
        };
        tracing::info!(
            mcp_task = handle.encode(),
            "call runs under a stateless task handle"
        );
        let message = format!("Handinger task {} was sent", handle.task_id);
        CallToolResponse::Task(CreateTaskResult::new(
            handle.task(TaskStatus::Working, message),
        ))
    }

    /// `tasks/get` for a stateless handle: asked of the API.
    pub(super) async fn get_stateless(
        &self,
        handle: Handle,
        context: &RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let runner = self
            .runner_for(context)
            .map_err(|message| ErrorData::internal_error(message, None))?;
        let state = runner.turn_state(&handle.task_id, handle.turn).await;
        let running = format!("Handinger task {} is running", handle.task_id);
        let (status, message, payload) = match state {
            Ok(TurnState::Working) => (TaskStatus::Working, running, TaskPayload::Working),
            Ok(TurnState::NotSeen)
                if now().saturating_sub(handle.made_at) < UNSEEN_FOR_AT_MOST.as_secs() =>
            {
                (TaskStatus::Working, running, TaskPayload::Working)
            }
            Ok(TurnState::NotSeen) => {
                let message = format!(
                    "Handinger has no record of turn {} of task {}: its request never arrived. \
                     Nothing ran; start it again.",
                    handle.turn, handle.task_id
                );
                let error = CallToolResult::error(vec![ContentBlock::text(message.clone())]);
                (TaskStatus::Failed, message, completed(error))
            }
            Ok(TurnState::Done(outcome)) => {
                let result = self.result(&context.peer, Ok(*outcome));
                let message = format!("Handinger task {} answered", handle.task_id);
                (TaskStatus::Completed, message, completed(result))
            }
            // The API could not answer just now: the task is not over, ask again.
            Err(error) if error.is_transient() => {
                let message = format!("{running}; the API could not be asked just now: {error}");
                (TaskStatus::Working, message, TaskPayload::Working)
            }
            Err(error) => {
                let result = tool_error(&error);
                (TaskStatus::Completed, error.to_string(), completed(result))
            }
        };
        Ok(GetTaskResult::new(DetailedTask::new(
            handle.task(status, message),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_nothing_else_decodes() {
        let handle = Handle {
            task_id: "tsk_abc".into(),
            turn: 3,
            made_at: 1_780_000_000,
        };
        assert_eq!(handle.encode(), "hdg1.tsk_abc.3.1780000000");
        assert_eq!(Handle::decode(&handle.encode()), Some(handle));
        for bad in [
            "",
            "mcp_abc",
            "hdg1.tsk_abc.3",
            "hdg1.tsk_abc.3.1.x",
            "hdg1.tsk/../x.1.1",
            "hdg1.tsk_abc.0.1",
            "hdg1.tsk_abc.-1.1",
            "hdg2.tsk_abc.1.1",
            "hdg1..1.1",
        ] {
            assert_eq!(Handle::decode(bad), None, "{bad}");
        }
    }
}
