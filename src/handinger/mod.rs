//! The HTTP client for the Handinger API.
//!
//! `POST /api/tasks` is not idempotent, so the retry rule is narrow: a request is
//! sent again only when it provably never ran (the connection was never made, or
//! the server refused it with 429 before running it).
//!
//! The key goes only to the API's origin: the client follows no redirect by
//! itself. A POST answered with a redirect is an error (the task may exist); a GET
//! follows at most [`MAX_GET_REDIRECTS`], each within the base URL's origin. Text
//! that comes back (error bodies, answers) has the key and the base URL's userinfo
//! redacted before anything else sees it.

mod error;
mod options;
mod types;
mod upload;

mod redact;

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use reqwest::{StatusCode, Url, header};
use serde::de::DeserializeOwned;

pub use redact::Redactor;

use error::is_certificate_error;
pub use error::{ApiError, describe_chain};
pub use options::ClientOptions;
pub use types::{
    Budget, CreateTaskBody, CreateWorkerBody, ErrorBody, ProducedFile, Source, TaskEnvelope,
    TaskInfo, Turn, TurnList, Usage, Worker, WorkerTemplate,
};
pub use upload::FileChanged;

use crate::{key::ApiKey, workspace::Attachment};

/// Largest response body the bridge reads; a bigger one is an error, not an OOM.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Redirects a GET may follow, each within the API's origin.
pub const MAX_GET_REDIRECTS: usize = 3;

/// The longest `Retry-After` the client reads; longer values are clamped to it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// First connect-retry delay; doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// A client for one base URL, shared by every call of the process.
#[derive(Debug, Clone)]
pub struct Client {
    /// Built on first use: building it loads the system's trust roots (a hundred
    /// files or more, milliseconds of work), which start-up should not pay. A
    /// failed build is not kept: it may be passing (out of file handles, say), so
    /// the next request tries again.
    http: Arc<OnceLock<reqwest::Client>>,
    connect_timeout: Duration,
    /// The base URL without userinfo: requests never carry it.
    base_url: Url,
    /// The base URL as configured, so its userinfo can be masked wherever it is echoed.
    userinfo_url: Url,
    request_timeout: Duration,
    retries: u32,
    max_retry_wait: Duration,
    files_field: String,
}

/// What a request carries.
/// Longest wait for a request that starts no task (lookups, archiving, a worker
/// template).
const QUICK_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

enum Payload<'a> {
    Get,
    /// `DELETE /api/tasks/{id}`: not sent again once it may have reached the API.
    Delete,
    /// `POST /api/tasks`: JSON, or multipart when there are files. `body_sent` is
    /// set once the whole body has gone out.
    Task {
        body: &'a CreateTaskBody,
        files: &'a [Attachment],
        body_sent: &'a Arc<AtomicBool>,
    },
    /// `POST /api/workers`: JSON; not sent again once it may have reached the API.
    Template(&'a CreateWorkerBody),
}

/// Why one attempt did not give an answer, and what may be done next.
enum Attempt {
    /// Safe to send again after the given delay.
    Retry {
        delay: Duration,
        error: ApiError,
    },
    /// A GET redirected within the API's origin: ask there.
    Follow(Url),
    Fail(ApiError),
}

impl Client {
    pub fn new(options: ClientOptions) -> Self {
        let mut base_url = options.base_url.clone();
        if !base_url.username().is_empty() || base_url.password().is_some() {
            // The HTTP client would turn them into Basic auth in place of the key.
            tracing::warn!(
                "the base URL's user name and password are ignored: the API takes the key as a \
                 bearer token"
            );
        }
        let redactor_url = base_url.clone();
        let _ = base_url.set_username("");
        let _ = base_url.set_password(None);
        Self {
            http: Arc::default(),
            connect_timeout: options.connect_timeout,
            base_url,
            userinfo_url: redactor_url,
            request_timeout: options.request_timeout,
            retries: options.retries,
            max_retry_wait: options.max_retry_wait,
            files_field: options.files_field,
        }
    }

    /// The HTTP client, built the first time a request needs it.
    fn http(&self) -> Result<&reqwest::Client, ApiError> {
        if let Some(built) = self.http.get() {
            return Ok(built);
        }
        // rustls's crypto: ring. Installing it twice (a second client) is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // HTTP/1.1 on purpose: a call holds its request open for as long as the
        // task runs, minutes perhaps. Over HTTP/2 every call would share one
        // connection, and calls past the server's stream limit would wait in line
        // behind calls that last minutes; over HTTP/1.1 each waiting call has a
        // connection of its own, and finished ones are reused.
        let built = reqwest::Client::builder()
            .http1_only()
            .user_agent(concat!("handinger-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ApiError::NoHttpClient {
                reason: describe_chain(&e),
            })?;
        // Two first requests at once may both build one; either serves.
        Ok(self.http.get_or_init(|| built))
    }

    /// `POST /api/tasks`: run a task (or a follow-up turn) and wait for the Worker.
    /// Without files the body is JSON; with files, multipart with each file streamed.
    pub async fn create_task(
        &self,
        key: &ApiKey,
        body: &CreateTaskBody,
        files: &[Attachment],
        body_sent: &Arc<AtomicBool>,
    ) -> Result<Worker, ApiError> {
        let url = self.endpoint("/api/tasks".to_owned());
        let payload = Payload::Task {
            body,
            files,
            body_sent,
        };
        self.execute(key, url, payload).await
    }

    /// `POST /api/workers`: make a worker template (here, one that carries an
    /// output schema). Only its id is read.
    pub async fn create_worker(
        &self,
        key: &ApiKey,
        body: &CreateWorkerBody,
    ) -> Result<WorkerTemplate, ApiError> {
        let url = self.endpoint("/api/workers".to_owned());
        self.execute(key, url, Payload::Template(body)).await
    }

    /// The base URL with `path` (already percent-encoded) appended.
    fn endpoint(&self, path: String) -> Url {
        let mut url = self.base_url.clone();
        let joined = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// Whether the API answers HTTP at all (any status counts), within `timeout`;
    /// sends no key. The reason when it does not.
    pub async fn reachable(&self, timeout: Duration) -> Result<(), String> {
        let http = self.http().map_err(|e| e.to_string())?;
        let url = self.endpoint("/api/tasks".to_owned());
        match http.head(url).timeout(timeout).send().await {
            Ok(_) => Ok(()),
            Err(error) => Err(describe_chain(&error)),
        }
    }

    /// The base URL as it may be shown: without userinfo.
    pub fn display_base_url(&self) -> String {
        redact::display_url(&self.base_url)
    }

    /// `GET /api/tasks/{taskId}`: the task's status and worker, with its turns
    /// inline (SDK 0.10's TaskWithTurns; older servers may send none).
    /// How long a task's POST may take end to end.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    pub async fn get_task(&self, key: &ApiKey, task_id: &str) -> Result<TaskEnvelope, ApiError> {
        let url = self.endpoint(format!("/api/tasks/{}", path_segment("taskId", task_id)?));
        self.get(key, url).await
    }

    /// `GET /api/workers/{workerId}?taskId=…`: the Worker object for one task.
    pub async fn get_worker(
        &self,
        key: &ApiKey,
        worker_id: &str,
        task_id: &str,
    ) -> Result<Worker, ApiError> {
        let mut url = self.endpoint(format!(
            "/api/workers/{}",
            path_segment("workerId", worker_id)?
        ));
        url.query_pairs_mut().append_pair("taskId", task_id);
        self.get(key, url).await
    }

    /// `DELETE /api/tasks/{taskId}`: archive the task (it stops appearing in
    /// listings; nothing is cancelled). Whether the API says it is archived.
    pub async fn archive_task(&self, key: &ApiKey, task_id: &str) -> Result<bool, ApiError> {
        #[derive(serde::Deserialize)]
        struct Archived {
            #[serde(default)]
            archived: bool,
        }
        let url = self.endpoint(format!("/api/tasks/{}", path_segment("taskId", task_id)?));
        let answer: Archived = self.execute(key, url, Payload::Delete).await?;
        Ok(answer.archived)
    }

    /// `GET /api/tasks/{taskId}/turns`: every turn of a task. Legacy (gone in SDK
    /// 0.10): asked only when `GET /api/tasks/{taskId}` gave no turns.
    pub async fn get_turns(&self, key: &ApiKey, task_id: &str) -> Result<Vec<Turn>, ApiError> {
        let url = self.endpoint(format!(
            "/api/tasks/{}/turns",
            path_segment("taskId", task_id)?
        ));
        let list: TurnList = self.get(key, url).await?;
        Ok(list.items)
    }

    async fn get<T: DeserializeOwned>(&self, key: &ApiKey, url: Url) -> Result<T, ApiError> {
        self.execute(key, url, Payload::Get).await
    }

    /// A fresh request for one attempt (a multipart body cannot be replayed, so each
    /// attempt builds its own).
    async fn build(
        &self,
        key: &ApiKey,
        url: &Url,
        payload: &Payload<'_>,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let url = url.clone();
        let http = self.http()?;
        let quick = self.timeout_for(payload);
        match payload {
            Payload::Get => Ok(http.get(url).bearer_auth(key.expose()).timeout(quick)),
            Payload::Delete => Ok(http.delete(url).bearer_auth(key.expose()).timeout(quick)),
            Payload::Template(body) => Ok(http
                .post(url)
                .bearer_auth(key.expose())
                .json(body)
                .timeout(quick)),
            Payload::Task {
                body,
                files: [],
                body_sent,
            } => {
                // A small JSON body goes out with the request head: count it as sent.
                body_sent.store(true, Ordering::Release);
                Ok(http.post(url).bearer_auth(key.expose()).json(body))
            }
            Payload::Task {
                body,
                files,
                body_sent,
            } => {
                let form = upload::task_form(body, files, &self.files_field, body_sent)
                    .await
                    .map_err(|e| ApiError::UploadAborted {
                        reason: e.to_string(),
                    })?;
                Ok(http.post(url).bearer_auth(key.expose()).multipart(form))
            }
        }
    }

    /// Send the request, retrying only attempts that provably did not run, and
    /// decode the answer.
    async fn execute<T: DeserializeOwned>(
        &self,
        key: &ApiKey,
        mut url: Url,
        payload: Payload<'_>,
    ) -> Result<T, ApiError> {
        let redactor = Redactor::new(key, &self.userinfo_url);
        let mut attempt = 0;
        let mut redirects = 0;
        loop {
            attempt += 1;
            let request = self.build(key, &url, &payload).await?;
            let is_post = !matches!(payload, Payload::Get);
            let timeout = self.timeout_for(&payload);
            match self
                .attempt(request, &url, attempt, is_post, &redactor, timeout)
                .await
            {
                Ok(value) => return Ok(value),
                Err(Attempt::Fail(error)) => return Err(error),
                Err(Attempt::Follow(next)) => {
                    redirects += 1;
                    if redirects > MAX_GET_REDIRECTS {
                        return Err(ApiError::Redirected {
                            status: 0,
                            location: redactor.text(&redact::display_url(&next)),
                            reason: format!("more than {MAX_GET_REDIRECTS} redirects"),
                        });
                    }
                    tracing::debug!(to = %redact::display_url(&next), "following a same-origin redirect");
                    url = next;
                }
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
        url: &Url,
        attempt: u32,
        is_post: bool,
        redactor: &Redactor,
        timeout: Duration,
    ) -> Result<T, Attempt> {
        let response = request.send().await.map_err(|e| {
            if is_certificate_error(&e) {
                Attempt::Fail(ApiError::Untrusted {
                    url: redact::display_url(url),
                    reason: redactor.text(&describe_chain(&e)),
                })
            } else if e.is_connect() {
                Attempt::Retry {
                    delay: backoff(attempt),
                    error: ApiError::Unreachable {
                        url: redact::display_url(url),
                        attempts: attempt,
                        reason: redactor.text(&describe_chain(&e)),
                    },
                }
            } else {
                Attempt::Fail(self.transport_error(&e, redactor, timeout))
            }
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        if status.is_redirection() {
            return Err(self.redirect(url, &response, is_post, redactor));
        }
        let body = self
            .read_body(response, redactor, timeout)
            .await
            .map_err(Attempt::Fail)?;
        let body = redactor.bytes(body);
        if status.is_success() {
            // JSON can spell the key with \uXXXX escapes that the byte masking
            // above cannot see: mask every decoded string too.
            return serde_json::from_slice::<serde_json::Value>(&body)
                .map(|mut value| {
                    redactor.value(&mut value);
                    value
                })
                .and_then(T::deserialize)
                .map_err(|e| {
                    Attempt::Fail(ApiError::BadBody {
                        status: status.as_u16(),
                        reason: e.to_string(),
                        snippet: snippet(&body),
                    })
                });
        }
        let (message, from_api) = error_message(status, &body);
        let message = redactor.text(&message);
        let error = ApiError::Status {
            status: status.as_u16(),
            message,
            retry_after,
            from_api,
        };
        // A refused POST is retried here (nothing ran); a refused GET goes back to
        // its caller, whose polling has its own pauses and deadline.
        if status == StatusCode::TOO_MANY_REQUESTS && is_post {
            let delay = retry_after
                .unwrap_or_else(|| backoff(attempt))
                .max(FIRST_BACKOFF);
            if delay <= self.max_retry_wait {
                return Err(Attempt::Retry { delay, error });
            }
        }
        Err(Attempt::Fail(error))
    }

    /// What a 3xx means: a GET may follow it within the API's origin; a POST never
    /// does (the body would be sent twice, or the key to another host).
    fn redirect(
        &self,
        url: &Url,
        response: &reqwest::Response,
        is_post: bool,
        redactor: &Redactor,
    ) -> Attempt {
        let target = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| url.join(location).ok());
        let location = target
            .as_ref()
            .map(|t| redactor.text(&redact::display_url(t)))
            .unwrap_or_else(|| "(no usable Location)".to_owned());
        let fail = |reason: &str| {
            Attempt::Fail(ApiError::Redirected {
                status: response.status().as_u16(),
                location: location.clone(),
                reason: reason.to_owned(),
            })
        };
        match target {
            _ if is_post => fail("a task request is never sent twice or to another address"),
            Some(target) if same_origin(&target, &self.base_url) => Attempt::Follow(target),
            Some(_) => fail("it leads away from the API's origin, so the key is not sent there"),
            None => fail("the redirect names no valid address"),
        }
    }

    /// Read the whole body, refusing more than [`MAX_RESPONSE_BYTES`].
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        redactor: &Redactor,
        timeout: Duration,
    ) -> Result<Vec<u8>, ApiError> {
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
            .map_err(|e| self.transport_error(&e, redactor, timeout))?
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

    /// How long a request may take: a task's POST as long as the task may run;
    /// anything else answers at once, so it gets at most [`QUICK_REQUEST_TIMEOUT`]
    /// (an API that hangs then cannot hold a lookup for the task's whole limit).
    fn timeout_for(&self, payload: &Payload<'_>) -> Duration {
        match payload {
            Payload::Task { .. } => self.request_timeout,
            _ => self.request_timeout.min(QUICK_REQUEST_TIMEOUT),
        }
    }

    /// Classify a failure after the request may have reached the server.
    fn transport_error(
        &self,
        error: &reqwest::Error,
        redactor: &Redactor,
        timeout: Duration,
    ) -> ApiError {
        if let Some(changed) = find_cause::<FileChanged>(error) {
            ApiError::UploadAborted {
                reason: changed.to_string(),
            }
        } else if error.is_timeout() {
            ApiError::TimedOut { after: timeout }
        } else {
            ApiError::Interrupted {
                reason: redactor.text(&describe_chain(error)),
            }
        }
    }
}

/// An id as one URL path segment, or why it cannot be one. Ids are letters, digits,
/// `_` and `-`; anything else (`.` and `..` above all, which URL parsing folds
/// away even percent-encoded) is refused before a request is made.
fn path_segment<'a>(what: &'static str, id: &'a str) -> Result<&'a str, ApiError> {
    let valid = !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(id)
    } else {
        Err(ApiError::InvalidId {
            what,
            id: id.chars().take(64).collect(),
        })
    }
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

/// Whether two URLs share scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `retry-after-ms` (milliseconds) or `Retry-After` (seconds); HTTP dates are
/// ignored. Any number is accepted: beyond [`MAX_RETRY_AFTER`] it is clamped.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| *v >= 0.0)
    };
    let seconds = number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("retry-after"))?;
    Some(
        Duration::try_from_secs_f64(seconds)
            .unwrap_or(MAX_RETRY_AFTER)
            .min(MAX_RETRY_AFTER),
    )
}

/// The API's `{"error": ...}` text (and `true`), else the start of the body, else
/// the reason phrase (and `false`).
fn error_message(status: StatusCode, body: &[u8]) -> (String, bool) {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        return (parsed.error, true);
    }
    let text = snippet(body);
    if text.trim().is_empty() {
        let reason = status.canonical_reason().unwrap_or("no message").to_owned();
        (reason, false)
    } else {
        (text, false)
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
    fn the_http_client_is_built_on_first_use_with_ring_and_the_trust_roots() {
        let client = Client::new(ClientOptions {
            base_url: Url::parse("https://handinger.com").unwrap(),
            allow_insecure_http: false,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            retries: 0,
            max_retry_wait: Duration::ZERO,
            files_field: "files".into(),
        });
        assert!(
            client.http.get().is_none(),
            "nothing is built at construction"
        );
        assert!(client.http().is_ok(), "{:?}", client.http().err());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    #[test]
    fn only_a_task_post_may_take_the_whole_request_timeout() {
        let options = |secs| ClientOptions {
            base_url: Url::parse("https://handinger.com").unwrap(),
            allow_insecure_http: false,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(secs),
            retries: 0,
            max_retry_wait: Duration::ZERO,
            files_field: "files".into(),
        };
        let long = Client::new(options(1800));
        let (body, sent) = (
            CreateTaskBody {
                input: "x".into(),
                budget: None,
                task_id: "tsk_x".into(),
                worker_id: None,
            },
            Arc::default(),
        );
        let task = Payload::Task {
            body: &body,
            files: &[],
            body_sent: &sent,
        };
        assert_eq!(long.timeout_for(&task), Duration::from_secs(1800));
        for quick in [Payload::Get, Payload::Delete] {
            assert_eq!(long.timeout_for(&quick), QUICK_REQUEST_TIMEOUT);
        }
        // A shorter setting wins everywhere.
        assert_eq!(
            Client::new(options(5)).timeout_for(&Payload::Get),
            Duration::from_secs(5)
        );
    }

    /// A server on loopback that reads and counts every byte it is sent and never
    /// answers: whatever fails, fails on the client's side.
    async fn sink() -> (Url, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = received.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    while let Ok(read) = socket.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        counter.fetch_add(read, Ordering::Relaxed);
                    }
                });
            }
        });
        (url, received)
    }

    #[tokio::test]
    async fn a_file_that_changes_size_during_the_upload_fails_the_call() {
        use crate::workspace::{AttachLimits, RootSource, Workspace};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.txt");
        std::fs::write(&path, vec![b'x'; 500_000]).unwrap();
        let workspace = Workspace::new(&[dir.path().to_owned()], RootSource::Configured);
        let limits = AttachLimits {
            max_file_bytes: 1 << 20,
            max_total_bytes: 1 << 20,
            max_files: 1,
            allow_hard_links: false,
        };
        let files = workspace.attach(&["log.txt".into()], limits).unwrap();
        // The file is truncated after the check, before the upload.
        std::fs::write(&path, b"short now").unwrap();
        let (base_url, received) = sink().await;
        let client = Client::new(ClientOptions {
            base_url,
            allow_insecure_http: false,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retries: 0,
            max_retry_wait: Duration::ZERO,
            files_field: "files".into(),
        });
        let body = CreateTaskBody {
            input: "x".into(),
            budget: None,
            task_id: "tsk_changed".into(),
            worker_id: None,
        };
        let body_sent = Arc::default();
        let key = ApiKey::new("hdg_test".into());
        let error = client
            .create_task(&key, &body, &files, &body_sent)
            .await
            .unwrap_err();
        assert!(
            !body_sent.load(Ordering::Acquire),
            "a cut upload is not counted as sent"
        );
        match &error {
            ApiError::UploadAborted { reason } => assert!(
                reason.contains("shrank") && reason.contains("checked at 500000"),
                "{reason}"
            ),
            other => panic!("expected UploadAborted, got {other:?}"),
        }
        assert!(!error.may_have_run());
        assert!(
            received.load(Ordering::Relaxed) < 500_000,
            "no complete upload reached the server"
        );
    }

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(
            path_segment("taskId", "tsk_2Z-YWz3hFq6VlW"),
            Ok("tsk_2Z-YWz3hFq6VlW")
        );
        for bad in [".", "..", "../workers?x=1", "%2e", "a/b", "a#b", ""] {
            assert!(
                matches!(path_segment("taskId", bad), Err(ApiError::InvalidId { .. })),
                "{bad:?}"
            );
        }
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
            ("input is required".to_owned(), true)
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"<html>oops"),
            ("<html>oops".to_owned(), false)
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b""),
            ("Bad Gateway".to_owned(), false)
        );
    }

    proptest::proptest! {
        /// Any header value, any number: a bounded delay or none, never a panic.
        #[test]
        fn retry_after_never_panics_and_stays_bounded(
            value in "\\PC{0,24}",
            number in proptest::num::f64::ANY,
            ms in proptest::bool::ANY,
        ) {
            for raw in [value.clone(), number.to_string(), format!("{number:e}")] {
                let mut headers = header::HeaderMap::new();
                let name = if ms { "retry-after-ms" } else { "retry-after" };
                if let Ok(v) = header::HeaderValue::from_str(&raw) {
                    headers.insert(name, v);
                }
                if let Some(delay) = retry_after(&headers) {
                    proptest::prop_assert!(delay <= MAX_RETRY_AFTER);
                }
            }
        }
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
            from_api: true,
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
