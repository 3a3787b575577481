//! Integration tests: the real binary, rmcp's real client, a mock API on loopback.

mod support;

mod a2a;
mod budget;
mod cli;
mod docs;
mod editor_configs;
mod editors;
mod errors;
mod faults;
mod files;
mod history;
mod http;
mod interop;
mod kubernetes;
mod live;
mod long;
mod lookups;
mod lsp;
mod packaging;
mod protocol;
mod replicas;
mod robustness;
mod schemas;
mod security;
mod tls;
mod tools;
mod typed;
mod workspaces;
