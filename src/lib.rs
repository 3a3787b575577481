//! handinger-mcp hands subtasks to Handinger workers from MCP hosts, editors and
//! scripts. The binary is the product; this library is what the binary, its
//! tests, its benchmarks and an embedder share.
//!
//! # The library surface
//!
//! Deliberately short; every module is crate-private, so the layers
//! (ARCHITECTURE.md) can change without breaking anyone:
//!
//! - [`run`]: the whole program, as `main` calls it.
//! - [`Command`], [`Settings`], [`cli_command`], [`UsageError`]: the command line,
//!   parsed, and as clap defines it (help, completions, man pages).
//! - [`runner`] and [`TaskRunner`]: the core, built from settings.
//! - [`serve_mcp_stdio`] with [`StdioLimits`], [`serve_lsp`] with
//!   [`SessionLimits`]: a front-end over any pair of byte streams;
//!   [`instructions`]: what MCP clients are told at initialize.
//! - [`TOOLS`], [`ToolSpec`], [`ToolId`], [`Hints`], [`tool_listing`]: the tool
//!   table, read-only, and every tool as MCP's `tools/list` shows it; [`PROMPTS`]:
//!   the prompt table.

// Composition root and front-ends.
mod a2a;
mod app;
mod cli;
mod lsp;
mod mcp;

// The JSON-RPC core the stdio front-ends share.
mod jsonrpc;

// The table of tools, and what an outcome looks like.
mod render;
mod schema;
mod tools;

// The core and what it stands on.
mod delegation;
mod handinger;
mod journal;
mod workspace;

// Leaves.
mod budget;
mod key;
mod output_schema;
mod units;

pub use app::{Command, Settings, UsageError, cli_command, main as run, runner};
pub use delegation::TaskRunner;
pub use lsp::{SessionLimits, serve as serve_lsp};
pub use mcp::{StdioLimits, instructions, serve_stdio as serve_mcp_stdio};
pub use tools::{
    Hints, TOOLS, ToolId, ToolSpec, listing as tool_listing,
    prompts::{PROMPTS, PromptArg, PromptSpec},
};
