//! Entry point: settings in, logs to stderr, one front-end out.

use std::{process::ExitCode, sync::Arc};

use handinger_mcp::{
    cli,
    config::{self, Command, Config},
    mcp::HandingerServer,
    stdio::EofSignal,
    tasks::TaskRunner,
};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let command = match Command::from_env() {
        Ok(command) => command,
        Err(error) => {
            eprintln!("handinger-mcp: {error}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => cli::print(&config::help_text()),
        Command::Version => cli::print(concat!("handinger-mcp ", env!("CARGO_PKG_VERSION"))),
        Command::Schema => cli::print(
            &serde_json::to_string_pretty(&cli::tool_schemas()).expect("schemas serialize"),
        ),
        Command::Serve(config) => return serve(*config),
    }
    ExitCode::SUCCESS
}

fn serve(config: Config) -> ExitCode {
    init_logging(&config.log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve_mcp(config));
    // Do not wait for the thread blocked reading stdin, nor for calls still running:
    // their task ids were reported, and the work goes on on the server.
    runtime.shutdown_background();
    code
}

async fn serve_mcp(config: Config) -> ExitCode {
    let runner = match TaskRunner::new(&config) {
        Ok(runner) => Arc::new(runner),
        Err(error) => {
            tracing::error!(%error, "cannot build the HTTP client");
            return ExitCode::FAILURE;
        }
    };
    let server = HandingerServer::new(runner.clone(), config.max_output_chars);
    let stdin_closed = CancellationToken::new();
    let stdin = EofSignal::new(tokio::io::stdin(), stdin_closed.clone());
    let service = match server.serve((stdin, tokio::io::stdout())).await {
        Ok(service) => service,
        Err(error) => {
            tracing::error!(%error, "MCP session failed to start");
            return ExitCode::FAILURE;
        }
    };
    let code = tokio::select! {
        ended = service.waiting() => match ended {
            Ok(reason) => {
                tracing::info!(?reason, "MCP session ended");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(%error, "MCP session crashed");
                ExitCode::FAILURE
            }
        },
        _ = stdin_closed.cancelled() => {
            tracing::info!("stdin closed");
            ExitCode::SUCCESS
        }
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down");
            ExitCode::SUCCESS
        }
    };
    report_unfinished(&runner);
    code
}

/// Name the tasks still running, so nobody has to guess what to look up later.
fn report_unfinished(runner: &TaskRunner) {
    for task_id in runner.running_task_ids() {
        tracing::warn!(
            task_id,
            "exiting while this task still runs on Handinger; get_task finds its result later"
        );
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

/// Logs go to stderr: stdout carries only the protocol.
fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
