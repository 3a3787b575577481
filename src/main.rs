//! Entry point: settings in, logs to stderr, one front-end out.

use std::{io::IsTerminal, process::ExitCode, sync::Arc};

use handinger_mcp::{
    app, cli,
    config::{Command, Config, SERVER_MAX_OUTPUT_CHARS},
    lsp,
    mcp::{self, HandingerServer, transport::LineTransport},
    tasks::TaskRunner,
};
use rmcp::ServiceExt;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};

fn main() -> ExitCode {
    let command = match Command::from_env() {
        Ok(command) => command,
        Err(error) => return ExitCode::from(error.report()),
    };
    match command {
        Command::Schema => cli::print(
            &serde_json::to_string_pretty(&cli::tool_schemas()).expect("schemas serialize"),
        ),
        Command::Completions(shell) => cli::print_completions(shell),
        Command::Man { page, out_dir } => return cli::man_pages(page.as_deref(), out_dir),
        Command::Serve {
            config,
            http: Some(http),
            ..
        } => {
            init_logging(&config.log_filter);
            let runner = Arc::new(app::runner(&config));
            let options = app::http_options(&config, &http);
            app::raise_open_file_limit(options.max_connections);
            return block_on(async move {
                match mcp::streamable_http::serve(runner, options, shutdown_signal()).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        eprintln!("handinger-mcp: {error}");
                        ExitCode::from(2)
                    }
                }
            });
        }
        Command::Serve { config, lsp, .. } => {
            // Logging starts once the protocol is known (see `serve`).
            return block_on(serve(*config, lsp));
        }
        Command::Call(call) => {
            // Quieter by default: the command itself reports what went wrong.
            init_logging(&call.config.log_filter.replace("info", "error"));
            let call = match cli::resolve_input(call) {
                Ok(call) => call,
                Err(code) => return code,
            };
            let runner = Arc::new(app::command_runner(&call.config));
            return block_on(cli::run_call(runner, call));
        }
        Command::Doctor(config) => {
            // The report is the output; log lines would only clutter it.
            init_logging("error");
            let runner = app::command_runner(&config);
            return block_on(cli::doctor(*config, runner));
        }
    }
    ExitCode::SUCCESS
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

async fn serve(config: Config, force_lsp: bool) -> ExitCode {
    let stdin_closed = CancellationToken::new();
    if std::io::stdin().is_terminal() {
        // Started by hand: say what this is, since it will sit silently otherwise.
        eprintln!(
            "handinger-mcp {}: a server speaking JSON-RPC (MCP, or LSP-style with --lsp) on \
             stdin/stdout, meant to be started by an MCP host or an editor. Run \
             `handinger-mcp --help` for the commands; Ctrl-D quits.",
            env!("CARGO_PKG_VERSION")
        );
    }
    let (first, detected_lsp, stdin) = match read_first_bytes(tokio::io::stdin()).await {
        Ok(read) => read,
        Err(error) => {
            eprintln!("handinger-mcp: cannot read stdin: {error}");
            return ExitCode::FAILURE;
        }
    };
    let lsp_mode = force_lsp || detected_lsp;
    // Editors show a server's stderr lines as errors: in LSP mode, warnings and
    // above only, unless a log level was asked for.
    if lsp_mode && !config.log_filter_given {
        init_logging("warn");
    } else {
        init_logging(&config.log_filter);
    }
    if first.is_empty() {
        // End of input before any message (Ctrl-D, or a host that gave up): nothing
        // was asked, so nothing failed.
        tracing::info!("stdin closed before any message");
        return ExitCode::SUCCESS;
    }
    let runner = Arc::new(app::runner(&config));
    let input = std::io::Cursor::new(first).chain(stdin);
    let served = async {
        if lsp_mode {
            tracing::info!("serving LSP-style JSON-RPC on stdio");
            let limits = lsp::SessionLimits {
                max_output_chars: config.max_output_chars.unwrap_or(SERVER_MAX_OUTPUT_CHARS),
                max_in_flight: config.max_in_flight,
            };
            // lsp::serve ends by itself at end of input, once the answers to
            // what was already read are written (at most 2 s for commands that
            // wait on the API).
            lsp::serve(runner.clone(), limits, input, tokio::io::stdout()).await
        } else {
            let transport = LineTransport::new(
                input,
                tokio::io::stdout(),
                config.max_in_flight,
                stdin_closed.clone(),
            );
            serve_mcp(runner.clone(), &config, transport).await
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
    runner.report_unfinished();
    code
}

/// Read until the first bytes tell LSP framing from MCP's JSON lines, however the
/// client splits its first write; the bytes read, whether they are LSP, and the
/// rest of stdin. Nothing read (end of input) is MCP with no bytes.
async fn read_first_bytes<R: AsyncRead + Unpin>(
    mut stdin: R,
) -> std::io::Result<(Vec<u8>, bool, R)> {
    let mut first = Vec::new();
    let mut chunk = [0u8; 64];
    loop {
        let read = stdin.read(&mut chunk).await?;
        first.extend_from_slice(&chunk[..read]);
        match looks_like_lsp(&first) {
            Some(lsp) => return Ok((first, lsp, stdin)),
            None if read == 0 || first.len() >= 4096 => return Ok((first, false, stdin)),
            None => {}
        }
    }
}

/// LSP messages start with a `Content-Length` (or `Content-Type`) header; MCP's
/// with a JSON value. `None` while the bytes so far could be either.
fn looks_like_lsp(first: &[u8]) -> Option<bool> {
    const LSP: &[u8] = b"content-";
    let start = first.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = first[start..].to_ascii_lowercase();
    let shown = head.len().min(LSP.len());
    if head[..shown] != LSP[..shown] {
        return Some(false);
    }
    (shown == LSP.len()).then_some(true)
}

async fn serve_mcp<R: AsyncRead + Send + Unpin + 'static>(
    runner: Arc<TaskRunner>,
    config: &Config,
    transport: LineTransport<R>,
) -> ExitCode {
    let max_output_chars = config.max_output_chars.unwrap_or(SERVER_MAX_OUTPUT_CHARS);
    let server = HandingerServer::new(runner, max_output_chars);
    let service = match server.serve(transport).await {
        Ok(service) => service,
        Err(error) => {
            tracing::error!(%error, "MCP session failed to start");
            return ExitCode::FAILURE;
        }
    };
    match service.waiting().await {
        Ok(reason) => {
            tracing::info!(?reason, "MCP session ended");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "MCP session crashed");
            ExitCode::FAILURE
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_is_told_from_any_split_of_the_first_bytes() {
        let lsp = b"  Content-Length: 52\r\n\r\n{}";
        for cut in 0..lsp.len() {
            let decided = looks_like_lsp(&lsp[..cut]);
            assert!(
                decided.is_none() || decided == Some(true),
                "{cut}: {decided:?}"
            );
        }
        assert_eq!(looks_like_lsp(b"content-type: x"), Some(true));
        assert_eq!(looks_like_lsp(b"{\"jsonrpc\""), Some(false));
        assert_eq!(looks_like_lsp(b" \n{"), Some(false));
        assert_eq!(looks_like_lsp(b"Cont"), None);
        assert_eq!(looks_like_lsp(b"Conx"), Some(false));
        assert_eq!(looks_like_lsp(b""), None);
    }

    #[tokio::test]
    async fn a_first_message_in_tiny_pieces_is_still_detected() {
        let (client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut client = client;
            for byte in b"Content-Length: 2\r\n\r\n{}" {
                client.write_all(&[*byte]).await.unwrap();
                tokio::task::yield_now().await;
            }
            client
        });
        let (_, lsp, _) = read_first_bytes(&mut server).await.unwrap();
        assert!(lsp);
        drop(writer.await.unwrap());
    }
}
