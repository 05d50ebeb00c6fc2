//! Subcommands: each composes collect → analyze → render for one task and returns what the
//! exit code should say. They hold no logic of their own beyond that composition.

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};

use crate::cli::{ColorChoice, GlobalArgs};
use crate::collect::Phases;
use crate::model::PidNamespace;
use crate::render::Style;

pub mod audit;
pub mod kill;
pub mod list;
pub mod who;

/// What a command found, mapped to the exit code by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Something matched (exit 0).
    Found,
    /// Nothing matched (exit 1).
    NotFound,
    /// `audit --fail-on`: an unsuppressed finding is at or above the threshold (exit 1).
    Failed,
    /// The command refused to act and said why on stderr (exit 2).
    Refused,
}

/// Everything a command needs from the environment, decided once (ripgrep's "high-level args").
#[derive(Debug)]
pub struct Env<'a> {
    /// Options every subcommand takes.
    pub global: &'a GlobalArgs,
    /// Rendering style for stdout.
    pub style: Style,
    /// stdout is a terminal (prompts, colour).
    pub stdout_is_terminal: bool,
    /// Print phase durations on stderr (`PORTSCOPE_TIMINGS=1`), for docs/performance.md.
    pub timings: bool,
}

impl<'a> Env<'a> {
    /// Decide colour ([`use_color`]) and width from the flags, `NO_COLOR`, `TERM` and whether
    /// stdout is a terminal; phase timings from `PORTSCOPE_TIMINGS` (`1`, or any value but
    /// empty and `0`).
    #[must_use]
    pub fn detect(global: &'a GlobalArgs) -> Self {
        let stdout_is_terminal = std::io::stdout().is_terminal();
        let color = use_color(
            global.color,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
            stdout_is_terminal,
        );
        colored::control::set_override(color);
        let width = if stdout_is_terminal {
            // A terminal that reports 0 columns (no size set) is not fitted to.
            terminal_size::terminal_size()
                .map(|(w, _)| usize::from(w.0))
                .filter(|&w| w > 0)
        } else {
            None
        };
        let timings =
            std::env::var_os("PORTSCOPE_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0");
        Env {
            global,
            style: Style { color, width },
            stdout_is_terminal,
            timings,
        }
    }
}

/// Whether stdout gets colour. `--color always` and `--color never` decide alone; `auto`
/// colours a terminal unless `NO_COLOR` is set to a non-empty value (no-color.org) or `TERM` is
/// `dumb` (a terminal that cannot show escape sequences: Emacs shells, some CI consoles).
#[must_use]
pub fn use_color(
    choice: ColorChoice,
    no_color: Option<&OsStr>,
    term: Option<&OsStr>,
    stdout_is_terminal: bool,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = no_color.is_some_and(|v| !v.is_empty());
            let dumb = term.is_some_and(|t| t == "dumb");
            stdout_is_terminal && !no_color && !dumb
        }
    }
}

/// Print phase durations on stderr, one `portscope: timing: NAME MS ms` line each.
///
/// # Errors
/// When stderr cannot be written.
pub fn print_timings(err: &mut dyn Write, phases: &Phases) -> std::io::Result<()> {
    for (name, took) in &phases.0 {
        writeln!(
            err,
            "portscope: timing: {name} {:.2} ms",
            took.as_secs_f64() * 1000.0
        )?;
    }
    Ok(())
}

/// Print warnings on stderr, one line each, sanitized: they quote paths and file contents.
///
/// # Errors
/// When stderr cannot be written.
pub fn print_warnings(err: &mut dyn Write, warnings: &[String]) -> std::io::Result<()> {
    for w in warnings {
        writeln!(err, "portscope: warning: {}", crate::render::sanitize(w))?;
    }
    Ok(())
}

/// Say on stderr, in one line, that the pids shown are another PID namespace's (`--proc-root`);
/// nothing when `ns` is `None` (portscope's own).
///
/// # Errors
/// When stderr cannot be written.
pub fn print_pid_namespace(err: &mut dyn Write, ns: Option<&PidNamespace>) -> std::io::Result<()> {
    match ns {
        Some(ns) => writeln!(
            err,
            "portscope: note: {}",
            crate::render::sanitize(&ns.to_string())
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_decision() {
        use ColorChoice::{Always, Auto, Never};
        let (set, empty) = (Some(OsStr::new("1")), Some(OsStr::new("")));
        let (xterm, dumb) = (Some(OsStr::new("xterm-256color")), Some(OsStr::new("dumb")));
        // (flag, NO_COLOR, TERM, stdout is a terminal) → colour
        let cases = [
            (Auto, None, xterm, true, true),
            (Auto, None, None, true, true),
            (Auto, None, xterm, false, false),
            (Auto, set, xterm, true, false),
            (Auto, empty, xterm, true, true),
            (Auto, None, dumb, true, false),
            (Auto, None, Some(OsStr::new("dumb-not")), true, true),
            (Always, set, dumb, false, true),
            (Always, None, dumb, true, true),
            (Never, None, xterm, true, false),
        ];
        for (flag, no_color, term, tty, want) in cases {
            assert_eq!(
                use_color(flag, no_color, term, tty),
                want,
                "{flag:?} NO_COLOR={no_color:?} TERM={term:?} terminal={tty}"
            );
        }
    }
}
