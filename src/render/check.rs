//! The `portscope check` report: one verdict line, then the evidence (connect, listeners,
//! bind, firewall with its caveats, causes with fixes); and its JSON document. Names and
//! command lines are sanitized before they reach a terminal.
//!
//! It must not collect or decide anything.

use std::io::{self, Write};

use colored::Colorize;
use serde::{Deserialize, Serialize};

use crate::model::{
    Cause, CheckTarget, ConnectResult, DecidedBy, Decision, FirewallVerdict, ForeignListener,
    LocalEnd, SocketEntry, UnitHint,
};
use crate::render::explain::owners_text;
use crate::render::{Style, sanitize};

/// Which way into the machine a firewall verdict is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallPath {
    /// From this machine: the packets of the connect `check` just tried arrive on `lo`.
    Local,
    /// From other machines: the packets arrive on the interface that carries the address.
    Remote,
}

/// The firewall part of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FirewallReport {
    /// The path evaluated.
    pub path: FirewallPath,
    /// `evaluated` (nft's ruleset was read) or `unavailable` (see `reason`).
    pub status: String,
    /// accept, drop, reject or unknown (always unknown when unavailable).
    pub decision: Decision,
    /// The rule or policy that decided.
    pub decided_by: Option<DecidedBy>,
    /// What decided, why it is unknown, or why the ruleset could not be read (with a hint).
    pub reason: String,
    /// The input interface evaluated: `lo` on the local path, the one carrying the address on
    /// the remote path.
    pub interface: Option<String>,
    /// Always true: the evaluation is a heuristic.
    pub heuristic: bool,
    /// What the evaluator models.
    pub modelled: Vec<String>,
    /// What it does not.
    pub not_modelled: Vec<String>,
}

impl FirewallReport {
    /// The report of an evaluation, or of a ruleset that could not be read (`Err(reason)`).
    #[must_use]
    pub fn of(
        path: FirewallPath,
        verdict: Result<&FirewallVerdict, &str>,
        interface: Option<&str>,
        modelled: &[&str],
        not_modelled: &[&str],
    ) -> Self {
        let (status, decision, decided_by, reason) = match verdict {
            Ok(v) => (
                "evaluated",
                v.decision,
                v.decided_by.clone(),
                v.reason.clone(),
            ),
            Err(reason) => ("unavailable", Decision::Unknown, None, reason.to_owned()),
        };
        FirewallReport {
            path,
            status: status.to_owned(),
            decision,
            decided_by,
            reason,
            interface: interface.map(str::to_owned),
            heuristic: true,
            modelled: modelled.iter().map(|s| (*s).to_owned()).collect(),
            not_modelled: not_modelled.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// `portscope check --json` (see docs/json.md).
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckDocument {
    /// Always `render::json::SCHEMA_VERSION`.
    pub schema_version: u32,
    /// What was checked.
    pub target: CheckTarget,
    /// True when the connection works (exit 0).
    pub works: bool,
    /// The verdict line of the human report.
    pub verdict: String,
    /// The connect attempt.
    pub connect: ConnectResult,
    /// Listeners on the port and protocol in this network namespace (the listing's rows).
    pub listeners: Vec<SocketEntry>,
    /// Listeners on ports within 10 of it, when nothing listens on the port.
    pub nearby: Vec<SocketEntry>,
    /// Listeners on the port in other network namespaces.
    pub other_namespaces: Vec<ForeignListener>,
    /// systemd units that may be the missing service.
    pub units: Vec<UnitHint>,
    /// Why it fails (or would fail for other clients), most basic first.
    pub causes: Vec<Cause>,
    /// The firewall's verdict for packets from other machines (`path: "remote"`, input on the
    /// interface that carries the address); for a loopback address, which only this machine
    /// reaches, the local path.
    pub firewall: FirewallReport,
    /// The firewall's verdict for this machine's own connect (`path: "local"`, input on `lo`),
    /// which the connect result shows.
    pub firewall_local: FirewallReport,
}

/// The one verdict line; `accepting` is the listener whose bind covers the address (the
/// diagnosis picks it), not merely the first one on the port.
#[must_use]
pub fn verdict_line(
    target: &CheckTarget,
    works: bool,
    connect: &ConnectResult,
    accepting: Option<&SocketEntry>,
    causes: &[Cause],
) -> String {
    let outcome = connect.outcome.as_str();
    if works {
        let who = accepting
            .and_then(|l| l.processes.first())
            .map(|p| {
                format!(
                    ", accepted by {} (pid {})",
                    p.name.as_deref().unwrap_or("?"),
                    p.pid
                )
            })
            .unwrap_or_default();
        let caveat = causes
            .first()
            .map(|c| format!("; but {}", c.text))
            .unwrap_or_default();
        format!("{target}: {outcome}: the connection works{who}{caveat}")
    } else {
        let why = causes
            .first()
            .map_or_else(|| "no cause found".to_owned(), |c| c.text.clone());
        format!("{target}: {outcome}: {why}")
    }
}

fn heading(style: Style, text: &str) -> String {
    if style.color {
        text.bold().to_string()
    } else {
        text.to_owned()
    }
}

/// Write the human report.
///
/// # Errors
/// When `out` cannot be written.
pub fn write_report(out: &mut dyn Write, doc: &CheckDocument, style: Style) -> io::Result<()> {
    writeln!(out, "{}", heading(style, &sanitize(&doc.verdict)))?;
    writeln!(out)?;
    let errno = doc
        .connect
        .error
        .as_ref()
        .map(|e| format!(" ({})", sanitize(e)))
        .unwrap_or_default();
    writeln!(out, "connect:   {}{errno}", doc.connect.outcome.as_str())?;
    if doc.listeners.is_empty() {
        writeln!(
            out,
            "listeners: none on {}/{}",
            doc.target.port, doc.target.proto
        )?;
    }
    for (i, l) in doc.listeners.iter().enumerate() {
        let owners = owners_text(&l.processes);
        let head = if i == 0 { "listeners:" } else { "          " };
        writeln!(
            out,
            "{head} {} {}, {owners}",
            LocalEnd::of(l).with_port(l.local_port),
            l.proto
        )?;
    }
    for l in &doc.nearby {
        let owner = l
            .processes
            .first()
            .map(|p| {
                format!(
                    "{} (pid {})",
                    sanitize(p.name.as_deref().unwrap_or("?")),
                    p.pid
                )
            })
            .unwrap_or_else(|| "owner unknown".into());
        writeln!(
            out,
            "nearby:    {} {}, {owner}",
            LocalEnd::of(l).with_port(l.local_port),
            l.proto
        )?;
    }
    for f in &doc.other_namespaces {
        writeln!(
            out,
            "elsewhere: {}:{} in net:[{}] (pid {} {})",
            crate::model::HostAddr(f.address),
            f.port,
            f.netns,
            f.pid,
            sanitize(f.process.as_deref().unwrap_or("?"))
        )?;
    }
    for u in &doc.units {
        let running = match u.running {
            Some(true) => "running",
            Some(false) => "not running",
            None => "state unknown",
        };
        writeln!(
            out,
            "unit:      {} ({running}, matched by {}) {}",
            sanitize(&u.unit),
            u.matched,
            sanitize(&u.path)
        )?;
    }
    let fw = &doc.firewall;
    let line = |fw: &FirewallReport, who: &str| {
        let via = fw
            .interface
            .as_ref()
            .map(|i| format!(" ({who}input on {})", sanitize(i)))
            .unwrap_or_default();
        format!(
            "{}{via}: {} [heuristic]",
            fw.decision.as_str(),
            sanitize(&fw.reason)
        )
    };
    if fw.path == FirewallPath::Local {
        writeln!(out, "firewall:  {}", line(fw, ""))?;
    } else {
        writeln!(
            out,
            "firewall:  {}",
            line(&doc.firewall_local, "this machine, ")
        )?;
        writeln!(out, "           {}", line(fw, "other machines, "))?;
    }
    if !doc.causes.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", heading(style, "causes:"))?;
        for c in &doc.causes {
            writeln!(out, "  {}: {}", c.code.as_str(), sanitize(&c.text))?;
        }
    }
    if fw.status == "evaluated" {
        writeln!(out)?;
        writeln!(
            out,
            "The firewall verdict is a heuristic; not modelled: {}.",
            fw.not_modelled.join("; ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectOutcome, ProcessInfo, Proto};

    #[test]
    fn the_verdict_names_the_accepting_listener() {
        let with_owner = |addr: &str, pid: u32, name: &str| SocketEntry {
            processes: vec![ProcessInfo {
                pid,
                fds: Some(vec![3]),
                name: Some(name.into()),
                cmdline: [].into(),
                exe: None,
                uid: None,
                user: None,
                ppid: None,
                start_time: None,
            }],
            ..SocketEntry::test_listener(addr, 8080)
        };
        let listeners = [
            with_owner("127.0.0.1", 10, "lo-only"),
            with_owner("0.0.0.0", 20, "nginx"),
        ];
        let target = CheckTarget {
            address: "10.0.0.5".parse().unwrap(),
            port: 8080,
            proto: Proto::Tcp,
            zone: None,
        };
        let open = ConnectResult {
            outcome: ConnectOutcome::Open,
            errno: None,
            error: None,
        };
        assert_eq!(
            verdict_line(&target, true, &open, Some(&listeners[1]), &[]),
            "10.0.0.5:8080/tcp: open: the connection works, accepted by nginx (pid 20)"
        );
        assert_eq!(
            verdict_line(&target, true, &open, None, &[]),
            "10.0.0.5:8080/tcp: open: the connection works"
        );
    }
}
