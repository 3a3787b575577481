//! The JSON-RPC 2.0 core both stdio protocols share (MCP's line transport and the
//! LSP-style mode): telling their framing apart, message shapes and error codes,
//! the bounded outgoing queue and its writer, the table of requests in flight
//! with its liveness exemption, and the drain at end of input. It knows no tool
//! and no task.

mod in_flight;
mod message;
mod outgoing;
mod sniff;

use std::time::Duration;

pub use in_flight::{Admission, InFlight, Kind};
pub use message::{
    ID_SCAN_BYTES, Incoming, ResponseError, code, error_response, id_key, notification, recover_id,
    response,
};
pub use outgoing::OutgoingQueue;
pub use sniff::{Framing, sniff_framing};

/// How long requests still in flight at end of input get to be answered.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// At end of input: let the requests already read be answered (until `until`),
/// then wait until the writer has written every answer (at most one more
/// [`DRAIN_LIMIT`]). Cancel-safe when `until` is kept by the caller.
pub async fn drain<T>(in_flight: &InFlight<T>, out: &OutgoingQueue, until: tokio::time::Instant) {
    while !in_flight.is_empty() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let remaining = until.saturating_duration_since(tokio::time::Instant::now()) + DRAIN_LIMIT;
    let _ = tokio::time::timeout(remaining, out.flushed()).await;
}
