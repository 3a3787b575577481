//! Output of the binary's own commands (`--help`, `--version`, `schema`). The only
//! place outside the protocol writer that may print to stdout.

use serde_json::{Value, json};

use crate::mcp::HandingerServer;

/// Print `text` to stdout for a person or a script.
#[allow(clippy::print_stdout)]
pub fn print(text: &str) {
    println!("{text}");
}

/// The tools' argument and result schemas, keyed by tool name, as `schema` prints them
/// and as `schemas/` stores them.
pub fn tool_schemas() -> Value {
    let tools = HandingerServer::tool_definitions();
    let mut out = serde_json::Map::new();
    for tool in tools {
        out.insert(
            tool.name.to_string(),
            json!({
                "input": Value::Object((*tool.input_schema).clone()),
                "output": tool.output_schema.map(|s| Value::Object((*s).clone())),
            }),
        );
    }
    Value::Object(out)
}
