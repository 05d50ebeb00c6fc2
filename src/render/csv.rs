//! CSV for spreadsheets (`--format csv`): the listing one socket per row, the audit one
//! finding per row, a header row first, RFC 4180 (fields separated by commas, records ended by
//! CRLF, a field holding a comma or double quote quoted with the quote doubled).
//!
//! Cells are made safe as the table's are, since a spreadsheet is a place where text is shown
//! and, worse, evaluated: control characters are escaped (`\x1b`, `\n`, by
//! [`crate::render::sanitize`], so no field ever spans lines), and a cell starting with `=`,
//! `+`, `-` or `@` gets a leading `'` so it is shown as text, not run as a formula (a process
//! named `=HYPERLINK(…)`). docs/formats.md lists the columns.
//!
//! Pure: entries or a report in, bytes out. It must not filter or decide what is shown.

use std::borrow::Cow;
use std::io::{self, Write};

use crate::model::{AddrClass, AuditReport, Container, Finding, ProcessInfo, SocketEntry};
use crate::render::sanitize;

/// The listing's columns, in order.
pub const LIST_COLUMNS: [&str; 16] = [
    "proto",
    "state",
    "local_address",
    "local_port",
    "interface",
    "dual_stack",
    "remote_address",
    "remote_port",
    "exposure",
    "exposure_interface",
    "service",
    "uid",
    "user",
    "pids",
    "processes",
    "owner_unknown_reason",
];

/// The audit's columns, in order.
pub const AUDIT_COLUMNS: [&str; 22] = [
    "host",
    "severity",
    "base_severity",
    "rule",
    "service",
    "proto",
    "port",
    "local_address",
    "interface",
    "exposure",
    "exposure_address",
    "exposure_interface",
    "wildcard",
    "pids",
    "processes",
    "units",
    "containers",
    "suppressed",
    "suppressed_reason",
    "baseline",
    "why",
    "fix",
];

/// One field as RFC 4180 and a spreadsheet need it: sanitized, guarded against formulas,
/// quoted when it holds a comma or a double quote (line breaks were escaped already).
#[must_use]
pub fn field(text: &str) -> Cow<'_, str> {
    let safe = sanitize(text);
    let guarded = if safe.starts_with(['=', '+', '-', '@']) {
        Cow::Owned(format!("'{safe}"))
    } else {
        safe
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", guarded.replace('"', "\"\"")))
    } else {
        guarded
    }
}

/// Write one record: the fields, comma-separated, then CRLF.
///
/// # Errors
/// When writing fails.
pub fn record<S: AsRef<str>>(out: &mut dyn Write, fields: &[S]) -> io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(field(f.as_ref()).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn class(value: Option<AddrClass>) -> String {
    value.map(|c| c.as_str().to_owned()).unwrap_or_default()
}

/// Pids joined with `;`.
fn pids(processes: &[ProcessInfo]) -> String {
    let pids: Vec<String> = processes.iter().map(|p| p.pid.to_string()).collect();
    pids.join(";")
}

/// Process names, deduplicated, joined with `;`.
fn names(processes: &[ProcessInfo]) -> String {
    crate::model::process_names(processes).join(";")
}

/// The listing's row of one entry, in [`LIST_COLUMNS`] order.
#[must_use]
pub fn list_row(e: &SocketEntry) -> Vec<String> {
    vec![
        e.proto.as_str().to_owned(),
        e.state.as_str().to_owned(),
        e.local_address.to_string(),
        e.local_port.to_string(),
        opt(e.interface.as_ref()),
        opt(e.dual_stack),
        opt(e.remote_address),
        opt(e.remote_port),
        class(e.exposure),
        opt(e.exposure_interface.as_ref()),
        opt(e.service.as_ref()),
        opt(e.uid),
        opt(e.user.as_ref()),
        pids(&e.processes),
        names(&e.processes),
        opt(e.owner_unknown_reason.map(|r| r.as_str())),
    ]
}

fn container(c: &Container) -> String {
    c.name.clone().unwrap_or_else(|| c.id.clone())
}

/// The audit's row of one finding, in [`AUDIT_COLUMNS`] order.
#[must_use]
pub fn audit_row(f: &Finding) -> Vec<String> {
    let s = &f.socket;
    let containers: Vec<String> = f.containers.iter().map(container).collect();
    vec![
        opt(f.host.as_ref()),
        f.severity.as_str().to_owned(),
        f.base_severity.as_str().to_owned(),
        f.rule.clone(),
        opt(f.service.as_ref()),
        s.proto.as_str().to_owned(),
        s.port.to_string(),
        s.local_address.to_string(),
        opt(s.interface.as_ref()),
        class(s.exposure),
        opt(s.exposure_address),
        opt(s.exposure_interface.as_ref()),
        s.wildcard.to_string(),
        pids(&s.processes),
        names(&s.processes),
        f.units.join(";"),
        containers.join(";"),
        f.suppressed.to_string(),
        opt(f.suppressed_reason.as_ref()),
        opt(f.baseline.and_then(crate::model::Drift::label)),
        f.why.clone(),
        f.fix.clone(),
    ]
}

/// The audit as CSV: the header, then every finding of the report (suppressed ones too, with
/// `suppressed` true, as in the JSON), most severe first.
///
/// # Errors
/// When writing fails.
pub fn write_audit(out: &mut dyn Write, report: &AuditReport) -> io::Result<()> {
    record(out, &AUDIT_COLUMNS)?;
    for f in &report.findings {
        record(out, &audit_row(f))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Gate, ProcessInfo, Severity, Summary};

    #[test]
    fn fields_are_quoted_escaped_and_guarded() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "two\\nlines"),
            ("cr\r", "cr\\r"),
            ("esc\x1b[31m", "esc\\x1b[31m"),
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-bash", "'-bash"),
            ("@SUM(A1)", "'@SUM(A1)"),
            (
                "=HYPERLINK(\"x\",\"y\")",
                "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"",
            ),
            ("a=b", "a=b"),
            ("::1", "::1"),
        ];
        for (raw, want) in cases {
            assert_eq!(field(raw), want, "{raw:?}");
        }
        let mut out = Vec::new();
        record(&mut out, &["a", "b,c", ""]).unwrap();
        assert_eq!(out, b"a,\"b,c\",\r\n");
    }

    #[test]
    fn rows_have_one_cell_per_column() {
        let mut e = SocketEntry::test_listener("::", 8080);
        e.processes = vec![
            ProcessInfo {
                name: Some("-sh".into()),
                ..ProcessInfo::unknown(10)
            },
            ProcessInfo {
                name: Some("-sh".into()),
                ..ProcessInfo::unknown(11)
            },
        ];
        e.dual_stack = Some(true);
        let row = list_row(&e);
        assert_eq!(row.len(), LIST_COLUMNS.len());
        let mut out = Vec::new();
        record(&mut out, &row).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "tcp,listen,::,8080,,true,,,loopback,,,0,,10;11,'-sh,\r\n"
        );

        let finding = Finding {
            severity: Severity::High,
            base_severity: Severity::High,
            fix: "Bind to 127.0.0.1, or firewall it".into(),
            ..Finding::test_finding(&e)
        };
        assert_eq!(audit_row(&finding).len(), AUDIT_COLUMNS.len());
        let report = AuditReport {
            summary: Summary::of(std::slice::from_ref(&finding)),
            findings: vec![finding],
            warnings: Vec::new(),
            gate: Gate::default(),
            show_suppressed: false,
        };
        let mut out = Vec::new();
        write_audit(&mut out, &report).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], AUDIT_COLUMNS.join(","));
        assert_eq!(
            lines[1],
            ",high,high,test-rule,,tcp,8080,::,,loopback,,,true,10;11,'-sh,,,false,,,,\"Bind to 127.0.0.1, or firewall it\""
        );
    }
}
