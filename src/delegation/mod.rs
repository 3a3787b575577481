//! The core: turns a task request into an API call and an outcome. It knows no
//! protocol; the front-ends only translate in and out.
//!
//! Every POST runs in the background and its result is kept ([`Jobs`]); a call
//! waits for it up to its deadline, reporting progress, and otherwise returns
//! "still running" so that no host timeout ever loses a result.

mod error;
mod id;
pub mod jobs;
mod let_go;
mod live;
mod turns;
mod typed;

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use futures_util::{
    FutureExt,
    future::{Fuse, FusedFuture},
};
use tokio_util::sync::CancellationToken;

pub use error::{TaskError, TaskFailure};
pub use id::{MAX_TASK_ID_CHARS, is_task_id, new_task_id};
pub use turns::{Started, TurnId, TurnView, unix_now};

use crate::{
    handinger::{ApiError, Budget, Client, CreateTaskBody, TaskEnvelope, Turn, Usage, Worker},
    journal::{self, Entry, Journal, JournalOptions, Recorder},
    key::{ApiKey, KeyOrigin, KeySource},
    output_schema::{OutputSchema, ShapeCheck},
    units::{count_setting, credits_setting, seconds_setting},
    workspace::{
        AttachLimits, Attachment, InlineFile, WorkingDirectory, Workspace, WorkspaceSettings,
        attach_inline,
    },
};
use clap::builder::NonEmptyStringValueParser;
use jobs::{CallResult, Completion, InFlight, JobHandle, Jobs, NotBegun};
use let_go::{Answered, PollEnd};
use live::LiveOutput;

/// How long a "still running" answer waits for the API to name the worker and URL.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(1);

/// First and longest pause between polls of a task this process did not start.
/// The first is also the shortest pause, whatever a `Retry-After` asks.
pub const POLL_FIRST: Duration = Duration::from_secs(1);
pub const POLL_MAX: Duration = Duration::from_secs(10);

/// Longest a single lookup may take while a call waits (its share of the wait is
/// also capped by what is left of the wait), and the least it is given, so that a
/// wait of 0 still asks once.
const LOOKUP_MAX: Duration = Duration::from_secs(30);
const LOOKUP_MIN: Duration = Duration::from_secs(1);

/// A lookup of a task's dashboard URL, for an early progress report.
type Describe = std::pin::Pin<Box<dyn Future<Output = Option<Described>> + Send>>;

/// What the API names of a task just sent: its dashboard URL and its worker.
struct Described {
    url: Option<String>,
    worker_id: Option<String>,
}

/// A look at the worker's output, in flight: the worker's state, or (while the
/// worker is not yet known) the task's worker id.
type Peek = std::pin::Pin<Box<dyn Future<Output = Look> + Send>>;

/// What one look found.
#[derive(Default)]
struct Look {
    worker_id: Option<String>,
    worker: Option<Worker>,
}

/// A wait with no practical end (the MCP tasks extension; the command line without
/// `--wait`).
pub const NO_DEADLINE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What the caller can do next, in no protocol's terms: each front-end words it,
/// naming its own tools, commands or shell lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    None,
    /// Continue the task with a follow-up turn.
    FollowUp {
        task_id: String,
    },
    /// Get the task's answer later (waiting while it runs).
    Fetch {
        task_id: String,
    },
    /// A follow-up was not sent: wait for the running turn, then send it again.
    FetchThenFollowUp {
        task_id: String,
    },
    /// The task is unknown: start a new one.
    StartNew,
    /// The task ended in an error: start a new one, or follow up.
    StartNewOrFollowUp {
        task_id: String,
    },
    /// Set the API key where this front-end reads it.
    FixKey,
}

/// A setting an error message points at. The core names none by its flag or
/// variable: each front-end words where its settings live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// How many requests may run at once.
    MaxInFlight,
    /// The Handinger API's base URL.
    BaseUrl,
    /// The highest budget sent without confirmation.
    MaxBudget,
    /// The credits allowed per key over 24 hours.
    MaxCredits,
}

/// Whether a call starts a task or adds a turn to one; it changes what errors mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    New,
    FollowUp,
    /// Reading a task's state (get_task): no work is started.
    Lookup,
}

/// One request for work, as every front-end states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    pub kind: TaskKind,
    /// For a follow-up, the task to continue; for a new task, `None` (one is made).
    pub task_id: Option<String>,
    pub input: String,
    pub budget: Option<Budget>,
    /// A person confirmed a budget above the ceiling for this call.
    pub budget_confirmed: bool,
    pub worker_id: Option<String>,
    /// Paths of files to attach, as the caller gave them.
    pub files: Vec<String>,
    /// Files the caller sent as bytes (no path on this machine is read).
    pub uploads: Vec<InlineFile>,
    /// Where those paths resolve: the front-end's (MCP roots, an editor's folders),
    /// or `None` for the configured workspace.
    pub workspace: Option<Workspace>,
    /// For a new task: the JSON Schema its structured output must follow.
    pub output_schema: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A finished call: the task it belongs to and the Worker the API returned.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    pub task_id: String,
    pub kind: TaskKind,
    pub worker: Worker,
    /// With a credit ceiling: the key's credits over 24 hours, after this turn.
    pub credit_use: Option<CreditUse>,
    /// For a typed task: how its structured output compares with the schema.
    pub shape: Option<ShapeCheck>,
}

impl TaskOutcome {
    /// Whether a typed task's structured output is missing or does not follow
    /// its schema.
    pub fn off_schema(&self) -> bool {
        self.shape
            .as_ref()
            .is_some_and(|shape| *shape != ShapeCheck::Matches)
    }
}

/// How a call ended for its caller.
#[derive(Debug, Clone)]
pub enum CallOutcome {
    Finished(Box<TaskOutcome>),
    /// The deadline passed first; the work goes on and its result will be kept.
    Running(StillRunning),
    /// The tasks the journal remembers (`list_tasks`).
    Listed(TaskList),
    /// A task was archived (`archive_task`).
    Archived {
        task_id: String,
        archived: bool,
    },
}

/// What `list_tasks` found.
#[derive(Debug, Clone, Default)]
pub struct TaskList {
    pub tasks: Vec<Entry>,
    /// Tasks remembered in all, before the filters and the limit.
    pub total: usize,
    /// Why nothing is remembered: history off, or no state folder.
    pub off: Option<&'static str>,
    /// A journal file that was not readable, and where it was set aside.
    pub set_aside: Option<String>,
    /// Statuses that could not be refreshed from the API (the last known is shown).
    pub stale: usize,
}

/// Which remembered tasks to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only tasks with this status.
    pub status: Option<String>,
    /// Only tasks whose input or taskId contains this (any case).
    pub text: Option<String>,
    pub limit: usize,
    /// Refresh statuses that may still change from the API first.
    pub refresh: bool,
}

/// Credits spent over the last 24 hours against the credit ceiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CreditUse {
    pub spent: f64,
    pub limit: f64,
    /// Seconds until the oldest spend leaves the window.
    pub frees_in: Option<u64>,
}

/// Where a call's budget stands against the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetCheck {
    Within,
    /// Above the ceiling: `asked` needs a person's confirmation.
    Above {
        asked: Budget,
        max: Budget,
    },
}

/// A task that is still running when its call stops waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StillRunning {
    pub task_id: String,
    pub kind: TaskKind,
    pub worker_id: Option<String>,
    /// Dashboard URL, when the API has named it.
    pub url: Option<String>,
    /// How long the work has run, when this process started it.
    pub elapsed: Option<Duration>,
    /// A follow-up that was not sent because the task's previous turn still runs.
    pub follow_up_not_sent: bool,
    /// The worker's output so far (cleaned, cut), when progress was shown and the
    /// worker had produced some: partial, not the answer.
    pub partial_output: Option<String>,
}

/// What the API said of a key (see [`TaskRunner::check_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Accepted,
    /// Something answered 404 without the API's `{"error": ...}` body: the base
    /// URL points elsewhere.
    NotTheApi,
    Refused {
        status: u16,
        message: String,
    },
    /// No answer to judge by (unreachable, untrusted TLS, ...), with what to do
    /// about the machine's trust roots when that is the problem.
    Failed {
        message: String,
        advice: Option<&'static str>,
    },
}

/// Receives progress while a call waits; each front-end reports it its own way.
pub trait Progress: Send {
    fn report(&mut self, elapsed: Duration, message: String) -> impl Future<Output = ()> + Send;

    /// Whether reports reach anyone. When they do not, nothing is looked up just
    /// to report it (the dashboard URL costs a request to the API).
    fn shown(&self) -> bool {
        true
    }
}

/// How long calls wait, and how often they report while waiting; also their
/// settings.
#[derive(Debug, Clone, Copy, PartialEq, clap::Args)]
#[command(next_help_heading = "Settings")]
pub struct WaitPolicy {
    /// How long a tool call waits for the answer before returning "still running"
    /// with the taskId; below the 60 s many hosts allow (server; on the command
    /// line only the flag counts, and without it a command waits until the end).
    #[arg(id = "wait", long = "wait", env = "HANDINGER_WAIT", value_name = "SECS",
          default_value = "50", value_parser = seconds_setting, global = true)]
    pub default_wait: Duration,
    /// Upper bound for a call's own waitSeconds (server).
    #[arg(long, env = "HANDINGER_MAX_WAIT", value_name = "SECS", default_value = "600",
          value_parser = seconds_setting, global = true)]
    pub max_wait: Duration,
    /// Seconds between progress notifications while a call waits (server; the
    /// command line shows progress on a terminal).
    #[arg(long, env = "HANDINGER_PROGRESS_INTERVAL", value_name = "SECS", default_value = "10",
          value_parser = seconds_setting, global = true)]
    pub progress_interval: Duration,
    /// Seconds a task's POST /api/tasks is held open; after that, once the API
    /// lists the turn, the bridge closes it (the task keeps running) and polls
    /// the API for the answer, so a long wait holds no connection. An answer
    /// within the hold arrives the moment the worker ends; a later one within
    /// about a tenth of the task's run time, 1 to 10 s (longer with over 500
    /// turns let go: all polls ask at most 50 times a second) (server, command
    /// line).
    #[arg(long, env = "HANDINGER_HOLD_POST", value_name = "SECS", default_value = "10",
          value_parser = seconds_setting, global = true)]
    pub hold_post: Duration,
}

impl WaitPolicy {
    /// The wait for a call that asked for `requested` seconds (or nothing).
    /// Any number is accepted: a huge one is clamped to `max_wait`, a negative or
    /// non-number one means the default.
    pub fn wait_for(&self, requested: Option<f64>) -> Duration {
        let wait = match requested {
            Some(secs) if secs >= 0.0 => Duration::try_from_secs_f64(secs).unwrap_or(self.max_wait),
            _ => self.default_wait,
        };
        wait.min(self.max_wait)
    }
}

enum Waited {
    Done(Arc<CallResult>),
    Deadline,
    Cancelled,
}

/// A request checked and ready to send.
struct Prepared {
    task_id: String,
    kind: TaskKind,
    key: ApiKey,
    body: CreateTaskBody,
    files: Vec<Attachment>,
    /// The schema the answer is checked against (a typed task).
    schema: Option<OutputSchema>,
    /// The turn's number in its task and when it is sent, when known (the
    /// history keeps both: they name the turn).
    turn: Option<(usize, u64)>,
}

/// Progress nobody sees: a lookup that answers a poll, a resource read.
pub struct Silent;

impl Progress for Silent {
    fn shown(&self) -> bool {
        false
    }

    async fn report(&mut self, _: Duration, _: String) {}
}

/// What the core needs to know; also its settings (a clap group the command
/// line flattens), so each setting is defined once.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Settings")]
pub struct TaskOptions {
    #[command(flatten)]
    pub key: KeySource,
    /// Default budget when a call names none (server, command line).
    #[arg(
        id = "budget",
        long = "budget",
        env = "HANDINGER_BUDGET",
        value_name = "BUDGET",
        global = true
    )]
    pub default_budget: Option<Budget>,
    /// Default workerId when a call names none; otherwise each task creates a
    /// worker from its input (server, command line).
    #[arg(id = "worker_id", long = "worker-id", visible_alias = "worker",
          env = "HANDINGER_WORKER_ID", value_name = "ID",
          value_parser = NonEmptyStringValueParser::new(), global = true)]
    pub default_worker_id: Option<String>,
    /// The workspace for front-ends that supply none.
    #[command(flatten)]
    pub workspace: WorkspaceSettings,
    /// Who chose the working directory (set by the composition root).
    #[arg(skip)]
    pub working_directory: WorkingDirectory,
    #[command(flatten)]
    pub attach_limits: AttachLimits,
    #[command(flatten)]
    pub wait: WaitPolicy,
    #[command(flatten)]
    pub journal: JournalOptions,
    /// The highest budget a call may use without a person's confirmation (MCP
    /// elicitation, where the client supports it); a call asking for more is
    /// not sent (server, command line).
    #[arg(
        long,
        env = "HANDINGER_MAX_BUDGET",
        value_name = "BUDGET",
        default_value = "high",
        global = true
    )]
    pub max_budget: Budget,
    /// Most credits the tasks this bridge starts may cost per API key over a
    /// rolling 24 hours, as the API reports them; past it, new tasks and
    /// follow-ups are refused until the window frees (kept in the task history,
    /// shared by processes) (server, command line).
    #[arg(long, env = "HANDINGER_MAX_CREDITS", value_name = "N", value_parser = credits_setting,
          global = true)]
    pub max_credits: Option<f64>,
    /// Most requests one client may have in flight (over it, a request is answered
    /// at once with a JSON-RPC "server busy" error), and most tasks running at once,
    /// counting those whose call stopped waiting (server, command line).
    #[arg(id = "max_in_flight", long = "max-in-flight", env = "HANDINGER_MAX_IN_FLIGHT",
          value_name = "N", default_value = "256", value_parser = count_setting, global = true)]
    pub max_running: usize,
}

/// Runs tasks against the API with the process's defaults.
pub struct TaskRunner {
    client: Client,
    key: KeySource,
    default_budget: Option<Budget>,
    default_worker_id: Option<String>,
    workspace: Workspace,
    attach_limits: AttachLimits,
    jobs: Arc<Jobs>,
    max_running: usize,
    pub wait: WaitPolicy,
    /// Where the tasks of each key are remembered (see [`crate::journal`]).
    journal: JournalOptions,
    /// The highest budget sent without confirmation.
    max_budget: Budget,
    /// Most credits per key over 24 hours.
    max_credits: Option<f64>,
    /// Writes the journal, in order, off the calls' path; shared by the runners of
    /// every key.
    recorder: Recorder,
    /// Cancelled to end every wait at once with "still running" (a server
    /// shutting down); shared by the runners of every key.
    waits_over: CancellationToken,
}

impl TaskRunner {
    pub fn new(client: Client, options: TaskOptions) -> Self {
        Self {
            client,
            key: options.key,
            default_budget: options.default_budget,
            default_worker_id: options.default_worker_id,
            workspace: options.workspace.workspace(options.working_directory),
            attach_limits: options.attach_limits,
            jobs: Arc::new(Jobs::with_limit(options.max_running)),
            max_running: options.max_running,
            wait: options.wait,
            max_budget: options.max_budget,
            max_credits: options.max_credits,
            journal: options.journal,
            recorder: Recorder::default(),
            waits_over: CancellationToken::new(),
        }
    }

    /// A runner with the same client and defaults that sends `key`, with its own
    /// table of calls: a call started with one key is never seen through another.
    pub fn with_key(&self, key: KeySource) -> Self {
        Self {
            client: self.client.clone(),
            key,
            default_budget: self.default_budget,
            default_worker_id: self.default_worker_id.clone(),
            workspace: self.workspace.clone(),
            attach_limits: self.attach_limits,
            jobs: Arc::new(Jobs::with_limit(self.max_running)),
            max_running: self.max_running,
            wait: self.wait,
            max_budget: self.max_budget,
            max_credits: self.max_credits,
            journal: self.journal.clone(),
            recorder: self.recorder.clone(),
            waits_over: self.waits_over.clone(),
        }
    }

    /// End every wait now, as if its deadline had passed: each call answers
    /// "still running" with its taskId (the work goes on on Handinger).
    pub fn end_waits(&self) {
        self.waits_over.cancel();
    }

    /// Whether a key is configured (it may still be refused by the API).
    pub fn has_key(&self) -> bool {
        self.key.resolve().is_ok()
    }

    /// Whether the API answers HTTP at all within `timeout` (sends no key): the
    /// reason when it does not (readiness probes).
    pub async fn api_reachable(&self, timeout: Duration) -> Result<(), String> {
        self.client.reachable(timeout).await
    }

    /// The credits spent with `key` over the last 24 hours against the ceiling;
    /// `None` without a ceiling (or history to count in).
    pub async fn credit_use(&self, key: &ApiKey) -> Option<CreditUse> {
        let limit = self.max_credits?;
        let journal = self.journal.journal_for(key)?;
        self.recorder.flushed().await;
        let read = read_journal(journal).await.ok()?;
        Some(CreditUse {
            spent: read.spent_in_window,
            limit,
            frees_in: read.frees_in,
        })
    }

    /// Write what the history has queued (at most 2 s): before the process ends.
    pub async fn flush_history(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.recorder.flushed()).await;
    }

    /// The credit use of the current key, for results and `doctor`.
    pub async fn current_credit_use(&self) -> Option<CreditUse> {
        let key = self.key.resolve().ok()?;
        self.credit_use(&key).await
    }

    /// Where `asked` (or the default budget, when the call names none) stands
    /// against the ceiling.
    pub fn check_budget(&self, asked: Option<Budget>) -> BudgetCheck {
        match asked.or(self.default_budget) {
            Some(asked) if asked > self.max_budget => BudgetCheck::Above {
                asked,
                max: self.max_budget,
            },
            _ => BudgetCheck::Within,
        }
    }

    /// The API's base URL as it may be shown (no userinfo).
    pub fn api_base_url(&self) -> String {
        self.client.display_base_url()
    }

    /// Whether the API takes this runner's key: asks for a task that cannot
    /// exist, so a 404 from the API itself means the key was accepted and
    /// nothing is spent. For `doctor`.
    pub async fn check_key(&self) -> Result<KeyCheck, crate::key::KeyProblem> {
        let key = self.key.resolve()?;
        let probe = format!("tsk_doctor_{}", &new_task_id()[4..]);
        Ok(match self.client.get_task(&key, &probe).await {
            // Only the API's own `{"error": ...}` 404 proves the key was
            // accepted: any web server answers 404 to an unknown path.
            Ok(_)
            | Err(ApiError::Status {
                status: 404,
                from_api: true,
                ..
            }) => KeyCheck::Accepted,
            Err(ApiError::Status {
                status: 404,
                from_api: false,
                ..
            }) => KeyCheck::NotTheApi,
            Err(ApiError::Status {
                status: status @ (401 | 403),
                message,
                ..
            }) => KeyCheck::Refused { status, message },
            Err(error) => KeyCheck::Failed {
                advice: error.trust_advice(),
                message: error.to_string(),
            },
        })
    }

    /// The workspace used when the front-end supplies none.
    pub fn default_workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// Calls whose POST is still in flight (for the shutdown report).
    pub fn running_calls(&self) -> Vec<InFlight> {
        self.jobs.running()
    }

    /// Name the calls still in flight and what is known of each, so nobody has to
    /// guess what to look up later.
    pub fn report_unfinished(&self) {
        for call in self.running_calls() {
            let task_id = call.task_id;
            if call.body_sent {
                tracing::warn!(
                    task_id,
                    "exiting while this task may still run on Handinger; get_task finds its result later"
                );
            } else {
                tracing::warn!(
                    task_id,
                    "exiting before this task's request was sent whole: the upload is cut, so the \
                     task was not started"
                );
            }
        }
    }

    /// Start a task or follow-up turn and wait for it up to `wait`.
    ///
    /// A follow-up on a task whose previous turn this bridge is still running first
    /// waits for that turn, so two turns never run at once by accident; if the wait
    /// ends first, nothing is sent and the outcome says so.
    pub async fn run(
        &self,
        request: TaskRequest,
        wait: Duration,
        cancel: &CancellationToken,
        progress: &mut impl Progress,
    ) -> Result<CallOutcome, TaskError> {
        let deadline = deadline_after(wait);
        // Boxed, as every await here but the wait: a waiting call keeps this
        // future's full size for as long as it waits.
        let mut prepared = Box::pin(self.prepare(request)).await?;
        if prepared.kind == TaskKind::FollowUp && self.jobs.get(&prepared.task_id).is_none() {
            Box::pin(self.check_exists(&prepared)).await?;
        }
        loop {
            let mut previous = match self.send(prepared).await {
                Ok(handle) => {
                    // The first progress goes out at once, naming the task; the
                    // dashboard URL follows if the API names it within a second.
                    let sent = format!("Handinger task {} was sent", handle.task_id);
                    progress.report(Duration::ZERO, sent).await;
                    let describe = progress
                        .shown()
                        .then(|| self.dashboard_url(handle.task_id.clone()));
                    return self
                        .settle(handle, deadline, cancel, progress, describe)
                        .await;
                }
                Err((held, NotBegun::SameTaskRunning(running))) => {
                    prepared = *held;
                    running
                }
                Err((held, NotBegun::Full { limit })) => {
                    return Err(TaskError {
                        task_id: Some(held.task_id),
                        kind: held.kind,
                        failure: TaskFailure::TooManyRunning { limit },
                    });
                }
            };
            // Only a follow-up can meet a running call of its task (new tasks get
            // fresh ids): wait for that turn, then try again.
            let message = format!(
                "Waiting for the previous turn of task {} before sending the follow-up",
                prepared.task_id
            );
            let mut live = LiveOutput::default();
            match self
                .wait_on(
                    &mut previous,
                    deadline,
                    cancel,
                    progress,
                    (&message, &mut live),
                    None,
                )
                .await
            {
                Waited::Done(_) => continue,
                Waited::Deadline => {
                    let mut running = self.still_running(&previous).await;
                    running.follow_up_not_sent = true;
                    return Ok(CallOutcome::Running(running));
                }
                Waited::Cancelled => return Err(cancelled(&prepared.task_id, prepared.kind)),
            }
        }
    }

    /// Begin the job for `prepared`, record it in the history and send the POST
    /// in the background; or give `prepared` back with the reason it was not.
    async fn send(&self, prepared: Prepared) -> Result<JobHandle, (Box<Prepared>, NotBegun)> {
        let (handle, completion) = match self.jobs.begin(
            &prepared.task_id,
            prepared.kind,
            prepared.body.worker_id.clone(),
        ) {
            Ok(begun) => begun,
            Err(not_begun) => return Err((Box::new(prepared), not_begun)),
        };
        let update = journal::Update {
            input: Some(prepared.body.input.clone()),
            worker_id: prepared.body.worker_id.clone(),
            status: Some("running".to_owned()),
            output_schema: prepared.schema.as_ref().map(|s| s.hash().to_owned()),
            turn: prepared.turn,
            ..journal::Update::default()
        };
        self.remember(&prepared.task_id, update).await;
        self.launch(prepared, completion, handle.body_sent.clone());
        Ok(handle)
    }

    /// The state of a task: a result this process kept, the call still running
    /// (waited on up to `wait`), or what the API says (after a restart, say).
    pub async fn get(
        &self,
        task_id: &str,
        wait: Duration,
        cancel: &CancellationToken,
        progress: &mut impl Progress,
    ) -> Result<CallOutcome, TaskError> {
        let task_id = lookup_id(task_id)?;
        if let Some(handle) = self.jobs.get(task_id) {
            match handle.result() {
                None => {
                    let deadline = deadline_after(wait);
                    return self.settle(handle, deadline, cancel, progress, None).await;
                }
                Some(result) => match &*result {
                    Ok(outcome) => return Ok(CallOutcome::Finished(Box::new(outcome.clone()))),
                    Err(error) if !error.may_have_run() => return Err(error.clone()),
                    // The call failed but the work may have finished on the server.
                    Err(_) => {}
                },
            }
        }
        let outcome = self.await_remote(task_id, wait, cancel, progress).await;
        // A task looked up is remembered too, so it can be found again.
        match &outcome {
            Ok(CallOutcome::Finished(finished)) => {
                self.remember(task_id, answered(&finished.worker)).await;
            }
            Ok(CallOutcome::Running(running)) if running.worker_id.is_some() => {
                let update = journal::Update {
                    worker_id: running.worker_id.clone(),
                    ..journal::Update::default()
                };
                self.remember(task_id, update).await;
            }
            _ => {}
        }
        outcome
    }

    /// Write `update` into the journal of the current key (a failure is logged:
    /// the call goes on without its history).
    async fn remember(&self, task_id: &str, update: journal::Update) {
        let journal = self
            .key
            .resolve()
            .ok()
            .and_then(|key| self.journal.journal_for(&key));
        if let Some(journal) = journal {
            self.recorder.record(journal, task_id, update).await;
        }
    }

    /// The tasks this bridge started or looked up with the current key, newest
    /// first; statuses that may still change are refreshed from the API first
    /// (at most `filter.limit` lookups, at once, each within a few seconds).
    pub async fn list(&self, filter: ListFilter) -> Result<CallOutcome, TaskError> {
        let fail = |failure| TaskError {
            task_id: None,
            kind: TaskKind::Lookup,
            failure,
        };
        let key = self
            .key
            .resolve()
            .map_err(|p| fail(TaskFailure::MissingKey(p)))?;
        let Some(journal) = self.journal.journal_for(&key) else {
            let off = if self.journal.no_history {
                "the task history is off (--no-history)"
            } else {
                "no state folder is known (set --state-dir or HOME)"
            };
            return Ok(CallOutcome::Listed(TaskList {
                off: Some(off),
                ..TaskList::default()
            }));
        };
        // What this process queued is written before it is read.
        self.recorder.flushed().await;
        let read = read_journal(journal.clone()).await.map_err(|e| {
            fail(TaskFailure::Internal {
                message: e.to_string(),
            })
        })?;
        let open: Vec<String> = read
            .entries
            .iter()
            .filter(|e| filter.refresh && e.is_open())
            .take(filter.limit.max(1))
            .map(|e| e.task_id.clone())
            .collect();
        let lookups = open.iter().map(|task_id| {
            let lookup = self.client.get_task(&key, task_id);
            async move {
                (
                    task_id,
                    tokio::time::timeout(DESCRIBE_TIMEOUT * 5, lookup).await,
                )
            }
        });
        let mut stale = 0;
        for (task_id, found) in futures_util::future::join_all(lookups).await {
            match found {
                Ok(Ok(found)) => {
                    let credits: f64 = found.turns.iter().filter_map(|t| t.credits).sum();
                    let update = journal::Update {
                        worker_id: found.task.worker_id,
                        status: Some(found.task.status).filter(|s| !s.is_empty()),
                        credits: (credits > 0.0).then_some(credits),
                        ..journal::Update::default()
                    };
                    self.recorder.record(journal.clone(), task_id, update).await;
                }
                _ => stale += 1,
            }
        }
        let read = if open.is_empty() {
            read
        } else {
            self.recorder.flushed().await;
            read_journal(journal).await.map_err(|e| {
                fail(TaskFailure::Internal {
                    message: e.to_string(),
                })
            })?
        };
        let total = read.entries.len();
        let text = filter.text.as_deref().map(str::to_lowercase);
        let tasks = read
            .entries
            .into_iter()
            .filter(|e| filter.status.as_deref().is_none_or(|s| e.status == s))
            .filter(|e| {
                text.as_deref().is_none_or(|t| {
                    e.input.to_lowercase().contains(t) || e.task_id.to_lowercase().contains(t)
                })
            })
            .take(filter.limit.max(1))
            .collect();
        Ok(CallOutcome::Listed(TaskList {
            tasks,
            total,
            off: None,
            set_aside: read.set_aside,
            stale,
        }))
    }

    /// Archive a task (`DELETE /api/tasks/{id}`): it stops appearing in the
    /// API's listings; nothing is cancelled. The API's own error comes through
    /// (only the task's creator may archive it).
    pub async fn archive(&self, task_id: &str) -> Result<CallOutcome, TaskError> {
        let task_id = lookup_id(task_id)?;
        let fail = lookup_failure(task_id);
        let key = self.lookup_key(task_id)?;
        let archived = self
            .client
            .archive_task(&key, task_id)
            .await
            .map_err(|e| fail(TaskFailure::from_api(e, self.key.origin())))?;
        if archived {
            let update = journal::Update {
                status: Some("archived".to_owned()),
                ..journal::Update::default()
            };
            self.remember(task_id, update).await;
        }
        Ok(CallOutcome::Archived {
            task_id: task_id.to_owned(),
            archived,
        })
    }

    /// Wait for a task this process did not start (or no longer holds) by polling
    /// the API, with a backoff from [`POLL_FIRST`] to [`POLL_MAX`] that honours
    /// 429 and Retry-After, reporting progress meanwhile. Ends when the task
    /// completes, fails, or the wait runs out: each lookup has its own deadline
    /// (what is left of the wait, capped), so a slow or rate-limiting API can
    /// never hold the call past its wait.
    async fn await_remote(
        &self,
        task_id: &str,
        wait: Duration,
        cancel: &CancellationToken,
        progress: &mut impl Progress,
    ) -> Result<CallOutcome, TaskError> {
        let started = Instant::now();
        let deadline = deadline_after(wait);
        let mut delay = POLL_FIRST;
        let mut live = LiveOutput::default();
        // Still running as far as anyone can tell; with what was seen of it.
        let unanswered = |live: &LiveOutput, worker_id: &Option<String>| {
            CallOutcome::Running(StillRunning {
                task_id: task_id.to_owned(),
                kind: TaskKind::Lookup,
                worker_id: worker_id.clone(),
                url: None,
                elapsed: None,
                follow_up_not_sent: false,
                partial_output: live.partial.clone(),
            })
        };
        let mut worker_id = None;
        loop {
            let allowance = deadline
                .saturating_duration_since(Instant::now())
                .clamp(LOOKUP_MIN, LOOKUP_MAX);
            let lookup = tokio::select! {
                looked = tokio::time::timeout(allowance, self.lookup(task_id)) => looked,
                _ = cancel.cancelled() => return Err(cancelled(task_id, TaskKind::Lookup)),
                _ = self.waits_over.cancelled() => return Ok(unanswered(&live, &worker_id)),
            };
            let pause = match lookup {
                // The API did not answer in time: past the wait, say it still runs.
                Err(_) if Instant::now() >= deadline => return Ok(unanswered(&live, &worker_id)),
                Err(_) => delay,
                Ok(Ok(CallOutcome::Running(mut running))) => {
                    let url = running
                        .url
                        .as_deref()
                        .map(|u| format!(": {u}"))
                        .unwrap_or_default();
                    let mut message = format!("Handinger task {task_id} is running{url}");
                    worker_id = running.worker_id.clone();
                    // While progress is shown, one look at the worker per poll.
                    if progress.shown() && running.worker_id.is_some() {
                        let look = self
                            .peek(running.worker_id.clone(), task_id, allowance)
                            .await;
                        if let Some(line) = look.worker.and_then(|w| live.update(&w.answer())) {
                            let seconds = started.elapsed().as_secs();
                            message = format!("{message} ({seconds} s): {line}");
                        }
                    }
                    progress.report(started.elapsed(), message).await;
                    if Instant::now() >= deadline {
                        running.partial_output = live.partial;
                        return Ok(CallOutcome::Running(running));
                    }
                    delay
                }
                // Rate limited: wait as asked, at least the shortest pause; a
                // pause that outlasts the wait ends it with "still running".
                Ok(Err(TaskError {
                    failure:
                        TaskFailure::Api(ApiError::Status {
                            status: 429,
                            retry_after,
                            ..
                        }),
                    ..
                })) => {
                    let pause = retry_after.unwrap_or(delay).max(POLL_FIRST);
                    if Instant::now() + pause >= deadline {
                        return Ok(unanswered(&live, &worker_id));
                    }
                    pause
                }
                Ok(finished) => return finished,
            };
            delay = (delay * 2).min(POLL_MAX);
            let pause = pause.min(deadline.saturating_duration_since(Instant::now()));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = cancel.cancelled() => return Err(cancelled(task_id, TaskKind::Lookup)),
                _ = self.waits_over.cancelled() => return Ok(unanswered(&live, &worker_id)),
            }
            if Instant::now() >= deadline {
                return Ok(unanswered(&live, &worker_id));
            }
        }
    }

    /// Before a follow-up is sent for a task this process does not hold: the API
    /// treats an unknown taskId as a new task, so a mistyped id would start (and
    /// bill) a fresh one. Nothing is sent unless the task exists. Returns how many
    /// turns it has.
    async fn check_exists(&self, prepared: &Prepared) -> Result<usize, TaskError> {
        let fail = |failure| TaskError {
            task_id: Some(prepared.task_id.clone()),
            kind: TaskKind::FollowUp,
            failure,
        };
        match self.client.get_task(&prepared.key, &prepared.task_id).await {
            // A task the API knows has at least its first turn.
            Ok(found) => Ok(found.turns.len().max(1)),
            Err(ApiError::Status { status: 404, .. }) => Err(fail(TaskFailure::UnknownTask)),
            Err(
                error @ ApiError::Status {
                    status: 401 | 403, ..
                },
            ) => Err(fail(TaskFailure::from_api(error, self.key.origin()))),
            Err(error) => Err(fail(TaskFailure::NotChecked(error))),
        }
    }

    /// The task's dashboard URL, if the API names it within [`DESCRIBE_TIMEOUT`].
    fn dashboard_url(&self, task_id: String) -> Describe {
        let client = self.client.clone();
        let key = self.key.resolve().ok();
        Box::pin(async move {
            let key = key?;
            let lookup = client.get_task(&key, &task_id);
            let found = tokio::time::timeout(DESCRIBE_TIMEOUT, lookup)
                .await
                .ok()?
                .ok()?;
            Some(Described {
                url: found.task.url,
                worker_id: found.task.worker_id,
            })
        })
    }

    /// Check a request and open its files; nothing is sent. The file checks run
    /// on a blocking thread, so a slow disk never stalls the protocol.
    async fn prepare(&self, request: TaskRequest) -> Result<Prepared, TaskError> {
        let kind = request.kind;
        let fail = |task_id: Option<String>, failure| TaskError {
            task_id,
            kind,
            failure,
        };
        let task_id = match (kind, request.task_id) {
            (TaskKind::FollowUp, Some(id)) if is_task_id(id.trim()) => id.trim().to_owned(),
            (TaskKind::FollowUp | TaskKind::Lookup, id) => {
                return Err(fail(None, invalid_task_id(id.as_deref().unwrap_or(""))));
            }
            (TaskKind::New, _) => new_task_id(),
        };
        if request.input.trim().is_empty() {
            return Err(fail(
                Some(task_id),
                TaskFailure::invalid("input", "must not be empty"),
            ));
        }
        if request.output_schema.is_some() && request.worker_id.is_some() {
            return Err(fail(
                Some(task_id),
                TaskFailure::invalid(
                    "outputSchema",
                    "a typed task runs on a worker made for its schema; give outputSchema or \
                     workerId, not both",
                ),
            ));
        }
        let new_schema = request
            .output_schema
            .map(typed::checked_schema)
            .transpose()
            .map_err(|failure| fail(Some(task_id.clone()), failure))?;
        let workspace = request.workspace.unwrap_or_else(|| self.workspace.clone());
        let limits = self.attach_limits;
        let (paths, uploads) = (request.files, request.uploads);
        let files = tokio::task::spawn_blocking(move || {
            let mut files = workspace.attach(&paths, limits)?;
            let inline = attach_inline(uploads, limits, &files)?;
            files.extend(inline);
            Ok(files)
        })
        .await
        .map_err(|e| {
            fail(
                Some(task_id.clone()),
                TaskFailure::invalid("files", &format!("the file check failed: {e}")),
            )
        })?
        .map_err(|e| fail(Some(task_id.clone()), TaskFailure::Attach(Box::new(e))))?;
        let key = self
            .key
            .resolve()
            .map_err(|p| fail(Some(task_id.clone()), TaskFailure::MissingKey(p)))?;
        let worker_id = request
            .worker_id
            .filter(|w| !w.trim().is_empty())
            .or_else(|| self.default_worker_id.clone());
        if let (BudgetCheck::Above { asked, max }, false) =
            (self.check_budget(request.budget), request.budget_confirmed)
        {
            return Err(fail(Some(task_id), TaskFailure::OverBudget { asked, max }));
        }
        if let Some(credits) = self.credit_use(&key).await
            && credits.spent >= credits.limit
        {
            return Err(fail(Some(task_id), TaskFailure::CreditCeiling(credits)));
        }
        // A typed task runs on its schema's template; a follow-up in one is
        // checked against the schema the history keeps for it.
        let (worker_id, schema) = match new_schema {
            Some(schema) => {
                let template = self
                    .template_for(&key, &schema)
                    .await
                    .map_err(|failure| fail(Some(task_id.clone()), failure))?;
                (Some(template), Some(schema))
            }
            None if kind == TaskKind::FollowUp => {
                (worker_id, self.schema_of_task(&key, &task_id).await)
            }
            None => (worker_id, None),
        };
        Ok(Prepared {
            body: CreateTaskBody {
                input: request.input,
                budget: request.budget.or(self.default_budget),
                task_id: task_id.clone(),
                worker_id,
            },
            task_id,
            kind,
            key,
            files,
            schema,
            // A new task's first turn; a follow-up's is known once the API
            // has been asked how many it has.
            turn: (kind == TaskKind::New).then(|| (1, unix_now())),
        })
    }

    /// Send the POST in the background; its result goes to the job table. A panic
    /// in the request is caught and recorded as this task's failure, so the job
    /// never stays "running" forever.
    fn launch(&self, prepared: Prepared, completion: Completion, body_sent: Arc<AtomicBool>) {
        let Prepared {
            task_id,
            kind,
            key,
            body,
            files,
            schema,
            turn,
        } = prepared;
        let client = self.client.clone();
        let jobs = self.jobs.clone();
        let key_origin = self.key.origin();
        let journal = self.journal.journal_for(&key);
        let recorder = self.recorder.clone();
        tracing::info!(
            task_id,
            ?kind,
            files = files.len(),
            "sending POST /api/tasks"
        );
        let plan = let_go::Plan {
            turn: turn
                .map(|(turn, _)| turn)
                .or((kind == TaskKind::New).then_some(1)),
            task_id: task_id.clone(),
            hold: self.wait.hold_post,
        };
        tokio::spawn(async move {
            let answer = let_go::answer(&client, &key, (&body, &files), &body_sent, plan).await;
            drop((body, files));
            // Boxed: the task keeps this future's full size while its POST is open.
            let sent = Sent {
                task_id,
                kind,
                schema,
                journal,
                recorder,
                key_origin,
            };
            let result = Box::pin(sent.conclude(answer)).await;
            jobs.finish(completion, result);
        });
    }

    /// Wait for a running call up to `deadline`; `describe`, if given, finds the
    /// dashboard URL for an early progress report.
    async fn settle(
        &self,
        mut handle: JobHandle,
        deadline: Instant,
        cancel: &CancellationToken,
        progress: &mut impl Progress,
        describe: Option<Describe>,
    ) -> Result<CallOutcome, TaskError> {
        let message = format!("Handinger task {} is running", handle.task_id);
        let mut live = LiveOutput::default();
        match self
            .wait_on(
                &mut handle,
                deadline,
                cancel,
                progress,
                (&message, &mut live),
                describe,
            )
            .await
        {
            Waited::Done(result) => match &*result {
                Ok(outcome) => {
                    let mut outcome = outcome.clone();
                    outcome.credit_use = self.current_credit_use().await;
                    Ok(CallOutcome::Finished(Box::new(outcome)))
                }
                Err(error) => Err(error.clone()),
            },
            Waited::Deadline => {
                tracing::info!(
                    task_id = handle.task_id,
                    "wait ended; the task keeps running in the background"
                );
                let mut running = self.still_running(&handle).await;
                running.partial_output = live.partial;
                Ok(CallOutcome::Running(running))
            }
            Waited::Cancelled => Err(cancelled(&handle.task_id, handle.kind)),
        }
    }

    /// The key a lookup of `task_id` asks with.
    fn lookup_key(&self, task_id: &str) -> Result<ApiKey, TaskError> {
        self.key
            .resolve()
            .map_err(|p| lookup_failure(task_id)(TaskFailure::MissingKey(p)))
    }

    /// Ask the API for a task this process has no result for.
    async fn lookup(&self, task_id: &str) -> Result<CallOutcome, TaskError> {
        let key = self.lookup_key(task_id)?;
        let found = self.client.get_task(&key, task_id).await.map_err(|error| {
            lookup_failure(task_id)(TaskFailure::from_api(error, self.key.origin()))
        })?;
        self.answer_from(&key, task_id, found).await
    }

    /// What `GET /api/tasks/{id}` said of a task, as an outcome: still running,
    /// ended in error, or its latest answer (whole, from the worker endpoint,
    /// else from its turns).
    async fn answer_from(
        &self,
        key: &ApiKey,
        task_id: &str,
        TaskEnvelope { task, turns }: TaskEnvelope,
    ) -> Result<CallOutcome, TaskError> {
        let fail = lookup_failure(task_id);
        let api = |error| fail(TaskFailure::from_api(error, self.key.origin()));
        match task.status.as_str() {
            "completed" => {}
            "error" | "aborted" => {
                return Err(fail(TaskFailure::Remote {
                    status: task.status,
                    url: task.url,
                }));
            }
            _ => {
                return Ok(CallOutcome::Running(StillRunning {
                    task_id: task_id.to_owned(),
                    kind: TaskKind::Lookup,
                    worker_id: task.worker_id,
                    url: task.url,
                    elapsed: None,
                    follow_up_not_sent: false,
                    partial_output: None,
                }));
            }
        }
        let worker = whole_answer(&self.client, key, task_id, TaskEnvelope { task, turns })
            .await
            .map_err(api)?;
        // A typed task's answer is checked here too, by the schema the history
        // keeps for it.
        let schema = self.schema_of_task(key, task_id).await;
        Ok(CallOutcome::Finished(Box::new(TaskOutcome {
            task_id: task_id.to_owned(),
            kind: TaskKind::Lookup,
            shape: typed::shape_of(schema.as_ref(), worker.structured_output.as_ref()),
            worker,
            credit_use: None,
        })))
    }

    /// A call still running, with the worker and dashboard URL when the API can
    /// name them quickly (the task exists on the server once its POST started).
    async fn still_running(&self, handle: &JobHandle) -> StillRunning {
        let mut running = StillRunning {
            task_id: handle.task_id.clone(),
            kind: handle.kind,
            worker_id: handle.worker_id.clone(),
            url: None,
            elapsed: Some(handle.started.elapsed()),
            follow_up_not_sent: false,
            partial_output: None,
        };
        let Ok(key) = self.key.resolve() else {
            return running;
        };
        let lookup = self.client.get_task(&key, &handle.task_id);
        if let Ok(Ok(found)) = tokio::time::timeout(DESCRIBE_TIMEOUT, lookup).await {
            running.worker_id = running.worker_id.or(found.task.worker_id);
            running.url = found.task.url;
        }
        running
    }

    /// Wait for `handle` until it finishes, the deadline passes or the caller
    /// cancels, reporting progress meanwhile (never after the wait ends): every
    /// interval, and once more when `describe` names the dashboard URL. While
    /// progress is shown and the worker is known, each tick first looks at the
    /// worker's output (one GET, no longer than the interval) and the report
    /// carries its latest line; what was seen stays in `live`.
    async fn wait_on(
        &self,
        handle: &mut JobHandle,
        deadline: Instant,
        cancel: &CancellationToken,
        progress: &mut impl Progress,
        (message, live): (&str, &mut LiveOutput),
        describe: Option<Describe>,
    ) -> Waited {
        let interval = self.wait.progress_interval;
        let started = handle.started;
        let deadline = tokio::time::Instant::from_std(deadline);
        let interval = interval.max(Duration::from_millis(100));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut describe = describe.map_or_else(Fuse::terminated, FutureExt::fuse);
        let mut worker_id = handle.worker_id.clone();
        let mut peek: Fuse<Peek> = Fuse::terminated();
        let tick_message = |line: Option<String>| {
            let seconds = started.elapsed().as_secs();
            match line {
                Some(line) => format!("{message} ({seconds} s): {line}"),
                None => format!("{message} ({seconds} s)"),
            }
        };
        loop {
            tokio::select! {
                biased;
                result = handle.finished() => return Waited::Done(result),
                _ = cancel.cancelled() => return Waited::Cancelled,
                _ = tokio::time::sleep_until(deadline) => return Waited::Deadline,
                _ = self.waits_over.cancelled() => return Waited::Deadline,
                described = &mut describe => {
                    let Some(described) = described else { continue };
                    worker_id = worker_id.or(described.worker_id);
                    if let Some(url) = described.url {
                        progress.report(started.elapsed(), format!("{message}: {url}")).await;
                    }
                }
                look = &mut peek => {
                    worker_id = worker_id.or(look.worker_id);
                    let line = look.worker.and_then(|worker| live.update(&worker.answer()));
                    progress.report(started.elapsed(), tick_message(line)).await;
                }
                _ = ticks.tick() => {
                    if !peek.is_terminated() {
                        // A look still in flight reports when it ends.
                        continue;
                    }
                    if progress.shown() {
                        peek = self.peek(worker_id.clone(), &handle.task_id, interval).fuse();
                    } else {
                        progress.report(started.elapsed(), tick_message(None)).await;
                    }
                }
            }
        }
    }

    /// One request, given up after `within`: the worker's output for `task_id`,
    /// or, while the worker is unknown, the task (to learn its worker).
    fn peek(&self, worker_id: Option<String>, task_id: &str, within: Duration) -> Peek {
        let client = self.client.clone();
        let key = self.key.resolve().ok();
        let task_id = task_id.to_owned();
        Box::pin(async move {
            let Some(key) = key else {
                return Look::default();
            };
            match worker_id {
                Some(worker_id) => {
                    let look = client.get_worker(&key, &worker_id, &task_id);
                    let worker = tokio::time::timeout(within, look)
                        .await
                        .ok()
                        .and_then(Result::ok);
                    Look {
                        worker_id: None,
                        worker,
                    }
                }
                None => {
                    let look = client.get_task(&key, &task_id);
                    let found = tokio::time::timeout(within, look)
                        .await
                        .ok()
                        .and_then(Result::ok);
                    Look {
                        worker_id: found.and_then(|found| found.task.worker_id),
                        worker: None,
                    }
                }
            }
        })
    }
}

/// A POST that went out, as its answer is taken in.
struct Sent {
    task_id: String,
    kind: TaskKind,
    schema: Option<OutputSchema>,
    journal: Option<Journal>,
    recorder: Recorder,
    /// Where the key came from, for an error about it.
    key_origin: Option<KeyOrigin>,
}

impl Sent {
    /// Record the API's answer (or forget a task that never ran) and make it
    /// the job's result.
    async fn conclude(self, answer: Answered) -> CallResult {
        let (task_id, kind, schema) = (self.task_id, self.kind, self.schema);
        let (journal, recorder) = (self.journal, self.recorder);
        let fail = |failure| TaskError {
            task_id: Some(task_id.clone()),
            kind,
            failure,
        };
        let answer = match answer {
            Answered::Posted(answer) => answer,
            Answered::Polled(Ok(worker)) => Ok(Ok(worker)),
            Answered::Polled(Err(PollEnd::TimedOut(after))) => {
                Ok(Err(ApiError::TimedOut { after }))
            }
            Answered::Polled(Err(PollEnd::Remote { status, url })) => {
                tracing::warn!(
                    task_id,
                    status,
                    "the task ended on the server without an answer"
                );
                if let Some(journal) = journal {
                    let update = journal::Update {
                        status: Some(status.clone()),
                        ..journal::Update::default()
                    };
                    recorder.record(journal, &task_id, update).await;
                }
                return Err(fail(TaskFailure::Remote { status, url }));
            }
        };
        match answer {
            Ok(Ok(worker)) => {
                tracing::info!(task_id, worker_id = worker.id, status = ?worker.status, "task answered");
                if let Some(journal) = journal {
                    // A turn this bridge started: its credits count against the
                    // credit ceiling.
                    let update = journal::Update {
                        spent: worker.usage.as_ref().and_then(|u| u.credits),
                        ..answered(&worker)
                    };
                    recorder.record(journal, &task_id, update).await;
                }
                Ok(TaskOutcome {
                    task_id: task_id.clone(),
                    kind,
                    shape: typed::shape_of(schema.as_ref(), worker.structured_output.as_ref()),
                    worker,
                    credit_use: None,
                })
            }
            Ok(Err(error)) => {
                tracing::warn!(task_id, %error, "task call failed");
                // A typed task whose template the API no longer knows: the next
                // one makes a new template.
                let template_gone = kind == TaskKind::New
                    && schema.is_some()
                    && matches!(error, ApiError::Status { status: 404, .. });
                if let (true, Some(schema), Some(journal)) = (template_gone, &schema, &journal) {
                    typed::forget_template(journal.clone(), schema).await;
                }
                // A new task refused before it ran never existed: forget it.
                if kind == TaskKind::New
                    && !error.may_have_run()
                    && let Some(journal) = journal
                {
                    let forget = journal::Update {
                        forget: true,
                        ..journal::Update::default()
                    };
                    recorder.record(journal, &task_id, forget).await;
                }
                Err(fail(if template_gone {
                    TaskFailure::TemplateGone(error)
                } else {
                    TaskFailure::from_api(error, self.key_origin)
                }))
            }
            Err(message) => {
                tracing::error!(task_id, message, "the request panicked");
                Err(fail(TaskFailure::Internal { message }))
            }
        }
    }
}

/// A taskId a lookup (or an archive) names, trimmed; refused, with nothing
/// sent, when it is not an id.
fn lookup_id(task_id: &str) -> Result<&str, TaskError> {
    let task_id = task_id.trim();
    if is_task_id(task_id) {
        Ok(task_id)
    } else {
        Err(TaskError {
            task_id: None,
            kind: TaskKind::Lookup,
            failure: invalid_task_id(task_id),
        })
    }
}

/// A failure of a lookup of `task_id` (nothing was started).
fn lookup_failure(task_id: &str) -> impl Fn(TaskFailure) -> TaskError + '_ {
    move |failure| TaskError {
        task_id: Some(task_id.to_owned()),
        kind: TaskKind::Lookup,
        failure,
    }
}

/// What a worker's answer says of its task, for the journal.
fn answered(worker: &Worker) -> journal::Update {
    journal::Update {
        input: None,
        worker_id: Some(worker.id.clone()).filter(|id| !id.is_empty()),
        status: Some(
            worker
                .status
                .clone()
                .unwrap_or_else(|| "completed".to_owned()),
        ),
        credits: worker.usage.as_ref().and_then(|u| u.credits),
        ..journal::Update::default()
    }
}

/// Read `journal` on a blocking thread.
async fn read_journal(journal: Journal) -> Result<journal::Read, String> {
    tokio::task::spawn_blocking(move || journal.read())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Run `future`; a panic inside it becomes its message instead of unwinding
/// through the task (which would leave the job without a result).
fn unwind_to_message<T>(
    future: impl Future<Output = T>,
) -> impl Future<Output = Result<T, String>> {
    // A combinator, not an `async fn`: an async wrapper would keep a second copy
    // of `future` in its own state, and a POST's future is held for minutes.
    AssertUnwindSafe(future).catch_unwind().map(|caught| {
        caught.map_err(|panic| {
            panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned())
        })
    })
}

/// A completed task's latest answer, whole: the worker endpoint's (sources and
/// files), unless it holds no text or still says it runs; then its turns' (the legacy `/turns` list
/// for servers older than SDK 0.10, which keep them there; a server without it
/// simply has none to give).
async fn whole_answer(
    client: &Client,
    key: &ApiKey,
    task_id: &str,
    TaskEnvelope { task, turns }: TaskEnvelope,
) -> Result<Worker, ApiError> {
    let from_worker = match &task.worker_id {
        Some(worker_id) => match client.get_worker(key, worker_id, task_id).await {
            Ok(worker) => Some(worker),
            Err(ApiError::Status { status: 404, .. }) => None,
            Err(error) => return Err(error),
        },
        None => None,
    };
    // One that still says it runs lags behind the task: its text is output so far.
    let finished = |worker: &Worker| {
        worker.running != Some(true)
            && !matches!(worker.status.as_deref(), Some("running" | "pending"))
    };
    match from_worker {
        Some(worker) if finished(&worker) && !worker.answer().trim().is_empty() => Ok(worker),
        from_worker => {
            let turns = match turns.is_empty() {
                false => turns,
                true => match client.get_turns(key, task_id).await {
                    Err(ApiError::Status { status: 404, .. }) => Vec::new(),
                    turns => turns?,
                },
            };
            let mut worker = from_worker.unwrap_or_default();
            worker_from_turns(&mut worker, &task, turns);
            Ok(worker)
        }
    }
}

/// The answer of one completed turn from its own record (a turn another
/// followed: the worker endpoint speaks only of the latest).
fn answer_of_turn(task: &crate::handinger::TaskInfo, turn: Turn) -> Worker {
    let mut worker = Worker::default();
    worker_from_turns(&mut worker, task, vec![turn]);
    // The task's own status is its latest turn's.
    worker.status = Some("completed".to_owned());
    worker
}

/// Fill a Worker-shaped answer from the task's latest turn that holds output,
/// whatever its role (the documented example puts the input and the answer on one
/// turn with role "user"). Sources and files the worker endpoint gave are kept.
fn worker_from_turns(worker: &mut Worker, task: &crate::handinger::TaskInfo, turns: Vec<Turn>) {
    let latest = turns
        .into_iter()
        .enumerate()
        .filter(|(_, turn)| turn.has_output())
        .max_by_key(|(at, turn)| (turn.seq.unwrap_or(i64::MIN), *at))
        .map(|(_, turn)| turn);
    if worker.id.is_empty() {
        worker.id = task.worker_id.clone().unwrap_or_default();
    }
    worker.status = Some(task.status.clone());
    worker.url = worker.url.take().or_else(|| task.url.clone());
    let Some(turn) = latest else {
        return;
    };
    worker.output_text = turn.output_text.unwrap_or_default();
    worker.output.clear();
    if worker.files.is_empty() {
        worker.files = turn.files;
    }
    worker.structured_output = worker.structured_output.take().or(turn.structured_output);
    worker.usage = Some(Usage {
        credits: turn.credits,
        duration_ms: turn.duration_ms,
    });
}

/// The refusal of a taskId that is not an id; nothing is sent.
fn invalid_task_id(given: &str) -> TaskFailure {
    let problem = if given.trim().is_empty() {
        "must be the id of an existing task".to_owned()
    } else {
        format!(
            "{:?} is not a task id: ids are 1 to {MAX_TASK_ID_CHARS} letters, digits, `_` \
             and `-` (such as tsk_2Z9Wq...); nothing was sent",
            given.chars().take(40).collect::<String>()
        )
    };
    TaskFailure::InvalidArgument {
        argument: "taskId",
        problem,
    }
}

fn cancelled(task_id: &str, kind: TaskKind) -> TaskError {
    tracing::warn!(
        task_id,
        "call cancelled by the client; the task keeps running on Handinger and can be looked up later"
    );
    TaskError {
        task_id: Some(task_id.to_owned()),
        kind,
        failure: TaskFailure::Cancelled,
    }
}

/// `now + wait`, saturating: no wait can overflow the clock.
fn deadline_after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait).unwrap_or_else(|| now + NO_DEADLINE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: WaitPolicy = WaitPolicy {
        default_wait: Duration::from_secs(50),
        max_wait: Duration::from_secs(600),
        progress_interval: Duration::from_secs(10),
        hold_post: Duration::from_secs(10),
    };

    proptest::proptest! {
        /// Any waitSeconds a client sends gives a wait between 0 and the maximum.
        #[test]
        fn any_wait_seconds_is_clamped(secs in proptest::num::f64::ANY) {
            let wait = POLICY.wait_for(Some(secs));
            proptest::prop_assert!(wait <= POLICY.max_wait);
            let _ = deadline_after(wait);
        }
    }

    #[test]
    fn odd_waits_mean_the_default_or_the_maximum() {
        assert_eq!(POLICY.wait_for(None), POLICY.default_wait);
        assert_eq!(POLICY.wait_for(Some(f64::NAN)), POLICY.default_wait);
        assert_eq!(POLICY.wait_for(Some(-1.0)), POLICY.default_wait);
        assert_eq!(POLICY.wait_for(Some(1e20)), POLICY.max_wait);
        assert_eq!(POLICY.wait_for(Some(f64::INFINITY)), POLICY.max_wait);
        assert_eq!(POLICY.wait_for(Some(2.5)), Duration::from_millis(2500));
    }

    #[tokio::test]
    async fn a_panic_in_the_request_is_caught_as_a_failure_that_may_have_run() {
        let request = async {
            if std::hint::black_box(true) {
                panic!("boom in the client");
            }
            Ok::<u32, ApiError>(1)
        };
        let message = unwind_to_message(request).await.expect_err("caught");
        assert_eq!(message, "boom in the client");
        assert_eq!(unwind_to_message(async { 7 }).await, Ok(7));
        let error = TaskError {
            task_id: Some("tsk_p".into()),
            kind: TaskKind::New,
            failure: TaskFailure::Internal { message },
        };
        assert!(error.may_have_run());
        let text = error.to_string();
        assert!(
            text.contains("tsk_p") && text.contains("may have run"),
            "{text}"
        );
    }
}
