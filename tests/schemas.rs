//! The tools' interface, on disk (schemas/tools.json) and on the wire, is pinned:
//! any change to the table or the Rust types shows up as a diff.
//! `UPDATE_SCHEMAS=1 cargo test --test integration schemas` rewrites the file
//! after an intended change.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{KEY, command, raw::RawSession};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compare `actual` with the pretty JSON in `path`, or rewrite it when blessing.
fn check_golden(path: &Path, actual: &Value) {
    let pretty = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &pretty).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run UPDATE_SCHEMAS=1 cargo test --test integration schemas",
            path.display()
        )
    });
    if expected != pretty {
        let first_difference = expected
            .lines()
            .zip(pretty.lines())
            .enumerate()
            .find(|(_, (e, a))| e != a)
            .map(|(n, (e, a))| format!("line {}:\n  on disk: {e}\n  code:    {a}", n + 1))
            .unwrap_or_else(|| "one is a prefix of the other".into());
        panic!(
            "{} drifted from the code ({first_difference}).\nIf the change is intended, run \
             UPDATE_SCHEMAS=1 cargo test --test integration schemas",
            path.display()
        );
    }
}

/// The one generated file: every tool's name, description, schemas and hints.
fn tools_file() -> PathBuf {
    root().join("schemas/tools.json")
}

#[test]
fn the_schema_file_matches_the_table() {
    check_golden(&tools_file(), &handinger_mcp::tool_listing());
}

#[test]
fn schema_command_prints_the_same_schemas() {
    let out = std::process::Command::new(crate::support::bin())
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, handinger_mcp::tool_listing());
}

/// What an MCP client receives from tools/list is exactly the generated file.
#[tokio::test]
async fn tools_list_on_the_wire_is_the_schema_file() {
    let mut session = RawSession::spawn(command("http://127.0.0.1:9", Some(KEY), &[]));
    session.initialize("2025-11-25").await;
    let answer = session.request(1, "tools/list", json!({})).await;
    check_golden(&tools_file(), &answer["result"]);
}

/// What strict validators warn about is absent from every schema: each property
/// has a type, no type admits null (optional means absent), and there is no
/// $schema, $ref or $defs a draft-07 validator could trip on.
#[test]
fn schemas_have_nothing_strict_validators_warn_about() {
    fn walk(value: &Value, path: &str, problems: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                for key in ["$schema", "$ref", "$defs", "definitions"] {
                    if object.contains_key(key) {
                        problems.push(format!("{path}: {key}"));
                    }
                }
                if let Some(Value::Array(types)) = object.get("type") {
                    problems.push(format!("{path}: a type array {types:?}"));
                }
                if object.get("type") == Some(&json!("null")) {
                    problems.push(format!("{path}: type null"));
                }
                if let Some(Value::Object(properties)) = object.get("properties") {
                    for (name, property) in properties {
                        let typed = ["type", "enum", "const"]
                            .iter()
                            .any(|k| property.get(k).is_some());
                        if !typed {
                            problems.push(format!("{path}.{name}: no type"));
                        }
                    }
                }
                for (key, child) in object {
                    walk(child, &format!("{path}/{key}"), problems);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, path, problems)),
            _ => {}
        }
    }
    let schemas = handinger_mcp::tool_listing();
    let mut problems = Vec::new();
    walk(&schemas, "", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
}
