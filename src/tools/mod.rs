//! The one table of tools. Every front-end reads it: MCP lists and dispatches
//! from it, the LSP-style mode announces and runs its commands, the command line
//! builds its verbs from it, and `schemas/tools.json` is generated from it. Adding
//! a tool is one file's change: its entry, argument type and handler in
//! [`table`](self::table).
//!
//! It also holds the sentences that word the core's [`NextStep`]s ([`Wording`]);
//! each front-end implements the trait with its own names for the tools.

pub mod prompts;
mod table;

use std::sync::Arc;

use rmcp::model::JsonObject;

use crate::delegation::{NextStep, Setting, TaskError};
pub use table::{TOOLS, ToolCall, ToolId};

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
    /// Adds the verb's arguments to a clap command (from the same argument type).
    pub cli_args: fn(clap::Command) -> clap::Command,
    pub hints: Hints,
}

impl ToolSpec {
    /// The verb as a clap command: its arguments, and the title as its help.
    pub fn cli_command(&self) -> clap::Command {
        (self.cli_args)(clap::Command::new(self.cli_verb).about(self.title))
    }

    /// The verb's positional arguments' names (TASK_ID, INPUT...), in order.
    pub fn cli_positionals(&self) -> Vec<String> {
        let command = self.cli_command();
        command
            .get_positionals()
            .map(|arg| {
                arg.get_value_names()
                    .and_then(|names| names.first())
                    .map_or_else(|| arg.get_id().to_string(), ToString::to_string)
            })
            .collect()
    }
}

/// Every tool as MCP's `tools/list` shows it (name, title, description, both
/// schemas, annotations): what `handinger-mcp schema` prints and
/// `schemas/tools.json` holds, so one generated file pins every tool's interface.
pub fn listing() -> serde_json::Value {
    let tools: Vec<serde_json::Value> = TOOLS
        .iter()
        .map(|tool| {
            let hints = tool.hints;
            serde_json::json!({
                "name": tool.name,
                "title": tool.title,
                "description": tool.description,
                "inputSchema": *(tool.input_schema)(),
                "outputSchema": *(tool.output_schema)(),
                "annotations": {
                    "title": tool.title,
                    "readOnlyHint": hints.read_only,
                    "destructiveHint": hints.destructive,
                    "idempotentHint": hints.idempotent,
                    "openWorldHint": hints.open_world,
                },
            })
        })
        .collect();
    serde_json::json!({ "tools": tools })
}

/// A setting's flag and environment variable, for the front-ends' wording.
pub fn setting_names(setting: Setting) -> (&'static str, &'static str) {
    match setting {
        Setting::MaxInFlight => ("--max-in-flight", "HANDINGER_MAX_IN_FLIGHT"),
        Setting::BaseUrl => ("--base-url", "HANDINGER_BASE_URL"),
        Setting::MaxBudget => ("--max-budget", "HANDINGER_MAX_BUDGET"),
        Setting::MaxCredits => ("--max-credits", "HANDINGER_MAX_CREDITS"),
    }
}

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

/// The entry whose command-line verb is `verb`.
pub fn by_cli_verb(verb: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|tool| tool.cli_verb == verb)
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

    /// How a setting is named and where it is set for this front-end.
    fn setting(&self, setting: Setting) -> String;

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
        let mut text = error.to_string();
        if let Some(setting) = error.setting() {
            text = format!("{text} {}", self.setting(setting));
        }
        let step = self.word(&error.next_step());
        if !step.is_empty() {
            text = format!("{text} {step}");
        }
        text
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
