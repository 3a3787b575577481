//! The composition root: a checked [`Config`] in, each part's own options out.
//! The parts never see the settings; main.rs and the command line build them here.

use crate::{
    config::{Config, HttpServe, SERVER_MAX_OUTPUT_CHARS},
    handinger::{Client, ClientOptions},
    mcp::streamable_http::HttpOptions,
    tasks::{TaskOptions, TaskRunner, WaitPolicy},
    workspace::{AttachLimits, RootSource, Workspace},
};

/// The HTTP client's options.
pub fn client_options(config: &Config) -> ClientOptions {
    ClientOptions {
        base_url: config.base_url.clone(),
        connect_timeout: config.connect_timeout,
        request_timeout: config.request_timeout,
        retries: config.retries,
        max_retry_wait: config.max_retry_wait,
        files_field: config.files_field.clone(),
    }
}

/// Who chose the working directory, which decides whether it may serve as the
/// workspace when none is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkingDirectory {
    /// The person typing the command and its paths: always.
    Typed,
    /// A host that started a server: only when it is not `/`, the home folder or
    /// above it, and only with `--cwd-workspace` on.
    Implicit,
}

/// The `--workspace` folders, or the working directory when none is configured.
/// A configured folder that does not exist is not replaced by the working
/// directory: attaching then fails and says why.
pub fn configured_workspace(config: &Config, cwd: WorkingDirectory) -> Workspace {
    if !config.workspace.is_empty() {
        return Workspace::new(&config.workspace, RootSource::Configured);
    }
    match cwd {
        WorkingDirectory::Typed => Workspace::working_directory(),
        WorkingDirectory::Implicit if config.cwd_workspace => {
            Workspace::guarded_working_directory()
        }
        WorkingDirectory::Implicit => Workspace::unusable(
            RootSource::WorkingDirectory,
            ".",
            "no workspace is configured, and --cwd-workspace false keeps the working directory \
             from serving as one"
                .to_owned(),
        ),
    }
}

/// The core's options.
pub fn task_options(config: &Config, cwd: WorkingDirectory) -> TaskOptions {
    TaskOptions {
        key: config.key.clone(),
        default_budget: config.default_budget,
        default_worker_id: config.default_worker_id.clone(),
        workspace: configured_workspace(config, cwd),
        attach_limits: AttachLimits {
            max_file_bytes: config.max_file_bytes,
            max_total_bytes: config.max_total_bytes,
            max_files: config.max_files,
            allow_hard_links: config.allow_hard_links,
        },
        wait: WaitPolicy {
            default_wait: config.wait,
            max_wait: config.max_wait,
            progress_interval: config.progress_interval,
        },
        max_running: config.max_in_flight,
    }
}

/// The core of a server, ready to run tasks. Nothing here touches the network or
/// the TLS trust roots: the HTTP client is built on the first request.
pub fn runner(config: &Config) -> TaskRunner {
    TaskRunner::new(
        Client::new(client_options(config)),
        task_options(config, WorkingDirectory::Implicit),
    )
}

/// The core of a one-shot command: paths resolve against the folder the command
/// was typed in when no workspace is configured.
pub fn command_runner(config: &Config) -> TaskRunner {
    TaskRunner::new(
        Client::new(client_options(config)),
        task_options(config, WorkingDirectory::Typed),
    )
}

/// The HTTP front-end's options. Over HTTP only an explicitly configured workspace
/// serves files: the working directory is never a default there.
pub fn http_options(config: &Config, http: &HttpServe) -> HttpOptions {
    HttpOptions {
        addr: http.addr,
        tokens: http.tokens.clone(),
        allowed_hosts: http.allowed_hosts.clone(),
        allowed_origins: http.allowed_origins.clone(),
        max_body_bytes: http.max_body_bytes,
        max_calls_per_client: http.max_calls_per_client,
        header_timeout: http.header_timeout,
        max_connections: http.max_connections,
        shutdown_grace: http.shutdown_grace,
        max_output_chars: config.max_output_chars.unwrap_or(SERVER_MAX_OUTPUT_CHARS),
        workspace: (!config.workspace.is_empty())
            .then(|| Workspace::new(&config.workspace, RootSource::Configured)),
    }
}

/// Raise the soft open-file limit to the hard one, as far as the system allows,
/// and say when it still cannot hold `max_connections`: over HTTP each waiting
/// call holds two sockets (the client's and its own connection to the API), and
/// the usual soft limit of 1,024 would stop the server at about 500 calls.
#[cfg(unix)]
pub fn raise_open_file_limit(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    /// macOS refuses a soft limit above OPEN_MAX even when the hard one is
    /// unlimited; Linux caps at fs.nr_open, 1,048,576 by default.
    const FALLBACKS: [u64; 2] = [1 << 20, 10_240];
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let mut soft = limit.current;
    for wanted in std::iter::once(hard).chain(FALLBACKS) {
        let wanted = wanted.min(hard);
        if soft.is_none_or(|soft| soft >= wanted) {
            break;
        }
        let raised = Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            tracing::debug!(from = soft, to = wanted, "raised the open-file limit");
            soft = Some(wanted);
            break;
        }
    }
    let needed = 2 * max_connections as u64;
    if let Some(soft) = soft.filter(|soft| *soft < needed) {
        tracing::warn!(
            open_file_limit = soft,
            max_connections,
            "the open-file limit allows about {} calls at once, fewer than \
             --http-max-connections: raise it (LimitNOFILE= in a systemd unit, ulimit -n \
             in a shell) or lower --http-max-connections",
            soft / 2
        );
    }
}

/// Elsewhere the limit is left as it is.
#[cfg(not(unix))]
pub fn raise_open_file_limit(_max_connections: usize) {}
