//! Entry point: everything is wired in the composition root.

fn main() -> std::process::ExitCode {
    handinger_mcp::app::main()
}
