//! The A2A 0.3 face of the same endpoint, for clients built on 0.3 SDKs
//! (CrewAI's `a2a` extra pins a2a-sdk 0.3). The spec lets an agent speak
//! several versions; a 0.3 client sends no `A2A-Version` header and uses 0.3's
//! method names (`message/send`, `tasks/get`, ...), which 1.0 does not have.
//!
//! Nothing here decides anything: a 0.3 request is rewritten as its 1.0
//! counterpart, answered by the 1.0 code, and the answer rewritten in 0.3's
//! shapes (`kind` tags, lower-case states, `file` parts), the way the
//! reference SDK's compatibility layer does it.

use serde_json::{Map, Value, json};

use super::error::A2aError;

/// The version this face speaks, as the card's 0.3 fields name it.
pub const PROTOCOL_VERSION: &str = "0.3.0";

/// The 1.0 method a 0.3 method is, or `None` for a name 0.3 does not have.
pub fn method_in_1_0(method: &str) -> Option<&'static str> {
    Some(match method {
        "message/send" => "SendMessage",
        "message/stream" => "SendStreamingMessage",
        "tasks/get" => "GetTask",
        "tasks/cancel" => "CancelTask",
        "tasks/resubscribe" => "SubscribeToTask",
        "tasks/pushNotificationConfig/set" => "CreateTaskPushNotificationConfig",
        "tasks/pushNotificationConfig/get" => "GetTaskPushNotificationConfig",
        "tasks/pushNotificationConfig/list" => "ListTaskPushNotificationConfigs",
        "tasks/pushNotificationConfig/delete" => "DeleteTaskPushNotificationConfig",
        "agent/getAuthenticatedExtendedCard" => "GetExtendedAgentCard",
        _ => return None,
    })
}

/// 0.3's AuthenticatedExtendedCardNotConfiguredError, for the one method
/// whose error 0.3 names differently.
pub fn no_extended_card() -> A2aError {
    A2aError {
        code: -32007,
        message: "This agent has no authenticated extended Agent Card (its card says \
                  supportsAuthenticatedExtendedCard is false)"
            .to_owned(),
        data: None,
    }
}

/// A 0.3 request's params as 1.0's: `MessageSendParams` becomes
/// `SendMessageRequest`; the task queries are already alike.
pub fn params_in_1_0(params: Value) -> Result<Value, A2aError> {
    let Value::Object(mut params) = params else {
        return Ok(params);
    };
    if let Some(message) = params.remove("message") {
        params.insert("message".into(), message_in_1_0(message)?);
    }
    if let Some(configuration) = params.remove("configuration") {
        // 0.3: "blocking" (absent means wait, as the reference server reads
        // it); 1.0 says the opposite, "returnImmediately".
        let blocking = configuration.get("blocking").and_then(Value::as_bool);
        let mut new = json!({"returnImmediately": blocking == Some(false)});
        if let Some(length) = configuration.get("historyLength") {
            new["historyLength"] = length.clone();
        }
        params.insert("configuration".into(), new);
    }
    Ok(Value::Object(params))
}

fn message_in_1_0(message: Value) -> Result<Value, A2aError> {
    let Value::Object(mut message) = message else {
        return Err(A2aError::invalid_params("params.message is not an object"));
    };
    let role = match message.get("role").and_then(Value::as_str) {
        Some("user") => "ROLE_USER",
        Some(other) => {
            return Err(A2aError::invalid_params(format!(
                "message.role is {other:?}; a message to this agent comes from the \"user\""
            )));
        }
        None => {
            return Err(A2aError::invalid_params(
                "message.role is missing (\"user\")",
            ));
        }
    };
    message.insert("role".into(), json!(role));
    let parts = match message.remove("parts") {
        Some(Value::Array(parts)) => parts,
        Some(_) => return Err(A2aError::invalid_params("message.parts is not a list")),
        None => Vec::new(),
    };
    let parts = parts
        .into_iter()
        .enumerate()
        .map(|(index, part)| part_in_1_0(index, part))
        .collect::<Result<Vec<_>, _>>()?;
    message.insert("parts".into(), Value::Array(parts));
    Ok(Value::Object(message))
}

/// A 0.3 part (`kind` text, file or data) as a 1.0 part.
fn part_in_1_0(index: usize, part: Value) -> Result<Value, A2aError> {
    let unknown = || {
        A2aError::invalid_params(format!(
            "message.parts[{index}] is not a text, file or data part"
        ))
    };
    let kind = part
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(unknown)?;
    Ok(match kind {
        "text" => json!({"text": part.get("text").ok_or_else(unknown)?}),
        "data" => json!({"data": part.get("data").ok_or_else(unknown)?}),
        "file" => {
            let file = part.get("file").ok_or_else(unknown)?;
            let mut new = Map::new();
            if let Some(bytes) = file.get("bytes") {
                new.insert("raw".into(), bytes.clone());
            } else if let Some(uri) = file.get("uri") {
                new.insert("url".into(), uri.clone());
            } else {
                return Err(unknown());
            }
            if let Some(name) = file.get("name") {
                new.insert("filename".into(), name.clone());
            }
            if let Some(media_type) = file.get("mimeType") {
                new.insert("mediaType".into(), media_type.clone());
            }
            Value::Object(new)
        }
        _ => return Err(unknown()),
    })
}

/// A 1.0 result as 0.3's: a `SendMessage` answer or stream event
/// (`{"task": ...}`, `{"statusUpdate": ...}`, `{"artifactUpdate": ...}`,
/// `{"message": ...}`) or a bare `Task` (GetTask).
pub fn result_in_0_3(result: Value) -> Value {
    let Value::Object(mut result) = result else {
        return result;
    };
    if let Some(task) = result.remove("task") {
        return task_in_0_3(task);
    }
    if let Some(message) = result.remove("message") {
        return message_in_0_3(message);
    }
    if let Some(update) = result.remove("statusUpdate") {
        let status = update.get("status").cloned().unwrap_or_default();
        let state = status.get("state").and_then(Value::as_str).unwrap_or("");
        return json!({
            "kind": "status-update",
            "taskId": update.get("taskId"),
            "contextId": update.get("contextId"),
            "final": is_final(state),
            "status": status_in_0_3(status),
        });
    }
    if let Some(update) = result.remove("artifactUpdate") {
        return json!({
            "kind": "artifact-update",
            "taskId": update.get("taskId"),
            "contextId": update.get("contextId"),
            "artifact": artifact_in_0_3(update.get("artifact").cloned().unwrap_or_default()),
            "append": false,
            "lastChunk": update.get("lastChunk").cloned().unwrap_or(json!(true)),
        });
    }
    task_in_0_3(Value::Object(result))
}

/// Whether a 1.0 state ends the task (0.3's `final`: the stream's last event).
fn is_final(state: &str) -> bool {
    matches!(
        state,
        "TASK_STATE_COMPLETED"
            | "TASK_STATE_FAILED"
            | "TASK_STATE_CANCELED"
            | "TASK_STATE_REJECTED"
            | "TASK_STATE_INPUT_REQUIRED"
            | "TASK_STATE_AUTH_REQUIRED"
    )
}

fn task_in_0_3(task: Value) -> Value {
    let Value::Object(mut task) = task else {
        return task;
    };
    task.insert("kind".into(), json!("task"));
    if let Some(status) = task.remove("status") {
        task.insert("status".into(), status_in_0_3(status));
    }
    map_list(&mut task, "artifacts", artifact_in_0_3);
    map_list(&mut task, "history", message_in_0_3);
    Value::Object(task)
}

/// `TASK_STATE_INPUT_REQUIRED` becomes `input-required`, and so on.
fn status_in_0_3(status: Value) -> Value {
    let Value::Object(mut status) = status else {
        return status;
    };
    if let Some(state) = status.get("state").and_then(Value::as_str) {
        let state = state
            .strip_prefix("TASK_STATE_")
            .unwrap_or(state)
            .to_ascii_lowercase()
            .replace('_', "-");
        status.insert("state".into(), json!(state));
    }
    if let Some(message) = status.remove("message") {
        status.insert("message".into(), message_in_0_3(message));
    }
    Value::Object(status)
}

fn message_in_0_3(message: Value) -> Value {
    let Value::Object(mut message) = message else {
        return message;
    };
    message.insert("kind".into(), json!("message"));
    let role = match message.get("role").and_then(Value::as_str) {
        Some("ROLE_USER") => "user",
        _ => "agent",
    };
    message.insert("role".into(), json!(role));
    map_list(&mut message, "parts", part_in_0_3);
    Value::Object(message)
}

fn artifact_in_0_3(artifact: Value) -> Value {
    let Value::Object(mut artifact) = artifact else {
        return artifact;
    };
    map_list(&mut artifact, "parts", part_in_0_3);
    Value::Object(artifact)
}

/// A 1.0 part as 0.3's. A 0.3 data part holds an object, so any other value
/// is wrapped as `{"value": ...}`.
fn part_in_0_3(part: Value) -> Value {
    if let Some(text) = part.get("text") {
        return json!({"kind": "text", "text": text});
    }
    if let Some(data) = part.get("data") {
        let data = if data.is_object() {
            data.clone()
        } else {
            json!({"value": data})
        };
        return json!({"kind": "data", "data": data});
    }
    let mut file = Map::new();
    if let Some(url) = part.get("url") {
        file.insert("uri".into(), url.clone());
    }
    if let Some(raw) = part.get("raw") {
        file.insert("bytes".into(), raw.clone());
    }
    if let Some(name) = part.get("filename") {
        file.insert("name".into(), name.clone());
    }
    if let Some(media_type) = part.get("mediaType") {
        file.insert("mimeType".into(), media_type.clone());
    }
    json!({"kind": "file", "file": file})
}

fn map_list(object: &mut Map<String, Value>, key: &str, each: fn(Value) -> Value) {
    if let Some(Value::Array(items)) = object.remove(key) {
        object.insert(key.into(), items.into_iter().map(each).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_0_3_message_becomes_a_1_0_send_message_request() {
        let params = json!({
            "message": {
                "kind": "message", "messageId": "m1", "role": "user", "contextId": "c",
                "parts": [
                    {"kind": "text", "text": "hello"},
                    {"kind": "data", "data": {"a": 1}},
                    {"kind": "file", "file": {"bytes": "aGk=", "name": "a.txt", "mimeType": "text/plain"}},
                ],
            },
            "configuration": {"blocking": false, "historyLength": 2},
        });
        let new = params_in_1_0(params).unwrap();
        assert_eq!(new["message"]["role"], "ROLE_USER");
        assert_eq!(
            new["message"]["parts"],
            json!([
                {"text": "hello"},
                {"data": {"a": 1}},
                {"raw": "aGk=", "filename": "a.txt", "mediaType": "text/plain"},
            ])
        );
        assert_eq!(
            new["configuration"],
            json!({"returnImmediately": true, "historyLength": 2})
        );
        let no_config = params_in_1_0(json!({"message": {"role": "user", "parts": []}})).unwrap();
        assert!(
            no_config.get("configuration").is_none(),
            "absent means wait"
        );
    }

    #[test]
    fn a_0_3_message_from_an_agent_or_with_an_unknown_part_is_refused() {
        let agent = json!({"message": {"role": "agent", "parts": []}});
        assert_eq!(params_in_1_0(agent).unwrap_err().code, -32602);
        let odd = json!({"message": {"role": "user", "parts": [{"kind": "video"}]}});
        assert!(params_in_1_0(odd).unwrap_err().message.contains("parts[0]"));
    }

    #[test]
    fn a_1_0_task_and_its_events_come_out_in_0_3_shapes() {
        let task = json!({"task": {
            "id": "t", "contextId": "c",
            "status": {"state": "TASK_STATE_COMPLETED", "timestamp": "x",
                "message": {"role": "ROLE_AGENT", "parts": [{"text": "done"}]}},
            "artifacts": [{"artifactId": "a", "parts": [
                {"text": "answer", "mediaType": "text/plain"},
                {"data": [1, 2]},
                {"url": "https://f", "filename": "f.csv", "mediaType": "text/csv"},
            ]}],
            "history": [{"role": "ROLE_USER", "parts": [{"text": "q"}]}],
        }});
        let old = result_in_0_3(task);
        assert_eq!(old["kind"], "task");
        assert_eq!(old["status"]["state"], "completed");
        assert_eq!(old["status"]["message"]["role"], "agent");
        assert_eq!(old["status"]["message"]["kind"], "message");
        assert_eq!(
            old["artifacts"][0]["parts"],
            json!([
                {"kind": "text", "text": "answer"},
                {"kind": "data", "data": {"value": [1, 2]}},
                {"kind": "file", "file": {"uri": "https://f", "name": "f.csv", "mimeType": "text/csv"}},
            ])
        );
        assert_eq!(old["history"][0]["role"], "user");

        let working = result_in_0_3(json!({"statusUpdate": {
            "taskId": "t", "contextId": "c", "status": {"state": "TASK_STATE_WORKING"}}}));
        assert_eq!(working["kind"], "status-update");
        assert_eq!(working["final"], false);
        assert_eq!(working["status"]["state"], "working");
        let failed = result_in_0_3(json!({"statusUpdate": {
            "taskId": "t", "contextId": "c", "status": {"state": "TASK_STATE_FAILED"}}}));
        assert_eq!(failed["final"], true);
        let artifact = result_in_0_3(json!({"artifactUpdate": {
            "taskId": "t", "contextId": "c", "lastChunk": true,
            "artifact": {"artifactId": "a", "parts": [{"text": "x"}]}}}));
        assert_eq!(artifact["kind"], "artifact-update");
        assert_eq!(artifact["artifact"]["parts"][0]["kind"], "text");
        let bare = result_in_0_3(json!({"id": "t", "status": {"state": "TASK_STATE_WORKING"}}));
        assert_eq!(bare["kind"], "task");
        assert_eq!(bare["status"]["state"], "working");
    }
}
