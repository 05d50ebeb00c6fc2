//! The `portscope explain` report: its JSON document and its human form, one block per port
//! (range, registrations, usual service, audit rule with fix and secure alternative, what holds
//! it here). Table names and command lines are sanitized before they reach a terminal.
//!
//! It must not collect or decide anything.

use std::io::{self, Write};

use colored::Colorize;
use serde::{Deserialize, Serialize};

use crate::model::{
    ClassName, Explanation, IanaRange, LocalEnd, PortExplanation, ProcessInfo, ServiceName,
    SocketEntry,
};
use crate::render::json::SCHEMA_VERSION;
use crate::render::{Style, sanitize};

/// `portscope explain --json` (see docs/json.md).
#[derive(Debug, Serialize, Deserialize)]
pub struct ExplainDocument {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The answer.
    #[serde(flatten)]
    pub explanation: Explanation,
}

impl ExplainDocument {
    /// The document of an explanation.
    #[must_use]
    pub fn of(explanation: Explanation) -> Self {
        ExplainDocument {
            schema_version: SCHEMA_VERSION,
            explanation,
        }
    }
}

/// The bounds of a range as RFC 6335 gives them.
fn range_text(range: IanaRange) -> &'static str {
    match range {
        IanaRange::System => "system port (0-1023, RFC 6335): binding it needs privileges",
        IanaRange::Registered => "user (registered) port (1024-49151, RFC 6335)",
        IanaRange::Dynamic => "dynamic port (49152-65535, RFC 6335): never assigned to a service",
    }
}

/// `ssh/tcp, ssh/udp`, or the name once with `tcp+udp` when both protocols agree.
fn names(list: &[ServiceName]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < list.len() {
        let here = &list[i];
        let both = list
            .get(i + 1)
            .is_some_and(|next| next.name == here.name && next.proto != here.proto);
        if both {
            parts.push(format!("{} (tcp+udp)", sanitize(&here.name)));
            i += 2;
        } else {
            parts.push(format!("{} ({})", sanitize(&here.name), here.proto));
            i += 1;
        }
    }
    parts.join(", ")
}

/// The owners of a listener as `postgres (pid 812), postgres (pid 813)`, names escaped, or
/// `owner unknown`; `check` writes its listeners with it too.
pub(crate) fn owners_text(processes: &[ProcessInfo]) -> String {
    if processes.is_empty() {
        return "owner unknown".to_owned();
    }
    let owners: Vec<String> = processes
        .iter()
        .map(|p| {
            format!(
                "{} (pid {})",
                sanitize(p.name.as_deref().unwrap_or("?")),
                p.pid
            )
        })
        .collect();
    owners.join(", ")
}

/// One listener as a line: `0.0.0.0:5432 tcp, postgres (pid 812), private via eth0`.
fn here_line(entry: &SocketEntry) -> String {
    let owners = owners_text(&entry.processes);
    let exposure = match (entry.exposure, &entry.exposure_interface) {
        (Some(class), Some(dev)) => format!("{} via {}", ClassName(class), sanitize(dev)),
        (Some(class), None) => ClassName(class).to_string(),
        (None, _) => "no address".to_owned(),
    };
    format!(
        "{} {}, {owners}, {exposure}",
        LocalEnd::of(entry).with_port(entry.local_port),
        entry.proto
    )
}

fn label(style: Style, text: &str) -> String {
    let padded = format!("{text:<12}");
    if style.color {
        padded.bold().to_string()
    } else {
        padded
    }
}

fn write_port(
    out: &mut dyn Write,
    doc: &Explanation,
    port: &PortExplanation,
    style: Style,
) -> io::Result<()> {
    let title = port.curated.first().or(port.iana.first()).map_or_else(
        || "no known service".to_owned(),
        |s| sanitize(&s.name).into_owned(),
    );
    let heading = format!("port {}: {title}", port.port);
    writeln!(
        out,
        "{}",
        if style.color {
            heading.bold().to_string()
        } else {
            heading
        }
    )?;
    let ephemeral = match (port.ephemeral, doc.ephemeral_range) {
        (Some(true), Some((lo, hi))) => {
            format!(
                "; inside this kernel's ephemeral range {lo}-{hi} (outgoing connections may take it)"
            )
        }
        (Some(false), Some((lo, hi))) => {
            format!("; outside this kernel's ephemeral range {lo}-{hi}")
        }
        _ => "; this kernel's ephemeral range is unknown".to_owned(),
    };
    writeln!(
        out,
        "  {}{}{ephemeral}",
        label(style, "range"),
        range_text(port.range)
    )?;
    let iana = if port.iana.is_empty() {
        "not registered".to_owned()
    } else {
        names(&port.iana)
    };
    writeln!(out, "  {}{iana}", label(style, "IANA"))?;
    if !port.curated.is_empty() {
        writeln!(out, "  {}{}", label(style, "usually"), names(&port.curated))?;
    }
    for risk in &port.risks {
        match (&risk.rule, risk.severity) {
            (Some(rule), Some(severity)) => {
                let why: Vec<String> = risk.why.iter().map(|w| w.as_str().to_owned()).collect();
                let why = if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join(", "))
                };
                writeln!(
                    out,
                    "  {}{rule} ({}/{}): {severity} when reachable from the internet{why}",
                    label(style, "audit"),
                    risk.service,
                    risk.proto
                )?;
            }
            _ => writeln!(
                out,
                "  {}{} ({}): plain text, no audit rule",
                label(style, "audit"),
                risk.service,
                risk.proto
            )?,
        }
        if let Some(summary) = &risk.summary {
            writeln!(out, "  {}{summary}", label(style, "why"))?;
        }
        if let Some(fix) = &risk.fix {
            writeln!(out, "  {}{fix}", label(style, "fix"))?;
        }
        if let Some(alternative) = &risk.alternative {
            writeln!(out, "  {}{alternative}", label(style, "instead"))?;
        }
        if !risk.sources.is_empty() {
            let sources: Vec<String> = risk
                .sources
                .iter()
                .map(|s| format!("{} <{}>", s.reference, s.url))
                .collect();
            writeln!(out, "  {}{}", label(style, "sources"), sources.join("; "))?;
        }
    }
    if port.here.is_empty() {
        writeln!(
            out,
            "  {}nothing listens on this port",
            label(style, "here")
        )?;
    } else {
        for (i, entry) in port.here.iter().enumerate() {
            let head = if i == 0 { "here" } else { "" };
            writeln!(out, "  {}{}", label(style, head), here_line(entry))?;
        }
    }
    Ok(())
}

/// Write the human report: one block per port, a blank line between blocks; for a query that
/// names no port, one line saying so.
///
/// # Errors
/// When `out` cannot be written.
pub fn write_report(out: &mut dyn Write, doc: &Explanation, style: Style) -> io::Result<()> {
    if doc.ports.is_empty() {
        return writeln!(
            out,
            "no port is known as '{}' (IANA registry, curated services, audit rules)",
            sanitize(&doc.query)
        );
    }
    for (i, port) in doc.ports.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_port(out, doc, port, style)?;
    }
    if !doc.found() {
        writeln!(
            out,
            "unknown: no IANA registration, no curated service, no audit rule, and nothing listens here"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::explain::explain;
    use crate::analyze::rules::RuleSet;
    use crate::model::{ExplainQuery, PortSettings};

    fn render(query: ExplainQuery, here: &[SocketEntry]) -> String {
        let settings = PortSettings {
            ephemeral_range: Some(crate::model::PortRange {
                start: 32768,
                end: 60999,
            }),
            ..PortSettings::default()
        };
        let doc = explain(&query, RuleSet::builtin(), &settings, here);
        let mut out = Vec::new();
        write_report(&mut out, &doc, Style::plain()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn telnet_block() {
        let text = render(ExplainQuery::Port(23), &[]);
        assert!(text.starts_with("port 23: telnet\n"), "{text}");
        assert!(
            text.contains("  range       system port (0-1023, RFC 6335)"),
            "{text}"
        );
        assert!(
            text.contains("outside this kernel's ephemeral range 32768-60999"),
            "{text}"
        );
        assert!(text.contains("  IANA        telnet (tcp+udp)"), "{text}");
        assert!(
            text.contains("  audit       exposed-telnet (Telnet"),
            "{text}"
        );
        assert!(text.contains("  instead     SSH"), "{text}");
        assert!(
            text.contains("  here        nothing listens on this port"),
            "{text}"
        );
    }

    #[test]
    fn unknown_name_is_one_line() {
        let text = render(ExplainQuery::Name("zzz".into()), &[]);
        assert_eq!(
            text,
            "no port is known as 'zzz' (IANA registry, curated services, audit rules)\n"
        );
    }

    #[test]
    fn listeners_are_shown() {
        let row = SocketEntry::test_listener("127.0.0.1", 6379);
        let text = render(ExplainQuery::Port(6379), &[row]);
        assert!(
            text.contains("  here        127.0.0.1:6379 tcp, owner unknown, loopback"),
            "{text}"
        );
    }
}
