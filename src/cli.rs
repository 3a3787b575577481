//! The command-line front-end (the tools' verbs, `doctor`, `schema`) and
//! the only place outside the protocol writers that prints to stdout.

use std::{io::IsTerminal, process::ExitCode, sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{
    delegation::{
        CallOutcome, KeyCheck, NO_DEADLINE, Progress, Setting, TaskError, TaskFailure, TaskRunner,
    },
    key::KeySource,
    render::render_call,
    tools::{self, ToolCall, ToolSpec, Wording},
};

/// How a tool verb prints (each verb takes these flags).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct CallOutput {
    /// Print the structured result (or error) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a tool verb needs besides the call.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    pub output: CallOutput,
    /// `--wait` as given on the command line; without it the command waits until
    /// the task ends.
    pub wait: Option<Duration>,
    /// `--max-output-chars`, if given: shell output is not cut otherwise.
    pub max_output_chars: Option<usize>,
}

/// What `doctor` reports on besides the API's answer.
#[derive(Debug, Clone)]
pub struct Setup {
    pub key: KeySource,
    pub base_url: url::Url,
    /// The configured workspace folders.
    pub workspace: Vec<std::path::PathBuf>,
}

/// Exit codes of the one-shot commands.
pub mod exit {
    pub const DONE: u8 = 0;
    pub const FAILED: u8 = 1;
    /// A usage error, or an argument the call refused (an empty input, a taskId
    /// that is not an id): nothing was sent.
    pub const USAGE: u8 = 2;
    pub const STILL_RUNNING: u8 = 3;
    /// A file was refused (outside the workspace, missing, too large...): nothing
    /// was sent.
    pub const FILE_REFUSED: u8 = 4;
    /// The task answered, but its structured output does not follow the output
    /// schema (the answer is printed all the same).
    pub const SHAPE_MISMATCH: u8 = 5;
}

/// Set once stdout is found closed: nothing more is written to it.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Print `text` to stdout for a person or a script. When stdout is closed (the
/// reader went away, as with `| head -1`), the rest is dropped quietly and the
/// command ends with the exit code of its outcome, never another; any other
/// write error is reported and ends the process.
pub fn print(text: &str) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
        Err(error) => {
            eprintln!("handinger-mcp: cannot write to stdout: {error}");
            std::process::exit(i32::from(exit::FAILED))
        }
    }
}

/// The `mcpServers` entry for this setup: the binary's absolute path, the
/// configured workspace folders, and the base URL when it is not the default.
fn host_snippet(setup: &Setup, launch: Launch) -> Value {
    let (command, mut args) = match launch {
        Launch::Binary => {
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "handinger-mcp".to_owned());
            (exe, Vec::new())
        }
        Launch::Npx => (
            "npx".to_owned(),
            vec!["-y".to_owned(), "handinger-mcp".to_owned()],
        ),
    };
    for folder in &setup.workspace {
        let folder = folder.canonicalize().unwrap_or_else(|_| folder.clone());
        args.push("--workspace".to_owned());
        args.push(folder.display().to_string());
    }
    let mut env = serde_json::Map::new();
    env.insert("HANDINGER_API_KEY".into(), json!("hdg_live_..."));
    let mut base_url = setup.base_url.clone();
    let _ = base_url.set_username("");
    let _ = base_url.set_password(None);
    if base_url.as_str() != DEFAULT_BASE_URL {
        env.insert("HANDINGER_BASE_URL".into(), json!(base_url.as_str()));
    }
    json!({"mcpServers": {"handinger": {"command": command, "args": args, "env": env}}})
}

/// Whether this binary runs from an npm install or npx's cache (a folder named
/// `node_modules` or `_npx` on its path).
fn started_by_npm() -> bool {
    std::env::current_exe().is_ok_and(|exe| {
        exe.components()
            .any(|part| matches!(part.as_os_str().to_str(), Some("node_modules" | "_npx")))
    })
}

/// How a host starts the server: this binary by its absolute path, or the npm
/// package through npx (no install beyond Node).
#[derive(Clone, Copy)]
enum Launch {
    Binary,
    Npx,
}

/// The base URL every snippet can leave out.
const DEFAULT_BASE_URL: &str = "https://handinger.com/";

/// A completion script for `shell`, from the same definition as the parser.
pub fn print_completions(command: &mut clap::Command, shell: clap_complete::Shell) {
    let mut out = Vec::new();
    clap_complete::generate(shell, command, "handinger-mcp", &mut out);
    let script = String::from_utf8_lossy(&out);
    let script = match shell {
        clap_complete::Shell::Bash => bash_subcommand_arms(&script),
        _ => script.into_owned(),
    };
    print(script.trim_end());
}

/// clap_complete's bash script names its subcommand arms from the binary's name
/// with the hyphen escaped like a subcommand separator
/// (`handinger__subcmd__mcp__subcmd__task`), while its word loop sets
/// `handinger__mcp__subcmd__task`: no arm ever matched, so no subcommand's options
/// completed. The arms get the name the loop sets.
fn bash_subcommand_arms(script: &str) -> String {
    script.replace(
        "handinger__subcmd__mcp__subcmd__",
        "handinger__mcp__subcmd__",
    )
}

/// `man`: the command's page, one subcommand's (`man task`), or every page
/// written into a folder (`man --out-dir DIR`), from the parser's definition.
pub fn man_pages(
    command: clap::Command,
    page: Option<&str>,
    out_dir: Option<std::path::PathBuf>,
) -> ExitCode {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    if let Some(dir) = out_dir {
        return match clap_mangen::generate_to(command, &dir) {
            Ok(()) => {
                print(&format!("man pages written to {}", dir.display()));
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!(
                    "handinger-mcp: cannot write the man pages to {}: {error}",
                    dir.display()
                );
                ExitCode::from(exit::FAILED)
            }
        };
    }
    let page = match page {
        None => command,
        Some(name) => match command.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = command.get_subcommands().map(|s| s.get_name()).collect();
                eprintln!(
                    "error: no man page for {name:?}; the commands are: {}",
                    names.join(", ")
                );
                return ExitCode::from(exit::USAGE);
            }
        },
    };
    let mut out = Vec::new();
    if let Err(error) = clap_mangen::Man::new(page).render(&mut out) {
        eprintln!("handinger-mcp: cannot render the man page: {error}");
        return ExitCode::from(exit::FAILED);
    }
    print(String::from_utf8_lossy(&out).trim_end());
    ExitCode::SUCCESS
}

/// Progress on stderr, one rewritten line, when stderr is a terminal.
struct TerminalProgress {
    enabled: bool,
}

impl Progress for TerminalProgress {
    fn shown(&self) -> bool {
        self.enabled
    }

    async fn report(&mut self, _: Duration, message: String) {
        if self.enabled {
            eprint!("\r\x1b[2K{message}");
        }
    }
}

/// Run a tool verb on `runner` and print the result.
pub async fn run_call(runner: Arc<TaskRunner>, call: ToolCall, options: CallOptions) -> ExitCode {
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let wait = options.wait.unwrap_or(NO_DEADLINE);
    let mut progress = TerminalProgress {
        enabled: std::io::stderr().is_terminal(),
    };
    // The same dispatch as MCP and the LSP-style mode: the table's handler.
    let outcome = call
        .run(&runner, None, Some(wait), &cancel, &mut progress)
        .await;
    if progress.enabled {
        eprint!("\r\x1b[2K");
    }
    runner.flush_history().await;
    // Shell output is not cut unless asked: the cap is for models' context windows.
    let max_output_chars = options.max_output_chars.unwrap_or(usize::MAX);
    report(outcome, options.output.json, max_output_chars)
}

/// Next steps as shell lines; the key exported in the shell.
pub struct CliWording;

impl Wording for CliWording {
    fn invoke(&self, tool: &ToolSpec, task_id: &str) -> String {
        shell_line(tool, Some(task_id))
    }

    fn start_new(&self, tool: &ToolSpec) -> String {
        shell_line(tool, None)
    }

    fn key_place(&self) -> &'static str {
        "Export it in your shell (export HANDINGER_API_KEY=...), then run the command again."
    }

    fn setting(&self, setting: Setting) -> String {
        let (flag, variable) = tools::setting_names(setting);
        format!("The setting is {flag} (or {variable} in your shell).")
    }
}

/// `run \`handinger-mcp VERB ...\``: the verb's positional arguments by name,
/// with `task_id` in place of TASK_ID.
fn shell_line(tool: &ToolSpec, task_id: Option<&str>) -> String {
    let mut words = vec!["handinger-mcp".to_owned(), tool.cli_verb.to_owned()];
    for name in tool.cli_positionals() {
        match task_id {
            Some(id) if name == "TASK_ID" => words.push(id.to_owned()),
            _ => words.push(name),
        }
    }
    format!("run `{}`", words.join(" "))
}

/// Print an outcome and choose the exit code.
fn report(
    outcome: Result<CallOutcome, TaskError>,
    json: bool,
    max_output_chars: usize,
) -> ExitCode {
    match outcome {
        Ok(outcome) => {
            let rendered = render_call(&outcome, max_output_chars, &|step| CliWording.word(step));
            if json {
                print(&serde_json::to_string_pretty(&rendered.structured).expect("serializes"));
            } else {
                print(&rendered.text);
            }
            ExitCode::from(match &outcome {
                CallOutcome::Running(_) => exit::STILL_RUNNING,
                CallOutcome::Finished(finished) if finished.off_schema() => exit::SHAPE_MISMATCH,
                _ => exit::DONE,
            })
        }
        Err(error) => {
            let message = CliWording.describe(&error);
            if json {
                // A taskId only where the request may have reached the API: then it
                // names work that can be looked up; otherwise nothing exists.
                let task_id = error
                    .may_have_run()
                    .then_some(error.task_id.as_deref())
                    .flatten();
                let body = json!({"error": message, "taskId": task_id});
                print(&serde_json::to_string_pretty(&body).expect("serializes"));
            }
            eprintln!("handinger-mcp: {message}");
            ExitCode::from(match error.failure {
                TaskFailure::Cancelled => exit::STILL_RUNNING,
                TaskFailure::Attach(_) => exit::FILE_REFUSED,
                TaskFailure::InvalidArgument { .. } | TaskFailure::OverBudget { .. } => exit::USAGE,
                _ => exit::FAILED,
            })
        }
    }
}

/// Check the key, reach the API through `runner`, verify auth, and print what a
/// host should run.
pub async fn doctor(setup: Setup, runner: TaskRunner) -> ExitCode {
    let mut ok = true;
    let mut line = |good: bool, text: String| {
        ok &= good;
        print(&format!("{} {text}", if good { "ok  " } else { "FAIL" }));
    };
    let source = if setup.key.env_value.is_some() {
        "HANDINGER_API_KEY".to_owned()
    } else if let Some(file) = &setup.key.file {
        format!("the key file {}", file.display())
    } else {
        "nowhere".to_owned()
    };
    let base_url = runner.api_base_url();
    match runner.check_key().await {
        Ok(check) => {
            let shape = setup
                .key
                .resolve()
                .is_ok_and(|key| key.expose().starts_with("hdg_"));
            line(
                true,
                format!(
                    "API key found in {source}{}",
                    if shape {
                        ""
                    } else {
                        " (it does not start with hdg_: check it)"
                    }
                ),
            );
            match check {
                KeyCheck::Accepted => {
                    line(true, format!("reached {base_url} and the key was accepted"));
                }
                KeyCheck::NotTheApi => line(
                    false,
                    format!(
                        "reached {base_url}, but the answer is not the Handinger API's \
                         (a 404 without its {{\"error\": ...}} JSON): check the base URL \
                         setting (HANDINGER_BASE_URL)"
                    ),
                ),
                KeyCheck::Refused { status, message } => line(
                    false,
                    format!(
                        "reached {base_url} but the key was refused (HTTP {status}: \
                         {message})"
                    ),
                ),
                KeyCheck::Failed { message, advice } => match advice {
                    Some(advice) => line(false, format!("{message}. {advice}")),
                    None => line(false, message),
                },
            }
        }
        Err(problem) => line(false, problem.to_string()),
    }
    if let Some(credits) = runner.current_credit_use().await {
        line(
            credits.spent < credits.limit,
            format!(
                "credits spent by tasks started here with this key in the last 24 h: {} of {} \
                 (--max-credits)",
                credits.spent, credits.limit
            ),
        );
    }
    let snippet = |launch| serde_json::to_string_pretty(&host_snippet(&setup, launch));
    if started_by_npm() {
        // The binary's path is inside node_modules or npx's cache, which an
        // update replaces: a host should run the package, not that path.
        print(&format!(
            "\nA host should run (Claude Desktop, Cursor, Windsurf and others take this form; \
             this copy was started through npm, whose paths change with updates):\n{}",
            snippet(Launch::Npx).expect("serializes")
        ));
    } else {
        print(&format!(
            "\nA host should run (Claude Desktop, Cursor, Windsurf and others take this form):\n\
             {}\nOr, with npx once the npm package is published (from the first release; needs \
             Node 18 or newer):\n{}",
            snippet(Launch::Binary).expect("serializes"),
            snippet(Launch::Npx).expect("serializes")
        ));
    }
    if setup.workspace.is_empty() {
        print(
            "Desktop hosts start servers in / or your home folder: if yours sends no MCP roots, \
             add \"--workspace\", \"/path/to/project\" to args so files resolve there.",
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILED)
    }
}
