//! `portscope audit`: collect the listeners, turn them into findings, apply the baseline and the
//! allowlist, judge `--fail-on` on every finding left, then apply the severity floor (a display
//! filter) and render.
//!
//! Only composition and file handling (allowlist, baseline) live here; findings, allowlist
//! matching and drift are in `analyze`, the table and JSON in `render`.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};

use crate::analyze::allowlist::Allowlist;
use crate::analyze::audit::{self, Finding, HostContext, Summary};
use crate::analyze::baseline::Baseline;
use crate::analyze::date::Date;
use crate::analyze::inventory;
use crate::analyze::rules::RuleSet;
use crate::cli::AuditArgs;
use crate::collect::files::{INPUT_LIMIT, read_regular_text};
use crate::collect::{self, Request, SocketQuery};
use crate::commands::list::load_services;
use crate::commands::{Env, Outcome, print_warnings};
use crate::render::audit::{AuditDocument, table};
use crate::render::json::{self, SCHEMA_VERSION};
use crate::render::sanitize;

/// Run the audit.
///
/// # Errors
/// When the allowlist or baseline cannot be read or parsed (named with the line), when the
/// socket table cannot be read, or when output cannot be written.
pub fn run(
    args: &AuditArgs,
    env: &Env<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    // Inputs first: a bad file fails before anything is collected.
    let allowlist = args.allow.as_deref().map(load_allowlist).transpose()?;
    let baseline = args.baseline.as_deref().map(load_baseline).transpose()?;

    let request = Request {
        query: SocketQuery::listening(),
        owners: true,
        proc_root: env.global.proc_root.clone(),
    };
    let snapshot = collect::snapshot(&request, &|_| true)?;
    let entries = inventory::build(&snapshot, &load_services());
    let mut warnings = inventory::warnings(&entries, &snapshot);

    if let Some(path) = &args.save_baseline {
        print_warnings(err, &warnings)?;
        let record = Baseline::from_entries(&entries, unix_now());
        let text = serde_json::to_string_pretty(&record)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write baseline {}", path.display()))?;
        writeln!(
            err,
            "portscope: saved {} listener(s) to baseline {}",
            record.listeners.len(),
            sanitize(&path.display().to_string())
        )?;
        return Ok(Outcome::Found);
    }

    let host = HostContext {
        route_localnet: collect::route_localnet(&env.global.proc_root),
    };
    let mut findings = audit::findings(&entries, RuleSet::builtin(), &host);
    // Units and containers of the owners: one cgroup read per owning pid of a finding.
    let pids: std::collections::BTreeSet<u32> = findings
        .iter()
        .flat_map(|f| f.processes.iter().map(|p| p.pid))
        .collect();
    let cgroups: std::collections::HashMap<u32, crate::model::CgroupInfo> = pids
        .into_iter()
        .filter_map(|pid| {
            let text = crate::collect::who::cgroup(&env.global.proc_root, pid)?;
            Some((pid, crate::analyze::owner::parse_cgroup(&text)))
        })
        .collect();
    audit::attach_owners(&mut findings, &cgroups);
    if let Some(baseline) = &baseline {
        baseline.filter(&mut findings);
    }
    if let (Some(list), Some(path)) = (&allowlist, &args.allow) {
        for w in list.apply(&mut findings, Date::today_utc()) {
            warnings.push(format!("allowlist {}: {w}", path.display()));
        }
    }
    // The gate judges every unsuppressed finding; --min-severity only filters the report.
    let gate = audit::gate(&findings, args.fail_on, args.min_severity);
    if let (true, Some(fail_on), Some(floor)) = (gate.hidden > 0, args.fail_on, args.min_severity) {
        warnings.push(format!(
            "{} unsuppressed finding(s) at or above --fail-on {fail_on} are below \
             --min-severity {floor} and not shown, but still fail the audit",
            gate.hidden
        ));
    }
    if let Some(floor) = args.min_severity {
        findings.retain(|f| f.severity >= floor);
    }
    print_warnings(err, &warnings)?;

    let summary = Summary::of(&findings);
    if args.json {
        json::write(
            out,
            &AuditDocument {
                schema_version: SCHEMA_VERSION,
                findings: &findings,
                summary,
                warnings: &warnings,
            },
        )?;
    } else {
        let shown: Vec<&Finding> = findings
            .iter()
            .filter(|f| args.show_suppressed || !f.suppressed)
            .collect();
        table(out, &shown, &summary, env.style)?;
    }
    out.flush()?;
    Ok(if gate.failed {
        Outcome::Failed
    } else {
        Outcome::Found
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The text of an allowlist or baseline: a regular file (after symbolic links) of at most
/// [`INPUT_LIMIT`] bytes, read without blocking on a FIFO or device.
fn read_input(what: &str, path: &Path) -> Result<String> {
    read_regular_text(path, INPUT_LIMIT)
        .with_context(|| format!("cannot read {what} {}", path.display()))
}

fn load_allowlist(path: &Path) -> Result<Allowlist> {
    let text = read_input("allowlist", path)?;
    Allowlist::parse(&text).map_err(|e| anyhow!("allowlist {}: {e}", path.display()))
}

fn load_baseline(path: &Path) -> Result<Baseline> {
    let text = read_input("baseline", path)?;
    Baseline::parse(&text).map_err(|e| anyhow!("baseline {}: {e}", path.display()))
}
