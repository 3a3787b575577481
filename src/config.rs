//! Every setting in one place: its flag, its environment variable, its default.
//!
//! One table ([`SETTINGS`]) drives parsing, `--help` and the README's table, so the
//! three can never disagree. Flags win over environment variables, which win over
//! defaults.

use std::{collections::HashMap, fmt, path::PathBuf, time::Duration};

use reqwest::Url;

use crate::{handinger::Budget, tasks::WaitPolicy, workspace::AttachLimits};

/// One user-facing setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub flag: &'static str,
    pub env: &'static str,
    pub value_name: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
    /// May be given more than once (flags) or as a list (env, separated by the
    /// platform's path separator).
    pub repeatable: bool,
}

const fn setting(
    flag: &'static str,
    env: &'static str,
    value_name: &'static str,
    default: Option<&'static str>,
    help: &'static str,
) -> Setting {
    Setting {
        flag,
        env,
        value_name,
        default,
        help,
        repeatable: false,
    }
}

/// The table of settings, in the order `--help` shows them.
pub const SETTINGS: &[Setting] = &[
    setting(
        "--api-key-file",
        "HANDINGER_API_KEY_FILE",
        "PATH",
        None,
        "File holding the API key (used when HANDINGER_API_KEY is not set). Read on each call.",
    ),
    setting(
        "--base-url",
        "HANDINGER_BASE_URL",
        "URL",
        Some("https://handinger.com"),
        "Handinger API base URL. Must be https://, or http:// on a loopback host, unless \
         --allow-insecure-http is true.",
    ),
    setting(
        "--allow-insecure-http",
        "HANDINGER_ALLOW_INSECURE_HTTP",
        "BOOL",
        Some("false"),
        "Allow an http:// base URL on a non-loopback host (the key then crosses the network in \
         clear text).",
    ),
    setting(
        "--worker-id",
        "HANDINGER_WORKER_ID",
        "ID",
        None,
        "Default workerId when a call names none (otherwise a new worker is created per task).",
    ),
    setting(
        "--budget",
        "HANDINGER_BUDGET",
        "BUDGET",
        None,
        "Default budget when a call names none: low, standard, high or unlimited.",
    ),
    setting(
        "--connect-timeout",
        "HANDINGER_CONNECT_TIMEOUT",
        "SECS",
        Some("10"),
        "Seconds allowed to open a connection to the API.",
    ),
    setting(
        "--request-timeout",
        "HANDINGER_REQUEST_TIMEOUT",
        "SECS",
        Some("1800"),
        "Seconds one POST /api/tasks may take end to end (tasks run for minutes).",
    ),
    setting(
        "--wait",
        "HANDINGER_WAIT",
        "SECS",
        Some("50"),
        "How long a tool call waits for the answer before returning 'still running' with the \
         taskId (the work goes on; get_task fetches it). Below the 60 s many hosts allow.",
    ),
    setting(
        "--max-wait",
        "HANDINGER_MAX_WAIT",
        "SECS",
        Some("600"),
        "Upper bound for a call's own waitSeconds argument.",
    ),
    setting(
        "--progress-interval",
        "HANDINGER_PROGRESS_INTERVAL",
        "SECS",
        Some("10"),
        "Seconds between progress notifications while a call waits (when the client asks).",
    ),
    setting(
        "--retries",
        "HANDINGER_RETRIES",
        "N",
        Some("2"),
        "Retries for requests that provably never ran (connection refused, DNS, 429).",
    ),
    setting(
        "--max-retry-wait",
        "HANDINGER_MAX_RETRY_WAIT",
        "SECS",
        Some("30"),
        "Longest Retry-After the bridge waits out before reporting the 429 instead.",
    ),
    setting(
        "--max-output-chars",
        "HANDINGER_MAX_OUTPUT_CHARS",
        "N",
        Some("40000"),
        "Characters of the answer inlined in a tool result; the rest is cut with a marker.",
    ),
    Setting {
        repeatable: true,
        ..setting(
            "--workspace",
            "HANDINGER_WORKSPACE",
            "DIR",
            None,
            "Folder files may be attached from, when the client sends no MCP roots. Repeatable; \
             in the env, separate folders with ':' (';' on Windows). Relative paths resolve \
             against the first. Default: the working directory.",
        )
    },
    setting(
        "--max-file-size",
        "HANDINGER_MAX_FILE_SIZE",
        "SIZE",
        Some("2GiB"),
        "Largest file one call may attach (bytes, or with KiB/MiB/GiB).",
    ),
    setting(
        "--max-total-size",
        "HANDINGER_MAX_TOTAL_SIZE",
        "SIZE",
        Some("4GiB"),
        "Largest total of the files one call may attach.",
    ),
    setting(
        "--max-files",
        "HANDINGER_MAX_FILES",
        "N",
        Some("20"),
        "Most files one call may attach.",
    ),
    setting(
        "--allow-hard-links",
        "HANDINGER_ALLOW_HARD_LINKS",
        "BOOL",
        Some("false"),
        "Attach files that have more than one hard link (another link may be outside the \
         workspace, so they are refused by default).",
    ),
    setting(
        "--max-in-flight",
        "HANDINGER_MAX_IN_FLIGHT",
        "N",
        Some("256"),
        "Most requests one client may have in flight; over it, requests are answered with a \
         'server busy' error.",
    ),
    setting(
        "--files-field",
        "HANDINGER_FILES_FIELD",
        "NAME",
        Some("files"),
        "Multipart field name of attached files (the API's is not documented: files or files[]).",
    ),
    setting(
        "--log-level",
        "HANDINGER_LOG",
        "FILTER",
        Some("info,rmcp=warn"),
        "Log filter for stderr (error, warn, info, debug, trace or a tracing directive).",
    ),
];

/// The API key, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> Self {
        Self(key)
    }

    /// The raw key, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where the API key comes from. Resolved per call, so a key file can be fixed or
/// rotated without restarting the host.
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    /// The value of `HANDINGER_API_KEY`, if set.
    pub env_value: Option<ApiKey>,
    pub file: Option<PathBuf>,
}

/// Why no API key could be had; rendered as an actionable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// Neither the variable nor a key file is set.
    NotSet,
    /// The host passed a literal `${...}` because it does not expand variables.
    Unexpanded(String),
    /// The key file could not be read.
    FileUnreadable { path: PathBuf, reason: String },
    /// The key file is empty.
    FileEmpty(PathBuf),
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HOW: &str = "Set HANDINGER_API_KEY in the \"env\" block of this server's entry in \
            your MCP host's config (keys look like hdg_live_...), or point \
            HANDINGER_API_KEY_FILE / --api-key-file at a file that holds the key, then \
            restart the server.";
        match self {
            KeyProblem::NotSet => write!(f, "No Handinger API key is configured. {HOW}"),
            KeyProblem::Unexpanded(raw) => write!(
                f,
                "HANDINGER_API_KEY holds the literal text {raw:?}: this host does not expand \
                 variables in its config. Put the key itself there, or use a key file. {HOW}"
            ),
            KeyProblem::FileUnreadable { path, reason } => write!(
                f,
                "The API key file {} could not be read ({reason}). {HOW}",
                path.display()
            ),
            KeyProblem::FileEmpty(path) => {
                write!(f, "The API key file {} is empty. {HOW}", path.display())
            }
        }
    }
}

impl KeySource {
    /// The key to use for the next request.
    pub fn resolve(&self) -> Result<ApiKey, KeyProblem> {
        if let Some(key) = &self.env_value {
            return if looks_unexpanded(key.expose()) {
                Err(KeyProblem::Unexpanded(key.expose().to_owned()))
            } else {
                Ok(key.clone())
            };
        }
        let Some(path) = &self.file else {
            return Err(KeyProblem::NotSet);
        };
        let text = std::fs::read_to_string(path).map_err(|e| KeyProblem::FileUnreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let key = text.trim();
        if key.is_empty() {
            return Err(KeyProblem::FileEmpty(path.clone()));
        }
        Ok(ApiKey(key.to_owned()))
    }
}

fn looks_unexpanded(value: &str) -> bool {
    value.starts_with("${") || value.starts_with("$env:") || value.starts_with("{env:")
}

/// The resolved configuration of one process.
#[derive(Debug, Clone)]
pub struct Config {
    pub key: KeySource,
    /// The API's base URL, checked: http(s), and http only on loopback unless allowed.
    pub base_url: Url,
    pub default_worker_id: Option<String>,
    pub default_budget: Option<Budget>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub wait: WaitPolicy,
    pub retries: u32,
    pub max_retry_wait: Duration,
    pub max_output_chars: usize,
    /// Requests one client may have in flight before it is told the server is busy.
    pub max_in_flight: usize,
    pub log_filter: String,
    /// Configured workspace folders (not yet checked; see `workspace::Workspace`).
    pub workspace: Vec<PathBuf>,
    pub attach_limits: AttachLimits,
    pub files_field: String,
}

/// A command line or environment the binary cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\nRun `handinger-mcp --help` for the commands and settings.",
            self.0
        )
    }
}

impl std::error::Error for UsageError {}

/// Setting flags as given on the command line, collected by the argument parser.
#[derive(Debug, Default)]
pub struct GivenFlags(HashMap<&'static str, Vec<String>>);

impl GivenFlags {
    /// Record `value` for the setting whose flag is `flag`.
    pub fn add(&mut self, flag: &str, value: String) -> Result<(), UsageError> {
        let setting = SETTINGS
            .iter()
            .find(|s| s.flag == flag)
            .ok_or_else(|| UsageError(format!("unknown flag {flag}")))?;
        let values = self.0.entry(setting.flag).or_default();
        if !setting.repeatable && !values.is_empty() {
            return Err(UsageError(format!("{flag} was given twice")));
        }
        values.push(value);
        Ok(())
    }

    /// Whether a flag was given (not the environment or a default).
    pub fn has(&self, flag: &str) -> bool {
        self.0.contains_key(flag)
    }

    /// The configuration: these flags, then the environment through `env`, then
    /// the defaults.
    pub fn into_config(self, env: impl Fn(&str) -> Option<String>) -> Result<Config, UsageError> {
        Lookup {
            given: self.0,
            env: &env,
        }
        .config()
    }
}

/// Whether `flag` is a setting that takes a value.
pub fn is_setting(flag: &str) -> bool {
    SETTINGS.iter().any(|s| s.flag == flag)
}

/// The value name of a setting flag, for usage messages.
pub fn value_name(flag: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|s| s.flag == flag)
        .map_or("VALUE", |s| s.value_name)
}

/// Reads settings in precedence order: flag, environment, default.
struct Lookup<'a, E: Fn(&str) -> Option<String>> {
    given: HashMap<&'static str, Vec<String>>,
    env: &'a E,
}

impl<E: Fn(&str) -> Option<String>> Lookup<'_, E> {
    fn setting(flag: &str) -> &'static Setting {
        SETTINGS
            .iter()
            .find(|s| s.flag == flag)
            .expect("every looked-up flag is in SETTINGS")
    }

    /// The single value of a setting, if it has one. Empty env values count as unset,
    /// because hosts often write `"VAR": ""` for "not configured".
    fn value(&self, flag: &str) -> Option<String> {
        let setting = Self::setting(flag);
        if let Some(values) = self.given.get(setting.flag) {
            return values.last().cloned();
        }
        (self.env)(setting.env)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| setting.default.map(str::to_owned))
    }

    fn parsed<T: std::str::FromStr>(&self, flag: &str) -> Result<Option<T>, UsageError> {
        let setting = Self::setting(flag);
        self.value(flag)
            .map(|raw| {
                raw.trim().parse::<T>().map_err(|_| {
                    UsageError(format!(
                        "{} / {} has the value {raw:?}, which is not a valid {}",
                        setting.flag, setting.env, setting.value_name
                    ))
                })
            })
            .transpose()
    }

    /// Every value of a repeatable setting: all flags, else the env list.
    fn values(&self, flag: &str) -> Vec<String> {
        let setting = Self::setting(flag);
        if let Some(values) = self.given.get(setting.flag) {
            return values.clone();
        }
        let separator = if cfg!(windows) { ';' } else { ':' };
        (self.env)(setting.env)
            .map(|v| {
                v.split(separator)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn size(&self, flag: &str) -> Result<u64, UsageError> {
        let setting = Self::setting(flag);
        let raw = self.value(flag).unwrap_or_default();
        parse_size(&raw).ok_or_else(|| {
            UsageError(format!(
                "{} / {} has the value {raw:?}, which is not a size (like 500MiB or 2GiB)",
                setting.flag, setting.env
            ))
        })
    }

    /// A number of seconds between 0 and [`MAX_SETTING_SECONDS`].
    fn seconds(&self, flag: &str) -> Result<Duration, UsageError> {
        let secs: f64 = self.parsed(flag)?.unwrap_or_default();
        parse_seconds(secs).ok_or_else(|| {
            let setting = Self::setting(flag);
            UsageError(format!(
                "{} / {} must be a number of seconds from 0 to {} (30 days)",
                setting.flag,
                setting.env,
                MAX_SETTING_SECONDS.as_secs()
            ))
        })
    }

    fn boolean(&self, flag: &str) -> Result<bool, UsageError> {
        let raw = self.value(flag).unwrap_or_default();
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            _ => {
                let setting = Self::setting(flag);
                Err(UsageError(format!(
                    "{} / {} has the value {raw:?}; use true or false",
                    setting.flag, setting.env
                )))
            }
        }
    }

    fn base_url(&self) -> Result<Url, UsageError> {
        let raw = self.value("--base-url").unwrap_or_default();
        let url = Url::parse(raw.trim())
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .ok_or_else(|| {
                UsageError(format!(
                    "--base-url / HANDINGER_BASE_URL must be an http:// or https:// URL, got \
                     {:?}",
                    redacted_for_message(&raw)
                ))
            })?;
        if url.scheme() == "http" && !is_loopback(&url) && !self.boolean("--allow-insecure-http")? {
            return Err(UsageError(format!(
                "--base-url / HANDINGER_BASE_URL is http:// on {}, which is not this machine: \
                 the API key would cross the network unencrypted. Use https://, or set \
                 --allow-insecure-http true if that is really meant.",
                url.host_str().unwrap_or_default()
            )));
        }
        Ok(url)
    }

    fn config(&self) -> Result<Config, UsageError> {
        let base_url = self.base_url()?;
        Ok(Config {
            key: KeySource {
                env_value: (self.env)("HANDINGER_API_KEY")
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .map(ApiKey),
                file: self.value("--api-key-file").map(PathBuf::from),
            },
            base_url,
            default_worker_id: self.value("--worker-id").filter(|v| !v.trim().is_empty()),
            default_budget: self.parsed("--budget")?,
            connect_timeout: self.seconds("--connect-timeout")?,
            request_timeout: self.seconds("--request-timeout")?,
            wait: WaitPolicy {
                default_wait: self.seconds("--wait")?,
                max_wait: self.seconds("--max-wait")?,
                progress_interval: self.seconds("--progress-interval")?,
            },
            retries: self.parsed("--retries")?.unwrap_or_default(),
            max_retry_wait: self.seconds("--max-retry-wait")?,
            max_output_chars: self.parsed("--max-output-chars")?.unwrap_or_default(),
            max_in_flight: self
                .parsed::<usize>("--max-in-flight")?
                .unwrap_or_default()
                .max(1),
            log_filter: self.value("--log-level").unwrap_or_default(),
            workspace: self
                .values("--workspace")
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            attach_limits: AttachLimits {
                max_file_bytes: self.size("--max-file-size")?,
                max_total_bytes: self.size("--max-total-size")?,
                max_files: self.parsed("--max-files")?.unwrap_or_default(),
                allow_hard_links: self.boolean("--allow-hard-links")?,
            },
            files_field: self.value("--files-field").unwrap_or_default(),
        })
    }
}

/// The longest duration any setting takes: longer waits and timeouts are refused
/// (a typo such as `1e20` would otherwise overflow the clock).
pub const MAX_SETTING_SECONDS: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A number of seconds as a duration, if it is between 0 and [`MAX_SETTING_SECONDS`].
pub fn parse_seconds(secs: f64) -> Option<Duration> {
    if !(0.0..=MAX_SETTING_SECONDS.as_secs_f64()).contains(&secs) {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// Whether a URL's host is this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A setting's raw URL for an error message, without any userinfo.
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

/// A byte size: a number with an optional unit (B, KB/KiB, MB/MiB, GB/GiB; the
/// decimal spellings count as binary, as people mean them for file sizes). Sizes
/// that do not fit in 64 bits are refused, not wrapped.
pub fn parse_size(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = number * scale as f64;
    // 2^64 as f64; anything at or above it does not fit.
    (bytes.is_finite() && bytes < 18_446_744_073_709_551_616.0).then_some(bytes as u64)
}

/// The SETTINGS part of `--help`.
pub fn settings_help() -> String {
    let mut out = String::from("SETTINGS (flag, environment variable, default):\n");
    for s in SETTINGS {
        let default = s
            .default
            .map(|d| format!(" [default: {d}]"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {} {}\n      env {}{default}\n      {}\n",
            s.flag, s.value_name, s.env, s.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings from `--flag value` / `--flag=value` pairs and an environment.
    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Config, UsageError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut given = GivenFlags::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.split_once('=') {
                Some((flag, value)) => given.add(flag, value.to_string())?,
                None => given.add(arg, iter.next().expect("value").to_string())?,
            }
        }
        given.into_config(|k| env.get(k).cloned())
    }

    fn config(args: &[&str], env: &[(&str, &str)]) -> Config {
        parse(args, env).expect("parses")
    }

    #[test]
    fn defaults_apply_without_flags_or_env() {
        let c = config(&[], &[]);
        assert_eq!(c.base_url.as_str(), "https://handinger.com/");
        assert_eq!(c.request_timeout, Duration::from_secs(1800));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.retries, 2);
        assert_eq!(c.max_output_chars, 40_000);
        assert_eq!(c.key.resolve(), Err(KeyProblem::NotSet));
    }

    #[test]
    fn flags_beat_env_and_env_beats_defaults() {
        let c = config(
            &["--base-url", "http://127.0.0.1:9/", "--budget=high"],
            &[
                ("HANDINGER_BASE_URL", "http://ignored"),
                ("HANDINGER_WORKER_ID", "wrk_env"),
                ("HANDINGER_BUDGET", "low"),
            ],
        );
        assert_eq!(c.base_url.as_str(), "http://127.0.0.1:9/");
        assert_eq!(c.default_budget, Some(Budget::High));
        assert_eq!(c.default_worker_id.as_deref(), Some("wrk_env"));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = parse(&["--budget", "huge"], &[]).unwrap_err();
        assert!(err.0.contains("--budget / HANDINGER_BUDGET"), "{err}");
        let err = parse(&["--request-timeout", "-3"], &[]).unwrap_err();
        assert!(err.0.contains("from 0 to"), "{err}");
        let err = parse(&["--wait", "1e20"], &[]).unwrap_err();
        assert!(err.0.contains("--wait / HANDINGER_WAIT"), "{err}");
        let err = parse(&["--max-file-size", "99999999999TiB"], &[]).unwrap_err();
        assert!(err.0.contains("not a size"), "{err}");
        let err = parse(&["--allow-hard-links", "maybe"], &[]).unwrap_err();
        assert!(err.0.contains("true or false"), "{err}");
        let err = parse(&["--nope", "1"], &[]).unwrap_err();
        assert!(err.0.contains("unknown flag --nope"), "{err}");
        let err = parse(&["--retries", "1", "--retries", "2"], &[]).unwrap_err();
        assert!(err.0.contains("given twice"), "{err}");
    }

    #[test]
    fn unexpanded_key_is_reported_not_sent() {
        let c = config(&[], &[("HANDINGER_API_KEY", "${HANDINGER_API_KEY}")]);
        let problem = c.key.resolve().unwrap_err();
        assert!(matches!(problem, KeyProblem::Unexpanded(_)));
        assert!(problem.to_string().contains("does not expand"));
    }

    #[test]
    fn key_file_is_trimmed_and_never_debug_printed() {
        let dir = std::env::temp_dir().join(format!("hmcp-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, "hdg_live_secret\n").unwrap();
        let c = config(&["--api-key-file", path.to_str().unwrap()], &[]);
        let key = c.key.resolve().unwrap();
        assert_eq!(key.expose(), "hdg_live_secret");
        assert!(!format!("{c:?} {key:?}").contains("hdg_live_secret"));
        std::fs::write(&path, "  \n").unwrap();
        assert!(matches!(c.key.resolve(), Err(KeyProblem::FileEmpty(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sizes_and_repeatable_workspaces_parse() {
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1.5 MiB"), Some(1_572_864));
        assert_eq!(parse_size("300"), Some(300));
        assert_eq!(parse_size("12 parsecs"), None);
        let c = config(
            &[
                "--workspace",
                "/a",
                "--workspace=/b",
                "--max-file-size",
                "10KiB",
            ],
            &[],
        );
        assert_eq!(c.workspace, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.attach_limits.max_file_bytes, 10 * 1024);
        let c = config(&[], &[("HANDINGER_WORKSPACE", "/x:/y")]);
        assert_eq!(c.workspace, vec![PathBuf::from("/x"), PathBuf::from("/y")]);
        assert_eq!(c.files_field, "files");
        assert_eq!(c.attach_limits.max_files, 20);
    }

    #[test]
    fn the_base_url_must_be_https_or_local_and_its_userinfo_is_never_echoed() {
        for local in [
            "http://127.0.0.1:9",
            "http://localhost:8080",
            "http://[::1]:1",
        ] {
            assert!(parse(&["--base-url", local], &[]).is_ok(), "{local}");
        }
        let err = parse(&["--base-url", "http://api.example.com"], &[]).unwrap_err();
        assert!(err.0.contains("unencrypted"), "{err}");
        let allowed = [
            "--base-url",
            "http://api.example.com",
            "--allow-insecure-http",
            "true",
        ];
        assert!(parse(&allowed, &[]).is_ok());
        let err = parse(&["--base-url", "ftp://user:s3cret@host/x"], &[]).unwrap_err();
        assert!(
            !err.0.contains("s3cret") && err.0.contains("[redacted]@host"),
            "{err}"
        );
        assert!(parse(&["--base-url", "not a url"], &[]).is_err());
    }

    proptest::proptest! {
        /// Any text or number for a size or a duration: a value in range or a
        /// refusal, never a panic or a wrapped number.
        #[test]
        fn sizes_and_seconds_never_panic_or_wrap(
            text in "\\PC{0,16}",
            number in proptest::num::f64::ANY,
            unit in proptest::sample::select(vec!["", "B", "KiB", "MiB", "GiB", "TiB", "x"]),
        ) {
            let _ = parse_size(&text);
            if let Some(bytes) = parse_size(&format!("{number}{unit}")) {
                proptest::prop_assert!(number >= 0.0 && bytes as f64 <= number * (1u64 << 40) as f64 + 1.0);
            }
            if let Some(duration) = parse_seconds(number) {
                proptest::prop_assert!(duration <= MAX_SETTING_SECONDS);
            }
            for flag in ["--wait", "--max-wait", "--request-timeout", "--max-file-size"] {
                let _ = parse(&[flag, &number.to_string()], &[]);
                let _ = parse(&[flag, &text], &[]);
            }
        }
    }

    #[test]
    fn help_lists_every_setting() {
        let help = settings_help();
        for s in SETTINGS {
            assert!(help.contains(s.flag) && help.contains(s.env), "{}", s.flag);
        }
    }
}
