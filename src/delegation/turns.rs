//! Work named by task and turn, for task handles any replica can answer: a
//! start that sends and returns at once, and the state of one turn as the API
//! tells it. Nothing here depends on what this process remembers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    CallOutcome, NotBegun, Silent, TaskError, TaskFailure, TaskKind, TaskOutcome, TaskRequest,
    TaskRunner, answer_of_turn, answered, jobs::JobHandle, lookup_failure, lookup_id,
};
use crate::handinger::{ApiError, TaskEnvelope};

/// What starts every [`TurnId`].
const TURN_ID_PREFIX: &str = "hdg1";

/// How long an id may name a turn the API has never listed before it counts as
/// never arrived (a replica died before sending it).
const UNSEEN_FOR_AT_MOST: Duration = Duration::from_secs(10 * 60);

/// How far ahead of this machine's clock an id's time may be (another
/// replica's clock); an id from further ahead was not made here, and would
/// keep a turn nobody sent "on its way" for ever.
const CLOCK_SKEW: u64 = 5 * 60;

/// Longest wait for the API to list a task just sent before its handle is given.
const ACCEPT_WAIT: Duration = Duration::from_secs(10);
/// How often the API is asked meanwhile.
const ACCEPT_POLL: Duration = Duration::from_millis(100);

/// A turn that was sent: the task it belongs to and its place (1 for a new task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub task_id: String,
    pub turn: usize,
    /// Seconds since 1970 when it was sent (the history keeps the same).
    pub sent_at: u64,
}

/// One turn of one task, as an id a client keeps (an MCP task handle, an A2A
/// task id): `hdg1.<taskId>.<turn>.<unix seconds>`. It names everything needed
/// to ask the API about the turn, so any replica can answer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnId {
    pub task_id: String,
    pub turn: usize,
    /// Seconds since 1970 when it was made.
    pub made_at: u64,
}

impl TurnId {
    /// The id of a turn just sent.
    pub fn of(started: Started) -> Self {
        Self {
            task_id: started.task_id,
            turn: started.turn,
            made_at: started.sent_at,
        }
    }

    pub fn encode(&self) -> String {
        format!(
            "{TURN_ID_PREFIX}.{}.{}.{}",
            self.task_id, self.turn, self.made_at
        )
    }

    /// An id made by [`TurnId::encode`]; `None` for anything else.
    pub fn decode(id: &str) -> Option<Self> {
        let mut parts = id.split('.');
        let (Some(TURN_ID_PREFIX), Some(task_id), Some(turn), Some(made_at), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let turn: usize = turn.parse().ok().filter(|t| (1..=1_000_000).contains(t))?;
        let made_at = made_at
            .parse()
            .ok()
            .filter(|&at: &u64| at <= unix_now().saturating_add(CLOCK_SKEW))?;
        Some(Self {
            task_id: super::is_task_id(task_id).then(|| task_id.to_owned())?,
            turn,
            made_at,
        })
    }
}

impl TurnId {
    /// Why the turn failed, when the API never listed it.
    pub fn never_arrived(&self) -> String {
        format!(
            "Handinger has no record of turn {} of task {}: its request never arrived. \
             Nothing ran; start it again.",
            self.turn, self.task_id
        )
    }
}

/// Seconds since 1970, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where a turn named by a [`TurnId`] stands, for its client.
#[derive(Debug)]
pub enum TurnView {
    /// Running, or its request is still on its way; `note` says why the API
    /// could not be asked just now, when it could not (the turn is not over).
    /// `input` is what the turn was asked, when the API said.
    Working {
        note: Option<String>,
        input: Option<String>,
    },
    Done {
        outcome: Box<CallOutcome>,
        input: Option<String>,
    },
    /// The API never listed it: its request never arrived, and nothing ran.
    NeverArrived,
    Failed(TaskError),
}

/// Where one turn of a task stands, per the API.
#[derive(Debug)]
pub enum TurnState {
    /// The API does not list this turn (yet): its request may still be on its
    /// way, or may never have arrived.
    NotSeen,
    /// Running; what it was asked, when the API said.
    Working(Option<String>),
    /// Its answer, or how it ended, and what it was asked.
    Done(Box<CallOutcome>, Option<String>),
}

impl TaskRunner {
    /// Check and send a task or follow-up turn, and return as soon as it is on
    /// its way (its answer is kept, and the API has it). A follow-up whose task
    /// still runs a turn here is refused, nothing sent.
    pub async fn start(&self, request: TaskRequest) -> Result<Started, TaskError> {
        let (started, mut handle) = self.begin(request).await?;
        self.accepted(&mut handle).await?;
        Ok(started)
    }

    /// Check and send a turn, then wait up to `wait` for its answer: the turn,
    /// and how the wait ended. A call refused before it ran is that refusal.
    /// (No wait for the API to list the task first, as [`TaskRunner::start`]
    /// makes: the caller learns the turn's id only with its answer.)
    pub async fn start_and_wait(
        &self,
        request: TaskRequest,
        wait: Duration,
    ) -> Result<(Started, Result<CallOutcome, TaskError>), TaskError> {
        let (started, _) = self.begin(request).await?;
        let cancel = tokio_util::sync::CancellationToken::new();
        let outcome = self.get(&started.task_id, wait, &cancel, &mut Silent).await;
        match outcome {
            Err(error) if !error.may_have_run() => Err(error),
            outcome => Ok((started, outcome)),
        }
    }

    /// Check and send a turn; its number and its job.
    async fn begin(&self, request: TaskRequest) -> Result<(Started, JobHandle), TaskError> {
        let mut prepared = self.prepare(request).await?;
        let turn = match prepared.kind {
            TaskKind::FollowUp => self.check_exists(&prepared).await? + 1,
            _ => 1,
        };
        let sent_at = unix_now();
        prepared.turn = Some((turn, sent_at));
        match self.send(prepared).await {
            Ok(handle) => {
                let task_id = handle.task_id.clone();
                let started = Started {
                    task_id,
                    turn,
                    sent_at,
                };
                Ok((started, handle))
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

    /// Where the turn `id` names stands, as its client sees it: a turn the API
    /// has not listed is on its way for [`UNSEEN_FOR_AT_MOST`], then never
    /// arrived; a lookup the API could not answer leaves it working.
    pub async fn view_turn(&self, id: &TurnId) -> TurnView {
        match self.turn_state(&id.task_id, id.turn).await {
            Ok(TurnState::Working(input)) => TurnView::Working { note: None, input },
            Ok(TurnState::NotSeen)
                if unix_now().saturating_sub(id.made_at) < UNSEEN_FOR_AT_MOST.as_secs() =>
            {
                TurnView::Working {
                    note: None,
                    input: None,
                }
            }
            Ok(TurnState::NotSeen) => TurnView::NeverArrived,
            Ok(TurnState::Done(outcome, input)) => TurnView::Done { outcome, input },
            Err(error) if error.is_transient() => TurnView::Working {
                note: Some(error.to_string()),
                input: None,
            },
            Err(error) => TurnView::Failed(error),
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
        let input = turns
            .get(turn.wrapping_sub(1))
            .and_then(|t| t.input.clone());
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
                Ok(TurnState::Done(Box::new(outcome), input))
            }
            "completed" => {
                let worker = answer_of_turn(&found.task, turns[turn - 1].clone());
                let outcome = CallOutcome::Finished(Box::new(TaskOutcome {
                    task_id: task_id.to_owned(),
                    kind: TaskKind::Lookup,
                    worker,
                    credit_use: None,
                    shape: None,
                }));
                Ok(TurnState::Done(Box::new(outcome), input))
            }
            "error" | "aborted" => Err(fail(TaskFailure::Remote {
                status,
                url: found.task.url,
            })),
            _ => Ok(TurnState::Working(input)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_ids_round_trip_and_nothing_else_decodes() {
        let id = TurnId {
            task_id: "tsk_abc".into(),
            turn: 3,
            made_at: 1_780_000_000,
        };
        assert_eq!(id.encode(), "hdg1.tsk_abc.3.1780000000");
        assert_eq!(TurnId::decode(&id.encode()), Some(id));
        for bad in [
            "",
            "mcp_abc",
            "hdg1.tsk_abc.3",
            "hdg1.tsk_abc.3.1.x",
            "hdg1.tsk/../x.1.1",
            "hdg1.tsk_abc.0.1",
            "hdg1.tsk_abc.-1.1",
            "hdg2.tsk_abc.1.1",
            "hdg1..1.1",
            "hdg1.tsk_abc.1.99999999999",
        ] {
            assert_eq!(TurnId::decode(bad), None, "{bad}");
        }
        let soon = format!("hdg1.tsk_abc.1.{}", unix_now() + 60);
        assert!(
            TurnId::decode(&soon).is_some(),
            "another replica's clock, a little ahead"
        );
    }
}
