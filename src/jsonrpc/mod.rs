//! The JSON-RPC 2.0 core both stdio protocols share (MCP's line transport and the
//! LSP-style mode): telling their framing apart, error codes, message shapes, the
//! bounded outgoing queue, and the table of requests in flight with its liveness
//! exemption. It knows no tool and no task.

mod sniff;

pub use sniff::{Framing, sniff_framing};
