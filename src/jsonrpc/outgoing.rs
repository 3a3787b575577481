//! The one way out: a bounded queue of encoded messages and the writer that
//! drains it. When the client stops reading, the queue fills, sending waits, and
//! so does the reader that would produce more: the client is slowed down instead
//! of the server's memory growing.

use serde_json::Value;
use tokio::{
    io::{AsyncWrite, AsyncWriteExt},
    sync::{mpsc, oneshot},
};
use tokio_util::sync::CancellationToken;

/// Messages waiting for the writer; beyond this, sending waits.
pub const OUTGOING_QUEUE: usize = 32;

/// How a protocol frames one message on the wire.
pub type Encode = fn(&Value) -> Vec<u8>;

/// What the writer takes: an encoded message, or a request to say when every
/// message queued before it has been written and flushed.
enum Outgoing {
    Frame(Vec<u8>),
    Flushed(oneshot::Sender<()>),
}

/// The writer is gone (the output failed or was closed): nobody is listening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the output is closed")]
pub struct Closed;

/// The sending side of the queue; cheap to clone.
#[derive(Clone)]
pub struct OutgoingQueue {
    queue: mpsc::Sender<Outgoing>,
    encode: Encode,
}

impl OutgoingQueue {
    /// A queue whose writer (a spawned job) writes to `output`, framing each
    /// message with `encode`; `closed` is cancelled when the output fails.
    pub fn spawn<W: AsyncWrite + Send + Unpin + 'static>(
        output: W,
        encode: Encode,
        closed: CancellationToken,
    ) -> Self {
        let (queue, receiver) = mpsc::channel(OUTGOING_QUEUE);
        tokio::spawn(write_frames(output, receiver, closed));
        Self { queue, encode }
    }

    /// Frame a message for this queue's protocol.
    pub fn encode(&self, message: &Value) -> Vec<u8> {
        (self.encode)(message)
    }

    /// Queue `message`, waiting while the queue is full.
    pub async fn send(&self, message: &Value) -> Result<(), Closed> {
        self.send_frame(self.encode(message)).await
    }

    /// Queue an encoded message, waiting while the queue is full.
    pub async fn send_frame(&self, frame: Vec<u8>) -> Result<(), Closed> {
        self.queue
            .send(Outgoing::Frame(frame))
            .await
            .map_err(|_| Closed)
    }

    /// A place in the queue, for a sender that must not lose a message when its
    /// future is dropped halfway (reserving is cancel-safe; sending into the
    /// reservation cannot fail).
    pub async fn reserve(&self) -> Result<Reserved<'_>, Closed> {
        self.queue.reserve().await.map(Reserved).map_err(|_| Closed)
    }

    /// Resolves once everything queued before the call is written and flushed
    /// (or the output failed).
    pub async fn flushed(&self) {
        let (done, flushed) = oneshot::channel();
        if self.queue.send(Outgoing::Flushed(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

/// A reserved place in the queue.
pub struct Reserved<'a>(mpsc::Permit<'a, Outgoing>);

impl Reserved<'_> {
    pub fn send_frame(self, frame: Vec<u8>) {
        self.0.send(Outgoing::Frame(frame));
    }
}

/// Write queued frames until the queue closes or the output fails; flush
/// whenever the queue runs empty, so nothing waits in a buffer while the client
/// waits for it.
async fn write_frames<W: AsyncWrite + Unpin>(
    mut output: W,
    mut queue: mpsc::Receiver<Outgoing>,
    closed: CancellationToken,
) {
    while let Some(outgoing) = queue.recv().await {
        let frame = match outgoing {
            Outgoing::Frame(frame) => frame,
            Outgoing::Flushed(done) => {
                if output.flush().await.is_ok() {
                    let _ = done.send(());
                }
                continue;
            }
        };
        let mut written = output.write_all(&frame).await;
        if written.is_ok() && queue.is_empty() {
            written = output.flush().await;
        }
        if let Err(error) = written {
            tracing::warn!(%error, "the output is closed; nobody is left to answer");
            closed.cancel();
            return;
        }
    }
}
