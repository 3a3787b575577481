//! JSON-RPC 2.0 messages as both stdio protocols read and write them: what an
//! incoming value is, the error codes, and the answers.

use serde_json::{Value, json};

/// The error codes the bridge answers with.
pub mod code {
    /// The bytes are not JSON (JSON-RPC 2.0).
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON, but not a request, notification or response (JSON-RPC 2.0).
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    /// Too many requests in flight: the first code of the range JSON-RPC 2.0
    /// leaves to servers.
    pub const SERVER_BUSY: i64 = -32000;
    /// A request before `initialize` (LSP).
    pub const SERVER_NOT_INITIALIZED: i64 = -32002;
    /// A request that was valid but failed (LSP).
    pub const REQUEST_FAILED: i64 = -32803;
    /// A request the client cancelled (LSP).
    pub const REQUEST_CANCELLED: i64 = -32800;
}

/// An error answer's code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseError {
    pub code: i64,
    pub message: String,
}

impl ResponseError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// What one incoming JSON value is.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A method call to answer. `key` is the id's JSON text, which tells `1`
    /// from `"1"`.
    Request {
        id: Value,
        key: String,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    /// An answer to a request of ours.
    Response {
        id: Value,
    },
    /// Not a JSON-RPC 2.0 message; `id` when one could be read, so the error can
    /// be attributed.
    Invalid {
        id: Option<Value>,
        reason: String,
    },
}

impl Incoming {
    /// Classify `value`. Batches are refused: neither protocol uses them.
    pub fn classify(value: &Value) -> Self {
        let Some(object) = value.as_object() else {
            let reason = if value.is_array() {
                "batches are not supported; send one message at a time"
            } else {
                "a JSON-RPC message is an object"
            };
            return Incoming::Invalid {
                id: None,
                reason: reason.to_owned(),
            };
        };
        let id = object
            .get("id")
            .filter(|id| id.is_string() || id.is_number())
            .cloned();
        let params = object.get("params").cloned().unwrap_or(Value::Null);
        match (object.get("method"), id) {
            (Some(Value::String(method)), Some(id)) => Incoming::Request {
                key: id_key(&id),
                id,
                method: method.clone(),
                params,
            },
            (Some(Value::String(method)), None) if !object.contains_key("id") => {
                Incoming::Notification {
                    method: method.clone(),
                    params,
                }
            }
            (None, Some(id)) if object.contains_key("result") || object.contains_key("error") => {
                Incoming::Response { id }
            }
            (_, id) => Incoming::Invalid {
                id,
                reason: "not a JSON-RPC 2.0 request, notification or response (a request \
                         needs a string method and a number or string id)"
                    .to_owned(),
            },
        }
    }
}

/// The key under which a request id is tracked: its JSON text.
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

/// A success answer.
pub fn result_response(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error answer (`id` null when the request's id could not be read).
pub fn error_response(id: Option<Value>, error: &ResponseError) -> Value {
    json!({"jsonrpc": "2.0", "id": id.unwrap_or(Value::Null),
           "error": {"code": error.code, "message": error.message}})
}

/// An answer of either kind.
pub fn response(id: Value, result: Result<Value, ResponseError>) -> Value {
    match result {
        Ok(result) => result_response(id, result),
        Err(error) => error_response(Some(id), &error),
    }
}

/// A notification of ours.
pub fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

/// How much of a message is searched for its id when it cannot be parsed.
pub const ID_SCAN_BYTES: usize = 4096;

/// The `id` of a top-level JSON object read from its first bytes, without parsing
/// the rest: a number or a string without escapes, as the key `"id"` at depth 1.
/// Lets a message that is too large or not JSON still get an attributable error.
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

    #[test]
    fn messages_are_classified_by_shape() {
        let classify = |v: Value| Incoming::classify(&v);
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})),
            Incoming::Request { key, .. } if key == "1"
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": "1", "method": "ping"})),
            Incoming::Request { key, .. } if key == "\"1\""
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "method": "exit"})),
            Incoming::Notification { method, .. } if method == "exit"
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": 3, "result": {}})),
            Incoming::Response { .. }
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": 4, "method": 5})),
            Incoming::Invalid { id: Some(_), .. }
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": null, "method": "x"})),
            Incoming::Invalid { id: None, .. }
        ));
        assert!(matches!(
            classify(json!([1])),
            Incoming::Invalid { id: None, .. }
        ));
        assert!(matches!(
            classify(json!(7)),
            Incoming::Invalid { id: None, .. }
        ));
    }
}
