//! What can go wrong talking to the API, sorted by what it means for the task.

use std::time::Duration;

/// A failed API request. The variants differ in the one thing that matters for a
/// non-idempotent POST: whether the server may have started the work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request never reached the server (refused, DNS, TLS), even after retries.
    #[error("could not reach the Handinger API at {url} ({reason}; {attempts} {})", attempts_word(*.attempts))]
    Unreachable {
        url: String,
        attempts: u32,
        reason: String,
    },
    /// The API's TLS certificate was not trusted: nothing was sent, and sending
    /// again cannot help until the trust roots change.
    #[error(
        "the Handinger API at {url} presented a TLS certificate this machine does not trust ({reason})"
    )]
    Untrusted { url: String, reason: String },
    /// The server answered with an error status and (usually) `{"error": "..."}`.
    #[error("the Handinger API answered HTTP {status}: {message}")]
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
        /// Whether the body was the API's documented `{"error": ...}` JSON (and not,
        /// say, a proxy's or a plain web server's page).
        from_api: bool,
    },
    /// The API answered with a redirect that was not followed. For a POST the task
    /// may exist; the key was not sent to the new address.
    #[error(
        "the Handinger API answered with a redirect (HTTP {status}) to {location}, which was \
         not followed: {reason}"
    )]
    Redirected {
        status: u16,
        location: String,
        reason: String,
    },
    /// No complete answer within the request timeout. The task may still be running.
    #[error("no answer from the Handinger API within {} s (request timeout)", .after.as_secs())]
    TimedOut { after: Duration },
    /// The connection broke after the request was sent (reset, cut-off body).
    #[error("the connection to the Handinger API broke before the answer was complete ({reason})")]
    Interrupted { reason: String },
    /// A success status whose body is not a Worker object.
    #[error(
        "the Handinger API answered HTTP {status} with a body that is not a Worker object \
         ({reason}); it starts with: {snippet:?}"
    )]
    BadBody {
        status: u16,
        reason: String,
        snippet: String,
    },
    /// The response body is larger than the bridge accepts.
    #[error("the Handinger API's answer is larger than the {} MiB the bridge accepts", .limit / (1024 * 1024))]
    TooLarge { limit: usize },
    /// The HTTP client could not be set up (no TLS trust roots, say): nothing was
    /// sent.
    #[error("the HTTP client could not be set up: {reason}")]
    NoHttpClient { reason: String },
    /// An id that cannot be one path segment (`.`, `..`, a slash, ...): no request
    /// was made, so the key never went to another endpoint.
    #[error("{what} {id:?} is not an id (letters, digits, `_` and `-` only)")]
    InvalidId { what: &'static str, id: String },
    /// An attached file could not be sent whole; the request was cut off before its
    /// end, so the server never received a complete task.
    #[error("an attached file could not be sent whole: {reason}")]
    UploadAborted { reason: String },
}

fn attempts_word(attempts: u32) -> &'static str {
    if attempts == 1 { "attempt" } else { "attempts" }
}

impl ApiError {
    /// What to do when the machine's TLS trust roots are the problem; shared by
    /// every front-end's error text and `doctor`.
    pub fn trust_advice(&self) -> Option<&'static str> {
        match self {
            ApiError::Untrusted { .. } => Some(
                "Nothing was sent. If a company proxy inspects TLS, trust its CA: on Linux set \
                 SSL_CERT_FILE (a PEM file) or SSL_CERT_DIR to its certificate in the bridge's \
                 environment, on macOS and Windows add it to the system's trust store; then \
                 start the bridge again. Otherwise check the base URL setting \
                 (HANDINGER_BASE_URL).",
            ),
            ApiError::NoHttpClient { .. } => Some(
                "Nothing was sent. Install the system's CA certificates (the ca-certificates \
                 package), or set SSL_CERT_FILE to a PEM file of them in the bridge's \
                 environment (a changed setting needs a restart), then call again.",
            ),
            _ => None,
        }
    }

    /// Whether the server may have started the work. Such a request must never be
    /// sent again: the task would run twice and spend credits twice.
    pub fn may_have_run(&self) -> bool {
        match self {
            ApiError::Unreachable { .. }
            | ApiError::Untrusted { .. }
            | ApiError::UploadAborted { .. }
            | ApiError::InvalidId { .. }
            | ApiError::NoHttpClient { .. } => false,
            ApiError::Status { status, .. } => *status >= 500,
            _ => true,
        }
    }
}

/// Whether a connection failed because the server's certificate was refused.
/// tokio-rustls wraps rustls's error in an `io::Error` (itself wrapped in
/// another), and `io::Error::source()` skips what it wraps, so each I/O error in
/// the chain is opened.
pub fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(cause) = next {
        let mut inner = cause;
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            inner = wrapped;
        }
        if matches!(
            inner.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        ) {
            return true;
        }
        next = cause.source();
    }
    false
}

/// An error's causes on one line. reqwest's own message ("error sending request for
/// url ...") says nothing the causes do not, so it is used only when there are none.
pub fn describe_chain(error: &dyn std::error::Error) -> String {
    let Some(first) = error.source() else {
        return error.to_string();
    };
    let mut text = first.to_string();
    let mut source = first.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
