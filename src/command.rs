//! The command line's grammar: which command, its arguments, and the settings.

use std::time::Duration;

use crate::config::{self, Config, GivenFlags, UsageError};

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Serve over stdio: MCP, or LSP-style framing (`--lsp`, or detected).
    Serve {
        config: Box<Config>,
        lsp: bool,
    },
    /// A one-shot task, follow-up or lookup from the shell.
    Call(CliCall),
    /// Check the set-up and print what a host should run.
    Doctor(Box<Config>),
    /// Print the tools' JSON Schemas.
    Schema,
    Help,
    Version,
}

/// A one-shot command.
#[derive(Debug)]
pub struct CliCall {
    pub config: Box<Config>,
    pub action: CliAction,
    /// Print the structured result as JSON instead of text.
    pub json: bool,
    /// `--wait` as given; without it the command waits until the task ends.
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

impl Command {
    /// Parse the process's arguments and environment.
    /// Arguments that are not UTF-8 are a usage error, never a panic.
    pub fn from_env() -> Result<Self, UsageError> {
        let args = std::env::args_os()
            .skip(1)
            .enumerate()
            .map(|(n, arg)| {
                arg.into_string().map_err(|raw| {
                    UsageError(format!(
                        "argument {} is not valid UTF-8: {:?}",
                        n + 1,
                        raw.to_string_lossy()
                    ))
                })
            })
            .collect::<Result<Vec<String>, UsageError>>()?;
        Self::parse(&args, |name| std::env::var(name).ok())
    }

    /// Parse `args` (without the program name), reading variables through `env`.
    pub fn parse(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        let mut given = GivenFlags::default();
        let mut positional: Vec<String> = Vec::new();
        let mut files = Vec::new();
        let (mut lsp, mut json) = (false, false);
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| iter.next().cloned())
                    .ok_or_else(|| {
                        UsageError(format!(
                            "{name} needs a value ({})",
                            config::value_name(name)
                        ))
                    })
            };
            match flag {
                "-h" | "--help" => return Ok(Command::Help),
                "-V" | "--version" => return Ok(Command::Version),
                "--lsp" => lsp = true,
                "--json" => json = true,
                "--file" | "-f" => files.push(value("--file")?),
                "--worker" => given.add("--worker-id", value("--worker-id")?)?,
                "--" => positional.extend(iter.by_ref().cloned()),
                _ if flag.starts_with('-') && flag.len() > 1 => {
                    if !config::is_setting(flag) {
                        return Err(UsageError(format!("unknown flag {flag}")));
                    }
                    let value = value(flag)?;
                    given.add(flag, value)?;
                }
                _ => positional.push(arg.clone()),
            }
        }
        let wait_given = given.has("--wait");
        let config = move || given.into_config(&env);
        let mut words = positional.into_iter();
        let subcommand = words.next();
        let rest: Vec<String> = words.collect();
        let expect = |names: &[&str]| -> Result<Vec<String>, UsageError> {
            if rest.len() != names.len() {
                return Err(UsageError(format!(
                    "`{}` takes {}; got {} argument(s)",
                    subcommand.as_deref().unwrap_or(""),
                    names.join(" "),
                    rest.len()
                )));
            }
            Ok(rest.clone())
        };
        let only_for_calls = |what: &str, set: bool| match set {
            true => Err(UsageError(format!(
                "{what} goes with task, follow-up or get"
            ))),
            false => Ok(()),
        };
        let call = |action, config: Config| {
            let wait = wait_given.then_some(config.wait.default_wait);
            Command::Call(CliCall {
                config: Box::new(config),
                action,
                json,
                wait,
            })
        };
        match subcommand.as_deref() {
            None | Some("serve") => {
                expect(&[])?;
                only_for_calls("--json", json)?;
                only_for_calls("--file", !files.is_empty())?;
                Ok(Command::Serve {
                    config: Box::new(config()?),
                    lsp,
                })
            }
            Some("task") => {
                let [input] = <[String; 1]>::try_from(expect(&["INPUT"])?).expect("one");
                Ok(call(CliAction::Task { input, files }, config()?))
            }
            Some("follow-up") => {
                let [task_id, input] =
                    <[String; 2]>::try_from(expect(&["TASK_ID", "INPUT"])?).expect("two");
                Ok(call(
                    CliAction::FollowUp {
                        task_id,
                        input,
                        files,
                    },
                    config()?,
                ))
            }
            Some("get") => {
                only_for_calls("--file", !files.is_empty())
                    .map_err(|_| UsageError("get takes no --file".into()))?;
                let [task_id] = <[String; 1]>::try_from(expect(&["TASK_ID"])?).expect("one");
                Ok(call(CliAction::Get { task_id }, config()?))
            }
            Some("doctor") => {
                expect(&[])?;
                Ok(Command::Doctor(Box::new(config()?)))
            }
            Some("schema") => {
                expect(&[])?;
                Ok(Command::Schema)
            }
            Some(other) => Err(UsageError(format!("unknown command {other:?}"))),
        }
    }
}

/// The text of `--help`.
pub fn help_text() -> String {
    format!(
        "handinger-mcp {}\n\
         Hands a subtask to a Handinger worker and returns its answer.\n\n\
         USAGE:\n  \
         handinger-mcp [--lsp] [SETTINGS]      serve over stdio: MCP (newline-delimited JSON-RPC),\n                                        \
         or LSP-style Content-Length framing (--lsp, or detected)\n  \
         handinger-mcp task INPUT [--file PATH]... [--budget B] [--worker ID] [--wait SECS] [--json]\n  \
         handinger-mcp follow-up TASK_ID INPUT [--file PATH]... [--wait SECS] [--json]\n  \
         handinger-mcp get TASK_ID [--wait SECS] [--json]\n  \
         handinger-mcp doctor                  check the key and the API, print a host config\n  \
         handinger-mcp schema                  print the tools' JSON Schemas\n  \
         handinger-mcp --help | --version\n\n\
         INPUT `-` reads the input from stdin. task/follow-up/get wait until the task ends\n\
         unless --wait is given; progress goes to stderr when it is a terminal.\n\n\
         EXIT CODES: 0 done, 1 the task or the API failed, 2 usage error, 3 still running\n\
         (--wait passed; `get TASK_ID` later).\n\n\
         API KEY:\n  HANDINGER_API_KEY (env only, never a flag: flags show in process lists)\n\n{}",
        env!("CARGO_PKG_VERSION"),
        config::settings_help()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Command::parse(&args, |_| None)
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
    fn cli_commands_take_their_arguments_and_settings() {
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
    fn usage_errors_say_what_is_wrong() {
        let cases: &[(&[&str], &str)] = &[
            (&["task"], "`task` takes INPUT; got 0"),
            (&["get", "a", "b"], "`get` takes TASK_ID; got 2"),
            (&["frobnicate"], "unknown command \"frobnicate\""),
            (&["--nope"], "unknown flag --nope"),
            (&["--retries"], "--retries needs a value"),
            (&["--json"], "--json goes with task"),
            (&["get", "t", "--file", "x"], "get takes no --file"),
        ];
        for (args, expected) in cases {
            let err = parse(args).unwrap_err();
            assert!(err.0.contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn help_names_every_command() {
        let help = help_text();
        for word in [
            "task INPUT",
            "follow-up TASK_ID",
            "get TASK_ID",
            "doctor",
            "schema",
            "--lsp",
            "EXIT CODES",
        ] {
            assert!(help.contains(word), "{word}");
        }
    }
}
