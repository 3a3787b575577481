//! The tools' argument objects, shared by every front-end (MCP tools, LSP
//! `workspace/executeCommand`, the command line), and their translation into core
//! requests.
//! Doc comments here are the argument descriptions models read.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::{
    budget::Budget,
    tasks::{TaskKind, TaskRequest},
};

/// Arguments of `create_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTaskArgs {
    /// The task for the worker, as a complete brief: goal, context, constraints and the
    /// form of the answer. The worker sees nothing but this text.
    #[schemars(length(min = 1))]
    pub input: String,
    /// Compute budget the worker may spend: low, standard (the API default), high or
    /// unlimited.
    pub budget: Option<Budget>,
    /// Run the task on an existing worker (an id like wrk_...). Omit it to have a new
    /// worker created from the input.
    #[schemars(length(min = 1))]
    pub worker_id: Option<String>,
    /// Files to attach, as paths in the workspace (relative to its first root, or
    /// absolute inside it). They are copied into the worker's workspace before the
    /// task starts.
    #[serde(default)]
    pub files: Vec<String>,
    /// Longest time in seconds this call waits for the answer (default and maximum
    /// are server settings). When it passes, the result says the task is still running
    /// and names the taskId to pass to get_task; the work goes on.
    #[schemars(range(min = 0))]
    pub wait_seconds: Option<f64>,
}

/// Arguments of `follow_up_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FollowUpTaskArgs {
    /// The taskId returned by create_task (like tsk_...).
    #[schemars(length(min = 1))]
    pub task_id: String,
    /// The follow-up message: a question about the answer, a correction or the next step.
    #[schemars(length(min = 1))]
    pub input: String,
    /// Compute budget for this turn: low, standard, high or unlimited.
    pub budget: Option<Budget>,
    /// The worker of the task, when known (the workerId of the earlier result).
    #[schemars(length(min = 1))]
    pub worker_id: Option<String>,
    /// Files to attach, as paths in the workspace (relative to its first root, or
    /// absolute inside it). They are copied into the worker's workspace before the
    /// turn starts.
    #[serde(default)]
    pub files: Vec<String>,
    /// Longest time in seconds this call waits for the answer (see create_task).
    #[schemars(range(min = 0))]
    pub wait_seconds: Option<f64>,
}

/// Arguments of `get_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetTaskArgs {
    /// The taskId of a task started with create_task or follow_up_task.
    #[schemars(length(min = 1))]
    pub task_id: String,
    /// Longest time in seconds to wait if the task is still running (default and
    /// maximum are server settings; 0 answers at once).
    #[schemars(range(min = 0))]
    pub wait_seconds: Option<f64>,
}

impl CreateTaskArgs {
    pub fn into_request(self) -> (TaskRequest, Option<f64>) {
        let request = TaskRequest {
            kind: TaskKind::New,
            task_id: None,
            input: self.input,
            budget: self.budget,
            worker_id: self.worker_id,
            files: self.files,
            workspace: None,
        };
        (request, self.wait_seconds)
    }
}

impl FollowUpTaskArgs {
    pub fn into_request(self) -> (TaskRequest, Option<f64>) {
        let request = TaskRequest {
            kind: TaskKind::FollowUp,
            task_id: Some(self.task_id),
            input: self.input,
            budget: self.budget,
            worker_id: self.worker_id,
            files: self.files,
            workspace: None,
        };
        (request, self.wait_seconds)
    }
}
