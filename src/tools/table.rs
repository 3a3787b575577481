//! The tools: each one's entry, argument type and handler. Everything a front-end
//! shows of a tool comes from here: MCP's tool list and schemas, the LSP
//! commands, the command line's verbs and their arguments (the argument types are
//! also clap groups; fields a verb takes from the settings are skipped there).
//! Doc comments on the arguments are the descriptions models read.

use std::io::Read;

use clap::{FromArgMatches, builder::NonEmptyStringValueParser};
use schemars::JsonSchema;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{Hints, ToolSpec};
use crate::{
    budget::Budget,
    delegation::{
        CallOutcome, ListFilter, Progress, Started, TaskError, TaskKind, TaskRequest, TaskRunner,
    },
    render::{ArchiveResult, TaskListResult, TaskResult},
    schema,
    workspace::Workspace,
};

/// Which tool an entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolId {
    CreateTask,
    FollowUpTask,
    GetTask,
    ListTasks,
    ArchiveTask,
}

/// Hints of a tool that starts (billed) work.
const STARTS_WORK: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: false,
    open_world: true,
};

/// Hints of a tool that only reads.
const READS_ONLY: Hints = Hints {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: true,
};

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
            get it. For an answer a program can parse, give outputSchema (a JSON Schema): the \
            result's structuredOutput follows it, checked. Every call starts new (billed) work.",
        lsp_command: "handinger.createTask",
        cli_verb: "create",
        input_schema: schema::input_schema::<CreateTaskArgs>,
        output_schema: schema::output_schema::<TaskResult>,
        cli_args: <CreateTaskArgs as clap::Args>::augment_args,
        hints: STARTS_WORK,
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
        cli_args: <FollowUpTaskArgs as clap::Args>::augment_args,
        hints: STARTS_WORK,
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
        cli_args: <GetTaskArgs as clap::Args>::augment_args,
        hints: READS_ONLY,
    },
    ToolSpec {
        id: ToolId::ListTasks,
        name: "list_tasks",
        title: "List Handinger tasks started here",
        description: "List the tasks this bridge started or looked up with this API key, newest \
            first: taskId, the first line of the input, worker, when started, status (refreshed \
            from the API for tasks still running) and credits. Use it to find a task again \
            after its call returned, then get_task or follow_up_task with its taskId. Filters: \
            status, text (in the input or taskId); limit (default 20, at most 100). Starts no \
            work.",
        lsp_command: "handinger.listTasks",
        cli_verb: "list",
        input_schema: schema::input_schema::<ListTasksArgs>,
        output_schema: schema::output_schema::<TaskListResult>,
        cli_args: <ListTasksArgs as clap::Args>::augment_args,
        hints: READS_ONLY,
    },
    ToolSpec {
        id: ToolId::ArchiveTask,
        name: "archive_task",
        title: "Archive a Handinger task",
        description: "Archive a task by its taskId: it stops appearing in Handinger's task lists \
            (its turns and files are kept). It does not stop a running task. Only the task's \
            creator may archive it; the API's refusal is shown as it is.",
        lsp_command: "handinger.archiveTask",
        cli_verb: "archive",
        input_schema: schema::input_schema::<ArchiveTaskArgs>,
        output_schema: schema::output_schema::<ArchiveResult>,
        cli_args: <ArchiveTaskArgs as clap::Args>::augment_args,
        hints: Hints {
            read_only: false,
            destructive: true,
            idempotent: true,
            open_world: true,
        },
    },
];

/// The most tasks `list_tasks` returns.
const MAX_LIST_LIMIT: u32 = 100;

/// A call of one tool with its parsed arguments: the handlers.
#[derive(Debug, Clone)]
// Each variant is named after its tool (create_task, ...).
#[allow(clippy::enum_variant_names)]
pub enum ToolCall {
    CreateTask(CreateTaskArgs),
    FollowUpTask(FollowUpTaskArgs),
    GetTask(GetTaskArgs),
    ListTasks(ListTasksArgs),
    ArchiveTask(ArchiveTaskArgs),
}

impl ToolCall {
    /// Parse a tool's argument object; the error names what is wrong.
    pub fn parse(id: ToolId, arguments: Value) -> Result<Self, serde_json::Error> {
        fn args<A: DeserializeOwned>(arguments: Value) -> Result<A, serde_json::Error> {
            serde_json::from_value(arguments)
        }
        Ok(match id {
            ToolId::CreateTask => ToolCall::CreateTask(args(arguments)?),
            ToolId::FollowUpTask => ToolCall::FollowUpTask(args(arguments)?),
            ToolId::GetTask => ToolCall::GetTask(args(arguments)?),
            ToolId::ListTasks => ToolCall::ListTasks(args(arguments)?),
            ToolId::ArchiveTask => ToolCall::ArchiveTask(args(arguments)?),
        })
    }

    /// Read a verb's arguments as clap parsed them (see [`ToolSpec::cli_command`]).
    pub fn from_cli(id: ToolId, matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(match id {
            ToolId::CreateTask => ToolCall::CreateTask(FromArgMatches::from_arg_matches(matches)?),
            ToolId::FollowUpTask => {
                ToolCall::FollowUpTask(FromArgMatches::from_arg_matches(matches)?)
            }
            ToolId::GetTask => ToolCall::GetTask(FromArgMatches::from_arg_matches(matches)?),
            ToolId::ListTasks => ToolCall::ListTasks(FromArgMatches::from_arg_matches(matches)?),
            ToolId::ArchiveTask => {
                ToolCall::ArchiveTask(FromArgMatches::from_arg_matches(matches)?)
            }
        })
    }

    /// The files the call attaches (a call with files needs the client's workspace).
    pub fn files(&self) -> &[String] {
        match self {
            ToolCall::CreateTask(args) => &args.files,
            ToolCall::FollowUpTask(args) => &args.files,
            ToolCall::GetTask(_) | ToolCall::ListTasks(_) | ToolCall::ArchiveTask(_) => &[],
        }
    }

    /// The budget the call asks for, when it starts work and names one.
    pub fn budget(&self) -> Option<Budget> {
        match self {
            ToolCall::CreateTask(args) => args.budget,
            ToolCall::FollowUpTask(args) => args.budget,
            _ => None,
        }
    }

    /// A person confirmed the call's budget above the ceiling.
    pub fn confirm_budget(&mut self) {
        match self {
            ToolCall::CreateTask(args) => args.budget_confirmed = true,
            ToolCall::FollowUpTask(args) => args.budget_confirmed = true,
            _ => {}
        }
    }

    /// Whether the call changes the task history (all but listing it).
    pub fn touches_history(&self) -> bool {
        !matches!(self, ToolCall::ListTasks(_))
    }

    /// Whether the call starts work (and may run under an MCP task handle).
    pub fn starts_work(&self) -> bool {
        matches!(self, ToolCall::CreateTask(_) | ToolCall::FollowUpTask(_))
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
                return Box::pin(runner.get(&args.task_id, wait, cancel, progress)).await;
            }
            ToolCall::ListTasks(args) => {
                let filter = ListFilter {
                    status: args.status,
                    text: args.text,
                    limit: args.limit.unwrap_or(20).clamp(1, MAX_LIST_LIMIT) as usize,
                    refresh: true,
                };
                return Box::pin(runner.list(filter)).await;
            }
            ToolCall::ArchiveTask(args) => return Box::pin(runner.archive(&args.task_id)).await,
        };
        let wait = wait.unwrap_or_else(|| runner.wait.wait_for(wait_seconds));
        let request = TaskRequest {
            workspace,
            ..request
        };
        runner.run(request, wait, cancel, progress).await
    }
}

impl ToolCall {
    /// Send a call that starts work and return once it is on its way (task
    /// handles any replica can answer); `None` for a call that starts none.
    pub async fn start(
        self,
        runner: &TaskRunner,
        workspace: Option<Workspace>,
    ) -> Option<Result<Started, TaskError>> {
        let (request, _) = match self {
            ToolCall::CreateTask(args) => args.into_request(),
            ToolCall::FollowUpTask(args) => args.into_request(),
            _ => return None,
        };
        let request = TaskRequest {
            workspace,
            ..request
        };
        Some(runner.start(request).await)
    }
}

/// A brief typed on the command line: `-` reads it from stdin; empty or blank is
/// refused.
fn brief(raw: &str) -> Result<String, String> {
    let text = if raw == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the input from stdin: {e}"))?;
        if text.trim().is_empty() {
            return Err("`-` read nothing from stdin; give the brief there".to_owned());
        }
        text
    } else {
        raw.to_owned()
    };
    if text.trim().is_empty() {
        return Err("it is empty; give the brief (or - to read it from stdin)".to_owned());
    }
    Ok(text)
}

/// Arguments of `create_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema, clap::Args)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTaskArgs {
    /// The task for the worker, as a complete brief: goal, context, constraints and the
    /// form of the answer. The worker sees nothing but this text.
    #[schemars(length(min = 1))]
    #[arg(value_name = "INPUT", value_parser = brief,
          help = "The task as a complete brief; `-` reads it from stdin")]
    pub input: String,
    /// Compute budget the worker may spend: low, standard (the API default), high or
    /// unlimited.
    #[arg(skip)]
    pub budget: Option<Budget>,
    /// Run the task on an existing worker (an id like wrk_...). Omit it to have a new
    /// worker created from the input.
    #[schemars(length(min = 1))]
    #[arg(skip)]
    pub worker_id: Option<String>,
    /// Files to attach, as paths in the workspace (relative to its first root, or
    /// absolute inside it). They are copied into the worker's workspace before the
    /// task starts.
    #[serde(default)]
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        help = "A file to attach (repeatable), relative to the workspace"
    )]
    pub files: Vec<String>,
    /// Longest time in seconds this call waits for the answer (default and maximum
    /// are server settings). When it passes, the result says the task is still running
    /// and names the taskId to pass to get_task; the work goes on.
    #[schemars(range(min = 0))]
    #[arg(skip)]
    pub wait_seconds: Option<f64>,
    /// A JSON Schema (draft-07) object for a typed answer: the task runs on a worker
    /// made for this schema (the same schema reuses it), and the result's
    /// structuredOutput is checked against it (see outputSchemaCheck). At most 64 KiB
    /// and 32 levels deep; not with workerId.
    #[arg(long = "output-schema", value_name = "FILE", value_parser = schema_file,
          help = "A JSON Schema (draft-07) file the answer's structured output must follow")]
    pub output_schema: Option<serde_json::Map<String, Value>>,
    /// Set by a front-end once a person confirmed a budget above the ceiling.
    #[serde(skip)]
    #[schemars(skip)]
    #[arg(skip)]
    pub budget_confirmed: bool,
}

/// Largest schema file the command line reads (the schema itself is checked
/// against the smaller limit once parsed, as compact JSON).
const MAX_SCHEMA_FILE_BYTES: u64 = 1024 * 1024;

/// A schema file named on the command line: read, and parsed as a JSON object.
fn schema_file(path: &str) -> Result<serde_json::Map<String, Value>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
    let mut text = Vec::new();
    file.take(MAX_SCHEMA_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if text.len() as u64 > MAX_SCHEMA_FILE_BYTES {
        return Err(format!(
            "{path} is larger than 1 MiB; a schema may have 64 KiB"
        ));
    }
    match serde_json::from_slice(&text) {
        Ok(Value::Object(schema)) => Ok(schema),
        Ok(_) => Err(format!(
            "{path} holds JSON, but not an object: a schema is an object"
        )),
        Err(e) => Err(format!("{path} is not JSON: {e}")),
    }
}

/// Arguments of `follow_up_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema, clap::Args)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FollowUpTaskArgs {
    /// The taskId returned by create_task (like tsk_...).
    #[schemars(length(min = 1))]
    #[arg(value_name = "TASK_ID", value_parser = NonEmptyStringValueParser::new(),
          help = "The taskId of an earlier result")]
    pub task_id: String,
    /// The follow-up message: a question about the answer, a correction or the next step.
    #[schemars(length(min = 1))]
    #[arg(value_name = "INPUT", value_parser = brief,
          help = "The follow-up message; `-` reads it from stdin")]
    pub input: String,
    /// Compute budget for this turn: low, standard, high or unlimited.
    #[arg(skip)]
    pub budget: Option<Budget>,
    /// The worker of the task, when known (the workerId of the earlier result).
    #[schemars(length(min = 1))]
    #[arg(skip)]
    pub worker_id: Option<String>,
    /// Files to attach, as paths in the workspace (relative to its first root, or
    /// absolute inside it). They are copied into the worker's workspace before the
    /// turn starts.
    #[serde(default)]
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        help = "A file to attach (repeatable), relative to the workspace"
    )]
    pub files: Vec<String>,
    /// Longest time in seconds this call waits for the answer (see create_task).
    #[schemars(range(min = 0))]
    #[arg(skip)]
    pub wait_seconds: Option<f64>,
    /// Set by a front-end once a person confirmed a budget above the ceiling.
    #[serde(skip)]
    #[schemars(skip)]
    #[arg(skip)]
    pub budget_confirmed: bool,
}

/// Arguments of `get_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema, clap::Args)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetTaskArgs {
    /// The taskId of a task started with create_task or follow_up_task.
    #[schemars(length(min = 1))]
    #[arg(value_name = "TASK_ID", value_parser = NonEmptyStringValueParser::new(),
          help = "The taskId of an earlier result")]
    pub task_id: String,
    /// Longest time in seconds to wait if the task is still running (default and
    /// maximum are server settings; 0 answers at once).
    #[schemars(range(min = 0))]
    #[arg(skip)]
    pub wait_seconds: Option<f64>,
}

impl CreateTaskArgs {
    fn into_request(self) -> (TaskRequest, Option<f64>) {
        let request = TaskRequest {
            kind: TaskKind::New,
            task_id: None,
            input: self.input,
            budget: self.budget,
            budget_confirmed: self.budget_confirmed,
            worker_id: self.worker_id,
            files: self.files,
            uploads: Vec::new(),
            workspace: None,
            output_schema: self.output_schema,
        };
        (request, self.wait_seconds)
    }
}

impl FollowUpTaskArgs {
    fn into_request(self) -> (TaskRequest, Option<f64>) {
        let request = TaskRequest {
            kind: TaskKind::FollowUp,
            task_id: Some(self.task_id),
            input: self.input,
            budget: self.budget,
            budget_confirmed: self.budget_confirmed,
            worker_id: self.worker_id,
            files: self.files,
            uploads: Vec::new(),
            workspace: None,
            output_schema: None,
        };
        (request, self.wait_seconds)
    }
}

/// Arguments of `list_tasks`.
#[derive(Debug, Clone, Deserialize, JsonSchema, clap::Args)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListTasksArgs {
    /// Only tasks with this status: pending, running, completed, error, aborted or
    /// archived.
    #[schemars(length(min = 1))]
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only tasks whose input or taskId contains this text (any case).
    #[schemars(length(min = 1))]
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// How many tasks to return, newest first (default 20, at most 100).
    #[schemars(range(min = 1, max = 100))]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

/// Arguments of `archive_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema, clap::Args)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchiveTaskArgs {
    /// The taskId of the task to archive.
    #[schemars(length(min = 1))]
    #[arg(value_name = "TASK_ID", value_parser = NonEmptyStringValueParser::new(),
          help = "The taskId of the task to archive")]
    pub task_id: String,
}
