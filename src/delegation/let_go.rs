//! A long POST let go. `POST /api/tasks` answers only when the worker ends, and
//! a request held open costs a connection (its buffers, its futures) for as long
//! as the task runs. The API documents that "the task keeps running on the
//! server even if the connection drops", so once a turn has been held for the
//! hold and the API lists it, its POST is closed and the API is polled for the
//! answer instead: a long wait then holds a timer, not a connection. A turn the
//! API does not list (yet) keeps its POST, so nothing rests on a guess.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

use super::{POLL_FIRST, POLL_MAX, answer_of_turn, unwind_to_message, whole_answer};
use crate::{
    handinger::{ApiError, Client, CreateTaskBody, TaskEnvelope, Turn, Usage, Worker},
    key::ApiKey,
    workspace::Attachment,
};

/// How often a held POST's turn is looked for again, when the API did not list
/// it at the end of the hold.
const LOOK_AGAIN: Duration = Duration::from_secs(5);

/// Longest one lookup may take; one that takes longer is tried again later.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Most lookups a second the polls of all let-go turns of this process make
/// together, about: with many turns waiting, each one's pause grows (their
/// count over this), so the API is never asked more often than this.
const MOST_LOOKUPS_PER_SECOND: u32 = 50;

/// Set once a let-go turn ended `aborted`: the API documents that a task keeps
/// running when its connection drops, but were it to stop such tasks, letting
/// go would lose work; from then on this process holds every POST to its end.
static HOLD_TO_THE_END: AtomicBool = AtomicBool::new(false);

/// How many turns this process is polling for.
static POLLED: AtomicUsize = AtomicUsize::new(0);

/// Counts one turn in [`POLLED`] while it lives.
struct Polled;

impl Polled {
    fn count() -> Self {
        POLLED.fetch_add(1, Ordering::Relaxed);
        Self
    }

    /// The pause before the next lookup of a turn that has run for `ran_for`:
    /// a tenth of that, from [`POLL_FIRST`] to [`POLL_MAX`], and longer
    /// while so many turns are polled that they would ask more often than
    /// [`MOST_LOOKUPS_PER_SECOND`].
    fn pause(&self, ran_for: Duration) -> Duration {
        let own = (ran_for / 10).clamp(POLL_FIRST, POLL_MAX);
        let polled = u32::try_from(POLLED.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        let shared = Duration::from_secs(1) * polled / MOST_LOOKUPS_PER_SECOND;
        own.max(shared)
    }
}

impl Drop for Polled {
    fn drop(&mut self) {
        POLLED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a turn's POST is, for letting it go.
pub(super) struct Plan {
    pub task_id: String,
    /// The turn's number in its task, when known before it is sent (a new task's
    /// is 1); otherwise the API's latest turn is taken for it only if it was
    /// asked this turn's input and is still running.
    pub turn: Option<usize>,
    /// How long the POST is held before it may be let go.
    pub hold: Duration,
}

/// How a turn's answer came.
pub(super) enum Answered {
    /// Its POST's own answer (or the panic inside it).
    Posted(Result<Result<Worker, ApiError>, String>),
    /// Polled from the API after its POST was let go.
    Polled(Result<Worker, PollEnd>),
}

/// Why polling ended without an answer.
pub(super) enum PollEnd {
    /// The turn ended on the server in `error` or `aborted`.
    Remote { status: String, url: Option<String> },
    /// No answer within the request timeout, counted from when the POST went out
    /// (as a held POST would have timed out); the task may still be running.
    TimedOut(Duration),
}

/// Send the turn and take its answer: from the POST while it is held, from the
/// API once it is let go.
pub(super) async fn answer(
    client: &Client,
    key: &ApiKey,
    (body, files): (&CreateTaskBody, &[Attachment]),
    body_sent: &Arc<AtomicBool>,
    plan: Plan,
) -> Answered {
    let sent_at = Instant::now();
    // Boxed, so that letting go frees all of it (the connection goes with it).
    let mut post = Box::pin(unwind_to_message(
        client.create_task(key, body, files, body_sent),
    ));
    let mut look_at = sent_at + plan.hold;
    let (turn, already_ended) = loop {
        tokio::select! {
            answer = &mut post => return Answered::Posted(answer),
            _ = tokio::time::sleep_until(look_at) => {}
        }
        if HOLD_TO_THE_END.load(Ordering::Relaxed) {
            return Answered::Posted(post.await);
        }
        // Only a request whose body went out whole can have started the turn.
        if body_sent.load(Ordering::Acquire) {
            let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, client.get_task(key, &plan.task_id));
            let found = tokio::select! {
                answer = &mut post => return Answered::Posted(answer),
                found = lookup => found,
            };
            if let Ok(Ok(found)) = found
                && let Some(turn) = listed_turn(&found, plan.turn, &body.input)
            {
                break (turn, ended(&found, turn));
            }
        }
        look_at = Instant::now() + LOOK_AGAIN;
    };
    drop(post);
    tracing::info!(
        task_id = plan.task_id,
        turn,
        "the API lists the turn: its POST is let go, and its answer polled"
    );
    let deadline = sent_at + client.request_timeout();
    // A turn seen ended is read at once, not after a pause.
    let first_pause = already_ended.then_some(Duration::ZERO);
    let times = (sent_at, deadline, first_pause);
    Answered::Polled(poll(client, key, &plan.task_id, turn, times).await)
}

/// Whether turn `turn` (listed) has ended.
fn ended(found: &TaskEnvelope, turn: usize) -> bool {
    let turns = in_order(&found.turns);
    turns
        .get(turn - 1)
        .is_some_and(|this| has_ended(this.status.as_deref()))
}

/// Whether a turn's status is final.
fn has_ended(status: Option<&str>) -> bool {
    matches!(status, Some("completed" | "error" | "aborted"))
}

/// The number of the turn the POST started, if the API lists it.
fn listed_turn(found: &TaskEnvelope, known: Option<usize>, input: &str) -> Option<usize> {
    let turns = in_order(&found.turns);
    match known {
        Some(turn) => (turns.len() >= turn).then_some(turn),
        None => {
            let latest = turns.last()?;
            let ours =
                latest.input.as_deref() == Some(input) && !has_ended(latest.status.as_deref());
            ours.then_some(turns.len())
        }
    }
}

/// Turns in the order of their `seq`.
fn in_order(turns: &[Turn]) -> Vec<&Turn> {
    let mut turns: Vec<&Turn> = turns.iter().collect();
    turns.sort_by_key(|t| t.seq.unwrap_or(i64::MAX));
    turns
}

/// Ask the API until turn `turn` ends, at a pause that grows with the time the
/// turn has run (see [`Polled::pause`]), so the answer comes at most about a
/// tenth of its run time late; a 429's Retry-After is honoured. A lookup that fails is tried again: the turn runs on whatever
/// happens to one request.
async fn poll(
    client: &Client,
    key: &ApiKey,
    task_id: &str,
    turn: usize,
    (sent_at, deadline, first_pause): (Instant, Instant, Option<Duration>),
) -> Result<Worker, PollEnd> {
    let polled = Polled::count();
    let mut asked_pause = first_pause;
    loop {
        let pause = asked_pause
            .take()
            .unwrap_or_else(|| polled.pause(sent_at.elapsed()));
        if Instant::now() + pause >= deadline {
            tokio::time::sleep_until(deadline).await;
            return Err(PollEnd::TimedOut(deadline - sent_at));
        }
        tokio::time::sleep(pause).await;
        let found = match tokio::time::timeout(LOOKUP_TIMEOUT, client.get_task(key, task_id)).await
        {
            Ok(Ok(found)) => found,
            Ok(Err(ApiError::Status {
                status: 429,
                retry_after,
                ..
            })) => {
                asked_pause = retry_after;
                continue;
            }
            Ok(Err(error)) => {
                tracing::warn!(task_id, %error, "a lookup of a let-go turn failed; asking again");
                continue;
            }
            Err(_) => {
                tracing::warn!(task_id, "a lookup of a let-go turn timed out; asking again");
                continue;
            }
        };
        let turns = in_order(&found.turns);
        let Some(this) = turns.get(turn - 1) else {
            continue;
        };
        let credits = this.credits;
        match this.status.as_deref().unwrap_or_default() {
            "completed" => {}
            status @ ("error" | "aborted") => {
                if status == "aborted" && !HOLD_TO_THE_END.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        task_id,
                        "a turn whose POST was let go ended aborted: if the API stops tasks \
                         whose request is closed, letting go loses work, so this process now \
                         holds every POST to its end (set --hold-post to the request timeout \
                         to keep it so)"
                    );
                }
                return Err(PollEnd::Remote {
                    status: status.to_owned(),
                    url: found.task.url,
                });
            }
            _ => continue,
        }
        let mut worker = if turn == turns.len() {
            match whole_answer(client, key, task_id, found).await {
                Ok(worker) => worker,
                Err(error) => {
                    tracing::warn!(task_id, %error, "the answer of a let-go turn could not be read; asking again");
                    continue;
                }
            }
        } else {
            answer_of_turn(&found.task, (*this).clone())
        };
        // The turn's credits count against the credit ceiling, as a POST's do.
        if worker.usage.as_ref().and_then(|u| u.credits).is_none() {
            let usage = worker.usage.get_or_insert_with(Usage::default);
            usage.credits = credits;
        }
        return Ok(worker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(seq: i64, status: &str, input: &str) -> Turn {
        Turn {
            seq: Some(seq),
            status: Some(status.to_owned()),
            input: Some(input.to_owned()),
            ..Turn::default()
        }
    }

    fn task(turns: Vec<Turn>) -> TaskEnvelope {
        TaskEnvelope {
            turns,
            ..TaskEnvelope::default()
        }
    }

    #[test]
    fn the_pause_grows_with_the_run_time_and_with_the_turns_polled() {
        let one = Polled::count();
        let secs = Duration::from_secs;
        assert_eq!(one.pause(secs(2)), POLL_FIRST);
        assert_eq!(one.pause(secs(40)), secs(4));
        assert_eq!(one.pause(secs(400)), POLL_MAX);
        // 1,000 turns polled: each waits 20 s, 50 lookups a second in all.
        let many: Vec<Polled> = (1..1000).map(|_| Polled::count()).collect();
        assert_eq!(one.pause(secs(40)), secs(20));
        drop(many);
        assert_eq!(one.pause(secs(400)), POLL_MAX);
    }

    #[test]
    fn a_known_turn_counts_as_listed_once_the_api_has_that_many() {
        let one = task(vec![turn(1, "running", "a")]);
        assert_eq!(listed_turn(&one, Some(1), "ignored"), Some(1));
        assert_eq!(listed_turn(&one, Some(2), "b"), None);
        assert_eq!(listed_turn(&task(vec![]), Some(1), "a"), None);
    }

    #[test]
    fn an_unknown_turn_is_the_latest_only_if_it_was_asked_this_and_still_runs() {
        // Out of order on the wire: `seq` decides which is latest.
        let two = task(vec![turn(2, "running", "again"), turn(1, "completed", "a")]);
        assert_eq!(listed_turn(&two, None, "again"), Some(2));
        assert_eq!(listed_turn(&two, None, "other"), None);
        // The same input as a finished turn: that may be the previous one.
        let done = task(vec![turn(1, "completed", "a"), turn(2, "completed", "a")]);
        assert_eq!(listed_turn(&done, None, "a"), None);
    }
}
