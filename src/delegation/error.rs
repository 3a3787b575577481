//! Why a call failed, and the message a person (or a model) can act on.

use std::fmt;

use super::{NextStep, Setting, TaskKind};
use crate::{
    budget::Budget,
    handinger::ApiError,
    key::{KeyOrigin, KeyProblem},
    workspace::AttachError,
};

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
    Attach(Box<AttachError>),
    Api(ApiError),
    /// The worker template for a typed task could not be made: no task started.
    Template(ApiError),
    /// The API no longer knows the template remembered for a typed task's schema
    /// (404): nothing ran, and the template is forgotten.
    TemplateGone(ApiError),
    /// The API refused the key (401, 403); where the key came from decides the
    /// advice.
    KeyRefused {
        error: ApiError,
        origin: Option<KeyOrigin>,
    },
    /// The caller stopped waiting; the work itself goes on.
    Cancelled,
    /// As many requests as allowed are running already; nothing was sent.
    TooManyRunning {
        limit: usize,
    },
    /// The key's credits over 24 hours reached the ceiling: not sent.
    CreditCeiling(super::CreditUse),
    /// The call asked for a budget above the ceiling, unconfirmed: not sent.
    OverBudget {
        asked: Budget,
        max: Budget,
    },
    /// A bug inside the bridge (a caught panic) while the request was in flight:
    /// the task may have run.
    Internal {
        message: String,
    },
    /// A follow-up under a task handle met the task's previous turn still running
    /// here: nothing was sent.
    PreviousTurnRunning,
    /// A follow-up named a task the API does not know; nothing was sent (the API
    /// would have started a new task under that id).
    UnknownTask,
    /// A follow-up's task could not be checked before sending; nothing was sent.
    NotChecked(ApiError),
    /// The task ended on the server with an error or was aborted.
    Remote {
        status: String,
        url: Option<String>,
    },
}

impl TaskFailure {
    /// An API error, as the failure that says the most: a refused key names where
    /// the key came from.
    pub fn from_api(error: ApiError, origin: Option<KeyOrigin>) -> Self {
        match error {
            ApiError::Status {
                status: 401 | 403, ..
            } => TaskFailure::KeyRefused { error, origin },
            error => TaskFailure::Api(error),
        }
    }

    pub fn invalid(argument: &'static str, problem: &str) -> Self {
        TaskFailure::InvalidArgument {
            argument,
            problem: problem.to_owned(),
        }
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
            TaskFailure::Cancelled => write!(
                f,
                "The call was cancelled. Task {task} keeps running on Handinger."
            ),
            TaskFailure::CreditCeiling(credits) => {
                write!(
                    f,
                    "Not sent: the tasks started here with this API key have cost {} credits in \
                     the last 24 hours, at the ceiling of {}.",
                    credits.spent, credits.limit
                )?;
                if let Some(seconds) = credits.frees_in {
                    write!(
                        f,
                        " The oldest of them leaves the window in {} min.",
                        seconds.div_ceil(60)
                    )?;
                }
                Ok(())
            }
            TaskFailure::OverBudget { asked, max } => write!(
                f,
                "Not sent: budget {} is above this server's budget ceiling ({}), and no one \
                 confirmed it. Ask for {} or less, or raise the ceiling.",
                asked.as_str(),
                max.as_str(),
                max.as_str()
            ),
            TaskFailure::TooManyRunning { limit } => write!(
                f,
                "Not sent: {limit} tasks are already running through this server (its \
                 in-flight limit). Wait for some to finish, then call again."
            ),
            TaskFailure::Internal { message } => write!(
                f,
                "The bridge failed while the request for task {task} was in flight ({message}). \
                 The task may have run on Handinger: do not start it again."
            ),
            TaskFailure::Remote { status, url } => {
                write!(f, "Task {task} ended on Handinger with status {status}.")?;
                if let Some(url) = url {
                    write!(f, " See {url}.")?;
                }
                Ok(())
            }
            TaskFailure::PreviousTurnRunning => write!(
                f,
                "Not sent: the previous turn of task {task} is still running, and a task runs \
                 one turn at a time. Wait for its answer, then send the follow-up."
            ),
            TaskFailure::UnknownTask => write!(
                f,
                "No task with taskId {task} is known to Handinger, so the follow-up was not \
                 sent (it would have started a new task). Check the taskId."
            ),
            TaskFailure::NotChecked(error) => {
                write!(
                    f,
                    "{}. The follow-up was not sent: task {task} could not be checked first. ",
                    capitalised(&error.to_string())
                )?;
                f.write_str(&self.hint(error, task))
            }
            TaskFailure::Template(error) => write!(
                f,
                "{}. The worker template for this outputSchema could not be made \
                 (POST /api/workers), so no task was started.",
                capitalised(&error.to_string())
            ),
            TaskFailure::TemplateGone(error) => write!(
                f,
                "{}. The worker template made for this outputSchema no longer exists on \
                 Handinger, so nothing ran; it is forgotten, and calling again makes a new one.",
                capitalised(&error.to_string())
            ),
            TaskFailure::Api(error) => {
                write!(f, "{}. ", capitalised(&error.to_string()))?;
                f.write_str(&self.hint(error, task))
            }
            TaskFailure::KeyRefused { error, origin } => {
                write!(
                    f,
                    "{}. The API key was refused (it may be revoked, mistyped, or without \
                     access to this worker); nothing ran.",
                    capitalised(&error.to_string())
                )?;
                if let Some(origin) = origin {
                    write!(f, " {}", origin.refused_advice())?;
                }
                Ok(())
            }
        }
    }
}

/// The error a failure wraps, so a caller can walk the chain.
impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            TaskFailure::Api(error)
            | TaskFailure::Template(error)
            | TaskFailure::TemplateGone(error)
            | TaskFailure::NotChecked(error)
            | TaskFailure::KeyRefused { error, .. } => Some(error),
            TaskFailure::Attach(error) => Some(error.as_ref()),
            TaskFailure::MissingKey(problem) => Some(problem),
            _ => None,
        }
    }
}

impl TaskError {
    /// What the caller can do next; each front-end words it in its own terms.
    /// The setting this error's message points at, which each front-end names in
    /// its own terms (the core names no flag or variable).
    pub fn setting(&self) -> Option<Setting> {
        match &self.failure {
            TaskFailure::TooManyRunning { .. } => Some(Setting::MaxInFlight),
            TaskFailure::OverBudget { .. } => Some(Setting::MaxBudget),
            TaskFailure::CreditCeiling(_) => Some(Setting::MaxCredits),
            TaskFailure::Api(ApiError::Redirected { .. } | ApiError::Unreachable { .. })
            | TaskFailure::NotChecked(ApiError::Redirected { .. } | ApiError::Unreachable { .. }) => {
                Some(Setting::BaseUrl)
            }
            _ => None,
        }
    }

    pub fn next_step(&self) -> NextStep {
        let task = || self.task_id.clone().unwrap_or_default();
        let fetch = || match &self.task_id {
            Some(task_id) => NextStep::Fetch {
                task_id: task_id.clone(),
            },
            None => NextStep::None,
        };
        match &self.failure {
            // A client's own key (a header): the message says where to fix it.
            TaskFailure::MissingKey(KeyProblem::Unexpanded {
                header: Some(_), ..
            }) => NextStep::None,
            TaskFailure::MissingKey(_) => NextStep::FixKey,
            TaskFailure::KeyRefused { origin, .. } => match origin {
                Some(KeyOrigin::Environment) | None => NextStep::FixKey,
                Some(KeyOrigin::File(_) | KeyOrigin::Header(_)) => NextStep::None,
            },
            TaskFailure::Cancelled | TaskFailure::Internal { .. } => fetch(),
            TaskFailure::Remote { .. } => NextStep::StartNewOrFollowUp { task_id: task() },
            TaskFailure::UnknownTask => NextStep::StartNew,
            TaskFailure::PreviousTurnRunning => NextStep::FetchThenFollowUp { task_id: task() },
            TaskFailure::NotChecked(ApiError::Status {
                status: 401 | 403, ..
            }) => NextStep::FixKey,
            TaskFailure::Api(ApiError::Status {
                status: 401 | 403, ..
            }) => NextStep::FixKey,
            TaskFailure::Api(ApiError::Status { status: 404, .. })
                if self.kind != TaskKind::New =>
            {
                NextStep::StartNew
            }
            TaskFailure::Api(ApiError::Status { status: 409, .. }) => {
                NextStep::FetchThenFollowUp { task_id: task() }
            }
            TaskFailure::Api(ApiError::Redirected { .. }) => fetch(),
            TaskFailure::Api(error) if error.may_have_run() => fetch(),
            _ => NextStep::None,
        }
    }

    /// Whether asking again later may well succeed: the API could not be
    /// reached or answered, was busy (429) or failed (5xx). Such an error says
    /// nothing of the task itself.
    pub fn is_transient(&self) -> bool {
        match &self.failure {
            TaskFailure::Api(error) | TaskFailure::NotChecked(error) => matches!(
                error,
                ApiError::Unreachable { .. }
                    | ApiError::TimedOut { .. }
                    | ApiError::Interrupted { .. }
                    | ApiError::Status {
                        status: 429 | 500..=599,
                        ..
                    }
            ),
            _ => false,
        }
    }

    /// Whether the server may have started the work this error is about.
    pub fn may_have_run(&self) -> bool {
        match &self.failure {
            TaskFailure::Api(error) => error.may_have_run(),
            TaskFailure::Internal { .. } => true,
            _ => false,
        }
    }

    fn hint(&self, error: &ApiError, task: &str) -> String {
        let names_a_task = self.kind != TaskKind::New;
        let key_refused = matches!(
            error,
            ApiError::Status {
                status: 401 | 403,
                ..
            }
        );
        if matches!(self.failure, TaskFailure::NotChecked(_)) && !key_refused {
            // A GET that failed: nothing ran, whatever the error would say of a POST.
            return "Call again when the API answers.".to_owned();
        }
        match error {
            ApiError::Status {
                status: 401 | 403, ..
            } => "The API key was refused. Check that the configured key is current and has \
                access to this worker."
                .to_owned(),
            ApiError::Status { status: 404, .. } if names_a_task => {
                format!("No task with taskId {task} is known to Handinger.")
            }
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
            ApiError::Redirected { .. } => format!(
                "The task may exist on the server: its taskId is {task}. Check the base URL \
                 setting, and look the task up before starting it again."
            ),
            ApiError::UploadAborted { .. } => "The task did not start. Make sure the file is \
                not being written to, then call again."
                .to_owned(),
            ApiError::Unreachable { .. } => "Nothing was sent. Check the network and the base \
                URL setting, then call again."
                .to_owned(),
            ApiError::Untrusted { .. } | ApiError::NoHttpClient { .. } => {
                error.trust_advice().unwrap_or_default().to_owned()
            }
            other if other.may_have_run() => format!(
                "The task may still have run on the server: its taskId is {task}. Do not start \
                 it again."
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

#[cfg(test)]
mod tests {
    use super::*;

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
            from_api: true,
        }
    }

    #[test]
    fn a_task_error_exposes_what_it_wraps_as_its_source() {
        use std::error::Error;
        let error = TaskError {
            task_id: Some("tsk_abc".into()),
            kind: TaskKind::New,
            failure: TaskFailure::Api(status(502)),
        };
        let source = error.source().expect("the API error is the source");
        assert_eq!(
            source.to_string(),
            "the Handinger API answered HTTP 502: boom"
        );
        let missing = TaskError {
            task_id: None,
            kind: TaskKind::New,
            failure: TaskFailure::MissingKey(KeyProblem::NotSet),
        };
        assert!(
            missing
                .source()
                .unwrap()
                .to_string()
                .contains("No Handinger API key")
        );
    }

    #[test]
    fn every_error_class_gets_its_hint() {
        let cases = [
            (TaskKind::New, status(401), "key was refused"),
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
