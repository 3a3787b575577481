//! `ListTasks`: the tasks this replica's history knows for the caller's key
//! (the API has no list endpoint), one A2A task per Handinger task (its latest
//! turn), newest first, a page at a time. Statuses come from the history and,
//! for a task not finished when last seen, from the API as it is listed.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    current,
    error::A2aError,
    params_as,
    wire::{TaskState, TaskView, user_message},
};
use crate::{
    delegation::{CallOutcome, ListFilter, TaskRunner, TurnId},
    journal::Entry,
    render::parse_utc_timestamp,
};

/// Tasks per page when the request names no size, and the most it may name.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 100;

/// The most tasks one page asks the API about (those listed with their
/// artifacts, and those last seen working): a page ends early, with a
/// `nextPageToken`, rather than turn one request into a hundred.
const MAX_LOOKUPS_PER_PAGE: usize = 20;

/// `ListTasksRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListTasksRequest {
    context_id: Option<String>,
    status: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
    history_length: Option<i64>,
    status_timestamp_after: Option<String>,
    include_artifacts: Option<bool>,
}

/// Where a page starts: after the task listed last on the page before.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    at: u64,
    task_id: String,
}

impl Cursor {
    fn of(entry: &Entry) -> Self {
        Self {
            at: entry.last_turn_at.unwrap_or(entry.started_at),
            task_id: entry.task_id.clone(),
        }
    }

    fn encode(&self) -> String {
        format!("{}.{}", self.at, self.task_id)
    }

    fn decode(token: &str) -> Option<Self> {
        let (at, task_id) = token.split_once('.')?;
        Some(Self {
            at: at.parse().ok()?,
            task_id: crate::delegation::is_task_id(task_id).then(|| task_id.to_owned())?,
        })
    }
}

/// `ListTasks`.
pub async fn list_tasks(runner: &TaskRunner, params: Value) -> Result<Value, A2aError> {
    let request: ListTasksRequest = params_as(params)?;
    let page_size = match request.page_size {
        None => DEFAULT_PAGE_SIZE,
        Some(n) if (1..=MAX_PAGE_SIZE as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(A2aError::invalid_params(format!(
                "pageSize {n} is out of range: 1 to {MAX_PAGE_SIZE}"
            )));
        }
    };
    if request.history_length.is_some_and(|n| n < 0) {
        return Err(A2aError::invalid_params(
            "historyLength must not be negative",
        ));
    }
    let wanted = match request.status.as_deref() {
        None | Some("" | "TASK_STATE_UNSPECIFIED") => None,
        // Some(None): a state this agent never reports, which nothing matches.
        Some(name) => Some(state_named(name).ok_or_else(|| {
            A2aError::invalid_params(format!(
                "status {name} is not a task state (TASK_STATE_WORKING, TASK_STATE_COMPLETED, ...)"
            ))
        })?),
    };
    let after = match request.status_timestamp_after.as_deref() {
        None => None,
        Some(text) => Some(parse_utc_timestamp(text).ok_or_else(|| {
            A2aError::invalid_params(format!(
                "statusTimestampAfter {text:?} is not an RFC 3339 time (2026-12-06T10:00:00Z)"
            ))
        })?),
    };
    let cursor =
        match request.page_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(Cursor::decode(token).ok_or_else(|| {
                A2aError::invalid_params("pageToken is not one this agent gave out")
            })?),
        };

    let filter = ListFilter {
        status: None,
        text: None,
        limit: usize::MAX,
        refresh: false,
    };
    let entries = match runner.list(filter).await {
        Ok(CallOutcome::Listed(list)) => list.tasks,
        Ok(_) => Vec::new(),
        Err(error) => return Err(A2aError::from(&error)),
    };
    let mut matching: Vec<Entry> = entries
        .into_iter()
        .filter(|entry| {
            request
                .context_id
                .as_deref()
                .is_none_or(|context| context == entry.task_id)
        })
        .filter(|entry| wanted.is_none_or(|state| state == Some(state_of(entry))))
        .filter(|entry| after.is_none_or(|after| Cursor::of(entry).at >= after))
        .collect();
    // Newest first; the task id breaks ties, so the order (and a cursor) is
    // total.
    matching.sort_by_key(|entry| std::cmp::Reverse(Cursor::of(entry)));
    let total = matching.len();
    let start = cursor.map_or(0, |cursor| {
        matching
            .iter()
            .position(|entry| Cursor::of(entry) < cursor)
            .unwrap_or(total)
    });
    let include_artifacts = request.include_artifacts.unwrap_or(false);
    let asks_the_api = |entry: &Entry| include_artifacts || state_of(entry) == TaskState::Working;
    let mut page: Vec<Entry> = Vec::new();
    let mut lookups = 0;
    for entry in matching.iter().skip(start).take(page_size) {
        if asks_the_api(entry) {
            if lookups == MAX_LOOKUPS_PER_PAGE {
                break;
            }
            lookups += 1;
        }
        page.push(entry.clone());
    }
    let next_page_token = if start + page.len() < total {
        page.last()
            .map(|entry| Cursor::of(entry).encode())
            .unwrap_or_default()
    } else {
        String::new()
    };

    let mut tasks = Vec::with_capacity(page.len());
    for entry in &page {
        let id = TurnId {
            task_id: entry.task_id.clone(),
            turn: entry.turns.unwrap_or(1),
            made_at: Cursor::of(entry).at,
        };
        let mut view = if asks_the_api(entry) {
            current(runner, id).await
        } else {
            TaskView::new(id, state_of(entry))
        };
        if view.history.is_empty() && !entry.input.is_empty() {
            view.history = vec![user_message(&view.id, None, &entry.input)];
        }
        let mut task = view.to_json(request.history_length);
        if include_artifacts {
            task["artifacts"] = task.get("artifacts").cloned().unwrap_or_else(|| json!([]));
        } else if let Some(task) = task.as_object_mut() {
            task.remove("artifacts");
        }
        tasks.push(task);
    }
    Ok(json!({
        "tasks": tasks,
        "nextPageToken": next_page_token,
        // "The page size used for this response": how many it holds.
        "pageSize": tasks.len(),
        "totalSize": total,
    }))
}

/// The state a history entry last showed.
fn state_of(entry: &Entry) -> TaskState {
    match entry.status.as_str() {
        "completed" => TaskState::Completed,
        "error" | "aborted" => TaskState::Failed,
        _ => TaskState::Working,
    }
}

/// The state a filter names (`Some(None)` for one this agent never reports);
/// `None` for a name that is no state.
fn state_named(name: &str) -> Option<Option<TaskState>> {
    match name {
        "TASK_STATE_WORKING" => Some(Some(TaskState::Working)),
        "TASK_STATE_COMPLETED" => Some(Some(TaskState::Completed)),
        "TASK_STATE_FAILED" => Some(Some(TaskState::Failed)),
        "TASK_STATE_SUBMITTED"
        | "TASK_STATE_CANCELED"
        | "TASK_STATE_INPUT_REQUIRED"
        | "TASK_STATE_REJECTED"
        | "TASK_STATE_AUTH_REQUIRED" => Some(None),
        _ => None,
    }
}
