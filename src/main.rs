//! The `portscope` binary: everything happens in the library ([`portscope::run`]), so tests
//! reach the same code; this only hands over the exit code.

fn main() -> std::process::ExitCode {
    portscope::run()
}
