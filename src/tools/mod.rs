//! The one table of tools. Every front-end reads it: MCP lists and dispatches
//! from it, the LSP-style mode announces and runs its commands, the command line
//! maps its verbs to it, and `schemas/` is generated from it. Adding a tool is one
//! entry in [`TOOLS`] plus its arm in [`ToolCall`].
//!
//! It also holds the sentences that word the core's [`NextStep`]s ([`Wording`]);
//! each front-end implements the trait with its own names for the tools.

pub mod args;

use std::sync::Arc;

use rmcp::model::JsonObject;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{
    render::TaskResult,
    schema,
    tasks::{CallOutcome, NextStep, Progress, TaskError, TaskRunner},
    workspace::Workspace,
};
pub use args::{CreateTaskArgs, FollowUpTaskArgs, GetTaskArgs};

/// Which tool an entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolId {
    CreateTask,
    FollowUpTask,
    GetTask,
}

/// Hints for clients about what a tool does (MCP's tool annotations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// One tool, as every front-end names and describes it.
#[derive(Debug, Clone, Copy)]
pub struct ToolSpec {
    pub id: ToolId,
    /// The MCP tool name.
    pub name: &'static str,
    pub title: &'static str,
    /// What a model reads to decide when to call it.
    pub description: &'static str,
    /// The LSP `workspace/executeCommand` command.
    pub lsp_command: &'static str,
    /// The command line's verb.
    pub cli_verb: &'static str,
    pub input_schema: fn() -> Arc<JsonObject>,
    pub output_schema: fn() -> Arc<JsonObject>,
    pub hints: Hints,
}

/// The tools, in the order they are listed.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        id: ToolId::CreateTask,
        name: "create_task",
        title: "Create a Handinger task",
        description: "Hand a subtask to a Handinger worker and wait for its answer. Use it for \
            self-contained work another agent can do alone (web research, analysis, drafting, \
            producing files); write `input` as a complete brief, since the worker sees nothing \
            else. Returns the worker's answer, the sources it cited and the files it produced, \
            plus a taskId. To ask a follow-up in the same task, call follow_up_task with that \
            taskId. Tasks can take minutes: if the answer is not ready within the wait, the \
            result has status \"running\" and the work goes on; call get_task with the taskId to \
            get it. Every call starts new (billed) work.",
        lsp_command: "handinger.createTask",
        cli_verb: "task",
        input_schema: schema::input_schema::<CreateTaskArgs>,
        output_schema: schema::output_schema::<TaskResult>,
        hints: Hints {
            read_only: false,
            destructive: false,
            idempotent: false,
            open_world: true,
        },
    },
    ToolSpec {
        id: ToolId::FollowUpTask,
        name: "follow_up_task",
        title: "Follow up on a Handinger task",
        description: "Continue an earlier task with a new message: a follow-up question, a \
            correction or the next step. The worker keeps the task's earlier context. Pass the \
            taskId from a create_task (or earlier follow_up_task) result. Returns the new \
            answer, its sources and files, in the same form as create_task. If the task's \
            previous turn is still running, this waits for it first (a task never runs two \
            turns at once).",
        lsp_command: "handinger.followUpTask",
        cli_verb: "follow-up",
        input_schema: schema::input_schema::<FollowUpTaskArgs>,
        output_schema: schema::output_schema::<TaskResult>,
        hints: Hints {
            read_only: false,
            destructive: false,
            idempotent: false,
            open_world: true,
        },
    },
    ToolSpec {
        id: ToolId::GetTask,
        name: "get_task",
        title: "Get a Handinger task's answer",
        description: "Get the answer of a task started earlier, by its taskId: use it when \
            create_task or follow_up_task returned status \"running\". Waits up to waitSeconds \
            while the task still runs, then returns the answer in the same form as \
            create_task, or status \"running\" again. Also works for tasks started before the \
            server restarted. Starts no work.",
        lsp_command: "handinger.getTask",
        cli_verb: "get",
        input_schema: schema::input_schema::<GetTaskArgs>,
        output_schema: schema::output_schema::<TaskResult>,
        hints: Hints {
            read_only: true,
            destructive: false,
            idempotent: true,
            open_world: true,
        },
    },
];

/// The entry of a tool.
pub fn spec(id: ToolId) -> &'static ToolSpec {
    TOOLS
        .iter()
        .find(|tool| tool.id == id)
        .expect("every ToolId has an entry")
}

/// The entry whose MCP name is `name`.
pub fn by_name(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|tool| tool.name == name)
}

/// The entry whose LSP command is `command`.
pub fn by_lsp_command(command: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|tool| tool.lsp_command == command)
}

/// A call of one tool with its parsed arguments: the handlers.
#[derive(Debug, Clone)]
pub enum ToolCall {
    CreateTask(CreateTaskArgs),
    FollowUpTask(FollowUpTaskArgs),
    GetTask(GetTaskArgs),
}

impl ToolCall {
    /// Parse a tool's argument object; the error names what is wrong.
    pub fn parse(id: ToolId, arguments: Value) -> Result<Self, serde_json::Error> {
        Ok(match id {
            ToolId::CreateTask => ToolCall::CreateTask(serde_json::from_value(arguments)?),
            ToolId::FollowUpTask => ToolCall::FollowUpTask(serde_json::from_value(arguments)?),
            ToolId::GetTask => ToolCall::GetTask(serde_json::from_value(arguments)?),
        })
    }

    /// Whether the call attaches files (and so needs the client's workspace).
    pub fn files(&self) -> &[String] {
        match self {
            ToolCall::CreateTask(args) => &args.files,
            ToolCall::FollowUpTask(args) => &args.files,
            ToolCall::GetTask(_) => &[],
        }
    }

    /// Whether the call starts work (and may run as an MCP task).
    pub fn starts_work(&self) -> bool {
        !matches!(self, ToolCall::GetTask(_))
    }

    /// Run the call on the core. `workspace` is the front-end's (MCP roots, an
    /// editor's folders), or `None` for the configured one.
    pub async fn run(
        self,
        runner: &TaskRunner,
        workspace: Option<Workspace>,
        wait: Option<std::time::Duration>,
        cancel: &CancellationToken,
        progress: &mut impl Progress,
    ) -> Result<CallOutcome, TaskError> {
        let (request, wait_seconds) = match self {
            ToolCall::CreateTask(args) => args.into_request(),
            ToolCall::FollowUpTask(args) => args.into_request(),
            ToolCall::GetTask(args) => {
                let wait = wait.unwrap_or_else(|| runner.wait.wait_for(args.wait_seconds));
                return runner.get(&args.task_id, wait, cancel, progress).await;
            }
        };
        let wait = wait.unwrap_or_else(|| runner.wait.wait_for(wait_seconds));
        let request = crate::tasks::TaskRequest {
            workspace,
            ..request
        };
        runner.run(request, wait, cancel, progress).await
    }
}

/// How a front-end words a next step: each front-end implements it, naming its
/// own tools (MCP tool names, LSP commands, shell lines) and where its key is
/// set; the sentences around them are shared. The tools layer names no
/// front-end.
pub trait Wording {
    /// How to invoke `tool` with `task_id` here.
    fn invoke(&self, tool: &ToolSpec, task_id: &str) -> String;

    /// How to start a new task here.
    fn start_new(&self, tool: &ToolSpec) -> String;

    /// Where the key is set for this front-end.
    fn key_place(&self) -> &'static str;

    /// The sentence for a next step (empty for none).
    fn word(&self, step: &NextStep) -> String {
        let invoke = |id, task_id: &str| self.invoke(spec(id), task_id);
        let start_new = || self.start_new(spec(ToolId::CreateTask));
        match step {
            NextStep::None => String::new(),
            NextStep::FollowUp { task_id } => format!(
                "To continue this task, {}.",
                invoke(ToolId::FollowUpTask, task_id)
            ),
            NextStep::Fetch { task_id } => format!(
                "To get the answer, {} (it waits while the task runs).",
                invoke(ToolId::GetTask, task_id)
            ),
            NextStep::FetchThenFollowUp { task_id } => format!(
                "Wait for the running turn ({}), then send the follow-up again.",
                invoke(ToolId::GetTask, task_id)
            ),
            NextStep::StartNew => format!("To start a new task, {}.", start_new()),
            NextStep::StartNewOrFollowUp { task_id } => format!(
                "Start a new task ({}), or ask a follow-up ({}).",
                start_new(),
                invoke(ToolId::FollowUpTask, task_id)
            ),
            NextStep::FixKey => self.key_place().to_owned(),
        }
    }

    /// An error's message with its next step in this front-end's terms.
    fn describe(&self, error: &TaskError) -> String {
        let step = self.word(&error.next_step());
        if step.is_empty() {
            error.to_string()
        } else {
            format!("{error} {step}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_in_every_front_end() {
        for (i, a) in TOOLS.iter().enumerate() {
            for b in &TOOLS[i + 1..] {
                assert!(
                    a.name != b.name && a.lsp_command != b.lsp_command && a.cli_verb != b.cli_verb
                );
            }
        }
        for tool in TOOLS {
            assert_eq!(spec(tool.id).name, tool.name);
            assert!(by_name(tool.name).is_some() && by_lsp_command(tool.lsp_command).is_some());
        }
    }
}
