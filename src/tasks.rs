//! The core: turns a task request into an API call and an outcome. It knows no
//! protocol; the front-ends (MCP today) only translate in and out.

use std::{
    collections::hash_map::RandomState,
    fmt,
    hash::{BuildHasher, Hasher},
    sync::atomic::{AtomicU64, Ordering},
};

use crate::{
    config::{Config, KeyProblem, KeySource},
    handinger::{ApiError, Budget, Client, CreateTaskBody, Worker},
    workspace::{AttachError, AttachLimits, Workspace},
};

/// Whether a call starts a task or adds a turn to one; it changes what errors mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    New,
    FollowUp,
}

/// One request for work, as every front-end states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    pub kind: TaskKind,
    /// For a follow-up, the task to continue; for a new task, `None` (one is made).
    pub task_id: Option<String>,
    pub input: String,
    pub budget: Option<Budget>,
    pub worker_id: Option<String>,
    /// Paths of files to attach, as the caller gave them.
    pub files: Vec<String>,
    /// Where those paths resolve: the front-end's (MCP roots, an editor's folders),
    /// or `None` for the configured workspace.
    pub workspace: Option<Workspace>,
}

/// A finished call: the task it belongs to and the Worker the API returned.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    pub task_id: String,
    pub kind: TaskKind,
    pub worker: Worker,
}

/// A failed call, with the task id so the caller can find the work again.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskError {
    pub task_id: Option<String>,
    pub kind: TaskKind,
    pub failure: TaskFailure,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TaskFailure {
    MissingKey(KeyProblem),
    InvalidArgument {
        argument: &'static str,
        problem: String,
    },
    Attach(AttachError),
    Api(ApiError),
}

/// Runs tasks against the API with the process's defaults.
#[derive(Debug, Clone)]
pub struct TaskRunner {
    client: Client,
    key: KeySource,
    default_budget: Option<Budget>,
    default_worker_id: Option<String>,
    workspace: Workspace,
    attach_limits: AttachLimits,
}

impl TaskRunner {
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: Client::new(config)?,
            key: config.key.clone(),
            default_budget: config.default_budget,
            default_worker_id: config.default_worker_id.clone(),
            workspace: configured_workspace(config),
            attach_limits: config.attach_limits,
        })
    }

    /// The workspace used when the front-end supplies none.
    pub fn default_workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// Run one task or follow-up turn to completion.
    pub async fn run(&self, request: TaskRequest) -> Result<TaskOutcome, TaskError> {
        let kind = request.kind;
        let fail = |task_id: Option<String>, failure| TaskError {
            task_id,
            kind,
            failure,
        };
        let task_id = match (kind, request.task_id) {
            (TaskKind::New, _) => new_task_id(),
            (TaskKind::FollowUp, Some(id)) if !id.trim().is_empty() => id.trim().to_owned(),
            (TaskKind::FollowUp, _) => {
                return Err(fail(
                    None,
                    invalid("taskId", "must be the id of an existing task"),
                ));
            }
        };
        if request.input.trim().is_empty() {
            return Err(fail(Some(task_id), invalid("input", "must not be empty")));
        }
        // Files are checked and opened before anything is sent.
        let workspace = request.workspace.as_ref().unwrap_or(&self.workspace);
        let files = workspace
            .attach(&request.files, self.attach_limits)
            .map_err(|e| fail(Some(task_id.clone()), TaskFailure::Attach(e)))?;
        let worker_id = request
            .worker_id
            .filter(|w| !w.trim().is_empty())
            .or_else(|| self.default_worker_id.clone());
        let key = self
            .key
            .resolve()
            .map_err(|p| fail(Some(task_id.clone()), TaskFailure::MissingKey(p)))?;
        let body = CreateTaskBody {
            input: request.input,
            budget: request.budget.or(self.default_budget),
            task_id: task_id.clone(),
            worker_id,
        };
        tracing::info!(
            task_id,
            ?kind,
            files = files.len(),
            "sending POST /api/tasks"
        );
        match self.client.create_task(&key, &body, &files).await {
            Ok(worker) => {
                tracing::info!(task_id, worker_id = worker.id, status = ?worker.status, "task answered");
                Ok(TaskOutcome {
                    task_id,
                    kind,
                    worker,
                })
            }
            Err(error) => {
                tracing::warn!(task_id, %error, "task call failed");
                Err(fail(Some(task_id), TaskFailure::Api(error)))
            }
        }
    }
}

/// `--workspace` folders, or the working directory.
fn configured_workspace(config: &Config) -> Workspace {
    Workspace::new(&config.workspace, crate::workspace::RootSource::Configured)
        .unwrap_or_else(Workspace::working_directory)
}

fn invalid(argument: &'static str, problem: &str) -> TaskFailure {
    TaskFailure::InvalidArgument {
        argument,
        problem: problem.to_owned(),
    }
}

impl fmt::Display for TaskError {
    /// The message a person (or a model) can act on: what happened, then what to do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task = self.task_id.as_deref().unwrap_or("(none)");
        match &self.failure {
            TaskFailure::MissingKey(problem) => write!(f, "{problem}"),
            TaskFailure::InvalidArgument { argument, problem } => {
                write!(f, "Invalid argument `{argument}`: {problem}.")
            }
            TaskFailure::Attach(error) => write!(f, "{error} Nothing was sent."),
            TaskFailure::Api(error) => {
                write!(f, "{}. ", capitalised(&error.to_string()))?;
                f.write_str(&self.hint(error, task))
            }
        }
    }
}

impl TaskError {
    fn hint(&self, error: &ApiError, task: &str) -> String {
        let follow_up = self.kind == TaskKind::FollowUp;
        match error {
            ApiError::Status {
                status: 401 | 403, ..
            } => "The API key was refused. Check that \
                HANDINGER_API_KEY (or the key file) holds a current key with access to this \
                worker, then restart the server."
                .to_owned(),
            ApiError::Status { status: 404, .. } if follow_up => format!(
                "No task with taskId {task} is known to Handinger: pass the taskId returned by \
                 create_task, or start a new task with create_task."
            ),
            ApiError::Status { status: 404, .. } => {
                "Check the workerId argument (or the default worker setting): no such worker \
                 may exist."
                    .to_owned()
            }
            ApiError::Status {
                status: 400 | 422, ..
            } => "The API rejected the arguments: check input, budget (low, standard, high, \
                 unlimited), workerId and taskId as the message says, then call again."
                .to_owned(),
            ApiError::Status { status: 409, .. } => format!(
                "Task {task} is busy or in a conflicting state; wait for its current turn to \
                 finish, then call again."
            ),
            ApiError::Status {
                status: 429,
                retry_after,
                ..
            } => match retry_after {
                Some(after) => format!(
                    "Rate limited: nothing ran. Retry after {} s.",
                    after.as_secs_f64().ceil()
                ),
                None => "Rate limited: nothing ran. Retry later.".to_owned(),
            },
            ApiError::UploadAborted { .. } => "The task did not start. Make sure the file is \
                not being written to, then call again."
                .to_owned(),
            ApiError::Unreachable { .. } => "Nothing was sent. Check the network and the base \
                URL setting (HANDINGER_BASE_URL), then call again."
                .to_owned(),
            other if other.may_have_run() => format!(
                "The task may still have run on the server: its taskId is {task}. Do not start \
                 it again; check the Handinger dashboard, or continue it with follow_up_task \
                 and this taskId."
            ),
            _ => String::new(),
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

const ID_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters after the `tsk_` prefix: 22 base62 characters, about 130 bits.
pub const TASK_ID_RANDOM_CHARS: usize = 22;

/// A fresh task id: `tsk_` and 22 random base62 characters. Made here, not by the
/// server, so that every task can be found again after a timeout or a restart.
pub fn new_task_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut id = String::from("tsk_");
    let mut word = 0u128;
    let mut left = 0;
    for _ in 0..TASK_ID_RANDOM_CHARS {
        if left == 0 {
            // RandomState is seeded from the OS per instance; two hashes give 128 bits.
            let mut bits = [0u64; 2];
            for part in &mut bits {
                let mut hasher = RandomState::new().build_hasher();
                hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
                *part = hasher.finish();
            }
            word = (u128::from(bits[0]) << 64) | u128::from(bits[1]);
            left = 21; // 62^21 < 2^128
        }
        id.push(ID_ALPHABET[(word % 62) as usize] as char);
        word /= 62;
        left -= 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn task_ids_have_the_documented_shape_and_do_not_repeat() {
        let ids: HashSet<String> = (0..10_000).map(|_| new_task_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            let rest = id.strip_prefix("tsk_").expect("prefix");
            assert_eq!(rest.len(), TASK_ID_RANDOM_CHARS);
            assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
    }

    fn api_error(kind: TaskKind, error: ApiError) -> String {
        TaskError {
            task_id: Some("tsk_abc".into()),
            kind,
            failure: TaskFailure::Api(error),
        }
        .to_string()
    }

    fn status(status: u16) -> ApiError {
        ApiError::Status {
            status,
            message: "boom".into(),
            retry_after: None,
        }
    }

    #[test]
    fn every_error_class_gets_its_hint() {
        let cases = [
            (TaskKind::New, status(401), "HANDINGER_API_KEY"),
            (TaskKind::New, status(403), "key was refused"),
            (
                TaskKind::FollowUp,
                status(404),
                "No task with taskId tsk_abc",
            ),
            (TaskKind::New, status(422), "check input, budget"),
            (TaskKind::New, status(400), "check input, budget"),
            (TaskKind::New, status(429), "Retry later"),
            (TaskKind::New, status(503), "its taskId is tsk_abc"),
            (
                TaskKind::New,
                ApiError::TimedOut {
                    after: std::time::Duration::from_secs(5),
                },
                "may still have run",
            ),
        ];
        for (kind, error, expected) in cases {
            let text = api_error(kind, error.clone());
            assert!(text.contains(expected), "{error:?}: {text}");
            assert!(text.contains("HTTP") || !matches!(error, ApiError::Status { .. }));
        }
    }
}
