//! A2A 1.0's objects as JSON (ProtoJSON: camelCase fields, enums by name): what
//! a request carries in, and the tasks, messages and artifacts sent back.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::A2aError;
use crate::{
    delegation::{TaskOutcome, TurnId, unix_now},
    render::utc_timestamp,
    workspace::InlineFile,
};

/// `SendMessageRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    pub message: Option<Message>,
    #[serde(default)]
    pub configuration: Option<SendConfiguration>,
}

/// `SendMessageConfiguration`, the fields this agent reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendConfiguration {
    #[serde(default)]
    pub return_immediately: bool,
    pub history_length: Option<i64>,
}

/// `Message`, as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub message_id: Option<String>,
    pub context_id: Option<String>,
    pub task_id: Option<String>,
    pub role: Option<String>,
    pub parts: Option<Vec<Part>>,
}

/// `Part`: exactly one of text, raw (base64), url or data.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub text: Option<String>,
    pub raw: Option<String>,
    pub url: Option<String>,
    pub data: Option<Value>,
    pub filename: Option<String>,
    pub media_type: Option<String>,
}

/// What a message asks: the Handinger input and the files sent with it.
#[derive(Debug)]
pub struct Content {
    pub input: String,
    pub files: Vec<InlineFile>,
}

/// `GetTaskRequest`, `CancelTaskRequest` and `SubscribeToTaskRequest`: a task id,
/// and for GetTask how much history.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskQuery {
    pub id: Option<String>,
    pub history_length: Option<i64>,
}

impl Message {
    /// The contextId, if set (ProtoJSON writers send an unset string as "").
    pub fn context(&self) -> Option<&str> {
        self.context_id.as_deref().filter(|id| !id.is_empty())
    }

    /// The taskId, if set.
    pub fn task(&self) -> Option<&str> {
        self.task_id.as_deref().filter(|id| !id.is_empty())
    }

    /// The Handinger input (the text parts, then each data part as JSON, blank
    /// lines between) and the raw parts as files. A url part is refused: this
    /// agent fetches nothing.
    pub fn content(&self) -> Result<Content, A2aError> {
        match self.role.as_deref() {
            Some("ROLE_USER") => {}
            Some(other) => {
                return Err(A2aError::invalid_params(format!(
                    "message.role is {other}; a message to this agent comes from ROLE_USER"
                )));
            }
            None => {
                return Err(A2aError::invalid_params(
                    "message.role is missing (ROLE_USER)",
                ));
            }
        }
        let parts = self.parts.as_deref().unwrap_or_default();
        let mut pieces = Vec::new();
        let mut files = Vec::new();
        for (index, part) in parts.iter().enumerate() {
            match part {
                Part {
                    text: Some(text), ..
                } => pieces.push(text.clone()),
                Part {
                    data: Some(data), ..
                } => pieces.push(data.to_string()),
                Part { url: Some(_), .. } => {
                    return Err(A2aError::content_type(format!(
                        "message.parts[{index}] is a url part: this agent fetches nothing. Send \
                         the content as text or data."
                    )));
                }
                Part { raw: Some(raw), .. } => {
                    let bytes = decode_base64(raw).ok_or_else(|| {
                        A2aError::invalid_params(format!(
                            "message.parts[{index}].raw is not base64"
                        ))
                    })?;
                    files.push(InlineFile {
                        name: part.filename.clone().unwrap_or_default(),
                        media_type: part.media_type.clone().unwrap_or_default(),
                        bytes,
                    });
                }
                _ => {
                    return Err(A2aError::invalid_params(format!(
                        "message.parts[{index}] has none of text, raw, url or data"
                    )));
                }
            }
        }
        let input = pieces.join("\n\n");
        if input.trim().is_empty() {
            return Err(A2aError::invalid_params(
                "message.parts holds no text: say what the worker should do",
            ));
        }
        Ok(Content { input, files })
    }
}

/// The task states this agent reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Working,
    Completed,
    Failed,
}

impl TaskState {
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Working => "TASK_STATE_WORKING",
            TaskState::Completed => "TASK_STATE_COMPLETED",
            TaskState::Failed => "TASK_STATE_FAILED",
        }
    }

    pub fn is_terminal(self) -> bool {
        self != TaskState::Working
    }
}

/// A task as this agent reports it: one Handinger turn.
#[derive(Debug, Clone)]
pub struct TaskView {
    pub id: TurnId,
    pub state: TaskState,
    /// What the agent says of it (a failure's reason, the latest output line).
    pub note: Option<String>,
    pub artifacts: Vec<Value>,
    /// The messages of the turn, oldest first (the user's, when known).
    pub history: Vec<Value>,
    /// The worker's dashboard URL, when known.
    pub url: Option<String>,
}

impl TaskView {
    pub fn new(id: TurnId, state: TaskState) -> Self {
        Self {
            id,
            state,
            note: None,
            artifacts: Vec::new(),
            history: Vec::new(),
            url: None,
        }
    }

    /// A finished turn: its answer, sources and files as artifacts, and the
    /// answer's text as the status message too (clients that keep a
    /// conversation of messages, such as CrewAI's, read the reply there).
    pub fn finished(id: TurnId, outcome: &TaskOutcome) -> Self {
        let worker = &outcome.worker;
        let mut view = Self::new(id, TaskState::Completed);
        view.artifacts = artifacts(outcome);
        view.note = Some(worker.answer().to_string());
        view.url = worker.url.clone();
        view
    }

    /// `status`: the state, when, and the note as an agent message.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "state": self.state.name(),
            "timestamp": utc_timestamp(unix_now()),
        });
        if let Some(note) = &self.note {
            status["message"] = agent_message(&self.id, note);
        }
        status
    }

    /// The `Task` object, with at most `history_length` messages of history
    /// (none for 0, all when unset).
    pub fn to_json(&self, history_length: Option<i64>) -> Value {
        let mut task = json!({
            "id": self.id.encode(),
            "contextId": self.id.task_id,
            "status": self.status(),
        });
        if !self.artifacts.is_empty() {
            task["artifacts"] = Value::Array(self.artifacts.clone());
        }
        let keep = match history_length {
            None => self.history.len(),
            Some(n) => usize::try_from(n).unwrap_or(0).min(self.history.len()),
        };
        if keep > 0 {
            let recent = self.history[self.history.len() - keep..].to_vec();
            task["history"] = Value::Array(recent);
        }
        let mut metadata = Map::new();
        metadata.insert("handingerTaskId".into(), json!(self.id.task_id));
        metadata.insert("handingerTurn".into(), json!(self.id.turn));
        if let Some(url) = &self.url {
            metadata.insert("dashboardUrl".into(), json!(url));
        }
        task["metadata"] = Value::Object(metadata);
        task
    }
}

/// A message from the agent about the task `id` names.
pub fn agent_message(id: &TurnId, text: &str) -> Value {
    json!({
        "messageId": format!("{}-agent-{}", id.encode(), unix_now()),
        "contextId": id.task_id,
        "taskId": id.encode(),
        "role": "ROLE_AGENT",
        "parts": [{"text": text}],
    })
}

/// The user's message as the task's history keeps it: tied to the task.
pub fn user_message(id: &TurnId, message_id: Option<&str>, input: &str) -> Value {
    json!({
        "messageId": message_id.map_or_else(|| format!("{}-user", id.encode()), str::to_owned),
        "contextId": id.task_id,
        "taskId": id.encode(),
        "role": "ROLE_USER",
        "parts": [{"text": input}],
    })
}

/// The answer as artifacts: the text (and the structured output as a data
/// part, for a typed task), the sources as one data part, and each produced
/// file as a url part with its name and media type.
fn artifacts(outcome: &TaskOutcome) -> Vec<Value> {
    let worker = &outcome.worker;
    let mut answer_parts = vec![json!({"text": worker.answer(), "mediaType": "text/plain"})];
    if let Some(structured) = &worker.structured_output {
        answer_parts.push(json!({"data": structured, "mediaType": "application/json"}));
    }
    let mut artifacts = vec![json!({
        "artifactId": "answer",
        "name": "answer",
        "description": "The worker's answer",
        "parts": answer_parts,
    })];
    if !worker.sources.is_empty() {
        let sources: Vec<Value> = worker
            .sources
            .iter()
            .map(|source| json!({"title": source.title, "url": source.url}))
            .collect();
        artifacts.push(json!({
            "artifactId": "sources",
            "name": "sources",
            "description": "The sources the worker used",
            "parts": [{"data": {"sources": sources}, "mediaType": "application/json"}],
        }));
    }
    if !worker.files.is_empty() {
        let parts: Vec<Value> = worker
            .files
            .iter()
            .map(|file| {
                let mut part = json!({"url": file.url});
                if let Some(name) = &file.filename {
                    part["filename"] = json!(name);
                }
                if let Some(media_type) = &file.media_type {
                    part["mediaType"] = json!(media_type);
                }
                part
            })
            .collect();
        artifacts.push(json!({
            "artifactId": "files",
            "name": "files",
            "description": "Files the worker produced",
            "parts": parts,
        }));
    }
    artifacts
}

/// Bytes from base64 (ProtoJSON writes standard base64; the URL-safe alphabet
/// and missing padding are taken too); `None` for anything else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .trim_end_matches('=')
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' => Some(byte - b'A'),
            b'a'..=b'z' => Some(byte - b'a' + 26),
            b'0'..=b'9' => Some(byte - b'0' + 52),
            b'+' | b'-' => Some(62),
            b'/' | b'_' => Some(63),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &d)| acc | (u32::from(d) << (18 - 6 * i)));
        let whole = chunk.len() * 6 / 8;
        bytes.extend_from_slice(&group.to_be_bytes()[1..1 + whole]);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_decodes_both_alphabets_with_or_without_padding() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("not base64!"), None);
        assert_eq!(decode_base64("a"), None);
    }
}
