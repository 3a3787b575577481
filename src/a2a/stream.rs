//! The event stream of `SendStreamingMessage` and `SubscribeToTask`: the task
//! first, then status updates while it works (with the worker's latest output
//! line), then its artifacts and the terminal status, and the stream ends.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Face, success,
    wire::{TaskState, TaskView},
};
use crate::delegation::{CallOutcome, Progress, TaskRunner, TurnId};

/// Events buffered for a slow reader before the sender waits.
const BUFFER: usize = 16;

/// How long one wait for the answer lasts before it is started again (each
/// wait reports progress meanwhile).
const WAIT_ROUND: Duration = Duration::from_secs(300);

/// Start following `view`'s task; the events come as whole JSON-RPC responses
/// to request `rpc_id`, in `face`'s shapes. Following stops when the reader
/// goes away.
pub fn follow(
    runner: Arc<TaskRunner>,
    view: TaskView,
    rpc_id: Value,
    face: Face,
) -> mpsc::Receiver<Value> {
    let (events, receiver) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let sender = Events {
            events,
            rpc_id,
            id: view.id.clone(),
            face,
        };
        if !sender.send(json!({"task": view.to_json(None)})).await {
            return;
        }
        let done = CancellationToken::new();
        let mut progress = StreamProgress { sender: &sender };
        let last = loop {
            let outcome = tokio::select! {
                outcome = runner.get(&view.id.task_id, WAIT_ROUND, &done, &mut progress) => outcome,
                () = sender.events.closed() => return,
            };
            match outcome {
                Ok(CallOutcome::Running(_)) => continue,
                outcome => break super::view_of_outcome(view.id.clone(), outcome),
            }
        };
        for artifact in &last.artifacts {
            let update = json!({"artifactUpdate": {
                "taskId": last.id.encode(),
                "contextId": last.id.task_id,
                "artifact": artifact,
                "lastChunk": true,
            }});
            if !sender.send(update).await {
                return;
            }
        }
        sender.status(&last).await;
    });
    receiver
}

/// Where a stream's events go.
struct Events {
    events: mpsc::Sender<Value>,
    rpc_id: Value,
    id: TurnId,
    face: Face,
}

impl Events {
    /// Send one event; `false` once the reader is gone.
    async fn send(&self, result: Value) -> bool {
        self.events
            .send(success(&self.rpc_id, self.face.outgoing(result)))
            .await
            .is_ok()
    }

    /// A status update for `view`.
    async fn status(&self, view: &TaskView) -> bool {
        self.send(json!({"statusUpdate": {
            "taskId": self.id.encode(),
            "contextId": self.id.task_id,
            "status": view.status(),
        }}))
        .await
    }
}

/// Progress of the wait, as working status updates.
struct StreamProgress<'a> {
    sender: &'a Events,
}

impl Progress for StreamProgress<'_> {
    async fn report(&mut self, _elapsed: Duration, message: String) {
        let mut view = TaskView::new(self.sender.id.clone(), TaskState::Working);
        view.note = Some(message);
        self.sender.status(&view).await;
    }
}
