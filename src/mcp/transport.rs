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
//!   never refused, nor are notifications and answers to the server's requests. A request
//!   whose id is already in flight is refused (-32600): rmcp would answer only one
//!   of the two.
//! - At end of input, requests already read are answered before the transport
//!   closes: it waits until none is in flight, at most [`DRAIN_LIMIT`] (calls
//!   waiting on the API are then reported with their task ids), and until the
//!   writer has written every queued answer.
//! - Answers go through one bounded queue to one writer. When the client stops
//!   reading, the queue fills, answering blocks, and so does reading: the client
//!   is slowed down instead of the server's memory growing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    RoleServer,
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

/// Longest line accepted (the same bound as rmcp's stock transport).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// How much of an oversized line is kept to look for its id.
const ID_SCAN_BYTES: usize = 4096;
/// Answers waiting for the writer; beyond this, answering (and so reading) waits.
const OUTGOING_QUEUE: usize = 32;
/// Pings answered at once; more wait for one of these before the next line is read.
const PING_SLOTS: usize = 16;
/// How long requests still in flight at end of input get to be answered.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// JSON-RPC error codes this layer answers with.
mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const SERVER_BUSY: i64 = -32000;
}

/// The permits of requests in flight, by the JSON text of their id.
#[derive(Default)]
struct InFlight {
    held: Mutex<HashMap<String, OwnedSemaphorePermit>>,
}

impl InFlight {
    fn release(&self, id: &str) {
        self.held.lock().expect("in-flight lock").remove(id);
    }

    fn is_empty(&self) -> bool {
        self.held.lock().expect("in-flight lock").is_empty()
    }
}

/// What the writer task takes: a line, or a request to say when every line
/// queued before it has been written and flushed.
enum Outgoing {
    Line(Vec<u8>),
    Flushed(oneshot::Sender<()>),
}

/// The stdio transport: a bounded line reader in, a bounded queue out.
pub struct LineTransport<R> {
    reader: BufReader<R>,
    line: Vec<u8>,
    /// Inside a line over the limit: its rest is being skipped.
    skipping: bool,
    /// An error answer of ours not yet queued. Kept here, not in a future, because
    /// rmcp may drop `receive` at any await; nothing is read until it is queued.
    pending: Option<Vec<u8>>,
    out: mpsc::Sender<Outgoing>,
    /// Set at end of input: until when requests in flight may still be answered.
    drain_until: Option<Instant>,
    slots: Arc<Semaphore>,
    /// Slots for pings, apart from the calls' so a full server still answers them.
    ping_slots: Arc<Semaphore>,
    /// A ping read while every ping slot was taken; served before reading on.
    parked_ping: Option<(String, RxJsonRpcMessage<RoleServer>)>,
    in_flight: Arc<InFlight>,
    max_in_flight: usize,
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

impl<R: AsyncRead + Send + Unpin + 'static> LineTransport<R> {
    /// A transport reading `input` and writing `output` (through a writer task).
    /// `closed` is cancelled at end of input or when output fails.
    pub fn new<W: AsyncWrite + Send + Unpin + 'static>(
        input: R,
        output: W,
        max_in_flight: usize,
        closed: CancellationToken,
    ) -> Self {
        let (out, queue) = mpsc::channel(OUTGOING_QUEUE);
        tokio::spawn(write_lines(output, queue, closed.clone()));
        Self {
            reader: BufReader::new(input),
            line: Vec::new(),
            skipping: false,
            pending: None,
            out,
            drain_until: None,
            slots: Arc::new(Semaphore::new(max_in_flight)),
            ping_slots: Arc::new(Semaphore::new(PING_SLOTS)),
            parked_ping: None,
            in_flight: Arc::default(),
            max_in_flight,
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
        let id = id.unwrap_or(Value::Null);
        let answer =
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
        self.pending = Some(line_of(&answer));
    }

    /// Queue the pending answer, waiting while the queue is full. Cancel-safe: a
    /// reservation dropped halfway loses nothing. `false` once the writer is gone.
    async fn flush_pending(&mut self) -> bool {
        if self.pending.is_none() {
            return true;
        }
        match self.out.reserve().await {
            Ok(slot) => {
                slot.send(Outgoing::Line(self.pending.take().expect("checked above")));
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
        let id = value
            .get("id")
            .filter(|id| id.is_string() || id.is_number())
            .cloned();
        let method = value.get("method").and_then(Value::as_str);
        if method == Some("notifications/cancelled")
            && let Some(request_id) = value.pointer("/params/requestId")
        {
            // rmcp drops the answer of a cancelled request, so its slot ends here.
            self.in_flight.release(&request_id.to_string());
        }
        let message = match serde_json::from_value::<RxJsonRpcMessage<RoleServer>>(value.clone()) {
            Ok(message) => message,
            Err(error) => {
                let reason = if value.is_array() {
                    "batches are not supported; send one message per line".to_owned()
                } else if !value.is_object() {
                    "a JSON-RPC message is an object".to_owned()
                } else {
                    format!("not a JSON-RPC 2.0 request, notification or response ({error})")
                };
                match (&id, method) {
                    // A notification of a kind rmcp does not model: nothing to answer.
                    (None, Some(_)) => {}
                    _ => {
                        let message = format!("Invalid request: {reason}");
                        self.answer_error(id, code::INVALID_REQUEST, message);
                    }
                }
                return None;
            }
        };
        if let (RxJsonRpcMessage::<RoleServer>::Request(_), Some(id)) = (&message, id) {
            let key = id.to_string();
            if self
                .in_flight
                .held
                .lock()
                .expect("in-flight lock")
                .contains_key(&key)
            {
                let text =
                    format!("Invalid request: id {key} is already used by a request in flight");
                self.answer_error(Some(id), code::INVALID_REQUEST, text);
                return None;
            }
            // Liveness is never refused: hosts ping to decide whether a server is
            // alive. Pings have slots of their own; when those are taken, reading
            // waits (a flood is slowed down, not refused and not buffered).
            if method == Some("ping") {
                match self.ping_slots.clone().try_acquire_owned() {
                    Ok(permit) => self.hold(key, permit),
                    Err(_) => {
                        self.parked_ping = Some((key, message));
                        return None;
                    }
                }
                return Some(message);
            }
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                let text = format!(
                    "Server busy: {} requests are in flight (--max-in-flight); retry when some \
                     have been answered",
                    self.max_in_flight
                );
                self.answer_error(Some(id), code::SERVER_BUSY, text);
                return None;
            };
            self.hold(key, permit);
        }
        Some(message)
    }

    fn hold(&self, key: String, permit: OwnedSemaphorePermit) {
        self.in_flight
            .held
            .lock()
            .expect("in-flight lock")
            .insert(key, permit);
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
        let line = serde_json::to_value(&item)
            .map(|value| line_of(&value))
            .map_err(std::io::Error::other);
        let out = self.out.clone();
        let in_flight = self.in_flight.clone();
        async move {
            let sent = out
                .send(Outgoing::Line(line?))
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
            if self.parked_ping.is_some() {
                // Cancel-safe: the ping stays parked until a slot is free.
                let permit = self
                    .ping_slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the ping semaphore is never closed");
                let (key, message) = self.parked_ping.take().expect("checked above");
                self.hold(key, permit);
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
                    self.drain().await;
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

impl<R> LineTransport<R> {
    /// At end of input: let the requests already read be answered (at most until
    /// the drain limit), then wait until the writer has written every answer.
    /// Cancel-safe: rmcp may drop this future, and the deadline is kept.
    async fn drain(&mut self) {
        let until = *self
            .drain_until
            .get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
        while !self.in_flight.is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (written, flushed) = oneshot::channel();
        let remaining = until.saturating_duration_since(Instant::now()) + DRAIN_LIMIT;
        if self.out.send(Outgoing::Flushed(written)).await.is_ok() {
            let _ = tokio::time::timeout(remaining, flushed).await;
        }
    }
}

/// Write queued lines until the queue closes or the output fails.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut output: W,
    mut queue: mpsc::Receiver<Outgoing>,
    closed: CancellationToken,
) {
    while let Some(outgoing) = queue.recv().await {
        let line = match outgoing {
            Outgoing::Line(line) => line,
            Outgoing::Flushed(done) => {
                if output.flush().await.is_ok() {
                    let _ = done.send(());
                }
                continue;
            }
        };
        let mut written = output.write_all(&line).await;
        if written.is_ok() && queue.is_empty() {
            written = output.flush().await;
        }
        if let Err(error) = written {
            tracing::warn!(%error, "stdout is closed; nobody is left to answer");
            closed.cancel();
            return;
        }
    }
}

fn line_of(value: &Value) -> Vec<u8> {
    let mut line = value.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// The line without its end, a carriage return or a UTF-8 byte order mark.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// The `id` of a top-level JSON object read from its first bytes, without parsing
/// the rest: a number or a string without escapes, as the key `"id"` at depth 1.
pub fn recover_id(text: &[u8]) -> Option<Value> {
    let text = &text[..text.len().min(ID_SCAN_BYTES)];
    let mut depth = 0usize;
    let mut i = 0;
    let mut expecting_key = false;
    while i < text.len() {
        match text[i] {
            b'{' | b'[' => {
                depth += 1;
                expecting_key = text[i] == b'{' && depth == 1;
            }
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 1 => expecting_key = true,
            b'"' => {
                let end = string_end(text, i)?;
                let is_id_key = depth == 1 && expecting_key && &text[i..=end] == b"\"id\"";
                i = end + 1;
                if is_id_key {
                    return id_value(&text[i..]);
                }
                expecting_key = false;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote closing the string that opens at `start`.
fn string_end(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The value after `"id"`: `: 12` or `: "abc"`.
fn id_value(rest: &[u8]) -> Option<Value> {
    let rest = std::str::from_utf8(rest.get(..rest.len().min(256))?).ok()?;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    if let Some(string) = rest.strip_prefix('"') {
        let end = string.find('"')?;
        let id = &string[..end];
        return (!id.contains('\\')).then(|| Value::String(id.to_owned()));
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(rest.len());
    rest[..end].parse::<i64>().ok().map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_recovered_from_the_top_level_only() {
        let id = |text: &str| recover_id(text.as_bytes());
        assert_eq!(
            id(r#"{"jsonrpc":"2.0","id":12,"method":"x","params":{"#),
            Some(json!(12))
        );
        assert_eq!(id(r#"{"id" : "abc", "params": [[[["#), Some(json!("abc")));
        assert_eq!(
            id(r#"{"method":"x","params":{"id":5},"id":-3,"#),
            Some(json!(-3))
        );
        assert_eq!(
            id(r#"{"method":"x","params":{"id":5,"#),
            None,
            "nested ids are not ids"
        );
        assert_eq!(
            id(r#"{"params":"has \"id\": 9 inside","id":4"#),
            Some(json!(4))
        );
        assert_eq!(id(r#"{"x":"id","y":1}"#), None, "a value is not a key");
        assert_eq!(id("not json"), None);
        assert_eq!(id(r#"[{"id":1}]"#), None);
    }
}
