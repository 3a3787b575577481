//! MCP over stdio (newline-delimited JSON), with bounds rmcp's stock transport
//! lacks: every request that cannot be served gets a JSON-RPC error instead of
//! silence, and nothing a client sends can grow memory without limit.
//!
//! - A line over [`MAX_LINE_BYTES`] is skipped as it streams in (never buffered);
//!   it is answered with -32600 when its id can be read from its first bytes.
//! - Unparsable or too deeply nested JSON is answered with -32700 when its id can
//!   be recovered the same way, and ignored otherwise (answering unattributable
//!   garbage invites error storms, which is why the official SDKs ignore it).
//! - Valid JSON of the wrong shape is answered with -32600 and its id.
//! - At most `max_in_flight` requests are handed to the server at once; beyond
//!   that a request is answered at once with "server busy" (-32000). `ping` is
//!   never refused (it has liveness slots of its own), nor are notifications and
//!   answers to the server's requests. A request whose id is already in flight is
//!   refused (-32600): rmcp would answer only one of the two.
//! - At end of input, requests already read are answered before the transport
//!   closes (at most [`jsonrpc::DRAIN_LIMIT`]; calls waiting on the API are then
//!   reported with their task ids), and every queued answer is written.
//! - Answers go through the shared bounded queue to one writer: a client that
//!   stops reading is slowed down instead of the server's memory growing.
//!
//! The queue, the in-flight table, the error codes and the message shapes are
//! the JSON-RPC core's ([`crate::jsonrpc`]), shared with the LSP-style mode.

use std::sync::Arc;

use rmcp::{
    RoleServer,
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use crate::jsonrpc::{
    self, Admission, ID_SCAN_BYTES, InFlight, Incoming, Kind, OutgoingQueue, ResponseError, code,
    error_response, id_key, recover_id,
};

/// Longest line accepted (the same bound as rmcp's stock transport).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// The stdio transport: a bounded line reader in, the shared bounded queue out.
pub struct LineTransport<R> {
    reader: BufReader<R>,
    line: Vec<u8>,
    /// Inside a line over the limit: its rest is being skipped.
    skipping: bool,
    /// An error answer of ours not yet queued. Kept here, not in a future, because
    /// rmcp may drop `receive` at any await; nothing is read until it is queued.
    pending: Option<Vec<u8>>,
    out: OutgoingQueue,
    /// Set at end of input: until when requests in flight may still be answered.
    drain_until: Option<Instant>,
    /// A ping read while every liveness slot was taken; served before reading on.
    parked_ping: Option<(String, RxJsonRpcMessage<RoleServer>)>,
    in_flight: Arc<InFlight>,
    /// Cancelled when the client closes stdin or stdout stops taking answers.
    closed: CancellationToken,
}

/// What one read from the input gave.
enum Read {
    Line,
    /// A line over the limit, skipped; its first bytes are kept in `line`.
    Oversized,
    Eof,
}

/// One JSON value per line.
fn line_of(value: &Value) -> Vec<u8> {
    let mut line = value.to_string().into_bytes();
    line.push(b'\n');
    line
}

impl<R: AsyncRead + Send + Unpin + 'static> LineTransport<R> {
    /// A transport reading `input` and writing `output` (through a writer job).
    /// `closed` is cancelled at end of input or when output fails.
    pub fn new<W: AsyncWrite + Send + Unpin + 'static>(
        input: R,
        output: W,
        max_in_flight: usize,
        closed: CancellationToken,
    ) -> Self {
        Self {
            reader: BufReader::new(input),
            line: Vec::new(),
            skipping: false,
            pending: None,
            out: OutgoingQueue::spawn(output, line_of, closed.clone()),
            drain_until: None,
            parked_ping: None,
            in_flight: Arc::new(InFlight::new(max_in_flight)),
            closed,
        }
    }

    /// Read one line into `self.line`, never holding more than the limit. The
    /// partial line survives a cancelled read (rmcp polls `receive` in a select).
    async fn read_line(&mut self) -> std::io::Result<Read> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                let skipped = std::mem::take(&mut self.skipping);
                return Ok(if skipped { Read::Oversized } else { Read::Eof });
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let take = newline.map_or(available.len(), |at| at + 1);
            if !self.skipping && self.line.len() + take > MAX_LINE_BYTES {
                self.skipping = true;
                self.line.truncate(ID_SCAN_BYTES);
                self.line.shrink_to(ID_SCAN_BYTES);
            }
            if !self.skipping {
                self.line.extend_from_slice(&available[..take]);
            } else if self.line.len() < ID_SCAN_BYTES {
                let room = (ID_SCAN_BYTES - self.line.len()).min(take);
                self.line.extend_from_slice(&available[..room]);
            }
            self.reader.consume(take);
            if newline.is_some() {
                let skipped = std::mem::take(&mut self.skipping);
                return Ok(if skipped { Read::Oversized } else { Read::Line });
            }
        }
    }

    /// Keep an error answer to be queued before anything else is read.
    fn answer_error(&mut self, id: Option<Value>, code: i64, message: String) {
        let answer = error_response(id, &ResponseError::new(code, message));
        self.pending = Some(self.out.encode(&answer));
    }

    /// Queue the pending answer, waiting while the queue is full. Cancel-safe: a
    /// reservation dropped halfway loses nothing. `false` once the writer is gone.
    async fn flush_pending(&mut self) -> bool {
        if self.pending.is_none() {
            return true;
        }
        match self.out.reserve().await {
            Ok(slot) => {
                slot.send_frame(self.pending.take().expect("checked above"));
                true
            }
            Err(_) => false,
        }
    }

    /// Decide what to do with one complete line: a message for the server, or
    /// `None` after answering (or ignoring) it here.
    fn accept(&mut self, line: Vec<u8>) -> Option<RxJsonRpcMessage<RoleServer>> {
        let text = trim_line(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let value: Value = match serde_json::from_slice(text) {
            Ok(value) => value,
            Err(error) => {
                tracing::debug!(%error, "unparsable input line");
                if let Some(id) = recover_id(text) {
                    let message = format!("Parse error: {error}");
                    self.answer_error(Some(id), code::PARSE_ERROR, message);
                }
                return None;
            }
        };
        let incoming = Incoming::classify(&value);
        if let Incoming::Invalid { id, reason } = incoming {
            self.answer_error(
                id,
                code::INVALID_REQUEST,
                format!("Invalid request: {reason}"),
            );
            return None;
        }
        if let Incoming::Notification { method, params } = &incoming
            && method == "notifications/cancelled"
            && let Some(request_id) = params.get("requestId")
        {
            // rmcp drops the answer of a cancelled request, so its slot ends here.
            self.in_flight.release(&id_key(request_id));
        }
        let message = match serde_json::from_value::<RxJsonRpcMessage<RoleServer>>(value) {
            Ok(message) => message,
            // A notification of a kind rmcp does not model: nothing to answer.
            Err(_) if matches!(incoming, Incoming::Notification { .. }) => return None,
            Err(error) => {
                let id = match incoming {
                    Incoming::Request { id, .. } | Incoming::Response { id } => Some(id),
                    _ => None,
                };
                let message = format!(
                    "Invalid request: not a JSON-RPC 2.0 request, notification or response \
                     ({error})"
                );
                self.answer_error(id, code::INVALID_REQUEST, message);
                return None;
            }
        };
        let Incoming::Request {
            id, key, method, ..
        } = incoming
        else {
            return Some(message);
        };
        // Liveness is never refused: hosts ping to decide whether a server is
        // alive. Pings have slots of their own; when those are taken, reading
        // waits (a flood is slowed down, not refused and not buffered).
        let kind = if method == "ping" {
            Kind::Liveness
        } else {
            Kind::Call
        };
        match self.in_flight.try_admit(&key, kind, ()) {
            Admission::Admitted => Some(message),
            Admission::Wait => {
                self.parked_ping = Some((key, message));
                None
            }
            Admission::Duplicate => {
                let text =
                    format!("Invalid request: id {key} is already used by a request in flight");
                self.answer_error(Some(id), code::INVALID_REQUEST, text);
                None
            }
            Admission::Busy => {
                let text = self.in_flight.busy_message("requests");
                self.answer_error(Some(id), code::SERVER_BUSY, text);
                None
            }
        }
    }
}

impl<R: AsyncRead + Send + Unpin + 'static> Transport<RoleServer> for LineTransport<R> {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answered = match &item {
            TxJsonRpcMessage::<RoleServer>::Response(response) => Some(response.id.clone()),
            TxJsonRpcMessage::<RoleServer>::Error(error) => error.id.clone(),
            _ => None,
        }
        .and_then(|id| serde_json::to_string(&id).ok());
        let frame = serde_json::to_value(&item)
            .map(|value| self.out.encode(&value))
            .map_err(std::io::Error::other);
        let out = self.out.clone();
        let in_flight = self.in_flight.clone();
        async move {
            let sent = out
                .send_frame(frame?)
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            if let Some(id) = answered {
                in_flight.release(&id);
            }
            sent
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if !self.flush_pending().await {
                self.closed.cancel();
                return None;
            }
            if let Some((key, _)) = &self.parked_ping {
                // Cancel-safe: the ping stays parked until a slot is free.
                self.in_flight.admit_liveness(key, ()).await;
                let (_, message) = self.parked_ping.take().expect("checked above");
                return Some(message);
            }
            let read = match self.read_line().await {
                Ok(read) => read,
                Err(error) => {
                    tracing::error!(%error, "cannot read stdin");
                    Read::Eof
                }
            };
            let line = std::mem::take(&mut self.line);
            match read {
                Read::Eof => {
                    let until = *self
                        .drain_until
                        .get_or_insert_with(|| Instant::now() + jsonrpc::DRAIN_LIMIT);
                    jsonrpc::drain(&self.in_flight, &self.out, until).await;
                    self.closed.cancel();
                    return None;
                }
                Read::Oversized => {
                    tracing::warn!(
                        limit = MAX_LINE_BYTES,
                        "an input line over the limit was skipped"
                    );
                    if let Some(id) = recover_id(&line) {
                        let message = format!(
                            "Invalid request: the message is larger than {} MiB and was skipped",
                            MAX_LINE_BYTES >> 20
                        );
                        self.answer_error(Some(id), code::INVALID_REQUEST, message);
                    }
                }
                Read::Line => {
                    if let Some(message) = self.accept(line) {
                        return Some(message);
                    }
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The line without its end, a carriage return or a UTF-8 byte order mark.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}
