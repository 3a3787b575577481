//! The command line: every command, flag, environment variable and default, in
//! one clap definition that drives parsing, `--help`, shell completions, the man
//! pages and (through a test) the settings tables in docs/.
//!
//! Each part defines its own settings as a clap group on its options type
//! ([`ClientOptions`], [`TaskOptions`], [`HttpOptions`], ...); this module only
//! flattens them, adds the tools' verbs from the table, and applies the rules
//! that span settings (the key from the environment, an empty variable is unset).

use std::{ffi::OsString, path::PathBuf, time::Duration};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, parser::ValueSource};

use crate::{
    cli::CallOutput,
    delegation::TaskOptions,
    handinger::ClientOptions,
    key::ApiKey,
    mcp::streamable_http::HttpOptions,
    tools::{self, TOOLS, ToolCall},
};

/// What `--help` adds after the options.
const AFTER_HELP: &str = "\
With no command, serves MCP (newline-delimited JSON-RPC) on stdio, or the LSP-style \
protocol (Content-Length framing) with --lsp or when the client's first bytes are an \
LSP header. The tool commands wait until the task ends unless --wait is given.

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
struct TopLevel {
    /// Serve the LSP-style protocol (Content-Length framed JSON-RPC) instead of
    /// detecting it.
    #[arg(long)]
    lsp: bool,
    #[command(flatten)]
    settings: Settings,
}

/// The commands besides the tools' verbs, which come from the table.
#[derive(Debug, Clone, Subcommand)]
// Parsed once per process: the HTTP settings' size does not matter.
#[allow(clippy::large_enum_variant)]
enum OtherCommand {
    /// Serve over stdio (the default), or MCP over Streamable HTTP with --http.
    Serve {
        /// Serve the LSP-style protocol instead of detecting it.
        #[arg(long)]
        lsp: bool,
        #[command(flatten)]
        http: HttpOptions,
    },
    /// Check the key and the API, and print what a host should run.
    Doctor,
    /// Print the tools as MCP lists them, with their JSON Schemas.
    Schema,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) to stdout: the command's, or one subcommand's;
    /// with --out-dir, write every page into a folder.
    Man {
        /// The subcommand whose page to print (create, serve, ...).
        #[arg(value_name = "COMMAND")]
        page: Option<String>,
        /// Write every page (handinger-mcp.1, handinger-mcp-create.1, ...) into DIR.
        #[arg(long, value_name = "DIR", conflicts_with = "page")]
        out_dir: Option<PathBuf>,
    },
}

/// Every setting: the parts' groups, and the few the composition root reads
/// itself. Each is a flag and an environment variable (flags win); an empty
/// environment value counts as unset, because hosts write `"VAR": ""` for "not
/// configured". The `(server)` / `(command line)` note in each help says which
/// modes read it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Settings")]
pub struct Settings {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(flatten)]
    pub tasks: TaskOptions,
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
    /// Whether a log filter was asked for (flag or variable), not defaulted.
    #[arg(skip)]
    pub log_level_given: bool,
}

/// What a server inlines of an answer when --max-output-chars is not given.
pub const SERVER_MAX_OUTPUT_CHARS: usize = 40_000;

impl Settings {
    /// The server's cap on inlined answer characters.
    pub fn server_max_output_chars(&self) -> usize {
        self.max_output_chars.unwrap_or(SERVER_MAX_OUTPUT_CHARS)
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    Serve {
        settings: Box<Settings>,
        lsp: bool,
        /// `serve --http`: MCP over Streamable HTTP, checked and with its tokens.
        http: Option<Box<HttpOptions>>,
    },
    /// One of the tools' verbs.
    Call {
        settings: Box<Settings>,
        call: ToolCall,
        output: CallOutput,
        /// `--wait` on the command line; without it a command waits until the end.
        wait: Option<Duration>,
    },
    Doctor(Box<Settings>),
    Schema,
    Completions(clap_complete::Shell),
    Man {
        page: Option<String>,
        out_dir: Option<PathBuf>,
    },
}

/// A command line that cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("{0}")]
    Invalid(String),
}

impl UsageError {
    /// Print the error as clap would, and give the exit code.
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

/// The whole command-line definition: the commands, the tools' verbs (each with
/// `--json`), every setting.
pub fn cli_command() -> clap::Command {
    let mut command = OtherCommand::augment_subcommands(TopLevel::command());
    for tool in TOOLS {
        // The verb's help names its tool (not the output flags' doc).
        let about = format!(
            "{}, and print the answer (the tool {})",
            tool.title, tool.name
        );
        let verb = CallOutput::augment_args(tool.cli_command()).about(about);
        command = command.subcommand(verb);
    }
    empty_env_as_unset(command)
}

/// Hosts write `"VAR": ""` for "not configured": an empty variable is unset. And
/// no help text shows a variable's value (it may be a secret).
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

    /// Parse `args`, reading the variables clap does not (the key, the HTTP
    /// tokens) through `env`.
    pub fn parse_from<I, T>(
        args: I,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = cli_command().try_get_matches_from(args)?;
        let innermost = matches.subcommand().map_or(&matches, |(_, sub)| sub);
        let source = |id: &str| innermost.value_source(id);
        let wait_flag = matches!(source("wait"), Some(ValueSource::CommandLine));
        let top = TopLevel::from_arg_matches(&matches)?;
        let mut settings = top.settings;
        settings.log_level_given = matches!(
            source("log_level"),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        // HANDINGER_WORKSPACE is a list, as PATH is; a --workspace flag is one folder,
        // whatever characters its path holds.
        if matches!(source("workspace"), Some(ValueSource::EnvVariable)) {
            let folders = &mut settings.tasks.workspace.workspace;
            *folders = folders
                .iter()
                .flat_map(|list| std::env::split_paths(list).collect::<Vec<_>>())
                .collect();
        }
        settings.tasks.key.env_value = env("HANDINGER_API_KEY")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(ApiKey::new);
        settings.client.check().map_err(UsageError::Invalid)?;
        if settings.tasks.max_credits.is_some() && settings.tasks.journal.no_history {
            return Err(UsageError::Invalid(
                "--max-credits counts credits in the task history, which --no-history turns off"
                    .to_owned(),
            ));
        }
        let settings = Box::new(settings);
        if let Some((verb, sub)) = matches.subcommand()
            && let Some(tool) = tools::by_cli_verb(verb)
        {
            return Ok(Command::Call {
                call: ToolCall::from_cli(tool.id, sub)?,
                output: CallOutput::from_arg_matches(sub)?,
                wait: wait_flag.then_some(settings.tasks.wait.default_wait),
                settings,
            });
        }
        let other = match matches.subcommand() {
            Some(_) => Some(OtherCommand::from_arg_matches(&matches)?),
            None => None,
        };
        Ok(match other {
            None => Command::Serve {
                settings,
                lsp: top.lsp,
                http: None,
            },
            Some(OtherCommand::Serve { lsp, mut http }) => {
                let lsp = lsp || top.lsp;
                let http = match http.addr {
                    None => None,
                    Some(_) if lsp => {
                        return Err(UsageError::Invalid(
                            "--http serves MCP; the LSP-style mode is for stdio only".to_owned(),
                        ));
                    }
                    Some(_) => {
                        http.load_tokens(env("HANDINGER_HTTP_TOKENS").as_deref())
                            .map_err(UsageError::Invalid)?;
                        Some(Box::new(http))
                    }
                };
                Command::Serve {
                    settings,
                    lsp,
                    http,
                }
            }
            Some(OtherCommand::Doctor) => Command::Doctor(settings),
            Some(OtherCommand::Schema) => Command::Schema,
            Some(OtherCommand::Completions { shell }) => Command::Completions(shell),
            Some(OtherCommand::Man { page, out_dir }) => Command::Man { page, out_dir },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;

    #[test]
    fn http_without_an_address_serves_on_loopback() {
        let Ok(Command::Serve {
            http: Some(http), ..
        }) = parse(&["serve", "--http"])
        else {
            panic!("serve --http parses");
        };
        assert_eq!(http.listen_addr(), "127.0.0.1:8080".parse().unwrap());
        assert!(http.tokens.is_empty());
        assert!(parse(&["serve", "--http", "--lsp"]).is_err());
    }

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        let mut all = vec!["handinger-mcp"];
        all.extend(args);
        Command::parse_from(all, |_| None)
    }

    fn config(args: &[&str]) -> Settings {
        match parse(args).expect("parses") {
            Command::Serve { settings, .. }
            | Command::Doctor(settings)
            | Command::Call { settings, .. } => *settings,
            other => panic!("no settings in {other:?}"),
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
        assert_eq!(c.client.base_url.as_str(), "https://handinger.com/");
        assert_eq!(c.client.request_timeout, Duration::from_secs(1800));
        assert_eq!(c.client.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.client.retries, 2);
        assert_eq!(c.max_output_chars, None);
        assert_eq!(c.tasks.max_running, 256);
        assert_eq!(c.client.files_field, "files");
        assert_eq!(c.tasks.attach_limits.max_files, 20);
        assert_eq!(c.tasks.attach_limits.max_file_bytes, 2 << 30);
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
        let Command::Call {
            settings,
            call,
            output,
            wait,
        } = parse(&[
            "create",
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
        .unwrap()
        else {
            panic!("expected a call")
        };
        let ToolCall::CreateTask(args) = call else {
            panic!("expected create_task, got {call:?}")
        };
        assert_eq!(args.input, "Summarise");
        assert_eq!(args.files, ["a.csv", "b.md"]);
        assert!(output.json);
        assert_eq!(wait, Some(Duration::from_secs(5)));
        assert_eq!(settings.tasks.default_worker_id.as_deref(), Some("wrk_1"));
        assert_eq!(settings.tasks.default_budget, Some(Budget::High));

        let Command::Call { call, wait, .. } =
            parse(&["follow-up", "tsk_1", "--", "--more please"]).unwrap()
        else {
            panic!("expected a call")
        };
        let ToolCall::FollowUpTask(args) = call else {
            panic!("expected follow_up_task, got {call:?}")
        };
        assert_eq!(
            (args.task_id.as_str(), args.input.as_str()),
            ("tsk_1", "--more please")
        );
        assert!(args.files.is_empty());
        assert_eq!(wait, None, "without --wait the command waits until the end");
        assert!(matches!(
            parse(&["get", "tsk_1"]).unwrap(),
            Command::Call {
                call: ToolCall::GetTask(_),
                ..
            }
        ));
        assert!(matches!(parse(&["doctor"]).unwrap(), Command::Doctor(_)));
    }

    #[test]
    fn usage_errors_say_what_is_wrong_in_clap_terms() {
        let cases: &[(&[&str], &str)] = &[
            (&["create"], "required arguments were not provided"),
            (
                &["create", ""],
                "invalid value '' for '<INPUT>': it is empty",
            ),
            (
                &["create", "  "],
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
        assert_eq!(
            c.tasks.workspace.folders(),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(c.tasks.attach_limits.max_file_bytes, 10 * 1024);
        let c = config(&["--workspace", "/projects/with:colon"]);
        assert_eq!(
            c.tasks.workspace.folders(),
            vec![PathBuf::from("/projects/with:colon")],
            "a flag is one folder"
        );
        let Command::Serve { settings, .. } = Command::parse_from(["handinger-mcp"], |name| {
            (name == "HANDINGER_API_KEY").then(|| " hdg_live_x \n".to_owned())
        })
        .unwrap() else {
            panic!("serve")
        };
        assert_eq!(settings.tasks.key.resolve().unwrap().expose(), "hdg_live_x");
        assert!(!format!("{settings:?}").contains("hdg_live_x"));
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
