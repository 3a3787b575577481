//! handinger-mcp: hands subtasks to Handinger workers from MCP hosts, editors and
//! scripts. The core ([`tasks`]) knows no protocol; [`mcp`] is the front-end.

pub mod app;
pub mod budget;
pub mod cli;
pub mod config;
pub mod handinger;
pub mod key;
pub mod lsp;
pub mod mcp;
pub mod render;
pub mod schema;
pub mod stdio;
pub mod tasks;
pub mod tools;
pub mod units;
pub mod workspace;
