//! The API over HTTPS, as it is really met: a TLS front offering HTTP/2 and
//! HTTP/1.1 by ALPN, whose certificate comes from a private CA (as behind a
//! company's TLS proxy).

use std::time::Duration;

use http::Version;
use serde_json::json;

use crate::support::{
    KEY, MockApi, assert_tool_error, call, command, connect_with, mock::slow_handler, text,
    tls::TlsFront,
};

/// The bridge against `front`, trusting only the CA certificates in `ca_file`
/// (SSL_CERT_FILE, with an empty SSL_CERT_DIR: no system root counts).
async fn bridge(front: &TlsFront, ca_file: &std::path::Path) -> crate::support::Client {
    let no_roots = tempfile::tempdir().unwrap();
    let mut cmd = command(&front.base_url, Some(KEY), &["--max-in-flight", "64"]);
    cmd.env("SSL_CERT_DIR", no_roots.path())
        .env("SSL_CERT_FILE", ca_file);
    connect_with(cmd, rmcp::model::ProtocolVersion::V_2025_11_25).await
}

/// Concurrent create_task calls; each must come back with its own answer.
async fn concurrent_calls(client: &crate::support::Client, count: usize) {
    let calls = (0..count).map(|n| async move {
        let input = format!("over TLS {n}");
        let result = call(client, "create_task", json!({ "input": input })).await;
        assert_ne!(result.is_error, Some(true), "{result:?}");
        assert!(text(&result).contains(&format!("Answer to: {input}\n")));
    });
    futures_util::future::join_all(calls).await;
}

#[tokio::test]
async fn a_private_ca_in_ssl_cert_file_is_trusted() {
    let mock = MockApi::start().await;
    let front = TlsFront::start(&mock.base_url, 100).await;
    let client = bridge(&front, &front.ca_file).await;
    concurrent_calls(&client, 3).await;
    let posts = mock.task_posts();
    assert_eq!(posts.len(), 3);
    let auth = format!("Bearer {KEY}");
    assert!(
        posts
            .iter()
            .all(|p| p.header("authorization") == Some(&auth))
    );
}

/// An API that offers HTTP/2 with a small stream limit (4 here; real servers
/// announce 100 or so) must not make calls wait in line: each call holds its
/// request open for the whole task, so the bridge speaks HTTP/1.1, a connection
/// per waiting call. Queued in waves of 4, the last tasks would reach the mock two
/// answers (2 s) after the first; here all 12 arrive well within that.
#[tokio::test]
async fn calls_never_queue_behind_the_apis_http2_stream_limit() {
    let delay = Duration::from_secs(1);
    let mock = MockApi::start_with(slow_handler(delay)).await;
    let front = TlsFront::start(&mock.base_url, 4).await;
    let client = bridge(&front, &front.ca_file).await;
    concurrent_calls(&client, 12).await;
    let arrivals: Vec<_> = mock.task_posts().iter().filter_map(|p| p.at).collect();
    assert_eq!(arrivals.len(), 12);
    let (first, last) = (
        arrivals.iter().min().unwrap(),
        arrivals.iter().max().unwrap(),
    );
    assert!(
        *last - *first < delay * 3 / 2,
        "a call waited for another to finish: arrivals spread over {:?}",
        *last - *first
    );
    let versions = front.versions();
    assert!(
        versions.iter().all(|v| *v == Version::HTTP_11),
        "{versions:?}"
    );
    let opened = front.connections();
    assert!(opened >= 12, "a connection per waiting call: {opened}");
    // Finished calls' connections are reused.
    concurrent_calls(&client, 4).await;
    assert_eq!(front.connections(), opened);
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_a_clear_error_and_nothing_is_sent() {
    let mock = MockApi::start().await;
    let front = TlsFront::start(&mock.base_url, 100).await;
    let stranger = TlsFront::start(&mock.base_url, 100).await;
    let client = bridge(&front, &stranger.ca_file).await;
    for input in ["x", "y"] {
        let result = call(&client, "create_task", json!({ "input": input })).await;
        assert_tool_error(&result, &["certificate", "does not trust", "SSL_CERT_FILE"]);
    }
    assert!(mock.task_posts().is_empty());
}

/// With no CA certificate at all the call says how to get them, and nothing is
/// sent; a failed client build is not kept, so once the bundle is in place the
/// next call goes through without a restart.
#[tokio::test]
async fn a_machine_without_ca_certificates_is_told_how_to_get_them() {
    let mock = MockApi::start().await;
    let front = TlsFront::start(&mock.base_url, 100).await;
    let later = tempfile::tempdir().unwrap();
    let bundle = later.path().join("bundle.pem");
    let client = bridge(&front, &bundle).await;
    let result = call(&client, "create_task", json!({ "input": "x" })).await;
    assert_tool_error(
        &result,
        &["could not be set up", "ca-certificates", "SSL_CERT_FILE"],
    );
    assert!(mock.task_posts().is_empty());

    std::fs::copy(&front.ca_file, &bundle).unwrap();
    let result = call(&client, "create_task", json!({ "input": "y" })).await;
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert_eq!(mock.task_posts().len(), 1);
}

/// `doctor` names a refused certificate and says how to trust a proxy's CA.
#[tokio::test]
async fn doctor_says_how_to_trust_a_company_proxys_ca() {
    let mock = MockApi::start().await;
    let front = TlsFront::start(&mock.base_url, 100).await;
    let stranger = TlsFront::start(&mock.base_url, 100).await;
    let no_roots = tempfile::tempdir().unwrap();
    let out = command(&front.base_url, Some(KEY), &["doctor"])
        .env("SSL_CERT_DIR", no_roots.path())
        .env("SSL_CERT_FILE", &stranger.ca_file)
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    for needle in ["does not trust", "SSL_CERT_FILE", "trust store"] {
        assert!(report.contains(needle), "{needle:?} not in: {report}");
    }
    assert!(!report.contains(KEY));
    assert!(mock.requests().is_empty());
}
