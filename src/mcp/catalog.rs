//! What MCP offers besides tools: the tasks in the journal as resources
//! (`handinger://tasks/{taskId}`, rendered from the API as Markdown), a template
//! for any taskId, and the prompt table as prompts.

use std::collections::HashMap;

use rmcp::model::{
    ErrorData, Prompt, PromptArgument, PromptMessage, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, Role,
};
use tokio_util::sync::CancellationToken;

use crate::{
    delegation::{CallOutcome, ListFilter, Silent, TaskRunner, is_task_id},
    render::render_call,
    tools::{
        Wording,
        prompts::{self, PROMPTS, PromptSpec},
    },
};

/// Where task resources live.
pub const TASK_URI_PREFIX: &str = "handinger://tasks/";

/// The template covering any task.
pub const TASK_URI_TEMPLATE: &str = "handinger://tasks/{taskId}";

/// How many remembered tasks `resources/list` shows.
const LISTED_RESOURCES: usize = 100;

const MARKDOWN: &str = "text/markdown";

/// The task resource URI of `task_id`.
pub fn task_uri(task_id: &str) -> String {
    format!("{TASK_URI_PREFIX}{task_id}")
}

/// The remembered tasks as resources, newest first (no API request).
pub async fn resources(runner: &TaskRunner) -> Result<Vec<Resource>, ErrorData> {
    let filter = ListFilter {
        limit: LISTED_RESOURCES,
        ..ListFilter::default()
    };
    let outcome = runner
        .list(filter)
        .await
        .map_err(|e| ErrorData::internal_error(super::McpWording.describe(&e), None))?;
    let CallOutcome::Listed(list) = outcome else {
        return Ok(Vec::new());
    };
    Ok(list
        .tasks
        .into_iter()
        .map(|task| {
            let title = if task.input.is_empty() {
                format!("Handinger task {}", task.task_id)
            } else {
                task.input.clone()
            };
            Resource::new(task_uri(&task.task_id), task.task_id.clone())
                .with_title(title)
                .with_description(format!("Handinger task {} ({})", task.task_id, task.status))
                .with_mime_type(MARKDOWN)
        })
        .collect())
}

/// The template for any taskId.
pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(TASK_URI_TEMPLATE, "handinger-task")
            .with_title("A Handinger task")
            .with_description(
                "The latest answer of a Handinger task, with its sources and files, by taskId.",
            )
            .with_mime_type(MARKDOWN),
    ]
}

/// Read a task resource: the task's latest answer, sources and files, as the
/// API has them now (no waiting).
pub async fn read(
    runner: &TaskRunner,
    uri: &str,
    max_output_chars: usize,
    cancel: &CancellationToken,
) -> Result<ReadResourceResult, ErrorData> {
    let task_id = uri
        .strip_prefix(TASK_URI_PREFIX)
        .filter(|id| is_task_id(id))
        .ok_or_else(|| {
            ErrorData::resource_not_found(
                format!("no resource {uri:?}: task resources are {TASK_URI_TEMPLATE}"),
                None,
            )
        })?;
    let text = answer_text(runner, task_id, max_output_chars, cancel).await?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type(MARKDOWN),
    ]))
}

/// A task's answer as the MCP front-end words it.
async fn answer_text(
    runner: &TaskRunner,
    task_id: &str,
    max_output_chars: usize,
    cancel: &CancellationToken,
) -> Result<String, ErrorData> {
    let outcome = runner
        .get(task_id, std::time::Duration::ZERO, cancel, &mut Silent)
        .await
        .map_err(|e| ErrorData::resource_not_found(super::McpWording.describe(&e), None))?;
    Ok(render_call(&outcome, max_output_chars, &super::mcp_wording).text)
}

/// The prompt table as MCP prompts.
pub fn prompts() -> Vec<Prompt> {
    PROMPTS
        .iter()
        .map(|spec| {
            let arguments = spec
                .arguments
                .iter()
                .map(|a| {
                    PromptArgument::new(a.name)
                        .with_description(a.description)
                        .with_required(a.required)
                })
                .collect();
            let mut prompt = Prompt::new(spec.name, Some(spec.description), Some(arguments));
            prompt.title = Some(spec.title.to_owned());
            prompt
        })
        .collect()
}

/// Render prompt `name` with `arguments`: an embedded task answer first when
/// the prompt has one, then the user message.
pub async fn prompt_messages(
    runner: &TaskRunner,
    name: &str,
    arguments: HashMap<String, String>,
    max_output_chars: usize,
    cancel: &CancellationToken,
) -> Result<(&'static PromptSpec, Vec<PromptMessage>), ErrorData> {
    let spec = prompts::prompt(name).ok_or_else(|| {
        let names: Vec<&str> = PROMPTS.iter().map(|p| p.name).collect();
        ErrorData::invalid_params(
            format!(
                "unknown prompt {name:?}; the prompts are {}",
                names.join(", ")
            ),
            None,
        )
    })?;
    let missing = prompts::missing(spec, &arguments);
    if !missing.is_empty() {
        return Err(ErrorData::invalid_params(
            format!("prompt {name} needs {}", missing.join(", ")),
            None,
        ));
    }
    let mut messages = Vec::new();
    if let Some(argument) = spec.embeds_task {
        let task_id = arguments[argument].trim();
        if !is_task_id(task_id) {
            return Err(ErrorData::invalid_params(
                format!("{argument} {task_id:?} is not a taskId (like tsk_...)"),
                None,
            ));
        }
        let text = answer_text(runner, task_id, max_output_chars, cancel).await?;
        messages.push(PromptMessage::new_resource(
            Role::User,
            task_uri(task_id),
            Some(MARKDOWN.to_owned()),
            Some(text),
            None,
            None,
            None,
        ));
    }
    messages.push(PromptMessage::new_text(
        Role::User,
        (spec.render)(&arguments),
    ));
    Ok((spec, messages))
}
