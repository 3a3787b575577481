//! Typed results: a new task with an output schema runs on a worker template
//! made for that schema (`POST /api/workers`), found again by the schema's hash
//! in the key's history, so one schema makes one template per key. Every answer
//! of such a task is checked against the schema, also after a restart or in
//! another process (the history keeps the schema beside the template).

use serde_json::{Map, Value};

use super::{TaskFailure, TaskRunner};
use crate::{
    handinger::{ApiError, CreateWorkerBody},
    journal::{Journal, Template},
    key::ApiKey,
    output_schema::{OutputSchema, ShapeCheck},
};

/// What a template made here says of itself (the API caps a summary at 80).
const TEMPLATE_SUMMARY: &str = "Answers with structured output that follows a JSON Schema";

/// The instructions every template made here carries: the task's input says
/// what to do; the schema says the form of the structured answer.
const TEMPLATE_INSTRUCTIONS: &str = "Do the task each message describes. Besides the written \
    answer, return structured output that follows this worker's output schema exactly.";

/// Longest template title the API takes.
const MAX_TITLE_CHARS: usize = 200;

impl TaskRunner {
    /// The worker for a new typed task: the template remembered for this schema
    /// and key, else a new one (remembered for next time). Nothing else is sent.
    pub(super) async fn template_for(
        &self,
        key: &ApiKey,
        schema: &OutputSchema,
    ) -> Result<String, TaskFailure> {
        let journal = self.journal.journal_for(key);
        if let Some(journal) = journal.clone() {
            let hash = schema.hash().to_owned();
            match blocking(move || journal.template(&hash)).await {
                Ok(Some(template)) => {
                    tracing::debug!(
                        worker_id = template.worker_id,
                        "reusing the worker template for this output schema"
                    );
                    return Ok(template.worker_id);
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "the template cache could not be read"),
            }
        }
        let body = CreateWorkerBody {
            title: template_title(schema),
            summary: TEMPLATE_SUMMARY.to_owned(),
            instructions: TEMPLATE_INSTRUCTIONS.to_owned(),
            output_schema: schema.schema().clone(),
        };
        tracing::info!("sending POST /api/workers for a new output schema");
        let made =
            self.client.create_worker(key, &body).await.map_err(
                |error| match TaskFailure::from_api(error, self.key.origin()) {
                    TaskFailure::Api(error) => TaskFailure::Template(error),
                    refused => refused,
                },
            )?;
        if made.id.trim().is_empty() {
            return Err(TaskFailure::Template(ApiError::BadBody {
                status: 200,
                reason: "the new worker template has no id".to_owned(),
                snippet: String::new(),
            }));
        }
        if let Some(journal) = journal {
            let template = Template {
                schema_hash: schema.hash().to_owned(),
                worker_id: made.id.clone(),
                schema: schema.schema().clone(),
                created_at: 0,
            };
            if let Err(error) = blocking(move || journal.remember_template(template)).await {
                tracing::warn!(%error, "the worker template could not be remembered");
            }
        }
        Ok(made.id)
    }

    /// The output schema a task's answers follow, when the history says it is a
    /// typed task.
    pub(super) async fn schema_of_task(&self, key: &ApiKey, task_id: &str) -> Option<OutputSchema> {
        // No template for this key: no typed task, and nothing to read.
        let journal = self
            .journal
            .journal_for(key)
            .filter(Journal::has_templates)?;
        let task_id = task_id.to_owned();
        let template = blocking(move || {
            let read = journal.read()?;
            let entry = read.entries.into_iter().find(|e| e.task_id == task_id);
            match entry.and_then(|e| e.output_schema) {
                Some(hash) => journal.template(&hash),
                None => Ok(None),
            }
        })
        .await
        .inspect_err(|error| tracing::warn!(%error, "the task's output schema could not be read"))
        .ok()??;
        let Value::Object(schema) = template.schema else {
            return None;
        };
        OutputSchema::parse(schema).ok()
    }
}

/// Forget the template for `schema` (its worker is gone from the API), so the
/// next typed task makes a new one.
pub(super) async fn forget_template(journal: Journal, schema: &OutputSchema) {
    let hash = schema.hash().to_owned();
    match blocking(move || journal.forget_template(&hash)).await {
        Ok(()) => tracing::info!("the API did not know this schema's worker template; forgotten"),
        Err(error) => tracing::warn!(%error, "a stale worker template could not be forgotten"),
    }
}

/// Check an output schema given with a call; the failure says what is wrong.
pub(super) fn checked_schema(schema: Map<String, Value>) -> Result<OutputSchema, TaskFailure> {
    OutputSchema::parse(schema).map_err(|problem| TaskFailure::InvalidArgument {
        argument: "outputSchema",
        problem: problem.to_string(),
    })
}

/// The check of a structured output, when the task is typed.
pub(super) fn shape_of(
    schema: Option<&OutputSchema>,
    output: Option<&Value>,
) -> Option<ShapeCheck> {
    schema.map(|schema| schema.check(output))
}

/// A template's title: the schema's own title when it has one, and the start of
/// its hash, so templates made here are told apart in the dashboard.
fn template_title(schema: &OutputSchema) -> String {
    let short_hash = &schema.hash()[..12];
    let named = schema
        .schema()
        .get("title")
        .and_then(Value::as_str)
        .map(|t| t.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|t| !t.trim().is_empty());
    let title = match named {
        Some(name) => format!("{} (typed results {short_hash})", name.trim()),
        None => format!("Typed results {short_hash}"),
    };
    if title.chars().count() <= MAX_TITLE_CHARS {
        return title;
    }
    let keep = MAX_TITLE_CHARS - short_hash.len() - 2;
    let cut: String = title.chars().take(keep).collect();
    format!("{cut}… {short_hash}")
}

/// Run journal work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::journal::JournalError> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}
