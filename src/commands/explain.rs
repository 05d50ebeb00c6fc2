//! `portscope explain PORT|SERVICE`: an offline port reference made live. Composes collect →
//! analyze → render: this machine's listeners and the kernel's port settings, then
//! `analyze::explain::explain` over the built-in tables, then the report.

use std::io::Write;

use anyhow::Result;

use crate::analyze::explain;
use crate::analyze::inventory;
use crate::analyze::rules::RuleSet;
use crate::cli::ExplainArgs;
use crate::commands::{Env, Outcome, print_warnings, report_format};
use crate::model::{Request, SocketQuery};
use crate::render::ReportFormat;
use crate::render::explain::{ExplainDocument, write_report};

/// Run `portscope explain`: exit 0 when something is known about the port or name, 1 when
/// nothing is (a clear line says so).
///
/// # Errors
/// When the socket table cannot be read or output cannot be written.
pub fn run(
    args: &ExplainArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let rules = RuleSet::builtin();
    let ports = explain::ports_for(&args.query, rules);
    let request = Request {
        query: SocketQuery::listening(),
        owners: true,
    };
    let snapshot = env
        .collector
        .snapshot(&request, &|s| ports.contains(&s.local_port))?;
    let listeners = inventory::build(&snapshot, env.services());
    print_warnings(err, &inventory::warnings(&listeners, &snapshot))?;
    let settings = env.platform().port_settings();
    let found = explain::explain(&args.query, rules, &settings, &listeners);
    let known = found.found();
    match report_format(args.format(), "explain")? {
        ReportFormat::Json => crate::render::json::write(out, &ExplainDocument::of(found))?,
        ReportFormat::Table => write_report(out, &found, env.style)?,
    }
    out.flush()?;
    Ok(if known {
        Outcome::Found
    } else {
        Outcome::NotFound
    })
}
