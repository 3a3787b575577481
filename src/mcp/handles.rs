//! Task handles (stdio): the MCP tasks extension's record of each call a client
//! runs as an MCP "task" (here called a task handle, since a task is always the
//! Handinger task), its status while it runs, and its result once it ends,
//! bounded.
//!
//! rmcp's own task manager keeps every result whole until its TTL passes, with
//! no bound on their count or size. Here at most [`MAX_WHOLE_RESULTS`] results
//! and [`MAX_RESULT_BYTES`] of them are kept whole; older ones are evicted to
//! the Handinger taskId they answer, and `tasks/get` fetches them again from the
//! API. Entries themselves go after [`KEEP_FOR`], and past [`MAX_ENTRIES`] the
//! oldest finished ones go first; a handle still running is never dropped.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rmcp::{
    ErrorData,
    model::{CallToolResult, DetailedTask, JsonObject, Task, TaskPayload, TaskStatus},
    task_manager::current_timestamp,
};
use tokio_util::sync::CancellationToken;

use crate::delegation::jobs::KEEP_FOR;

/// Results kept whole at most; older ones are kept as their taskId only.
pub const MAX_WHOLE_RESULTS: usize = 256;
/// Bytes of results kept whole at most.
pub const MAX_RESULT_BYTES: usize = 32 * 1024 * 1024;
/// Entries (running or finished) kept at most; the oldest finished go first.
pub const MAX_ENTRIES: usize = 10_000;

/// How a handle's operation ended.
pub enum Settled {
    /// A tool result (an error result included), and the Handinger task it
    /// answers, when one was named.
    Completed {
        result: CallToolResult,
        handinger_task_id: Option<String>,
    },
    Cancelled,
}

/// What `tasks/get` finds.
pub enum Found {
    /// The handle as it stands (running, or finished with its result at hand).
    Ready(DetailedTask),
    /// Finished, its result evicted: fetch the answer of this Handinger task.
    Evicted {
        task: Task,
        handinger_task_id: String,
    },
}

/// A running handle's view of its entry: the status message, and the client's
/// request to cancel.
#[derive(Clone)]
pub struct HandleContext {
    id: String,
    table: Arc<Mutex<Inner>>,
    cancel: CancellationToken,
}

impl HandleContext {
    pub fn set_status_message(&self, message: String) {
        let mut inner = self.table.lock().expect("handle table lock");
        if let Some(entry) = inner.entries.get_mut(&self.id) {
            entry.task.status_message = Some(message);
            entry.task.last_updated_at = current_timestamp();
        }
    }

    /// Resolves when the client asked to cancel (tasks/cancel).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }
}

enum Outcome {
    Working,
    Whole { result: JsonObject, bytes: usize },
    Evicted { handinger_task_id: String },
    Cancelled,
}

struct Entry {
    task: Task,
    outcome: Outcome,
    handinger_task_id: Option<String>,
    cancel: CancellationToken,
    finished_at: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Finished entries, oldest first (ids may be stale after removal).
    finished: VecDeque<String>,
    whole_results: usize,
    whole_bytes: usize,
}

/// The table; clones share it.
#[derive(Clone, Default)]
pub struct HandleTable {
    inner: Arc<Mutex<Inner>>,
}

impl HandleTable {
    /// Start `operation` under a new task handle and return the handle to answer with.
    pub fn spawn<F, Fut>(&self, seed: Task, operation: F) -> Task
    where
        F: FnOnce(HandleContext) -> Fut,
        Fut: Future<Output = Settled> + Send + 'static,
    {
        let id = seed.task_id.clone();
        let cancel = CancellationToken::new();
        {
            let mut inner = self.inner.lock().expect("handle table lock");
            inner.sweep();
            inner.entries.insert(
                id.clone(),
                Entry {
                    task: seed.clone(),
                    outcome: Outcome::Working,
                    handinger_task_id: None,
                    cancel: cancel.clone(),
                    finished_at: None,
                },
            );
        }
        let context = HandleContext {
            id: id.clone(),
            table: self.inner.clone(),
            cancel,
        };
        let settled = operation(context);
        let table = self.inner.clone();
        tokio::spawn(async move {
            let settled = settled.await;
            table
                .lock()
                .expect("handle table lock")
                .settle(&id, settled);
        });
        seed
    }

    /// `tasks/get`.
    pub fn get(&self, id: &str) -> Result<Found, ErrorData> {
        let mut inner = self.inner.lock().expect("handle table lock");
        inner.sweep();
        let entry = inner.entries.get(id).ok_or_else(|| unknown(id))?;
        let payload = match &entry.outcome {
            Outcome::Working => TaskPayload::Working,
            Outcome::Whole { result, .. } => TaskPayload::Completed {
                result: result.clone(),
            },
            Outcome::Cancelled => TaskPayload::Cancelled,
            Outcome::Evicted { handinger_task_id } => {
                let mut task = entry.task.clone();
                task.status = TaskStatus::Completed;
                return Ok(Found::Evicted {
                    task,
                    handinger_task_id: handinger_task_id.clone(),
                });
            }
        };
        Ok(Found::Ready(DetailedTask::new(entry.task.clone(), payload)))
    }

    /// `tasks/cancel`: the operation is asked to stop (the Handinger task goes
    /// on; only the bridge stops waiting).
    pub fn cancel(&self, id: &str) -> Result<(), ErrorData> {
        let inner = self.inner.lock().expect("handle table lock");
        let entry = inner.entries.get(id).ok_or_else(|| unknown(id))?;
        entry.cancel.cancel();
        Ok(())
    }

    /// `tasks/update`: this server asks for no input, so there is nothing to
    /// take; an unknown handle is still an error.
    pub fn update(&self, id: &str) -> Result<(), ErrorData> {
        let inner = self.inner.lock().expect("handle table lock");
        inner.entries.get(id).map(|_| ()).ok_or_else(|| unknown(id))
    }

    /// How many results are kept whole, and their bytes.
    #[cfg(test)]
    pub fn kept(&self) -> (usize, usize) {
        let inner = self.inner.lock().expect("handle table lock");
        (inner.whole_results, inner.whole_bytes)
    }
}

impl Inner {
    fn settle(&mut self, id: &str, settled: Settled) {
        let Some(entry) = self.entries.get_mut(id) else {
            return;
        };
        entry.task.last_updated_at = current_timestamp();
        entry.finished_at = Some(Instant::now());
        match settled {
            Settled::Cancelled => entry.outcome = Outcome::Cancelled,
            Settled::Completed {
                result,
                handinger_task_id,
            } => {
                let result = match serde_json::to_value(&result) {
                    Ok(serde_json::Value::Object(map)) => map,
                    _ => JsonObject::new(),
                };
                let bytes = serde_json::to_string(&result).map_or(0, |text| text.len());
                entry.handinger_task_id = handinger_task_id;
                entry.outcome = Outcome::Whole { result, bytes };
                self.whole_results += 1;
                self.whole_bytes += bytes;
            }
        }
        self.finished.push_back(id.to_owned());
        self.bound();
    }

    /// Evict the oldest whole results past the bounds, then drop the oldest
    /// finished entries past [`MAX_ENTRIES`].
    fn bound(&mut self) {
        let mut index = 0;
        while (self.whole_results > MAX_WHOLE_RESULTS || self.whole_bytes > MAX_RESULT_BYTES)
            && index < self.finished.len()
        {
            let id = &self.finished[index];
            index += 1;
            let Some(entry) = self.entries.get_mut(id) else {
                continue;
            };
            let Outcome::Whole { bytes, .. } = entry.outcome else {
                continue;
            };
            self.whole_results -= 1;
            self.whole_bytes -= bytes;
            match entry.handinger_task_id.clone() {
                Some(handinger_task_id) => {
                    entry.outcome = Outcome::Evicted { handinger_task_id };
                }
                // Nothing to fetch it by (a call refused before any task was
                // made): the entry goes.
                None => {
                    let id = id.clone();
                    self.entries.remove(&id);
                }
            }
        }
        while self.entries.len() > MAX_ENTRIES {
            let Some(oldest) = self.finished.pop_front() else {
                break;
            };
            self.remove(&oldest);
        }
        // Ids of entries already gone are not kept around.
        if self.finished.len() > 2 * MAX_ENTRIES {
            let entries = &self.entries;
            self.finished.retain(|id| entries.contains_key(id));
        }
    }

    /// Drop finished entries older than [`KEEP_FOR`].
    fn sweep(&mut self) {
        while let Some(oldest) = self.finished.front() {
            let expired = match self.entries.get(oldest) {
                Some(entry) => entry.finished_at.is_some_and(|at| at.elapsed() >= KEEP_FOR),
                None => true,
            };
            if !expired {
                break;
            }
            let oldest = self.finished.pop_front().expect("checked above");
            self.remove(&oldest);
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(Entry {
            outcome: Outcome::Whole { bytes, .. },
            ..
        }) = self.entries.remove(id)
        {
            self.whole_results -= 1;
            self.whole_bytes -= bytes;
        }
    }
}

/// A fresh task handle for `tasks/get` polling every `poll`.
pub fn seed(id: String, poll: Duration, message: &str) -> Task {
    let now = current_timestamp();
    Task::new(id, TaskStatus::Working, now.clone(), now)
        .with_ttl_ms(KEEP_FOR.as_millis() as u64)
        .with_poll_interval_ms(poll.as_millis() as u64)
        .with_status_message(message)
}

fn unknown(id: &str) -> ErrorData {
    ErrorData::invalid_params(format!("unknown task: {id}"), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;

    fn answer(size: usize) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::text("x".repeat(size))])
    }

    #[tokio::test]
    async fn results_past_the_bounds_are_evicted_to_their_task_id_oldest_first() {
        let table = HandleTable::default();
        let total = MAX_WHOLE_RESULTS + 10;
        for n in 0..total {
            let id = format!("mcp_{n}");
            table.spawn(seed(id, Duration::from_secs(1), "m"), move |_| async move {
                Settled::Completed {
                    result: answer(100),
                    handinger_task_id: Some(format!("tsk_{n}")),
                }
            });
        }
        for _ in 0..100 {
            if matches!(table.get(&format!("mcp_{}", total - 1)), Ok(Found::Ready(t)) if t.status() == TaskStatus::Completed)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(table.kept().0, MAX_WHOLE_RESULTS);
        let evicted = (0..total)
            .filter(|n| matches!(table.get(&format!("mcp_{n}")), Ok(Found::Evicted { .. })))
            .count();
        assert_eq!(evicted, 10);
        let Ok(Found::Evicted {
            handinger_task_id, ..
        }) = table.get("mcp_0")
        else {
            panic!("the oldest is evicted first")
        };
        assert_eq!(handinger_task_id, "tsk_0");
        assert!(table.get("nope").is_err());
    }

    #[tokio::test]
    async fn bytes_are_bounded_too() {
        let table = HandleTable::default();
        for n in 0..40 {
            table.spawn(
                seed(format!("big_{n}"), Duration::from_secs(1), "m"),
                move |_| async move {
                    Settled::Completed {
                        result: answer(1 << 20),
                        handinger_task_id: Some(format!("tsk_{n}")),
                    }
                },
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (count, bytes) = table.kept();
        assert!(bytes <= MAX_RESULT_BYTES, "{bytes}");
        assert!(count < 40 && count > 20, "{count}");
    }
}
