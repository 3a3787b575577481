//! Work named by task and turn, for task handles any replica can answer: a
//! start that sends and returns at once, and the state of one turn as the API
//! tells it. Nothing here depends on what this process remembers.

use std::time::Duration;

use super::{
    CallOutcome, NotBegun, TaskError, TaskFailure, TaskKind, TaskOutcome, TaskRequest, TaskRunner,
    answered, jobs::JobHandle, lookup_failure, lookup_id, worker_from_turns,
};
use crate::handinger::{ApiError, TaskEnvelope, Worker};

/// Longest wait for the API to list a task just sent before its handle is given.
const ACCEPT_WAIT: Duration = Duration::from_secs(10);
/// How often the API is asked meanwhile.
const ACCEPT_POLL: Duration = Duration::from_millis(100);

/// A turn that was sent: the task it belongs to and its place (1 for a new task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub task_id: String,
    pub turn: usize,
}

/// Where one turn of a task stands, per the API.
#[derive(Debug)]
pub enum TurnState {
    /// The API does not list this turn (yet): its request may still be on its
    /// way, or may never have arrived.
    NotSeen,
    Working,
    /// Its answer, or how it ended.
    Done(Box<CallOutcome>),
}

impl TaskRunner {
    /// Check and send a task or follow-up turn, and return as soon as it is on
    /// its way (its answer is kept, and the API has it). A follow-up whose task
    /// still runs a turn here is refused, nothing sent.
    pub async fn start(&self, request: TaskRequest) -> Result<Started, TaskError> {
        let prepared = self.prepare(request).await?;
        let turn = match prepared.kind {
            TaskKind::FollowUp => self.check_exists(&prepared).await? + 1,
            _ => 1,
        };
        match self.send(prepared).await {
            Ok(mut handle) => {
                self.accepted(&mut handle).await?;
                Ok(Started {
                    task_id: handle.task_id.clone(),
                    turn,
                })
            }
            Err((held, not_begun)) => Err(TaskError {
                task_id: Some(held.task_id),
                kind: held.kind,
                failure: match not_begun {
                    NotBegun::SameTaskRunning(_) => TaskFailure::PreviousTurnRunning,
                    NotBegun::Full { limit } => TaskFailure::TooManyRunning { limit },
                },
            }),
        }
    }

    /// Wait until the API has the task the job sent: it lists it, or the call
    /// ended (a call refused before it ran is that refusal, and no handle is
    /// given for it). A handle given sooner could outlive a process that died
    /// before its request went out, naming a task that never existed. Waits at
    /// most [`ACCEPT_WAIT`]; an API that cannot say ends the wait too.
    async fn accepted(&self, handle: &mut JobHandle) -> Result<(), TaskError> {
        let task_id = handle.task_id.clone();
        let key = self.lookup_key(&task_id)?;
        let listed = async {
            while let Err(ApiError::Status { status: 404, .. }) =
                self.client.get_task(&key, &task_id).await
            {
                tokio::time::sleep(ACCEPT_POLL).await;
            }
        };
        tokio::select! {
            result = handle.finished() => match &*result {
                Err(error) if !error.may_have_run() => Err(error.clone()),
                _ => Ok(()),
            },
            _ = listed => Ok(()),
            _ = tokio::time::sleep(ACCEPT_WAIT) => Ok(()),
        }
    }

    /// Where turn `turn` (1-based, in the order of the turns' `seq`) of `task_id`
    /// stands, from the API: the latest turn's answer comes whole (sources and
    /// files), an earlier one's from its turn record.
    pub async fn turn_state(&self, task_id: &str, turn: usize) -> Result<TurnState, TaskError> {
        let task_id = lookup_id(task_id)?;
        let fail = lookup_failure(task_id);
        let key = self.lookup_key(task_id)?;
        let found = match self.client.get_task(&key, task_id).await {
            Ok(found) => found,
            Err(ApiError::Status { status: 404, .. }) => return Ok(TurnState::NotSeen),
            Err(error) => return Err(fail(TaskFailure::from_api(error, self.key.origin()))),
        };
        let mut turns = found.turns;
        turns.sort_by_key(|t| t.seq.unwrap_or(i64::MAX));
        let latest = turns.len().max(1);
        let status = match turns.get(turn.wrapping_sub(1)) {
            Some(this) => this.status.clone().unwrap_or_default(),
            // An API that lists no turns (older servers): the task's status
            // stands for its only turn.
            None if turns.is_empty() && turn == 1 => found.task.status.clone(),
            None => return Ok(TurnState::NotSeen),
        };
        match status.as_str() {
            "completed" if turn == latest => {
                // The answer whole, from what was just fetched (no second GET).
                let found = TaskEnvelope {
                    task: found.task,
                    turns,
                };
                let outcome = self.answer_from(&key, task_id, found).await?;
                if let CallOutcome::Finished(finished) = &outcome {
                    self.remember(task_id, answered(&finished.worker)).await;
                }
                Ok(TurnState::Done(Box::new(outcome)))
            }
            "completed" => {
                let mut worker = Worker::default();
                worker_from_turns(&mut worker, &found.task, vec![turns[turn - 1].clone()]);
                // The task's own status is its latest turn's.
                worker.status = Some(status);
                Ok(TurnState::Done(Box::new(CallOutcome::Finished(Box::new(
                    TaskOutcome {
                        task_id: task_id.to_owned(),
                        kind: TaskKind::Lookup,
                        worker,
                        credit_use: None,
                        shape: None,
                    },
                )))))
            }
            "error" | "aborted" => Err(fail(TaskFailure::Remote {
                status,
                url: found.task.url,
            })),
            _ => Ok(TurnState::Working),
        }
    }
}
