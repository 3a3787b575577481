//! Entry point: everything is wired in the library's composition root.

fn main() -> std::process::ExitCode {
    handinger_mcp::run()
}
