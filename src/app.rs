//! The program's entry point (`portscope::run`, called by the binary): parse arguments, pick
//! the platform (`--proc-root` decides where processes are read), run one command, map the
//! result to an exit code.
//! Exit codes: 0 found (audit: passed), 1 nothing found (audit: a finding at or above
//! `--fail-on`), 2 error. A closed stdout pipe is not an error: the exit code stays the
//! command's own. Every message this file prints goes through [`for_terminal`]: errors quote
//! file names and file contents, which must not reach a terminal as escape sequences.

use std::io::{self, Write};
use std::process::ExitCode;

use crate::cli::Cli;
use crate::collect;
use crate::commands::{self, Env, Outcome};
use crate::render::{self, sanitize};
use anyhow::Context;
use clap::error::ErrorKind;

/// Run portscope with the process's arguments and return its exit code.
#[must_use]
pub fn run() -> ExitCode {
    let cli = match Cli::parse_checked() {
        Ok(cli) => cli,
        Err(err) => return clap_exit(&err),
    };
    let netns = cli.global.netns_selection(cli.command.as_ref());
    let platform = match collect::native(
        cli.global.proc_root.clone(),
        cli.global.backend,
        netns.clone(),
        cli.global.owner_scan,
    ) {
        Ok(platform) => platform,
        Err(e) => {
            let _ = writeln!(
                io::stderr(),
                "portscope: error: {}",
                for_terminal(&e.to_string())
            );
            return ExitCode::from(2);
        }
    };
    let env = Env::detect(&cli.global, platform, netns);
    // Buffered: stdout alone is line-buffered, one `write` per line (docs/performance.md).
    let mut out = render::buffered(io::stdout().lock());
    let mut err = io::stderr();
    let result = match collect::unsupported_owner_scan(cli.global.backend, cli.global.owner_scan) {
        Some(unsupported) => Err(unsupported.into()),
        None => commands::run(&cli, &env, &mut out, &mut err),
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
            let _ = writeln!(err, "portscope: error: {}", for_terminal(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Longest message printed: a quoted value or path cannot make an error line unbounded.
const MESSAGE_MAX: usize = 8192;

/// A message made safe for a terminal: control characters and bidirectional overrides shown
/// escaped (`\x1b`), newlines included, so it stays one line; cut at [`MESSAGE_MAX`] bytes.
fn for_terminal(message: &str) -> String {
    let mut text = sanitize(message).into_owned();
    if text.len() > MESSAGE_MAX {
        let mut end = MESSAGE_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Help and version go to stdout with exit 0 (2 when they cannot be written, e.g. a full disk;
/// a closed pipe is not an error); usage errors are one line on stderr, exit 2.
fn clap_exit(err: &clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            match err.print().and_then(|()| io::stdout().flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    let what = if err.kind() == ErrorKind::DisplayHelp {
                        "the help"
                    } else {
                        "the version"
                    };
                    let _ = writeln!(
                        io::stderr(),
                        "portscope: error: cannot write {what} to stdout: {}",
                        for_terminal(&e.to_string())
                    );
                    ExitCode::from(2)
                }
            }
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::from(2)
        }
        _ => {
            let text = unstripped(err);
            let mut lines = text.lines();
            let mut first = lines.next().unwrap_or("invalid arguments").to_string();
            if err.kind() == ErrorKind::MissingRequiredArgument {
                // clap names the missing argument on the next line.
                if let Some(arg) = lines.next() {
                    first = format!("{first} {}", arg.trim());
                }
            }
            if err.kind() == ErrorKind::InvalidValue {
                // And the values there are (`--format csv` of `who`: table, json).
                if let Some(values) = lines.next().map(str::trim).filter(|l| l.starts_with('[')) {
                    first = format!("{first} {values}");
                }
            }
            let first = first.as_str();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let _ = writeln!(
                io::stderr(),
                "portscope: error: {} (see --help)",
                for_terminal(first)
            );
            ExitCode::from(2)
        }
    }
}

/// The usage error's text with the user's input as typed. clap's plain rendering strips
/// escape sequences, the user's own with its styling, so `check $'\e[31m80'` would print
/// `'80'`; the same arguments parsed again with plain styles render the input unchanged
/// (escaped by [`for_terminal`] afterwards), with no styling of clap's own to remove.
fn unstripped(err: &clap::Error) -> String {
    use clap::CommandFactory;
    let plain = Cli::command()
        .styles(clap::builder::Styles::plain())
        .try_get_matches_from(std::env::args_os())
        .err()
        .filter(|e| e.kind() == err.kind());
    match plain {
        Some(e) => e.render().ansi().to_string(),
        None => err.render().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_escaped_and_bounded() {
        assert_eq!(
            for_terminal("allowlist a\x1b[2J.toml: line 1\nnext\u{9b}"),
            "allowlist a\\x1b[2J.toml: line 1\\nnext\\x9b"
        );
        assert_eq!(for_terminal("plain"), "plain");
        let long = for_terminal(&"é".repeat(MESSAGE_MAX));
        assert!(long.len() <= MESSAGE_MAX + "…".len(), "{}", long.len());
        assert!(long.ends_with("é…"));
    }
}
