//! The client's options, which are also its settings: a clap group the command
//! line flattens, so each setting is defined once, with its flag, variable and
//! default beside the field it fills.

use std::{ffi::OsStr, time::Duration};

use clap::{
    ArgAction,
    builder::{BoolishValueParser, NonEmptyStringValueParser, TypedValueParser},
    error::ErrorKind,
};
use reqwest::Url;

use crate::units::seconds_setting;

/// What the client needs to know.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Settings")]
pub struct ClientOptions {
    /// Handinger API base URL: https://, or http:// on a loopback host only
    /// (server, command line).
    #[arg(long, env = "HANDINGER_BASE_URL", value_name = "URL",
          default_value = "https://handinger.com", value_parser = BaseUrlParser, global = true)]
    pub base_url: Url,
    /// Allow an http:// base URL on a non-loopback host; the key then crosses the
    /// network in clear text (server, command line).
    #[arg(long, env = "HANDINGER_ALLOW_INSECURE_HTTP", value_name = "BOOL", default_value = "false",
          value_parser = BoolishValueParser::new(), action = ArgAction::Set, global = true)]
    pub allow_insecure_http: bool,
    /// Seconds allowed to open a connection to the API (server, command line).
    #[arg(long, env = "HANDINGER_CONNECT_TIMEOUT", value_name = "SECS", default_value = "10",
          value_parser = seconds_setting, global = true)]
    pub connect_timeout: Duration,
    /// Seconds one POST /api/tasks may take end to end; tasks run for minutes.
    /// Other requests get at most 60 s of it (server, command line).
    #[arg(long, env = "HANDINGER_REQUEST_TIMEOUT", value_name = "SECS", default_value = "1800",
          value_parser = seconds_setting, global = true)]
    pub request_timeout: Duration,
    /// Retries for requests that provably never ran: connection refused, DNS
    /// failure, 429 (server, command line).
    #[arg(
        long,
        env = "HANDINGER_RETRIES",
        value_name = "N",
        default_value = "2",
        global = true
    )]
    pub retries: u32,
    /// Longest Retry-After waited out; a longer one is reported instead (server,
    /// command line).
    #[arg(long, env = "HANDINGER_MAX_RETRY_WAIT", value_name = "SECS", default_value = "30",
          value_parser = seconds_setting, global = true)]
    pub max_retry_wait: Duration,
    /// Multipart field name of attached files; the API's is not documented
    /// (files or files[]) (server, command line).
    #[arg(long, env = "HANDINGER_FILES_FIELD", value_name = "NAME", default_value = "files",
          value_parser = NonEmptyStringValueParser::new(), global = true)]
    pub files_field: String,
}

impl ClientOptions {
    /// Refuse an http:// base URL on another machine unless that is allowed: the
    /// key would cross the network unencrypted.
    pub fn check(&self) -> Result<(), String> {
        let url = &self.base_url;
        if url.scheme() == "http" && !is_loopback(url) && !self.allow_insecure_http {
            return Err(format!(
                "--base-url / HANDINGER_BASE_URL is http:// on {}, which is not this machine: \
                 the API key would cross the network unencrypted. Use https://, or set \
                 --allow-insecure-http true if that is really meant.",
                url.host_str().unwrap_or_default()
            ));
        }
        Ok(())
    }
}

/// Parses the base URL without ever echoing it: clap's own errors quote the
/// value, and a URL's userinfo may hold a secret.
#[derive(Debug, Clone, Copy)]
struct BaseUrlParser;

impl TypedValueParser for BaseUrlParser {
    type Value = Url;

    fn parse_ref(
        &self,
        _: &clap::Command,
        _: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Url, clap::Error> {
        let raw = value.to_string_lossy();
        Url::parse(raw.trim())
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .ok_or_else(|| {
                let message = format!(
                    "error: --base-url / HANDINGER_BASE_URL must be an http:// or https:// URL, \
                     got {:?}\n",
                    redacted_for_message(&raw)
                );
                clap::Error::raw(ErrorKind::ValueValidation, message)
            })
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `raw` with any userinfo replaced, for messages.
fn redacted_for_message(raw: &str) -> String {
    match raw.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://[redacted]@{}", &rest[at + 1..]),
                None => raw.to_owned(),
            }
        }
        None => raw.to_owned(),
    }
}
