//! The `portscope` binary: parse arguments, run one command, map the result to an exit code.
//! Exit codes: 0 found (audit: passed), 1 nothing found (audit: a finding at or above
//! `--fail-on`), 2 error. A closed stdout pipe is not an error: the exit code stays the
//! command's own.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::error::ErrorKind;
use portscope::cli::{Cli, Command};
use portscope::commands::{self, Env, Outcome};
use portscope::render;

fn main() -> ExitCode {
    let cli = match Cli::parse_checked() {
        Ok(cli) => cli,
        Err(err) => return clap_exit(&err),
    };
    let env = Env::detect(&cli.global);
    // Buffered: stdout alone is line-buffered, one `write` per line (docs/performance.md).
    let mut out = render::buffered(io::stdout().lock());
    let mut err = io::stderr();
    let result = match &cli.command {
        None => commands::list::run(&cli.list, &env, &mut out, &mut err),
        Some(Command::List(args)) => commands::list::run(args, &env, &mut out, &mut err),
        Some(Command::Audit(args)) => commands::audit::run(args, &env, &mut out, &mut err),
        Some(Command::Who(args)) => commands::who::run(args, &env, &mut out, &mut err),
        Some(Command::Kill(args)) => commands::kill::run(args, &env, &mut out, &mut err),
    };
    // Commands flush their output; this also covers an error path that left some behind. A
    // closed pipe is swallowed by `ClosedPipeOk`; any other write failure is an error.
    let flushed = out.flush();
    let result =
        result.and_then(|outcome| flushed.map(|()| outcome).context("cannot write output"));
    match result {
        Ok(Outcome::Found) => ExitCode::SUCCESS,
        Ok(Outcome::NotFound | Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Refused) => ExitCode::from(2),
        Err(e) => {
            let _ = writeln!(err, "portscope: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Help and version go to stdout with exit 0; usage errors are one line on stderr, exit 2.
fn clap_exit(err: &clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let text = err.render().to_string();
            let mut lines = text.lines();
            let mut first = lines.next().unwrap_or("invalid arguments").to_string();
            if err.kind() == ErrorKind::MissingRequiredArgument {
                // clap names the missing argument on the next line.
                if let Some(arg) = lines.next() {
                    first = format!("{first} {}", arg.trim());
                }
            }
            let first = first.as_str();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let _ = writeln!(io::stderr(), "portscope: error: {first} (see --help)");
            ExitCode::from(2)
        }
    }
}
