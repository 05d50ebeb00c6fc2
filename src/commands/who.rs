//! `portscope who PORT[/tcp|/udp]`: every socket on one local port in any state, its owners in
//! detail, a bind probe and advice. Composes collect → analyze → render: the investigation of
//! the port (`commands::investigate`, with the bind probe unless `--no-probe`), then the report.

use std::io::Write;

use anyhow::Result;

use crate::cli::WhoArgs;
use crate::commands::investigate::{Probe, investigate};
use crate::commands::{Env, Outcome, print_pid_namespace, print_warnings, report_format};
use crate::render::ReportFormat;
use crate::render::investigation::{WhoDocument, write_report};

/// Run `portscope who`.
///
/// # Errors
/// When the socket table cannot be read or output cannot be written.
pub fn run(args: &WhoArgs, env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> Result<Outcome> {
    // The probe binds in portscope's own namespace: it says nothing about another one's ports.
    let probe = if args.no_probe || env.netns.is_other() {
        Probe::Skip
    } else {
        Probe::Bind
    };
    let found = investigate(env, args.port, probe)?;
    print_warnings(err, &found.warnings)?;
    match report_format(args.format(), "who")? {
        ReportFormat::Json => {
            // The human report says it under its heading.
            print_pid_namespace(err, found.shown_namespace())?;
            crate::render::json::write(out, &WhoDocument::of(&found))?;
        }
        ReportFormat::Table => write_report(out, &WhoDocument::of(&found), env.style)?,
    }
    out.flush()?;
    Ok(if found.verdict.in_use() {
        Outcome::Found
    } else {
        Outcome::NotFound
    })
}
