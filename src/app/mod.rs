//! The composition root: the command line in, each part built from its own
//! settings group, one front-end run. The parts never see the command line;
//! main.rs only calls [`main`].

mod settings;
#[cfg(test)]
mod wording_tests;

use std::{io::IsTerminal, process::ExitCode, sync::Arc};

use tokio_util::sync::CancellationToken;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};

pub use settings::{Command, Settings, UsageError, cli_command};

use crate::{
    cli,
    delegation::TaskRunner,
    handinger::Client,
    jsonrpc, lsp,
    mcp::{self, streamable_http::HttpOptions},
    tools,
    workspace::WorkingDirectory,
};

/// The core of a server, ready to run tasks. Nothing here touches the network or
/// the TLS trust roots: the HTTP client is built on the first request.
pub fn runner(settings: &Settings) -> TaskRunner {
    runner_in(settings, WorkingDirectory::Implicit)
}

/// The core of a one-shot command: paths resolve against the folder the command
/// was typed in when no workspace is configured.
pub fn command_runner(settings: &Settings) -> TaskRunner {
    runner_in(settings, WorkingDirectory::Typed)
}

fn runner_in(settings: &Settings, working_directory: WorkingDirectory) -> TaskRunner {
    let mut options = settings.tasks.clone();
    options.working_directory = working_directory;
    TaskRunner::new(Client::new(settings.client.clone()), options)
}

/// The HTTP front-end's options, completed from the other settings. Over HTTP
/// only an explicitly configured workspace serves files: the working directory is
/// never a default there.
pub fn http_options(settings: &Settings, http: HttpOptions) -> HttpOptions {
    HttpOptions {
        max_output_chars: settings.server_max_output_chars(),
        workspace: settings.tasks.workspace.configured(),
        ..http
    }
}

/// The program: parse the command line, run what it asks for.
pub fn main() -> ExitCode {
    let command = match Command::from_env() {
        Ok(command) => command,
        Err(error) => return ExitCode::from(error.report()),
    };
    match command {
        Command::Schema => {
            cli::print(&serde_json::to_string_pretty(&tools::listing()).expect("serializes"));
            ExitCode::SUCCESS
        }
        Command::Completions(shell) => {
            cli::print_completions(&mut cli_command(), shell);
            ExitCode::SUCCESS
        }
        Command::Man { page, out_dir } => cli::man_pages(cli_command(), page.as_deref(), out_dir),
        Command::Serve {
            settings,
            http: Some(http),
            ..
        } => {
            init_logging(&settings.log_level);
            let runner = Arc::new(runner(&settings));
            let options = http_options(&settings, *http);
            raise_open_file_limit(options.max_connections);
            block_on(async move {
                let served =
                    mcp::streamable_http::serve(runner.clone(), options, shutdown_signal()).await;
                runner.flush_history().await;
                match served {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        eprintln!("handinger-mcp: {error}");
                        ExitCode::from(2)
                    }
                }
            })
        }
        Command::Serve { settings, lsp, .. } => block_on(serve_stdio(*settings, lsp)),
        Command::Call {
            settings,
            call,
            output,
            wait,
        } => {
            // Quieter by default: the command itself reports what went wrong.
            init_logging(&settings.log_level.replace("info", "error"));
            let runner = Arc::new(command_runner(&settings));
            let options = cli::CallOptions {
                output,
                wait,
                max_output_chars: settings.max_output_chars,
            };
            block_on(cli::run_call(runner, call, options))
        }
        Command::Doctor(settings) => {
            // The report is the output; log lines would only clutter it.
            init_logging("error");
            let runner = command_runner(&settings);
            let setup = cli::Setup {
                key: settings.tasks.key.clone(),
                base_url: settings.client.base_url.clone(),
                workspace: settings.tasks.workspace.folders(),
            };
            block_on(cli::doctor(setup, runner))
        }
    }
}

/// Run `future` on a small runtime, then leave without waiting for the thread
/// blocked reading stdin or for calls still running (their task ids were reported,
/// and the work goes on on the server).
fn block_on(future: impl Future<Output = ExitCode>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("handinger-mcp: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(future);
    runtime.shutdown_background();
    code
}

/// Serve on stdio: MCP, or the LSP-style protocol when asked or when the
/// client's first bytes are an LSP header.
async fn serve_stdio(settings: Settings, force_lsp: bool) -> ExitCode {
    if std::io::stdin().is_terminal() {
        // Started by hand: say what this is, since it will sit silently otherwise.
        eprintln!(
            "handinger-mcp {}: a server speaking JSON-RPC (MCP, or LSP-style with --lsp) on \
             stdin/stdout, meant to be started by an MCP host or an editor. Run \
             `handinger-mcp --help` for the commands; Ctrl-D quits.",
            env!("CARGO_PKG_VERSION")
        );
    }
    let (input, framing) = match jsonrpc::sniff_framing(tokio::io::stdin()).await {
        Ok(sniffed) => sniffed,
        Err(error) => {
            eprintln!("handinger-mcp: cannot read stdin: {error}");
            return ExitCode::FAILURE;
        }
    };
    let lsp_mode = force_lsp || framing == jsonrpc::Framing::ContentLength;
    // Editors show a server's stderr lines as errors: in LSP mode, warnings and
    // above only, unless a log level was asked for.
    if lsp_mode && !settings.log_level_given {
        init_logging("warn");
    } else {
        init_logging(&settings.log_level);
    }
    if framing == jsonrpc::Framing::Nothing {
        // End of input before any message (Ctrl-D, or a host that gave up): nothing
        // was asked, so nothing failed.
        tracing::info!("stdin closed before any message");
        return ExitCode::SUCCESS;
    }
    let runner = Arc::new(runner(&settings));
    let max_output_chars = settings.server_max_output_chars();
    let max_in_flight = settings.tasks.max_running;
    let stdin_closed = CancellationToken::new();
    let served = async {
        if lsp_mode {
            tracing::info!("serving LSP-style JSON-RPC on stdio");
            let limits = lsp::SessionLimits {
                max_output_chars,
                max_in_flight,
            };
            lsp::serve(runner.clone(), limits, input, tokio::io::stdout()).await
        } else {
            let limits = mcp::StdioLimits {
                max_output_chars,
                max_in_flight,
            };
            let output = tokio::io::stdout();
            mcp::serve_stdio(runner.clone(), limits, input, output, stdin_closed.clone()).await
        }
    };
    let code = tokio::select! {
        code = served => code,
        _ = stdin_closed.cancelled() => {
            tracing::info!("the client closed the connection");
            ExitCode::SUCCESS
        }
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down");
            ExitCode::SUCCESS
        }
    };
    runner.flush_history().await;
    runner.report_unfinished();
    code
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C), with the signal's name.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Logs go to stderr: stdout carries only the protocol. The filter is a level,
/// or `target=level` directives (`info,rmcp=warn`); one that does not parse is
/// reported and `info` is used.
fn init_logging(filter: &str) {
    let targets = filter.parse::<Targets>().unwrap_or_else(|error| {
        eprintln!("handinger-mcp: log filter {filter:?} not understood ({error}); logging at info");
        Targets::new().with_default(tracing::Level::INFO)
    });
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .finish()
        .with(targets)
        .init();
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
