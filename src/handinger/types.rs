//! The wire types of the Handinger API, as far as the bridge reads or writes them.
//!
//! Responses are read leniently (missing or `null` fields become defaults) because
//! the documented shape and the SDKs disagree in places and the service evolves.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use crate::budget::Budget;

/// The body of `POST /api/tasks`. Only fields the caller set are serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTaskBody {
    pub input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
}

/// The body of `POST /api/workers`, for a template whose every task's
/// structured output follows `output_schema`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkerBody {
    pub title: String,
    pub summary: String,
    pub instructions: String,
    pub output_schema: Value,
}

/// The WorkerTemplate `POST /api/workers` answers with; only its id is read.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkerTemplate {
    pub id: String,
}

/// The Worker object `POST /api/tasks` answers with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Worker {
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    pub status: Option<String>,
    pub running: Option<bool>,
    #[serde(deserialize_with = "null_as_default")]
    pub output_text: String,
    #[serde(deserialize_with = "null_as_default")]
    pub output: Vec<OutputMessage>,
    #[serde(deserialize_with = "null_as_default")]
    pub sources: Vec<Source>,
    #[serde(deserialize_with = "null_as_default")]
    pub files: Vec<ProducedFile>,
    pub structured_output: Option<Value>,
    pub url: Option<String>,
    pub usage: Option<Usage>,
    pub error: Option<Value>,
}

impl Worker {
    /// The answer: `output_text`, or the message texts when the server left it empty.
    pub fn answer(&self) -> String {
        if !self.output_text.is_empty() {
            return self.output_text.clone();
        }
        self.output
            .iter()
            .flat_map(|m| m.content.iter())
            .filter_map(|c| c.text.as_deref())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OutputMessage {
    #[serde(deserialize_with = "null_as_default")]
    pub content: Vec<OutputContent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OutputContent {
    pub text: Option<String>,
}

/// A web source the worker cited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Source {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub url: String,
}

/// A file the worker produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ProducedFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// What a task cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Usage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
}

/// `GET /api/tasks/{taskId}` answers `{task, turns}` (TaskWithTurns since SDK
/// 0.10; older servers sent `{task}` and kept turns at `/turns`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TaskEnvelope {
    pub task: TaskInfo,
    #[serde(default, deserialize_with = "null_as_default")]
    pub turns: Vec<Turn>,
}

/// A task as `GET /api/tasks/{taskId}` describes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskInfo {
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// pending, running, completed, error or aborted.
    #[serde(deserialize_with = "null_as_default")]
    pub status: String,
    pub worker_id: Option<String>,
    pub url: Option<String>,
}

/// `GET /api/tasks/{taskId}/turns` answers `{taskId, items}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TurnList {
    #[serde(deserialize_with = "null_as_default")]
    pub items: Vec<Turn>,
}

/// One turn of a task.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Turn {
    pub seq: Option<i64>,
    /// A string whose values are not documented: the docs' example puts the input
    /// and the answer on one turn with role "user", so it says nothing of output.
    pub role: Option<String>,
    pub status: Option<String>,
    /// What the turn was asked.
    pub input: Option<String>,
    pub output_text: Option<String>,
    pub structured_output: Option<Value>,
    pub credits: Option<f64>,
    pub duration_ms: Option<f64>,
    #[serde(deserialize_with = "null_as_default")]
    pub files: Vec<ProducedFile>,
}

impl Turn {
    /// Whether the turn holds an answer (text or a structured result).
    pub fn has_output(&self) -> bool {
        self.output_text
            .as_deref()
            .is_some_and(|t| !t.trim().is_empty())
            || self
                .structured_output
                .as_ref()
                .is_some_and(|v| !v.is_null())
    }
}

/// The API's error body: `{"error": "..."}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_parses() {
        let json = include_str!("../../tests/fixtures/worker-reference.json");
        let w: Worker = serde_json::from_str(json).unwrap();
        assert_eq!(w.answer(), "output_text");
        assert_eq!(w.sources.len(), 1);
        assert_eq!(w.files[0].size, Some(0));
        assert_eq!(w.usage.unwrap().credits, Some(0.0));
    }

    #[test]
    fn nulls_and_gaps_become_defaults() {
        let w: Worker = serde_json::from_str(
            r#"{"id":"wrk_1","sources":null,"files":null,"output_text":null,
                "output":[{"content":[{"type":"output_text","text":"from output"}]}]}"#,
        )
        .unwrap();
        assert!(w.sources.is_empty() && w.files.is_empty());
        assert_eq!(w.answer(), "from output");
    }

    #[test]
    fn body_carries_only_what_was_set() {
        let body = CreateTaskBody {
            input: "hi".into(),
            budget: None,
            task_id: "tsk_x".into(),
            worker_id: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"input":"hi","taskId":"tsk_x"})
        );
    }
}
