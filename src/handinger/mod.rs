//! The HTTP client for the Handinger API.
//!
//! `POST /api/tasks` is not idempotent, so the retry rule is narrow: a request is
//! sent again only when it provably never ran (the connection was never made, or
//! the server refused it with 429 before running it).

mod error;
mod types;
mod upload;

use std::time::Duration;

use reqwest::{StatusCode, header};
use serde::de::DeserializeOwned;

pub use error::{ApiError, describe_chain};
pub use types::{
    Budget, CreateTaskBody, ErrorBody, ProducedFile, Source, TaskEnvelope, TaskInfo, Turn,
    TurnList, Usage, Worker,
};
pub use upload::FileChanged;

use crate::{
    config::{ApiKey, Config},
    workspace::Attachment,
};

/// Largest response body the bridge reads; a bigger one is an error, not an OOM.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// First connect-retry delay; doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// A client for one base URL, shared by every call of the process.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    request_timeout: Duration,
    retries: u32,
    max_retry_wait: Duration,
    files_field: String,
}

/// What a request carries.
enum Payload<'a> {
    Get,
    /// `POST /api/tasks`: JSON, or multipart when there are files.
    Task {
        body: &'a CreateTaskBody,
        files: &'a [Attachment],
    },
}

/// Why one attempt failed, and whether another may be made.
enum Attempt {
    /// Safe to send again after the given delay.
    Retry {
        delay: Duration,
        error: ApiError,
    },
    Fail(ApiError),
}

impl Client {
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("handinger-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()?;
        Ok(Self {
            http,
            base_url: config.base_url.clone(),
            request_timeout: config.request_timeout,
            retries: config.retries,
            max_retry_wait: config.max_retry_wait,
            files_field: config.files_field.clone(),
        })
    }

    /// `POST /api/tasks`: run a task (or a follow-up turn) and wait for the Worker.
    /// Without files the body is JSON; with files, multipart with each file streamed.
    pub async fn create_task(
        &self,
        key: &ApiKey,
        body: &CreateTaskBody,
        files: &[Attachment],
    ) -> Result<Worker, ApiError> {
        let url = format!("{}/api/tasks", self.base_url);
        self.execute(key, &url, Payload::Task { body, files }).await
    }

    /// `GET /api/tasks/{taskId}`: the task's status and worker.
    pub async fn get_task(&self, key: &ApiKey, task_id: &str) -> Result<TaskInfo, ApiError> {
        let url = format!("{}/api/tasks/{}", self.base_url, path_segment(task_id));
        let envelope: TaskEnvelope = self.get(key, &url).await?;
        Ok(envelope.task)
    }

    /// `GET /api/workers/{workerId}?taskId=…`: the Worker object for one task.
    pub async fn get_worker(
        &self,
        key: &ApiKey,
        worker_id: &str,
        task_id: &str,
    ) -> Result<Worker, ApiError> {
        let url = format!(
            "{}/api/workers/{}?taskId={}",
            self.base_url,
            path_segment(worker_id),
            path_segment(task_id)
        );
        self.get(key, &url).await
    }

    /// `GET /api/tasks/{taskId}/turns`: every turn of a task.
    pub async fn get_turns(&self, key: &ApiKey, task_id: &str) -> Result<Vec<Turn>, ApiError> {
        let url = format!(
            "{}/api/tasks/{}/turns",
            self.base_url,
            path_segment(task_id)
        );
        let list: TurnList = self.get(key, &url).await?;
        Ok(list.items)
    }

    async fn get<T: DeserializeOwned>(&self, key: &ApiKey, url: &str) -> Result<T, ApiError> {
        self.execute(key, url, Payload::Get).await
    }

    /// A fresh request for one attempt (a multipart body cannot be replayed, so each
    /// attempt builds its own).
    async fn build(
        &self,
        key: &ApiKey,
        url: &str,
        payload: &Payload<'_>,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        match payload {
            Payload::Get => Ok(self.http.get(url).bearer_auth(key.expose())),
            Payload::Task { body, files: [] } => {
                Ok(self.http.post(url).bearer_auth(key.expose()).json(body))
            }
            Payload::Task { body, files } => {
                let form = upload::task_form(body, files, &self.files_field)
                    .await
                    .map_err(|e| ApiError::UploadAborted {
                        reason: e.to_string(),
                    })?;
                Ok(self
                    .http
                    .post(url)
                    .bearer_auth(key.expose())
                    .multipart(form))
            }
        }
    }

    /// Send the request, retrying only attempts that provably did not run, and
    /// decode the answer.
    async fn execute<T: DeserializeOwned>(
        &self,
        key: &ApiKey,
        url: &str,
        payload: Payload<'_>,
    ) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.build(key, url, &payload).await?;
            match self.attempt(request, url, attempt).await {
                Ok(value) => return Ok(value),
                Err(Attempt::Fail(error)) => return Err(error),
                Err(Attempt::Retry { delay, error }) => {
                    if attempt > self.retries {
                        return Err(error);
                    }
                    tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, %error, "retrying a request that did not run");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
        attempt: u32,
    ) -> Result<T, Attempt> {
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                Attempt::Retry {
                    delay: backoff(attempt),
                    error: ApiError::Unreachable {
                        url: url.to_owned(),
                        attempts: attempt,
                        reason: describe_chain(&e),
                    },
                }
            } else {
                Attempt::Fail(self.transport_error(&e))
            }
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = self.read_body(response).await.map_err(Attempt::Fail)?;
        if status.is_success() {
            return serde_json::from_slice::<T>(&body).map_err(|e| {
                Attempt::Fail(ApiError::BadBody {
                    status: status.as_u16(),
                    reason: e.to_string(),
                    snippet: snippet(&body),
                })
            });
        }
        let error = ApiError::Status {
            status: status.as_u16(),
            message: error_message(status, &body),
            retry_after,
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            let delay = retry_after.unwrap_or_else(|| backoff(attempt));
            if delay <= self.max_retry_wait {
                return Err(Attempt::Retry { delay, error });
            }
        }
        Err(Attempt::Fail(error))
    }

    /// Read the whole body, refusing more than [`MAX_RESPONSE_BYTES`].
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, ApiError> {
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(ApiError::TooLarge {
                limit: MAX_RESPONSE_BYTES,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ApiError::TooLarge {
                    limit: MAX_RESPONSE_BYTES,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Classify a failure after the request may have reached the server.
    fn transport_error(&self, error: &reqwest::Error) -> ApiError {
        if let Some(changed) = find_cause::<FileChanged>(error) {
            ApiError::UploadAborted {
                reason: changed.to_string(),
            }
        } else if error.is_timeout() {
            ApiError::TimedOut {
                after: self.request_timeout,
            }
        } else {
            ApiError::Interrupted {
                reason: describe_chain(error),
            }
        }
    }
}

/// An id as one URL path segment or query value: anything but unreserved
/// characters is percent-encoded, so an id can never change the request's path.
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The first cause of type `T` in an error's source chain.
fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// `retry-after-ms` (milliseconds) or `Retry-After` (seconds); HTTP dates are ignored.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

/// The API's `{"error": ...}` text, else the start of the body, else the reason phrase.
fn error_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        return parsed.error;
    }
    let text = snippet(body);
    if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("no message").to_owned()
    } else {
        text
    }
}

/// The first 200 characters of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(path_segment("tsk_2Z-YWz3hFq6VlW"), "tsk_2Z-YWz3hFq6VlW");
        assert_eq!(path_segment("../workers?x=1"), "..%2Fworkers%3Fx%3D1");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_millis(1000));
        assert_eq!(backoff(10), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_reads_both_headers() {
        let mut h = header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = header::HeaderMap::new();
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn error_message_prefers_the_api_text() {
        assert_eq!(
            error_message(StatusCode::BAD_REQUEST, br#"{"error":"input is required"}"#),
            "input is required"
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"<html>oops"),
            "<html>oops"
        );
        assert_eq!(error_message(StatusCode::BAD_GATEWAY, b""), "Bad Gateway");
    }

    #[test]
    fn only_unreachable_and_refused_requests_are_safe() {
        let unreachable = ApiError::Unreachable {
            url: "u".into(),
            attempts: 1,
            reason: "refused".into(),
        };
        assert!(!unreachable.may_have_run());
        let status = |status| ApiError::Status {
            status,
            message: String::new(),
            retry_after: None,
        };
        assert!(!status(429).may_have_run());
        assert!(status(502).may_have_run());
        assert!(
            ApiError::TimedOut {
                after: Duration::ZERO
            }
            .may_have_run()
        );
    }
}
