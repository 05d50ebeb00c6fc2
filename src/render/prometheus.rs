//! The Prometheus text exposition format (version 0.0.4) for the listing and the audit, written
//! for node_exporter's textfile collector (`--format prometheus --output DIR/portscope.prom`).
//! Every metric is a gauge (a count of what this one run saw, or a time): no `_total`, names
//! under `portscope_`, a `HELP` and a `TYPE` line per family, label values escaped as the
//! format requires, series in a stable order. docs/formats.md lists every metric.
//!
//! Pure: the report, the listing's counts and the run's facts (time, success) in, bytes out.
//! It must not read the clock or decide anything: the command reads the time once and says
//! whether the run succeeded.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::model::{AuditReport, OwnerUnknown, SocketEntry, UnixTime};

/// What one run was: written as `portscope_last_run_timestamp_seconds`,
/// `portscope_run_success` and `portscope_run_warnings`, labelled with the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// `list` or `audit`: the `command` label, so the two can share a textfile directory.
    pub command: &'static str,
    /// When the run read the clock.
    pub time: UnixTime,
    /// False when the run failed (nothing else is written then).
    pub success: bool,
    /// How many warnings (partial results) the run had.
    pub warnings: usize,
}

/// The listing's counts, gathered entry by entry (the listing is streamed, never held whole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Listening sockets by (proto, exposure, service).
    listeners: BTreeMap<(&'static str, &'static str, String), u64>,
    /// Every socket shown by (proto, state).
    sockets: BTreeMap<(&'static str, &'static str), u64>,
    /// Sockets without a visible owner, by reason.
    owner_unknown: BTreeMap<&'static str, u64>,
}

impl Counts {
    /// The counts of `entries`.
    #[must_use]
    pub fn of(entries: &[SocketEntry]) -> Self {
        let mut counts = Counts::default();
        for entry in entries {
            counts.add(entry);
        }
        counts
    }

    /// Count one entry.
    pub fn add(&mut self, entry: &SocketEntry) {
        let proto = entry.proto.as_str();
        *self
            .sockets
            .entry((proto, entry.state.as_str()))
            .or_default() += 1;
        if entry.state.is_listening() {
            let service = entry.service.clone().unwrap_or_default();
            *self
                .listeners
                .entry((proto, exposure(entry.exposure), service))
                .or_default() += 1;
        }
        if let Some(reason) = entry.owner_unknown_reason {
            *self.owner_unknown.entry(reason_name(reason)).or_default() += 1;
        }
    }
}

/// The `exposure` label: the JSON spelling of the class, `none` for a wildcard that covers no
/// address.
fn exposure(class: Option<crate::model::AddrClass>) -> &'static str {
    class.map_or("none", crate::model::AddrClass::as_str)
}

fn reason_name(reason: OwnerUnknown) -> &'static str {
    reason.as_str()
}

/// One metric family: its name, help text and label names, and the series written so far.
struct Family {
    name: &'static str,
    help: &'static str,
    labels: Vec<&'static str>,
    series: Vec<(Vec<String>, u64)>,
}

/// Every family portscope writes, in the order written: (name, help, label names). The unit
/// tests check each name and label against the format's rules; docs/formats.md lists them.
pub const FAMILIES: [(&str, &str, &[&str]); 7] = [
    (
        LAST_RUN,
        "Unix time of the last portscope run that wrote this file.",
        &["command"],
    ),
    (
        SUCCESS,
        "1 when the last portscope run succeeded, 0 when it failed (its other metrics are then absent).",
        &["command"],
    ),
    (
        WARNINGS,
        "Warnings of the last run (a partial result: owners not visible, expired allowlist entries).",
        &["command"],
    ),
    (
        FINDINGS,
        "Audit findings of the last run, by rule, severity, port, protocol, exposure and whether the allowlist suppresses them.",
        &[
            "rule",
            "severity",
            "port",
            "proto",
            "exposure",
            "suppressed",
        ],
    ),
    (
        LISTENERS,
        "Listening sockets (TCP listen, UDP unconnected), by protocol, exposure and service.",
        &["proto", "exposure", "service"],
    ),
    (
        SOCKETS,
        "Sockets the listing showed, by protocol and state.",
        &["proto", "state"],
    ),
    (
        OWNER_UNKNOWN,
        "Sockets whose owning process is not known, by reason (permission, hidden, kernel, not_found, skipped).",
        &["reason"],
    ),
];

const LAST_RUN: &str = "portscope_last_run_timestamp_seconds";
const SUCCESS: &str = "portscope_run_success";
const WARNINGS: &str = "portscope_run_warnings";
const FINDINGS: &str = "portscope_findings";
const LISTENERS: &str = "portscope_listeners";
const SOCKETS: &str = "portscope_sockets";
const OWNER_UNKNOWN: &str = "portscope_owner_unknown_sockets";

impl Family {
    fn new(name: &'static str) -> Self {
        let (help, labels) = FAMILIES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map_or(("", &[][..]), |(_, help, labels)| (*help, *labels));
        Family {
            name,
            help,
            labels: labels.to_vec(),
            series: Vec::new(),
        }
    }

    /// The family with a last label `host` (the audit of other hosts' snapshots).
    fn with_host(mut self) -> Self {
        self.labels.push("host");
        self
    }

    fn push(&mut self, values: Vec<String>, value: u64) {
        self.series.push((values, value));
    }

    /// HELP, TYPE and every series; nothing for a family without series.
    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.series.is_empty() {
            return Ok(());
        }
        writeln!(out, "# HELP {} {}", self.name, escape_help(self.help))?;
        writeln!(out, "# TYPE {} gauge", self.name)?;
        for (values, value) in &self.series {
            out.write_all(self.name.as_bytes())?;
            if !self.labels.is_empty() {
                out.write_all(b"{")?;
                for (i, (label, text)) in self.labels.iter().zip(values).enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    write!(out, "{label}=\"{}\"", escape_label(text))?;
                }
                out.write_all(b"}")?;
            }
            writeln!(out, " {value}")?;
        }
        Ok(())
    }
}

/// A label value as the format requires: backslash, double quote and line feed escaped
/// (`\\`, `\"`, `\n`); everything else, UTF-8 included, as it is.
#[must_use]
pub fn escape_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The run's own families.
fn run_families(run: &Run) -> [Family; 3] {
    let mut last = Family::new(LAST_RUN);
    last.push(vec![run.command.to_owned()], run.time.0);
    let mut success = Family::new(SUCCESS);
    success.push(vec![run.command.to_owned()], u64::from(run.success));
    let mut warnings = Family::new(WARNINGS);
    if run.success {
        warnings.push(
            vec![run.command.to_owned()],
            u64::try_from(run.warnings).unwrap_or(u64::MAX),
        );
    }
    [last, success, warnings]
}

/// The inventory's families from `counts`.
fn count_families(counts: &Counts) -> [Family; 3] {
    let mut families = [
        Family::new(LISTENERS),
        Family::new(SOCKETS),
        Family::new(OWNER_UNKNOWN),
    ];
    push_counts(&mut families, counts, None);
    families
}

/// Add the series of `counts` to the listeners, sockets and unknown-owner families, with a
/// last label value `host` when given.
fn push_counts(families: &mut [Family; 3], counts: &Counts, host: Option<&str>) {
    let with_host = |mut values: Vec<String>| {
        values.extend(host.map(str::to_owned));
        values
    };
    let [listeners, sockets, unknown] = families;
    for ((proto, exposure, service), n) in &counts.listeners {
        let values = vec![(*proto).to_owned(), (*exposure).to_owned(), service.clone()];
        listeners.push(with_host(values), *n);
    }
    for ((proto, state), n) in &counts.sockets {
        sockets.push(
            with_host(vec![(*proto).to_owned(), (*state).to_owned()]),
            *n,
        );
    }
    for (reason, n) in &counts.owner_unknown {
        unknown.push(with_host(vec![(*reason).to_owned()]), *n);
    }
}

fn write_all(out: &mut dyn Write, families: &[Family]) -> io::Result<()> {
    for family in families {
        family.write(out)?;
    }
    Ok(())
}

/// The listing's metrics: the run, listeners, sockets by state, unknown owners.
///
/// # Errors
/// When writing fails.
pub fn write_list(out: &mut dyn Write, counts: &Counts, run: &Run) -> io::Result<()> {
    let [listeners, sockets, unknown] = count_families(counts);
    let [last, success, warnings] = run_families(run);
    write_all(out, &[last, success, warnings, listeners, sockets, unknown])
}

/// The listening sockets an audit judged: this machine's (`host` `None`), or one snapshot's.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    /// The snapshot's host; `None` for the live machine.
    pub host: Option<&'a str>,
    /// Its listening sockets.
    pub entries: &'a [SocketEntry],
}

/// The audit's metrics: the run, the findings (every one, suppressed ones labelled
/// `suppressed="true"`, whatever `--show-suppressed` says), the listeners and unknown owners
/// of the sockets judged. The audit of snapshots (`--from`) labels the findings, listeners and
/// unknown owners with their `host` as well, so the hosts' series stay apart.
///
/// # Errors
/// When writing fails.
pub fn write_audit(
    out: &mut dyn Write,
    report: &AuditReport,
    judged: &[Judged<'_>],
    run: &Run,
) -> io::Result<()> {
    let by_host = judged.iter().any(|j| j.host.is_some());
    let mut findings: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for f in &report.findings {
        let mut key = vec![
            f.rule.clone(),
            f.severity.as_str().to_owned(),
            f.socket.port.to_string(),
            f.socket.proto.as_str().to_owned(),
            exposure(f.socket.exposure).to_owned(),
            f.suppressed.to_string(),
        ];
        if by_host {
            key.push(f.host.clone().unwrap_or_default());
        }
        *findings.entry(key).or_default() += 1;
    }
    let host_label = |family: Family| if by_host { family.with_host() } else { family };
    let mut family = host_label(Family::new(FINDINGS));
    for (key, n) in findings {
        family.push(key, n);
    }
    let mut counted = [
        host_label(Family::new(LISTENERS)),
        host_label(Family::new(SOCKETS)),
        host_label(Family::new(OWNER_UNKNOWN)),
    ];
    for j in judged {
        let host = if by_host {
            Some(j.host.unwrap_or_default())
        } else {
            None
        };
        push_counts(&mut counted, &Counts::of(j.entries), host);
    }
    let [listeners, _sockets, unknown] = counted;
    let [last, success, warnings] = run_families(run);
    write_all(out, &[last, success, warnings, family, listeners, unknown])
}

/// What a failed run leaves: its time and `portscope_run_success 0`, so an alert sees the
/// failure instead of stale numbers.
///
/// # Errors
/// When writing fails.
pub fn write_failure(out: &mut dyn Write, command: &'static str, time: UnixTime) -> io::Result<()> {
    let run = Run {
        command,
        time,
        success: false,
        warnings: 0,
    };
    write_all(out, &run_families(&run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddrClass, Finding, Gate, Proto, Severity, SocketState, Summary};

    fn is_name(text: &str, colon: bool) -> bool {
        let mut chars = text.chars();
        let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
        chars.next().is_some_and(first_ok) && chars.all(|c| first_ok(c) || c.is_ascii_digit())
    }

    #[test]
    fn names_follow_the_conventions() {
        for (name, help, labels) in FAMILIES {
            assert!(is_name(name, true), "{name}");
            assert!(name.starts_with("portscope_"), "{name}");
            // Gauges: no counter suffix; a unit only where there is one.
            assert!(!name.ends_with("_total"), "{name}");
            assert!(!name.contains("__"), "{name}");
            assert!(!help.is_empty() && !help.contains('\n'), "{name}");
            for label in labels {
                assert!(is_name(label, false) && !label.starts_with("__"), "{label}");
            }
        }
        assert!(LAST_RUN.ends_with("_seconds"));
    }

    #[test]
    fn label_values_are_escaped() {
        let cases = [
            ("plain", "plain"),
            ("a\\b", "a\\\\b"),
            ("say \"hi\"", "say \\\"hi\\\""),
            ("two\nlines", "two\\nlines"),
            ("tab\tand é", "tab\tand é"),
            ("\\\"\n", "\\\\\\\"\\n"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(escape_label(raw), escaped, "{raw:?}");
        }
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    fn run() -> Run {
        Run {
            command: "audit",
            time: UnixTime(1_700_000_000),
            success: true,
            warnings: 1,
        }
    }

    #[test]
    fn snapshot_audits_label_every_series_with_its_host() {
        let mut redis = SocketEntry::test_listener("11.22.33.44", 6379);
        redis.exposure = Some(AddrClass::Public);
        redis.service = Some("redis".into());
        let on = |host: &str| Finding {
            rule: "exposed-redis".into(),
            severity: Severity::High,
            host: Some(host.into()),
            ..Finding::test_finding(&redis)
        };
        let findings = vec![on("web1"), on("db1")];
        let report = AuditReport {
            summary: Summary::of(&findings),
            findings,
            warnings: Vec::new(),
            gate: Gate::default(),
            show_suppressed: false,
        };
        let web1 = [redis.clone()];
        let db1 = [redis];
        let judged = [
            Judged {
                host: Some("web1"),
                entries: &web1,
            },
            Judged {
                host: Some("db1"),
                entries: &db1,
            },
        ];
        let mut out = Vec::new();
        write_audit(&mut out, &report, &judged, &run()).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in [
            "portscope_findings{rule=\"exposed-redis\",severity=\"high\",port=\"6379\",proto=\"tcp\",exposure=\"public\",suppressed=\"false\",host=\"db1\"} 1",
            "portscope_findings{rule=\"exposed-redis\",severity=\"high\",port=\"6379\",proto=\"tcp\",exposure=\"public\",suppressed=\"false\",host=\"web1\"} 1",
            "portscope_listeners{proto=\"tcp\",exposure=\"public\",service=\"redis\",host=\"web1\"} 1",
            "portscope_listeners{proto=\"tcp\",exposure=\"public\",service=\"redis\",host=\"db1\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }

    #[test]
    fn audit_metrics() {
        let mut telnet = SocketEntry::test_listener("11.22.33.44", 23);
        telnet.exposure = Some(AddrClass::Public);
        telnet.service = Some("tel\"net\n".into());
        let mut dns = SocketEntry::test_listener("0.0.0.0", 53);
        dns.proto = Proto::Udp;
        dns.state = SocketState::Unconnected;
        dns.exposure = Some(AddrClass::Private);
        dns.owner_unknown_reason = Some(OwnerUnknown::Permission);
        let high = Finding {
            rule: "exposed-telnet".into(),
            severity: Severity::High,
            ..Finding::test_finding(&telnet)
        };
        let suppressed = Finding {
            suppressed: true,
            ..high.clone()
        };
        let findings = vec![high.clone(), high, suppressed];
        let report = AuditReport {
            summary: Summary::of(&findings),
            findings,
            warnings: vec!["w".into()],
            gate: Gate::default(),
            show_suppressed: false,
        };
        let mut out = Vec::new();
        let entries = [telnet, dns];
        let judged = [Judged {
            host: None,
            entries: &entries,
        }];
        write_audit(&mut out, &report, &judged, &run()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let want = "\
# HELP portscope_last_run_timestamp_seconds Unix time of the last portscope run that wrote this file.
# TYPE portscope_last_run_timestamp_seconds gauge
portscope_last_run_timestamp_seconds{command=\"audit\"} 1700000000
# HELP portscope_run_success 1 when the last portscope run succeeded, 0 when it failed (its other metrics are then absent).
# TYPE portscope_run_success gauge
portscope_run_success{command=\"audit\"} 1
# HELP portscope_run_warnings Warnings of the last run (a partial result: owners not visible, expired allowlist entries).
# TYPE portscope_run_warnings gauge
portscope_run_warnings{command=\"audit\"} 1
# HELP portscope_findings Audit findings of the last run, by rule, severity, port, protocol, exposure and whether the allowlist suppresses them.
# TYPE portscope_findings gauge
portscope_findings{rule=\"exposed-telnet\",severity=\"high\",port=\"23\",proto=\"tcp\",exposure=\"public\",suppressed=\"false\"} 2
portscope_findings{rule=\"exposed-telnet\",severity=\"high\",port=\"23\",proto=\"tcp\",exposure=\"public\",suppressed=\"true\"} 1
# HELP portscope_listeners Listening sockets (TCP listen, UDP unconnected), by protocol, exposure and service.
# TYPE portscope_listeners gauge
portscope_listeners{proto=\"tcp\",exposure=\"public\",service=\"tel\\\"net\\n\"} 1
portscope_listeners{proto=\"udp\",exposure=\"private\",service=\"\"} 1
# HELP portscope_owner_unknown_sockets Sockets whose owning process is not known, by reason (permission, hidden, kernel, not_found, skipped).
# TYPE portscope_owner_unknown_sockets gauge
portscope_owner_unknown_sockets{reason=\"permission\"} 1
";
        assert_eq!(text, want);
    }

    #[test]
    fn listing_and_failure_metrics() {
        let mut established = SocketEntry::test_listener("10.0.0.1", 4000);
        established.state = SocketState::Established;
        let listener = SocketEntry::test_listener("::1", 8080);
        let mut counts = Counts::default();
        counts.add(&established);
        counts.add(&listener);
        let mut out = Vec::new();
        let list_run = Run {
            command: "list",
            warnings: 0,
            ..run()
        };
        write_list(&mut out, &counts, &list_run).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("portscope_run_success{command=\"list\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "portscope_listeners{proto=\"tcp\",exposure=\"loopback\",service=\"\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("portscope_sockets{proto=\"tcp\",state=\"established\"} 1\n"));
        assert!(text.contains("portscope_sockets{proto=\"tcp\",state=\"listen\"} 1\n"));
        assert!(!text.contains("portscope_owner_unknown_sockets"), "{text}");

        let mut out = Vec::new();
        write_failure(&mut out, "audit", UnixTime(5)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("portscope_last_run_timestamp_seconds{command=\"audit\"} 5\n"));
        assert!(text.contains("portscope_run_success{command=\"audit\"} 0\n"));
        assert!(!text.contains("portscope_run_warnings"), "{text}");
    }
}
