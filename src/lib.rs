//! handinger-mcp: hands subtasks to Handinger workers from MCP hosts, editors and
//! scripts. The core ([`delegation`]) knows no protocol; the front-ends ([`mcp`],
//! [`lsp`], [`cli`]) read one table of tools ([`tools`]); the composition root
//! ([`app`]) turns the settings ([`config`]) into each part's options. The layers
//! and what each module may not depend on are in ARCHITECTURE.md.

// Composition root and front-ends.
pub mod app;
pub mod cli;
pub mod lsp;
pub mod mcp;

// The JSON-RPC core the stdio front-ends share.
pub mod jsonrpc;

// The table of tools, and what an outcome looks like.
pub mod render;
pub mod schema;
pub mod tools;

// The core and what it stands on.
pub mod delegation;
pub mod handinger;
pub mod workspace;

// Settings and leaves.
pub mod budget;
pub mod key;
pub mod units;
