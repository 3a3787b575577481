//! A2A's errors over the JSON-RPC binding (A2A 1.0, section 5.4, and JSON-RPC's
//! own), each with a message a person can act on.

use serde_json::{Value, json};

use crate::delegation::{TaskError, TaskFailure};

/// An error answer: its JSON-RPC code, message and optional details.
#[derive(Debug, Clone, PartialEq)]
pub struct A2aError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl A2aError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(-32700, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(-32600, message)
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(-32601, format!("Method not found: {method}"))
            .with_data(json!({"method": method}))
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(-32602, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(-32603, message)
    }

    /// TaskNotFoundError: the id names no task this caller can see.
    pub fn task_not_found(task_id: &str) -> Self {
        Self::new(
            -32001,
            format!("Task not found: {task_id} names no task this agent can find for your key"),
        )
        .with_data(json!({"taskId": task_id}))
    }

    /// TaskNotCancelableError.
    pub fn not_cancelable(message: impl Into<String>) -> Self {
        Self::new(-32002, message)
    }

    /// PushNotificationNotSupportedError.
    pub fn push_not_supported() -> Self {
        Self::new(
            -32003,
            "Push notifications are not supported by this agent (its card says \
             capabilities.pushNotifications is false): use SubscribeToTask or GetTask (A2A 0.3: \
             tasks/resubscribe or tasks/get)",
        )
    }

    /// UnsupportedOperationError.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(-32004, message)
    }

    /// ContentTypeNotSupportedError.
    pub fn content_type(message: impl Into<String>) -> Self {
        Self::new(-32005, message)
    }

    /// VersionNotSupportedError.
    pub fn version(asked: &str, supported: &str) -> Self {
        Self::new(
            -32009,
            format!(
                "A2A version {asked} is not supported: this agent speaks A2A {supported}; send \
                 the header A2A-Version: {supported} (0.3 clients: use 0.3's method names, \
                 such as message/send, without the header)"
            ),
        )
        .with_data(json!({"requestedVersion": asked, "supportedVersions": [supported, "0.3"]}))
    }

    /// The same error, saying `message` instead.
    pub fn with_message(mut self, message: String) -> Self {
        self.message = message;
        self
    }

    fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The JSON-RPC error object.
    pub fn to_json(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// A call refused before any task existed, as the A2A error that fits it.
impl From<&TaskError> for A2aError {
    fn from(error: &TaskError) -> Self {
        let message = error.to_string();
        match &error.failure {
            TaskFailure::UnknownTask => {
                let mut not_found =
                    A2aError::task_not_found(error.task_id.as_deref().unwrap_or(""));
                not_found.message = format!(
                    "{message} (A2A: the contextId names no Handinger task this key can see; \
                     leave contextId out to start a new one)"
                );
                not_found
            }
            TaskFailure::InvalidArgument { .. }
            | TaskFailure::Attach(_)
            | TaskFailure::OverBudget { .. } => A2aError::invalid_params(message),
            TaskFailure::PreviousTurnRunning => A2aError::unsupported(message),
            _ => A2aError::internal(message),
        }
    }
}
