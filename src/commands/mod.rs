//! Subcommands: each composes collect → analyze → render for one task and returns what the
//! exit code should say. They hold no logic of their own beyond that composition.

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
    /// Decide colour and width from the flags, NO_COLOR and whether stdout is a terminal;
    /// phase timings from `PORTSCOPE_TIMINGS` (`1`, or any value but empty and `0`).
    #[must_use]
    pub fn detect(global: &'a GlobalArgs) -> Self {
        let stdout_is_terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_is_terminal && !no_color,
        };
        colored::control::set_override(color);
        let width = if stdout_is_terminal {
            terminal_size::terminal_size().map(|(w, _)| usize::from(w.0))
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
