//! The command line and the settings: every command, flag, environment variable and
//! default in one clap definition, which drives parsing, `--help`, shell
//! completions, the man page and (through a test) the settings tables in docs/.
//!
//! Plain values only: this module imports nothing but the leaves ([`crate::units`],
//! [`crate::budget`], [`crate::key`]). The composition root ([`crate::app`]) turns
//! a [`Config`] into each part's own options.

use std::{ffi::OsString, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{
    ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
    builder::{BoolishValueParser, NonEmptyStringValueParser, PossibleValue},
    parser::ValueSource,
};
use url::Url;

use crate::{
    budget::Budget,
    key::{ApiKey, KeySource},
    units::{MAX_SETTING_SECONDS, parse_seconds, parse_size},
};

/// What `--help` adds after the options.
const AFTER_HELP: &str = "\
With no command, serves MCP (newline-delimited JSON-RPC) on stdio, or the LSP-style \
protocol (Content-Length framing) with --lsp or when the client's first bytes are an \
LSP header. task, follow-up and get wait until the task ends unless --wait is given.

Exit codes: 0 done, 1 the task or the API failed, 2 usage error (nothing sent), 3 \
still running (the wait passed; run `handinger-mcp get TASK_ID` later), 4 a file was \
refused (nothing sent).

The API key is read from HANDINGER_API_KEY (never a flag: flags show in process \
lists) or from --api-key-file.";

/// handinger-mcp: hands a subtask to a Handinger worker and returns its answer.
#[derive(Debug, Parser)]
#[command(
    name = "handinger-mcp",
    version,
    about = "Hands a subtask to a Handinger worker and returns its answer, as an MCP \
             server, an LSP-style server, or from the shell.",
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<CliCommand>,
    /// Serve the LSP-style protocol (Content-Length framed JSON-RPC) instead of
    /// detecting it.
    #[arg(long)]
    pub lsp: bool,
    #[command(flatten)]
    pub settings: Settings,
}

/// The commands.
#[derive(Debug, Clone, Subcommand)]
pub enum CliCommand {
    /// Serve over stdio (the default), or MCP over Streamable HTTP with --http.
    Serve {
        /// Serve the LSP-style protocol instead of detecting it.
        #[arg(long)]
        lsp: bool,
        #[command(flatten)]
        http: HttpSettings,
    },
    /// Start a task and print its answer.
    Task {
        /// The task as a complete brief; `-` reads it from stdin.
        #[arg(value_name = "INPUT", value_parser = not_blank)]
        input: String,
        #[command(flatten)]
        output: CallOutput,
        /// A file to attach (repeatable), relative to the workspace.
        #[arg(short = 'f', long = "file", value_name = "PATH")]
        files: Vec<String>,
    },
    /// Add a follow-up turn to a task and print its answer.
    FollowUp {
        #[arg(value_name = "TASK_ID", value_parser = NonEmptyStringValueParser::new())]
        task_id: String,
        /// The follow-up message; `-` reads it from stdin.
        #[arg(value_name = "INPUT", value_parser = not_blank)]
        input: String,
        #[command(flatten)]
        output: CallOutput,
        /// A file to attach (repeatable), relative to the workspace.
        #[arg(short = 'f', long = "file", value_name = "PATH")]
        files: Vec<String>,
    },
    /// Print a task's answer (waiting while it runs, within --wait).
    Get {
        #[arg(value_name = "TASK_ID", value_parser = NonEmptyStringValueParser::new())]
        task_id: String,
        #[command(flatten)]
        output: CallOutput,
    },
    /// Check the key and the API, and print what a host should run.
    Doctor,
    /// Print the tools' JSON Schemas.
    Schema,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) to stdout: the command's, or one subcommand's;
    /// with --out-dir, write every page into a folder.
    Man {
        /// The subcommand whose page to print (task, serve, ...).
        #[arg(value_name = "COMMAND")]
        page: Option<String>,
        /// Write every page (handinger-mcp.1, handinger-mcp-task.1, ...) into DIR.
        #[arg(long, value_name = "DIR", conflicts_with = "page")]
        out_dir: Option<PathBuf>,
    },
}

/// How a one-shot command prints.
#[derive(Debug, Clone, Copy, Args)]
pub struct CallOutput {
    /// Print the structured result (or error) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Every setting. Each is a flag and an environment variable (flags win); an
/// empty environment value counts as unset, because hosts write `"VAR": ""` for
/// "not configured". The `(server)` / `(command line)` note in each help says
/// which modes read it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Settings")]
pub struct Settings {
    /// File holding the API key, used when HANDINGER_API_KEY is unset; read on
    /// each call (server, command line).
    #[arg(
        long,
        env = "HANDINGER_API_KEY_FILE",
        value_name = "PATH",
        global = true
    )]
    pub api_key_file: Option<PathBuf>,
    /// Handinger API base URL: https://, or http:// on a loopback host only
    /// (server, command line).
    #[arg(
        long,
        env = "HANDINGER_BASE_URL",
        value_name = "URL",
        default_value = "https://handinger.com",
        global = true
    )]
    pub base_url: String,
    /// Allow an http:// base URL on a non-loopback host; the key then crosses the
    /// network in clear text (server, command line).
    #[arg(long, env = "HANDINGER_ALLOW_INSECURE_HTTP", value_name = "BOOL", default_value = "false",
          value_parser = BoolishValueParser::new(), action = ArgAction::Set, global = true)]
    pub allow_insecure_http: bool,
    /// Default workerId when a call names none; otherwise each task creates a
    /// worker from its input (server, command line).
    #[arg(long, visible_alias = "worker", env = "HANDINGER_WORKER_ID", value_name = "ID",
          value_parser = NonEmptyStringValueParser::new(), global = true)]
    pub worker_id: Option<String>,
    /// Default budget when a call names none (server, command line).
    #[arg(long, env = "HANDINGER_BUDGET", value_name = "BUDGET", global = true)]
    pub budget: Option<Budget>,
    /// Seconds allowed to open a connection to the API (server, command line).
    #[arg(long, env = "HANDINGER_CONNECT_TIMEOUT", value_name = "SECS", default_value = "10",
          value_parser = seconds, global = true)]
    pub connect_timeout: Duration,
    /// Seconds one POST /api/tasks may take end to end; tasks run for minutes
    /// (server, command line).
    #[arg(long, env = "HANDINGER_REQUEST_TIMEOUT", value_name = "SECS", default_value = "1800",
          value_parser = seconds, global = true)]
    pub request_timeout: Duration,
    /// How long a tool call waits for the answer before returning "still running"
    /// with the taskId; below the 60 s many hosts allow (server; on the command
    /// line only the flag counts, and without it a command waits until the end).
    #[arg(long, env = "HANDINGER_WAIT", value_name = "SECS", default_value = "50",
          value_parser = seconds, global = true)]
    pub wait: Duration,
    /// Upper bound for a call's own waitSeconds (server).
    #[arg(long, env = "HANDINGER_MAX_WAIT", value_name = "SECS", default_value = "600",
          value_parser = seconds, global = true)]
    pub max_wait: Duration,
    /// Seconds between progress notifications while a call waits (server; the
    /// command line shows progress on a terminal).
    #[arg(long, env = "HANDINGER_PROGRESS_INTERVAL", value_name = "SECS", default_value = "10",
          value_parser = seconds, global = true)]
    pub progress_interval: Duration,
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
          value_parser = seconds, global = true)]
    pub max_retry_wait: Duration,
    /// Characters of the answer inlined in a result; the rest is cut with a marker
    /// (server: default 40000, for models' context windows; command line: no cut
    /// unless given).
    #[arg(
        long,
        env = "HANDINGER_MAX_OUTPUT_CHARS",
        value_name = "N",
        global = true
    )]
    pub max_output_chars: Option<usize>,
    /// Most requests one client may have in flight (over it, a request is answered
    /// at once with a JSON-RPC "server busy" error), and most tasks running at once,
    /// counting those whose call stopped waiting (server, command line).
    #[arg(long, env = "HANDINGER_MAX_IN_FLIGHT", value_name = "N", default_value = "256",
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub max_in_flight: u32,
    /// Folder files may be attached from, when the client sends no usable MCP
    /// roots; repeatable, or several in the environment separated by ':' (';' on
    /// Windows). Default: the working directory, see --cwd-workspace (server,
    /// command line).
    #[arg(long, env = "HANDINGER_WORKSPACE", value_name = "DIR", global = true)]
    pub workspace: Vec<PathBuf>,
    /// Let a server without --workspace, whose client sends no roots, attach from
    /// its working directory; never when that is /, the home folder or above it
    /// (server).
    #[arg(long, env = "HANDINGER_CWD_WORKSPACE", value_name = "BOOL", default_value = "true",
          value_parser = BoolishValueParser::new(), action = ArgAction::Set, global = true)]
    pub cwd_workspace: bool,
    /// Largest file one call may attach, in bytes or with KiB/MiB/GiB (server,
    /// command line).
    #[arg(long, env = "HANDINGER_MAX_FILE_SIZE", value_name = "SIZE", default_value = "2GiB",
          value_parser = size, global = true)]
    pub max_file_size: u64,
    /// Largest total of the files one call may attach (server, command line).
    #[arg(long, env = "HANDINGER_MAX_TOTAL_SIZE", value_name = "SIZE", default_value = "4GiB",
          value_parser = size, global = true)]
    pub max_total_size: u64,
    /// Most files one call may attach (server, command line).
    #[arg(
        long,
        env = "HANDINGER_MAX_FILES",
        value_name = "N",
        default_value = "20",
        global = true
    )]
    pub max_files: usize,
    /// Attach files with more than one hard link; refused by default, because
    /// another link to the same file may be outside the workspace (server,
    /// command line).
    #[arg(long, env = "HANDINGER_ALLOW_HARD_LINKS", value_name = "BOOL", default_value = "false",
          value_parser = BoolishValueParser::new(), action = ArgAction::Set, global = true)]
    pub allow_hard_links: bool,
    /// Multipart field name of attached files; the API's is not documented
    /// (files or files[]) (server, command line).
    #[arg(long, env = "HANDINGER_FILES_FIELD", value_name = "NAME", default_value = "files",
          value_parser = NonEmptyStringValueParser::new(), global = true)]
    pub files_field: String,
    /// Log filter for stderr: error, warn, info, debug, trace, or comma-separated
    /// target=level directives (server, command line).
    #[arg(
        long,
        env = "HANDINGER_LOG",
        value_name = "FILTER",
        default_value = "info,rmcp=warn",
        global = true
    )]
    pub log_level: String,
}

impl ValueEnum for Budget {
    fn value_variants<'a>() -> &'a [Self] {
        &Budget::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// A text with something in it besides spaces (an input, a task id).
fn not_blank(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() {
        Err("it is empty; give the brief (or - to read it from stdin)".to_owned())
    } else {
        Ok(raw.to_owned())
    }
}

fn seconds(raw: &str) -> Result<Duration, String> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .and_then(parse_seconds)
        .ok_or_else(|| {
            format!(
                "expected a number of seconds from 0 to {} (30 days)",
                MAX_SETTING_SECONDS.as_secs()
            )
        })
}

fn size(raw: &str) -> Result<u64, String> {
    parse_size(raw).ok_or_else(|| "expected a size like 500MiB or 2GiB".to_owned())
}

/// The settings of MCP over Streamable HTTP (`serve --http`). Bearer tokens come
/// from a file or HANDINGER_HTTP_TOKENS, never from the command line, where
/// process lists would show them.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpSettings {
    /// Serve MCP over Streamable HTTP on ADDR (host:port; 127.0.0.1:8080 when
    /// ADDR is left out) instead of stdio; the endpoint is /mcp. A non-loopback
    /// address needs tokens.
    #[arg(long, env = "HANDINGER_HTTP", value_name = "ADDR", num_args = 0..=1,
          default_missing_value = "127.0.0.1:8080")]
    pub http: Option<SocketAddr>,
    /// File of bearer tokens clients must present, one per line (# comments);
    /// HANDINGER_HTTP_TOKENS may also list tokens, comma-separated.
    #[arg(long, env = "HANDINGER_HTTP_TOKENS_FILE", value_name = "PATH")]
    pub http_tokens_file: Option<PathBuf>,
    /// Host names (or host:port) accepted in the Host header, besides loopback and
    /// the bound address; comma-separated (DNS-rebinding defence).
    #[arg(
        long,
        env = "HANDINGER_HTTP_ALLOWED_HOSTS",
        value_name = "HOSTS",
        value_delimiter = ','
    )]
    pub http_allowed_hosts: Vec<String>,
    /// Browser origins accepted (scheme://host:port, `:*` for any port);
    /// comma-separated. A request with another Origin gets 403; requests without
    /// Origin (non-browser clients) pass.
    #[arg(
        long,
        env = "HANDINGER_HTTP_ALLOWED_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub http_allowed_origins: Vec<String>,
    /// Largest request body accepted (413 beyond).
    #[arg(long, env = "HANDINGER_HTTP_MAX_BODY", value_name = "SIZE", default_value = "4MiB",
          value_parser = size)]
    pub http_max_body: u64,
    /// Most requests one client (one token, or one address without tokens) may
    /// have in flight; beyond it, 429.
    #[arg(long, env = "HANDINGER_HTTP_MAX_CALLS_PER_CLIENT", value_name = "N", default_value = "64",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub http_max_calls_per_client: u32,
    /// Time a client has to send a request's headers, and again its body; a
    /// slower one is dropped.
    #[arg(long, env = "HANDINGER_HTTP_HEADER_TIMEOUT", value_name = "SECS", default_value = "30",
          value_parser = seconds)]
    pub http_header_timeout: Duration,
    /// Most client connections open at once; past it, new ones wait to be
    /// accepted.
    #[arg(long, env = "HANDINGER_HTTP_MAX_CONNECTIONS", value_name = "N", default_value = "10000",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub http_max_connections: u32,
    /// After SIGTERM, how long calls in flight may go on before the server exits
    /// (their tasks keep running on Handinger; get_task finds them).
    #[arg(long, env = "HANDINGER_SHUTDOWN_GRACE", value_name = "SECS", default_value = "30",
          value_parser = seconds)]
    pub shutdown_grace: Duration,
}

/// Checked settings of the HTTP mode.
#[derive(Debug, Clone)]
pub struct HttpServe {
    pub addr: SocketAddr,
    pub tokens: Vec<String>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub max_calls_per_client: usize,
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

/// Shortest bearer token accepted: guessing one must be hopeless.
const MIN_TOKEN_CHARS: usize = 16;

impl HttpSettings {
    /// The checked HTTP settings, or `None` without `--http`. `env_tokens` is
    /// HANDINGER_HTTP_TOKENS.
    fn checked(self, env_tokens: Option<String>) -> Result<Option<HttpServe>, UsageError> {
        let Some(addr) = self.http else {
            return Ok(None);
        };
        let mut tokens: Vec<String> = env_tokens
            .iter()
            .flat_map(|list| list.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(path) = &self.http_tokens_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UsageError::Invalid(format!(
                    "--http-tokens-file {}: cannot read it ({e})",
                    path.display()
                ))
            })?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        if let Some(short) = tokens
            .iter()
            .position(|t| t.chars().count() < MIN_TOKEN_CHARS)
        {
            return Err(UsageError::Invalid(format!(
                "bearer token number {} is shorter than {MIN_TOKEN_CHARS} characters; use long \
                 random tokens (e.g. `openssl rand -hex 32`)",
                short + 1
            )));
        }
        Ok(Some(HttpServe {
            addr,
            tokens,
            allowed_hosts: self.http_allowed_hosts,
            allowed_origins: self.http_allowed_origins,
            max_body_bytes: usize::try_from(self.http_max_body).unwrap_or(usize::MAX),
            max_calls_per_client: self.http_max_calls_per_client as usize,
            header_timeout: self.http_header_timeout.max(Duration::from_millis(100)),
            max_connections: self.http_max_connections as usize,
            shutdown_grace: self.shutdown_grace,
        }))
    }
}

/// The checked configuration of one process: plain values.
#[derive(Debug, Clone)]
pub struct Config {
    pub key: KeySource,
    /// The API's base URL, checked: http(s), and http only on loopback unless allowed.
    pub base_url: Url,
    pub default_worker_id: Option<String>,
    pub default_budget: Option<Budget>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub wait: Duration,
    pub max_wait: Duration,
    pub progress_interval: Duration,
    pub retries: u32,
    pub max_retry_wait: Duration,
    /// As given; each mode applies its own default.
    pub max_output_chars: Option<usize>,
    pub max_in_flight: usize,
    pub log_filter: String,
    /// Whether the log filter was given (flag or environment), not the default:
    /// the LSP-style mode logs only warnings unless asked, since editors show a
    /// server's stderr lines as errors.
    pub log_filter_given: bool,
    /// Configured workspace folders (not yet checked).
    pub workspace: Vec<PathBuf>,
    /// Whether a server may fall back to its working directory (guarded).
    pub cwd_workspace: bool,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_files: usize,
    pub allow_hard_links: bool,
    pub files_field: String,
}

/// The inline cap on an answer in server modes, where a model reads it.
pub const SERVER_MAX_OUTPUT_CHARS: usize = 40_000;

/// What the command line asks for, with its checked configuration.
#[derive(Debug)]
pub enum Command {
    /// Serve over stdio (MCP, or LSP-style framing: `--lsp`, or detected), or MCP
    /// over Streamable HTTP (`http`).
    Serve {
        config: Box<Config>,
        lsp: bool,
        http: Option<HttpServe>,
    },
    /// A one-shot task, follow-up or lookup from the shell.
    Call(CliCall),
    /// Check the set-up and print what a host should run.
    Doctor(Box<Config>),
    /// Print the tools' JSON Schemas.
    Schema,
    /// Print a completion script.
    Completions(clap_complete::Shell),
    /// Print a man page, or write them all.
    Man {
        page: Option<String>,
        out_dir: Option<PathBuf>,
    },
}

/// A one-shot command.
#[derive(Debug)]
pub struct CliCall {
    pub config: Box<Config>,
    pub action: CliAction,
    /// Print the structured result as JSON instead of text.
    pub json: bool,
    /// `--wait` as given on the command line; without it the command waits until
    /// the task ends (HANDINGER_WAIT is for servers).
    pub wait: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliAction {
    Task {
        input: String,
        files: Vec<String>,
    },
    FollowUp {
        task_id: String,
        input: String,
        files: Vec<String>,
    },
    Get {
        task_id: String,
    },
}

/// A command line or environment the binary cannot use (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// clap's own message (also `--help` and `--version`, which are not errors).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("{0}")]
    Invalid(String),
}

impl UsageError {
    /// Print the message (or the help) the way clap does, and give the exit code.
    pub fn report(&self) -> u8 {
        match self {
            UsageError::Clap(error) => {
                let _ = error.print();
                u8::try_from(error.exit_code()).unwrap_or(2)
            }
            UsageError::Invalid(message) => {
                eprintln!("error: {message}\n\nFor more information, try '--help'.");
                2
            }
        }
    }
}

/// The clap command, for parsing, help, completions and the man page. A setting
/// whose variable is set but empty is read as unset: hosts write `"VAR": ""` for
/// "not configured".
pub fn cli_command() -> clap::Command {
    empty_env_as_unset(Cli::command())
}

/// Every argument of `command` and of its subcommands (where `serve`'s HTTP
/// settings live): a variable that is set but empty counts as unset, and help
/// shows a variable's name, never its value.
fn empty_env_as_unset(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            let empty = arg.get_env().is_some_and(|name| {
                std::env::var_os(name)
                    .is_some_and(|value| value.to_string_lossy().trim().is_empty())
            });
            let arg = arg.hide_env_values(true);
            if empty { arg.env(None) } else { arg }
        })
        .mut_subcommands(empty_env_as_unset)
}

impl Command {
    /// Parse the process's arguments and environment.
    pub fn from_env() -> Result<Self, UsageError> {
        Self::parse_from(std::env::args_os(), |name| {
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
        })
    }

    /// Parse `args` (the program name first). clap reads settings from the
    /// process environment; `env` is only for the secrets HANDINGER_API_KEY and
    /// HANDINGER_HTTP_TOKENS, so tests can pass them without setting them
    /// process-wide.
    pub fn parse_from<I, T>(
        args: I,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = cli_command().try_get_matches_from(args)?;
        let wait_flag = matches!(
            subcommand_matches(&matches).value_source("wait"),
            Some(ValueSource::CommandLine)
        );
        let log_filter_given = matches!(
            subcommand_matches(&matches).value_source("log_level"),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        // HANDINGER_WORKSPACE is a list, as PATH is; a --workspace flag is one folder,
        // whatever characters its path holds.
        let workspace_from_env = matches!(
            subcommand_matches(&matches).value_source("workspace"),
            Some(ValueSource::EnvVariable)
        );
        let mut cli = Cli::from_arg_matches(&matches)?;
        if workspace_from_env {
            cli.settings.workspace = cli
                .settings
                .workspace
                .iter()
                .flat_map(|list| std::env::split_paths(list).collect::<Vec<_>>())
                .collect();
        }
        let api_key = env("HANDINGER_API_KEY")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(ApiKey::new);
        let config = move || {
            cli.settings
                .clone()
                .into_config(api_key.clone(), log_filter_given)
        };
        let call = |action, output: CallOutput| -> Result<Command, UsageError> {
            let config = config()?;
            let wait = wait_flag.then_some(config.wait);
            Ok(Command::Call(CliCall {
                config: Box::new(config),
                action,
                json: output.json,
                wait,
            }))
        };
        match cli.command.clone() {
            None => Ok(Command::Serve {
                config: Box::new(config()?),
                lsp: cli.lsp,
                http: None,
            }),
            Some(CliCommand::Serve { lsp, http }) => {
                let http = http.checked(env("HANDINGER_HTTP_TOKENS"))?;
                if http.is_some() && (lsp || cli.lsp) {
                    return Err(UsageError::Invalid(
                        "--http serves MCP; the LSP-style mode is for stdio only".to_owned(),
                    ));
                }
                Ok(Command::Serve {
                    config: Box::new(config()?),
                    lsp: lsp || cli.lsp,
                    http,
                })
            }
            Some(CliCommand::Task {
                input,
                output,
                files,
            }) => call(CliAction::Task { input, files }, output),
            Some(CliCommand::FollowUp {
                task_id,
                input,
                output,
                files,
            }) => call(
                CliAction::FollowUp {
                    task_id,
                    input,
                    files,
                },
                output,
            ),
            Some(CliCommand::Get { task_id, output }) => call(CliAction::Get { task_id }, output),
            Some(CliCommand::Doctor) => Ok(Command::Doctor(Box::new(config()?))),
            Some(CliCommand::Schema) => Ok(Command::Schema),
            Some(CliCommand::Completions { shell }) => Ok(Command::Completions(shell)),
            Some(CliCommand::Man { page, out_dir }) => Ok(Command::Man { page, out_dir }),
        }
    }
}

/// The matches of the subcommand given (global settings are read there too).
fn subcommand_matches(matches: &clap::ArgMatches) -> &clap::ArgMatches {
    matches.subcommand().map_or(matches, |(_, sub)| sub)
}

impl Settings {
    /// Check what clap could not (the base URL with its insecure-http switch) and
    /// give the plain configuration.
    fn into_config(
        self,
        api_key: Option<ApiKey>,
        log_filter_given: bool,
    ) -> Result<Config, UsageError> {
        let base_url = checked_base_url(&self.base_url, self.allow_insecure_http)?;
        Ok(Config {
            key: KeySource {
                env_value: api_key,
                file: self.api_key_file,
                header: None,
            },
            base_url,
            default_worker_id: self.worker_id,
            default_budget: self.budget,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            wait: self.wait,
            max_wait: self.max_wait,
            progress_interval: self.progress_interval,
            retries: self.retries,
            max_retry_wait: self.max_retry_wait,
            max_output_chars: self.max_output_chars,
            max_in_flight: self.max_in_flight as usize,
            log_filter: self.log_level,
            log_filter_given,
            workspace: self
                .workspace
                .into_iter()
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            cwd_workspace: self.cwd_workspace,
            max_file_bytes: self.max_file_size,
            max_total_bytes: self.max_total_size,
            max_files: self.max_files,
            allow_hard_links: self.allow_hard_links,
            files_field: self.files_field,
        })
    }
}

/// The base URL, if it is http(s) with a host, and http only on loopback unless
/// `allow_insecure` is set. Errors never echo userinfo.
pub fn checked_base_url(raw: &str, allow_insecure: bool) -> Result<Url, UsageError> {
    let url = Url::parse(raw.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or_else(|| {
            UsageError::Invalid(format!(
                "--base-url / HANDINGER_BASE_URL must be an http:// or https:// URL, got {:?}",
                redacted_for_message(raw)
            ))
        })?;
    if url.scheme() == "http" && !is_loopback(&url) && !allow_insecure {
        return Err(UsageError::Invalid(format!(
            "--base-url / HANDINGER_BASE_URL is http:// on {}, which is not this machine: the \
             API key would cross the network unencrypted. Use https://, or set \
             --allow-insecure-http true if that is really meant.",
            url.host_str().unwrap_or_default()
        )));
    }
    Ok(url)
}

/// Whether a URL's host is this machine.
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

/// A raw URL for an error message, without any userinfo.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_without_an_address_serves_on_loopback() {
        let Ok(Command::Serve {
            http: Some(http), ..
        }) = parse(&["serve", "--http"])
        else {
            panic!("serve --http parses");
        };
        assert_eq!(http.addr, "127.0.0.1:8080".parse().unwrap());
        assert!(http.tokens.is_empty());
        assert!(parse(&["serve", "--http", "--lsp"]).is_err());
    }

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        let mut all = vec!["handinger-mcp"];
        all.extend(args);
        Command::parse_from(all, |_| None)
    }

    fn config(args: &[&str]) -> Config {
        match parse(args).expect("parses") {
            Command::Serve { config, .. } | Command::Doctor(config) => *config,
            Command::Call(call) => *call.config,
            other => panic!("no config in {other:?}"),
        }
    }

    fn message(args: &[&str]) -> String {
        match parse(args).unwrap_err() {
            UsageError::Clap(error) => error.to_string(),
            UsageError::Invalid(message) => message,
        }
    }

    #[test]
    fn defaults_apply_without_flags() {
        let c = config(&[]);
        assert_eq!(c.base_url.as_str(), "https://handinger.com/");
        assert_eq!(c.request_timeout, Duration::from_secs(1800));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.retries, 2);
        assert_eq!(c.max_output_chars, None);
        assert_eq!(c.max_in_flight, 256);
        assert_eq!(c.files_field, "files");
        assert_eq!(c.max_files, 20);
        assert_eq!(c.max_file_bytes, 2 << 30);
    }

    #[test]
    fn serve_is_the_default_and_lsp_a_switch() {
        assert!(matches!(
            parse(&[]).unwrap(),
            Command::Serve { lsp: false, .. }
        ));
        assert!(matches!(
            parse(&["--lsp"]).unwrap(),
            Command::Serve { lsp: true, .. }
        ));
        assert!(matches!(
            parse(&["serve", "--base-url=http://127.0.0.1:1"]).unwrap(),
            Command::Serve { .. }
        ));
    }

    #[test]
    fn commands_take_their_arguments_and_settings_anywhere() {
        let Command::Call(call) = parse(&[
            "task",
            "--file",
            "a.csv",
            "Summarise",
            "--file=b.md",
            "--worker",
            "wrk_1",
            "--budget",
            "high",
            "--wait",
            "5",
            "--json",
        ])
        .unwrap() else {
            panic!("expected a call")
        };
        assert_eq!(
            call.action,
            CliAction::Task {
                input: "Summarise".into(),
                files: vec!["a.csv".into(), "b.md".into()]
            }
        );
        assert!(call.json);
        assert_eq!(call.wait, Some(Duration::from_secs(5)));
        assert_eq!(call.config.default_worker_id.as_deref(), Some("wrk_1"));
        assert_eq!(call.config.default_budget, Some(Budget::High));

        let Command::Call(call) = parse(&["follow-up", "tsk_1", "--", "--more please"]).unwrap()
        else {
            panic!("expected a call")
        };
        assert_eq!(
            call.action,
            CliAction::FollowUp {
                task_id: "tsk_1".into(),
                input: "--more please".into(),
                files: vec![]
            }
        );
        assert_eq!(
            call.wait, None,
            "without --wait the command waits until the end"
        );
        assert!(matches!(
            parse(&["get", "tsk_1"]).unwrap(),
            Command::Call(_)
        ));
        assert!(matches!(parse(&["doctor"]).unwrap(), Command::Doctor(_)));
    }

    #[test]
    fn usage_errors_say_what_is_wrong_in_clap_terms() {
        let cases: &[(&[&str], &str)] = &[
            (&["task"], "required arguments were not provided"),
            (&["task", ""], "invalid value '' for '<INPUT>': it is empty"),
            (
                &["task", "  "],
                "invalid value '  ' for '<INPUT>': it is empty",
            ),
            (&["get", "a", "b"], "unexpected argument 'b'"),
            (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
            (&["--nope"], "unexpected argument '--nope'"),
            (&["--retries"], "a value is required for '--retries <N>'"),
            (&["--json"], "unexpected argument '--json'"),
            (&["get", "t", "--file", "x"], "unexpected argument '--file'"),
            (
                &["--budget", "huge"],
                "[possible values: low, standard, high, unlimited]",
            ),
            (&["--request-timeout=-3"], "from 0 to 2592000"),
            (&["--wait", "1e20"], "from 0 to 2592000"),
            (&["--max-file-size", "99999999999TiB"], "a size like"),
            (&["--allow-hard-links", "maybe"], "invalid value 'maybe'"),
            (&["--max-in-flight", "0"], "--max-in-flight"),
        ];
        for (args, expected) in cases {
            let text = message(args);
            assert!(text.contains(expected), "{args:?}: {text}");
        }
    }

    #[test]
    fn the_base_url_must_be_https_or_local_and_its_userinfo_is_never_echoed() {
        for local in [
            "http://127.0.0.1:9",
            "http://localhost:8080",
            "http://[::1]:1",
        ] {
            assert!(parse(&["--base-url", local]).is_ok(), "{local}");
        }
        assert!(message(&["--base-url", "http://api.example.com"]).contains("unencrypted"));
        let allowed = [
            "--base-url",
            "http://api.example.com",
            "--allow-insecure-http",
            "true",
        ];
        assert!(parse(&allowed).is_ok());
        let text = message(&["--base-url", "ftp://user:s3cret@host/x"]);
        assert!(
            !text.contains("s3cret") && text.contains("[redacted]@host"),
            "{text}"
        );
        assert!(parse(&["--base-url", "not a url"]).is_err());
    }

    #[test]
    fn workspaces_repeat_and_the_key_comes_from_the_environment_only() {
        let c = config(&[
            "--workspace",
            "/a",
            "--workspace=/b",
            "--max-file-size",
            "10KiB",
        ]);
        assert_eq!(c.workspace, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.max_file_bytes, 10 * 1024);
        let c = config(&["--workspace", "/projects/with:colon"]);
        assert_eq!(
            c.workspace,
            vec![PathBuf::from("/projects/with:colon")],
            "a flag is one folder"
        );
        let Command::Serve { config, .. } = Command::parse_from(["handinger-mcp"], |name| {
            (name == "HANDINGER_API_KEY").then(|| " hdg_live_x \n".to_owned())
        })
        .unwrap() else {
            panic!("serve")
        };
        assert_eq!(config.key.resolve().unwrap().expose(), "hdg_live_x");
        assert!(!format!("{config:?}").contains("hdg_live_x"));
        assert!(message(&["--api-key", "x"]).contains("unexpected argument"));
    }

    #[test]
    fn every_setting_has_an_environment_variable_and_a_mode_note() {
        for arg in cli_command().get_arguments().filter(|a| a.is_global_set()) {
            let name = arg.get_id().as_str();
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert!(
                env.as_deref().is_some_and(|e| e.starts_with("HANDINGER_")),
                "{name} has no HANDINGER_ variable"
            );
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            assert!(
                help.contains("(server") || help.contains("command line)"),
                "{name}: {help}"
            );
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        cli_command().debug_assert();
    }
}
