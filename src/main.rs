//! Entry point: settings in, logs to stderr, one front-end out.

use std::process::ExitCode;

use handinger_mcp::{
    cli,
    config::{self, Command, Config},
    mcp::HandingerServer,
    tasks::TaskRunner,
};
use rmcp::ServiceExt;
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
    runtime.block_on(async {
        let runner = match TaskRunner::new(&config) {
            Ok(runner) => runner,
            Err(error) => {
                tracing::error!(%error, "cannot build the HTTP client");
                return ExitCode::FAILURE;
            }
        };
        let server = HandingerServer::new(runner, config.max_output_chars);
        let service = match server.serve(rmcp::transport::stdio()).await {
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
    })
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
