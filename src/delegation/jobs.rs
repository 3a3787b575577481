//! Calls in flight and their results, kept so that a later call (get_task, a
//! follow-up) finds a task that outlived the tool call that started it.
//!
//! Finished results are kept for [`KEEP_FOR`], at most [`MAX_KEPT`] of them and
//! [`MAX_KEPT_BYTES`] of answers; calls still running are never dropped.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::watch;

use super::{TaskError, TaskKind, TaskOutcome};

/// How long a finished result is kept.
pub const KEEP_FOR: Duration = Duration::from_secs(60 * 60);
/// How many finished results are kept at most.
pub const MAX_KEPT: usize = 256;
/// How many bytes of answers are kept at most (a single answer may be 32 MiB).
pub const MAX_KEPT_BYTES: usize = 64 * 1024 * 1024;

/// What one call to the API ended with.
pub type CallResult = Result<TaskOutcome, TaskError>;

/// A view of one call: its identity, and its result once there is one.
#[derive(Debug, Clone)]
pub struct JobHandle {
    pub task_id: String,
    pub kind: TaskKind,
    /// The worker, when the caller named one.
    pub worker_id: Option<String>,
    pub started: Instant,
    /// Set once the whole request body has gone out; until then the server has no
    /// complete task (an upload cut short starts nothing).
    pub body_sent: Arc<AtomicBool>,
    done: watch::Receiver<Option<Arc<CallResult>>>,
}

/// A call still in flight, for the shutdown report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub task_id: String,
    /// Whether the request went out whole, so the task may be running.
    pub body_sent: bool,
}

impl JobHandle {
    /// The result, if the call has finished.
    pub fn result(&self) -> Option<Arc<CallResult>> {
        self.done.borrow().clone()
    }

    /// Wait until the call finishes.
    pub async fn finished(&mut self) -> Arc<CallResult> {
        match self.done.wait_for(Option::is_some).await {
            Ok(value) => value.clone().expect("waited for Some"),
            // The sender lives in the job table until the result is set.
            Err(_) => unreachable!("a job's sender is dropped only after it finishes"),
        }
    }
}

struct Job {
    generation: u64,
    handle: JobHandle,
    sender: watch::Sender<Option<Arc<CallResult>>>,
    finished_at: Option<Instant>,
    /// Bytes of the kept answer, for the size bound.
    size: usize,
}

/// The table of calls, keyed by task id (the latest call of each task).
pub struct Jobs {
    entries: Mutex<HashMap<String, Job>>,
    next_generation: AtomicU64,
    /// Most calls running at once. A call that stops waiting (a short wait) leaves
    /// its request running, so without this a flood of calls would pile up
    /// requests without bound.
    max_running: usize,
}

impl Default for Jobs {
    fn default() -> Self {
        Self::with_limit(usize::MAX)
    }
}

/// Why a call could not begin.
#[derive(Debug)]
pub enum NotBegun {
    /// A call of the same task still runs: here it is.
    SameTaskRunning(JobHandle),
    /// As many calls as allowed are running already.
    Full { limit: usize },
}

/// The right to set one call's result.
#[derive(Debug)]
#[must_use = "a job that is never finished stays 'running' forever"]
pub struct Completion {
    task_id: String,
    generation: u64,
}

impl Jobs {
    /// A table that lets at most `max_running` calls run at once.
    pub fn with_limit(max_running: usize) -> Self {
        Self {
            entries: Mutex::default(),
            next_generation: AtomicU64::default(),
            max_running,
        }
    }

    /// Record a new call of `task_id`, replacing any earlier finished one. While a
    /// call of the same task still runs, nothing is recorded and that call is
    /// returned instead: one task never has two calls in flight.
    pub fn begin(
        &self,
        task_id: &str,
        kind: TaskKind,
        worker_id: Option<String>,
    ) -> Result<(JobHandle, Completion), NotBegun> {
        let mut entries = self.entries.lock().expect("jobs lock");
        prune(&mut entries, Instant::now());
        if let Some(running) = entries.get(task_id).filter(|job| job.finished_at.is_none()) {
            return Err(NotBegun::SameTaskRunning(running.handle.clone()));
        }
        let running = entries
            .values()
            .filter(|job| job.finished_at.is_none())
            .count();
        if running >= self.max_running {
            return Err(NotBegun::Full {
                limit: self.max_running,
            });
        }
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let (sender, done) = watch::channel(None);
        let handle = JobHandle {
            task_id: task_id.to_owned(),
            kind,
            worker_id,
            started: Instant::now(),
            body_sent: Arc::default(),
            done,
        };
        entries.insert(
            task_id.to_owned(),
            Job {
                generation,
                handle: handle.clone(),
                sender,
                finished_at: None,
                size: 0,
            },
        );
        Ok((
            handle,
            Completion {
                task_id: task_id.to_owned(),
                generation,
            },
        ))
    }

    /// Set the result of the call `completion` belongs to.
    pub fn finish(&self, completion: Completion, result: CallResult) {
        let mut entries = self.entries.lock().expect("jobs lock");
        if let Some(job) = entries.get_mut(&completion.task_id)
            && job.generation == completion.generation
        {
            job.finished_at = Some(Instant::now());
            job.size = answer_size(&result);
            job.sender.send_replace(Some(Arc::new(result)));
        }
    }

    /// The latest call of `task_id`, running or kept.
    pub fn get(&self, task_id: &str) -> Option<JobHandle> {
        let mut entries = self.entries.lock().expect("jobs lock");
        prune(&mut entries, Instant::now());
        entries.get(task_id).map(|job| job.handle.clone())
    }

    /// The calls still running, by task id.
    pub fn running(&self) -> Vec<InFlight> {
        let entries = self.entries.lock().expect("jobs lock");
        let mut calls: Vec<InFlight> = entries
            .iter()
            .filter(|(_, job)| job.finished_at.is_none())
            .map(|(id, job)| InFlight {
                task_id: id.clone(),
                body_sent: job.handle.body_sent.load(Ordering::Acquire),
            })
            .collect();
        calls.sort_by(|a, b| a.task_id.cmp(&b.task_id));
        calls
    }
}

/// Roughly how many bytes a result holds: its answer and structured output.
fn answer_size(result: &CallResult) -> usize {
    match result {
        Ok(outcome) => {
            let worker = &outcome.worker;
            worker.output_text.len()
                + worker.output.len() * 64
                + worker
                    .structured_output
                    .as_ref()
                    .map_or(0, |v| v.to_string().len())
        }
        Err(_) => 0,
    }
}

/// Drop finished results past their age, then the oldest past the count and
/// size limits.
fn prune(entries: &mut HashMap<String, Job>, now: Instant) {
    entries.retain(|_, job| {
        job.finished_at
            .is_none_or(|at| now.duration_since(at) < KEEP_FOR)
    });
    let mut finished: Vec<(Instant, u64, String, usize)> = entries
        .iter()
        .filter_map(|(id, job)| {
            job.finished_at
                .map(|at| (at, job.generation, id.clone(), job.size))
        })
        .collect();
    finished.sort();
    let mut count = finished.len();
    let mut bytes: usize = finished.iter().map(|(.., size)| size).sum();
    for (_, _, id, size) in finished {
        if count <= MAX_KEPT && bytes <= MAX_KEPT_BYTES {
            break;
        }
        entries.remove(&id);
        count -= 1;
        bytes -= size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{delegation::TaskKind, handinger::Worker};

    fn outcome(task_id: &str) -> CallResult {
        Ok(TaskOutcome {
            shape: None,
            task_id: task_id.into(),
            kind: TaskKind::New,
            worker: Worker::default(),
            credit_use: None,
        })
    }

    #[tokio::test]
    async fn a_finished_result_is_seen_by_waiters_and_later_readers() {
        let jobs = Jobs::default();
        let (mut handle, completion) = jobs.begin("tsk_a", TaskKind::New, None).unwrap();
        assert_eq!(
            jobs.running(),
            vec![InFlight {
                task_id: "tsk_a".into(),
                body_sent: false
            }]
        );
        assert!(handle.result().is_none());
        let waiter = tokio::spawn(async move { handle.finished().await });
        jobs.finish(completion, outcome("tsk_a"));
        assert!(waiter.await.unwrap().is_ok());
        assert!(jobs.running().is_empty());
        assert!(jobs.get("tsk_a").unwrap().result().is_some());
    }

    #[test]
    fn a_task_never_has_two_calls_in_flight() {
        let jobs = Jobs::default();
        let (_, first) = jobs.begin("tsk_a", TaskKind::New, None).unwrap();
        let Err(NotBegun::SameTaskRunning(running)) = jobs.begin("tsk_a", TaskKind::FollowUp, None)
        else {
            panic!("the running call is handed back")
        };
        assert_eq!(
            running.kind,
            TaskKind::New,
            "the call in flight is handed back"
        );
        jobs.finish(first, outcome("tsk_a"));
        let (second, _done) = jobs.begin("tsk_a", TaskKind::FollowUp, None).unwrap();
        assert_eq!(second.kind, TaskKind::FollowUp);
        assert_eq!(jobs.get("tsk_a").unwrap().kind, TaskKind::FollowUp);
    }

    #[test]
    fn no_more_than_the_limit_of_calls_run_at_once() {
        let jobs = Jobs::with_limit(2);
        let (_, first) = jobs.begin("tsk_1", TaskKind::New, None).unwrap();
        let (_, _second) = jobs.begin("tsk_2", TaskKind::New, None).unwrap();
        assert!(matches!(
            jobs.begin("tsk_3", TaskKind::New, None),
            Err(NotBegun::Full { limit: 2 })
        ));
        jobs.finish(first, outcome("tsk_1"));
        assert!(
            jobs.begin("tsk_3", TaskKind::New, None).is_ok(),
            "a slot came free"
        );
    }

    #[test]
    fn kept_results_are_bounded_in_bytes() {
        let jobs = Jobs::default();
        let big = |n: usize| {
            let worker = Worker {
                output_text: "x".repeat(MAX_KEPT_BYTES / 3 + n),
                ..Worker::default()
            };
            Ok(TaskOutcome {
                shape: None,
                task_id: format!("tsk_big{n}"),
                kind: TaskKind::New,
                worker,
                credit_use: None,
            })
        };
        for n in 0..4 {
            let (_, done) = jobs
                .begin(&format!("tsk_big{n}"), TaskKind::New, None)
                .unwrap();
            jobs.finish(done, big(n));
        }
        assert!(
            jobs.get("tsk_big0").is_none(),
            "the oldest answers go first"
        );
        assert!(jobs.get("tsk_big3").is_some() && jobs.get("tsk_big2").is_some());
    }

    #[test]
    fn kept_results_are_bounded_in_count_and_age_but_running_calls_stay() {
        let jobs = Jobs::default();
        let (_, running) = jobs.begin("tsk_running", TaskKind::New, None).unwrap();
        for n in 0..MAX_KEPT + 10 {
            let id = format!("tsk_{n}");
            let (_, done) = jobs.begin(&id, TaskKind::New, None).unwrap();
            jobs.finish(done, outcome(&id));
        }
        jobs.get("tsk_x");
        let count = jobs.entries.lock().unwrap().len();
        assert_eq!(
            count,
            MAX_KEPT + 1,
            "MAX_KEPT finished plus the running one"
        );
        assert!(jobs.get("tsk_0").is_none(), "the oldest went first");
        assert!(jobs.get("tsk_running").is_some());

        let mut entries = jobs.entries.lock().unwrap();
        prune(
            &mut entries,
            Instant::now() + KEEP_FOR + Duration::from_secs(1),
        );
        assert_eq!(entries.len(), 1, "only the running call outlives KEEP_FOR");
        drop(entries);
        jobs.finish(running, outcome("tsk_running"));
    }
}
