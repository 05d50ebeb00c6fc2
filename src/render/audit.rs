//! Rendering of `portscope audit`: the findings grouped by severity (critical first) with a
//! one-line summary, and the typed JSON document (see docs/json.md).
//!
//! Every untrusted string (process names, users, interface names) goes through [`sanitize()`]
//! before it is coloured; JSON never carries colour. Nothing here collects or analyses.

use std::io::{self, Write};

use colored::{ColoredString, Colorize};
use serde::Serialize;

use crate::model::{
    AuditReport, Drift, ExposureLabel, Finding, FindingSocket, Gate, LocalEnd, OwnerUnknownForm,
    OwnerUnknownLabel, Severity, SnapshotSource, Summary, sources_label,
};
use crate::render::json::SCHEMA_VERSION;
use crate::render::{Sanitized, Style, sanitize};

/// `portscope audit --json`.
#[derive(Debug, Serialize)]
pub struct AuditDocument<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Every finding, suppressed ones included, most severe first.
    pub findings: &'a [Finding],
    /// Unsuppressed counts per severity, and the suppressed count.
    pub summary: Summary,
    /// Why the result may be partial, expired allowlist entries (also printed on stderr).
    pub warnings: &'a [String],
    /// In an audit of snapshots (`--from`): the snapshots audited, in the order given. Absent
    /// when auditing this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<&'a [SnapshotSource]>,
}

impl<'a> AuditDocument<'a> {
    /// The document of a report.
    #[must_use]
    pub fn of(report: &'a AuditReport) -> Self {
        AuditDocument {
            schema_version: SCHEMA_VERSION,
            findings: &report.findings,
            summary: report.summary,
            warnings: &report.warnings,
            hosts: None,
        }
    }

    /// The document of a report on snapshots from `hosts`.
    #[must_use]
    pub fn of_snapshots(report: &'a AuditReport, hosts: &'a [SnapshotSource]) -> Self {
        AuditDocument {
            hosts: Some(hosts),
            ..AuditDocument::of(report)
        }
    }
}

fn paint(text: &str, level: Severity, style: Style) -> String {
    if !style.color {
        return text.to_owned();
    }
    let s: ColoredString = match level {
        Severity::Critical => text.red().bold(),
        Severity::High => text.red(),
        Severity::Medium => text.yellow(),
        Severity::Low => text.cyan(),
        Severity::Info => text.dimmed(),
    };
    s.to_string()
}

fn dim(text: &str, style: Style) -> String {
    if style.color {
        text.dimmed().to_string()
    } else {
        text.to_owned()
    }
}

/// `tcp 0.0.0.0:6379`, `tcp [::]:6379 v6-only`, `udp 0.0.0.0%eth0:53`: the protocol and the
/// model's [`LocalEnd`] with its port, escaped for the terminal.
fn socket_label(f: &FindingSocket) -> String {
    format!("{} {}", f.proto, Sanitized(LocalEnd::of_finding(f)))
}

/// The report form of the model's [`ExposureLabel`], escaped for the terminal.
fn exposure_label(f: &FindingSocket) -> String {
    Sanitized(ExposureLabel::of_finding(f)).to_string()
}

fn owner_label(f: &Finding) -> String {
    if f.socket.processes.is_empty() {
        let unknown = OwnerUnknownLabel {
            reason: f.socket.owner_unknown_reason,
            form: OwnerUnknownForm::Owner,
        };
        return unknown.as_str().to_owned();
    }
    let parts: Vec<String> = f
        .socket
        .processes
        .iter()
        .map(|p| {
            let name = sanitize(p.name.as_deref().unwrap_or("?")).into_owned();
            match &p.user {
                Some(user) => format!("{name} (pid {}, user {})", p.pid, sanitize(user)),
                None => format!("{name} (pid {})", p.pid),
            }
        })
        .collect();
    let mut label = parts.join(", ");
    let mut extra: Vec<String> = f.units.iter().map(|u| sanitize(u).into_owned()).collect();
    extra.extend(f.containers.iter().map(|c| {
        let short: String = c.id.chars().take(12).collect();
        format!("{} container {}", c.runtime, sanitize(&short))
    }));
    if !extra.is_empty() {
        label.push_str(" in ");
        label.push_str(&extra.join(", "));
    }
    label
}

/// Write the findings grouped by severity, then the summary line. `findings` are those to show
/// ([`AuditReport::shown`]: suppressed ones only with `--show-suppressed`); `summary` counts them
/// all. When `--min-severity` hides findings that fail the gate, the summary line says so: the
/// report on stdout must not read "no findings" for an audit that exits 1. Findings that name
/// their host (an audit of snapshots) start with it, padded to the longest, as a HOST column.
///
/// # Errors
/// When writing fails.
pub fn table(
    out: &mut dyn Write,
    findings: &[&Finding],
    summary: &Summary,
    gate: Gate,
    style: Style,
) -> io::Result<()> {
    let host_width = findings
        .iter()
        .filter_map(|f| f.host.as_deref())
        .map(|h| sanitize(h).chars().count())
        .max();
    for level in Severity::ALL {
        let group: Vec<&&Finding> = findings.iter().filter(|f| f.severity == level).collect();
        if group.is_empty() {
            continue;
        }
        let heading = format!("{} ({})", level.as_str().to_uppercase(), group.len());
        writeln!(out, "{}", paint(&heading, level, style))?;
        for f in group {
            write_finding(out, f, host_width, style)?;
        }
        writeln!(out)?;
    }
    let mut line = summary.line();
    if gate.hidden > 0 {
        line.push_str(&format!(
            "; {} finding(s) below --min-severity are not shown but fail --fail-on",
            gate.hidden
        ));
    }
    writeln!(out, "{line}")
}

/// One finding; `host_width` is the width of the HOST column, `None` without one.
fn write_finding(
    out: &mut dyn Write,
    f: &Finding,
    host_width: Option<usize>,
    style: Style,
) -> io::Result<()> {
    let service = f
        .service
        .as_deref()
        .map(|s| match f.service_source.as_slice() {
            [] => format!("  {s}"),
            sources => format!("  {s} (identified by {})", sources_label(sources)),
        })
        .unwrap_or_default();
    let host = match host_width {
        Some(width) => {
            let name = sanitize(f.host.as_deref().unwrap_or("?")).into_owned();
            let pad = width.saturating_sub(name.chars().count());
            format!("{name}{}  ", " ".repeat(pad))
        }
        None => String::new(),
    };
    let mut head = format!("  {host}{}{service}  ", socket_label(&f.socket));
    head.push_str(&dim(&format!("[{}]", f.rule), style));
    if f.severity != f.base_severity {
        head.push_str(&dim(&format!(" (base {})", f.base_severity), style));
    }
    if f.suppressed {
        let reason = f.suppressed_reason.as_deref().unwrap_or("allowlisted");
        head.push_str(&dim(&format!(" suppressed: {}", sanitize(reason)), style));
    }
    if let Some(drift) = f.baseline.and_then(Drift::label) {
        head.push_str(&dim(
            &format!(" ({} since baseline)", drift.replace('_', " ")),
            style,
        ));
    }
    writeln!(out, "{head}")?;
    writeln!(out, "      exposure: {}", exposure_label(&f.socket))?;
    writeln!(out, "      owner:    {}", owner_label(f))?;
    writeln!(out, "      why:      {}", f.why)?;
    writeln!(out, "      fix:      {}", f.fix)?;
    if let Some(seen) = &f.handshake {
        writeln!(
            out,
            "      handshake: {} ({})",
            sanitize(&seen.summary),
            seen.address
        )?;
    }
    for note in &f.notes {
        writeln!(out, "      note:     {}", sanitize(note))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::audit::findings;
    use crate::analyze::rules::RuleSet;
    use crate::model::{AddrClass, HostContext, ProcessInfo, Proto, SocketEntry};

    fn entry(addr: &str, port: u16, class: AddrClass, name: &str) -> SocketEntry {
        SocketEntry {
            processes: vec![ProcessInfo {
                fds: Some(vec![3]),
                uid: Some(0),
                user: Some("root".to_owned()),
                ..ProcessInfo::test_process(77, name)
            }],
            exposure: Some(class),
            exposure_address: Some("11.22.33.44".parse().unwrap()),
            exposure_interface: Some("va".to_owned()),
            ..SocketEntry::test_listener(addr, port)
        }
    }

    #[test]
    fn grouped_plain_table() {
        let mut fs = findings(
            &[
                entry("0.0.0.0", 6379, AddrClass::Public, "redis\x1b[31m"),
                entry("10.0.0.1", 23, AddrClass::Private, "inetd"),
                entry("11.22.33.44", 2375, AddrClass::Public, "dockerd"),
            ],
            RuleSet::builtin(),
            &HostContext::default(),
        );
        fs[0].suppressed = true;
        fs[0].suppressed_reason = Some("lab".to_owned());
        let summary = Summary::of(&fs);
        let shown: Vec<&Finding> = fs.iter().filter(|f| !f.suppressed).collect();
        let mut buf = Vec::new();
        table(&mut buf, &shown, &summary, Gate::default(), Style::plain()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.contains('\x1b'), "{text}");
        assert!(
            text.contains("HIGH (1)") && text.contains("MEDIUM (1)"),
            "{text}"
        );
        assert!(!text.contains("CRITICAL"), "{text}");
        assert!(
            text.contains("redis\\x1b[31m (pid 77, user root)"),
            "{text}"
        );
        assert!(
            text.contains("tcp 10.0.0.1:23  Telnet  [exposed-telnet] (base high)"),
            "{text}"
        );
        assert!(
            text.contains("exposure: public via va 11.22.33.44 (wildcard bind)"),
            "{text}"
        );
        assert!(text.ends_with("1 high, 1 medium, 1 suppressed\n"), "{text}");
        let high = text.find("HIGH").unwrap();
        assert!(high < text.find("MEDIUM").unwrap());

        let all: Vec<&Finding> = fs.iter().collect();
        let mut buf = Vec::new();
        table(&mut buf, &all, &summary, Gate::default(), Style::plain()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.contains("CRITICAL (1)") && text.contains("suppressed: lab"),
            "{text}"
        );

        let mut buf = Vec::new();
        table(
            &mut buf,
            &[],
            &Summary::default(),
            Gate::default(),
            Style::plain(),
        )
        .unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "no findings\n");
    }

    /// The labels of a finding, as the table writes them (they were hand-written here before
    /// the model's labels; these rows pin the same bytes).
    #[test]
    fn finding_labels() {
        use crate::model::OwnerUnknown;
        let socket = |addr: &str, edit: &dyn Fn(&mut FindingSocket)| {
            let mut s = FindingSocket::from(&SocketEntry::test_listener(addr, 53));
            edit(&mut s);
            s
        };
        // (socket, socket label, exposure label)
        let cases = [
            (
                socket("0.0.0.0", &|_| {}),
                "tcp 0.0.0.0:53",
                "loopback (wildcard bind)",
            ),
            (
                socket("::", &|s| {
                    s.proto = Proto::Udp;
                    s.interface = Some("eth\x1b0".into());
                    s.dual_stack = Some(false);
                    s.exposure = Some(AddrClass::LinkLocal);
                    s.exposure_address = Some("fe80::1".parse().unwrap());
                }),
                "udp [::]%eth\\x1b0:53 v6-only",
                "link-local via fe80::1 (wildcard bind)",
            ),
            (
                socket("::", &|s| {
                    s.dual_stack = Some(true);
                    s.exposure = Some(AddrClass::Public);
                    s.exposure_interface = Some("w\x07".into());
                }),
                "tcp [::]:53 v4+v6",
                "public via w\\x07 (wildcard bind)",
            ),
            (
                socket("10.0.0.1", &|s| {
                    s.exposure = Some(AddrClass::Private);
                    s.exposure_interface = Some("eth1".into());
                    s.exposure_address = Some("10.0.0.1".parse().unwrap());
                }),
                "tcp 10.0.0.1:53",
                "private via eth1 10.0.0.1",
            ),
            (
                socket("0.0.0.0", &|s| s.exposure = None),
                "tcp 0.0.0.0:53",
                "no address",
            ),
        ];
        for (s, end, exposure) in cases {
            assert_eq!(socket_label(&s), end);
            assert_eq!(exposure_label(&s), exposure);
        }

        let mut fs = findings(
            &[entry("0.0.0.0", 6379, AddrClass::Public, "redis")],
            RuleSet::builtin(),
            &HostContext::default(),
        );
        let f = &mut fs[0];
        f.socket.processes.clear();
        // (reason, owner label)
        let owners = [
            (
                Some(OwnerUnknown::Permission),
                "unknown (run as root to see it)",
            ),
            (
                Some(OwnerUnknown::Hidden),
                "unknown (hidden even from root)",
            ),
            (
                Some(OwnerUnknown::NotFound),
                "unknown (no process holds it)",
            ),
            (Some(OwnerUnknown::Kernel), "kernel"),
            (Some(OwnerUnknown::Skipped), "unknown"),
            (None, "unknown"),
        ];
        for (reason, want) in owners {
            f.socket.owner_unknown_reason = reason;
            assert_eq!(owner_label(f), want, "{reason:?}");
        }
    }

    /// Findings of snapshots start with their host, as a column; without hosts the table is
    /// as before.
    #[test]
    fn host_column_only_for_snapshots() {
        let mut fs = findings(
            &[
                entry("0.0.0.0", 6379, AddrClass::Public, "redis"),
                entry("10.0.0.1", 23, AddrClass::Private, "inetd"),
            ],
            RuleSet::builtin(),
            &HostContext::default(),
        );
        let render = |fs: &[Finding]| {
            let shown: Vec<&Finding> = fs.iter().collect();
            let mut buf = Vec::new();
            table(
                &mut buf,
                &shown,
                &Summary::of(fs),
                Gate::default(),
                Style::plain(),
            )
            .unwrap();
            String::from_utf8(buf).unwrap()
        };
        let live = render(&fs);
        assert!(
            live.contains("\n  tcp 0.0.0.0:6379  Redis  [exposed-redis]"),
            "{live}"
        );
        fs[0].host = Some("web-10\x1b".into());
        fs[1].host = Some("db".into());
        let fleet = render(&fs);
        assert!(
            fleet.contains("\n  web-10\\x1b  tcp 0.0.0.0:6379  Redis  [exposed-redis]"),
            "{fleet}"
        );
        assert!(
            fleet.contains("\n  db          tcp 10.0.0.1:23  Telnet  [exposed-telnet]"),
            "{fleet}"
        );
        // Only the heads change.
        let strip = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with("  ") || l.starts_with("      "))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(strip(&live), strip(&fleet));
    }
}
