//! The `portscope who` report: its JSON document and its human form (the listing table with
//! states, a details block per owner, the bind probe, advice). Untrusted text (names, command
//! lines, paths) is sanitized before it reaches the terminal.
//!
//! It must not collect or decide anything: it only lays out what the investigation found.

use std::io::{self, Write};

use colored::Colorize;
use serde::Serialize;

use crate::model::{
    Endpoint, HostAddr, Investigation, OwnerDetails, OwnerUnknownForm, OwnerUnknownLabel,
    PidNamespace, PortSpec, PortVerdict, Proto, SocketEntry, civil_from_days,
};
use crate::model::{PortSettings, ProbeOutcome, ProbeResult};
use crate::render::json::SCHEMA_VERSION;
use crate::render::table::{self, Columns};
use crate::render::{Style, sanitize};

/// `portscope who --json` (see docs/json.md).
#[derive(Debug, Serialize)]
pub struct WhoDocument<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The port asked about.
    pub port: u16,
    /// The protocol asked about, `null` for both.
    pub proto: Option<Proto>,
    /// True when any socket uses the port, listed or not (`verdict` is not `free`).
    pub in_use: bool,
    /// `in_use`, `in_use_unlisted` (no listed socket, but the bind probe found the port in
    /// use) or `free`.
    pub verdict: PortVerdict,
    /// Every socket on the port, the same objects as `portscope --json`.
    pub sockets: &'a [SocketEntry],
    /// One object per pid in `sockets[].processes[]`, with the details `who` adds.
    pub owners: &'a [OwnerDetails],
    /// The PID namespace the pids belong to when `--proc-root` is not portscope's own; `null`
    /// when it is.
    pub pid_namespace: Option<&'a PidNamespace>,
    /// The bind probe, of the protocols the socket table showed nothing for; empty when none
    /// was probed.
    pub bind_probe: &'a [ProbeResult],
    /// The kernel's port settings.
    pub port_settings: &'a PortSettings,
    /// Advice, one sentence or two per line.
    pub advice: &'a [String],
    /// Why the result may be partial (also on stderr).
    pub warnings: &'a [String],
}

impl<'a> WhoDocument<'a> {
    /// The document of an investigation.
    #[must_use]
    pub fn of(found: &'a Investigation) -> Self {
        WhoDocument {
            schema_version: SCHEMA_VERSION,
            port: found.spec.port,
            proto: found.spec.proto,
            in_use: found.verdict.in_use(),
            verdict: found.verdict,
            sockets: &found.sockets,
            owners: &found.owners,
            pid_namespace: found.pid_namespace.as_ref(),
            bind_probe: &found.probe,
            port_settings: &found.settings,
            advice: &found.advice,
            warnings: &found.warnings,
        }
    }

    fn spec(&self) -> PortSpec {
        PortSpec {
            port: self.port,
            proto: self.proto,
        }
    }
}

fn heading(out: &mut dyn Write, text: &str, style: Style) -> io::Result<()> {
    if style.color {
        writeln!(out, "{}", text.bold())
    } else {
        writeln!(out, "{text}")
    }
}

/// Write the human report.
///
/// # Errors
/// When writing fails.
pub fn write_report(out: &mut dyn Write, doc: &WhoDocument<'_>, style: Style) -> io::Result<()> {
    let spec = doc.spec();
    if doc.sockets.is_empty() {
        let line = match doc.verdict {
            PortVerdict::InUseUnlisted => format!(
                "Port {spec} is in use, but no listed socket explains it: a plain bind of it \
                 fails (see the bind probe and advice)."
            ),
            PortVerdict::InUse | PortVerdict::Free => {
                format!("Port {spec} is free: no socket uses it.")
            }
        };
        heading(out, &line, style)?;
    } else {
        let line = format!(
            "Port {spec} is in use: {} socket(s), {} owning process(es).",
            doc.sockets.len(),
            doc.owners.len()
        );
        heading(out, &line, style)?;
        if let Some(ns) = doc.pid_namespace.filter(|_| !doc.owners.is_empty()) {
            writeln!(out, "Note: {}.", sanitize(&ns.to_string()))?;
        }
        writeln!(out)?;
        table::sockets(
            out,
            doc.sockets,
            Columns {
                states: true,
                owners: true,
                // Who holds the port in which namespace, when several have it (`--all-netns`).
                netns: doc.sockets.iter().any(|s| {
                    s.netns.as_ref().map(|n| n.inode)
                        != doc.sockets[0].netns.as_ref().map(|n| n.inode)
                }),
            },
            style,
        )?;
    }
    write_owners(out, doc.owners, style)?;
    write_unseen(out, doc.sockets)?;
    if !doc.bind_probe.is_empty() {
        writeln!(out)?;
        heading(
            out,
            "Bind probe where the socket table lists nothing (a plain bind without SO_REUSEADDR, closed at once):",
            style,
        )?;
        for p in doc.bind_probe {
            let result = p.result.as_str();
            let result = if style.color {
                match p.result {
                    ProbeOutcome::Free => result.green().to_string(),
                    ProbeOutcome::InUse => result.red().to_string(),
                    _ => result.yellow().to_string(),
                }
            } else {
                result.to_string()
            };
            let pad = " ".repeat(19usize.saturating_sub(p.result.as_str().len()));
            let line = match &p.error {
                Some(e) => format!(
                    "  {:<4} {:<11} {result}{pad} {}",
                    p.proto.as_str(),
                    HostAddr(p.address).to_string(),
                    sanitize(e)
                ),
                None => format!(
                    "  {:<4} {:<11} {result}",
                    p.proto.as_str(),
                    HostAddr(p.address).to_string()
                ),
            };
            writeln!(out, "{line}")?;
        }
    }
    if !doc.advice.is_empty() {
        writeln!(out)?;
        heading(out, "Advice:", style)?;
        for line in doc.advice {
            writeln!(out, "  • {}", sanitize(line))?;
        }
    }
    Ok(())
}

/// The details block of each owner.
///
/// # Errors
/// When writing fails.
pub fn write_owners(out: &mut dyn Write, owners: &[OwnerDetails], style: Style) -> io::Result<()> {
    for o in owners {
        writeln!(out)?;
        let title = format!(
            "pid {} {}",
            o.pid,
            sanitize(o.name.as_deref().unwrap_or("?"))
        );
        heading(out, &title, style)?;
        let field = |out: &mut dyn Write, key: &str, value: &str| -> io::Result<()> {
            writeln!(out, "  {key:<10} {value}")
        };
        if !o.cmdline.is_empty() {
            field(out, "command", &sanitize(&o.cmdline.join(" ")))?;
        }
        if let Some(exe) = &o.exe {
            field(out, "executable", &sanitize(exe))?;
        }
        let user = match (&o.user, o.uid) {
            (Some(u), Some(uid)) => format!("{} (uid {uid})", sanitize(u)),
            (None, Some(uid)) => format!("uid {uid}"),
            _ => "unknown".to_string(),
        };
        field(out, "user", &user)?;
        if let Some(t) = o.start_time {
            let ago = o
                .age_seconds
                .map(|a| format!(" ({} ago)", human_age(a)))
                .unwrap_or_default();
            field(out, "started", &format!("{}{ago}", utc(t)))?;
        }
        if !o.parents.is_empty() {
            let chain: Vec<String> = o
                .parents
                .iter()
                .map(|a| format!("{} ({})", sanitize(a.name.as_deref().unwrap_or("?")), a.pid))
                .collect();
            field(out, "parents", &chain.join(" ← "))?;
        }
        if let Some(unit) = &o.unit {
            let manager = o
                .unit_user_manager
                .map(|uid| format!(" (user manager of uid {uid})"))
                .unwrap_or_default();
            field(out, "unit", &format!("{}{manager}", sanitize(unit)))?;
        }
        if o.socket_activated {
            let unit = o.socket_unit.as_deref().map_or_else(
                || "socket-activated by systemd (pid 1)".to_string(),
                |u| format!("socket-activated by systemd (pid 1) for {}", sanitize(u)),
            );
            field(out, "holds for", &unit)?;
        }
        if let Some(c) = &o.container {
            let mut text = format!("{} {}", c.runtime, sanitize(&c.id));
            if let Some(pod) = &c.pod_uid {
                text.push_str(&format!(" (Kubernetes pod {})", sanitize(pod)));
            }
            field(out, "container", &text)?;
        }
        if let Some(f) = &o.forwarder {
            let target = match (&f.container_address, f.container_port) {
                (Some(a), Some(p)) => format!(" → {}:{p}", sanitize(a)),
                (None, Some(p)) => format!(" → container port {p}"),
                _ => String::new(),
            };
            field(out, "forwarder", &format!("{}{target}", f.kind))?;
        }
        if o.kernel_thread {
            field(out, "kind", "kernel thread")?;
        }
    }
    Ok(())
}

fn write_unseen(out: &mut dyn Write, sockets: &[SocketEntry]) -> io::Result<()> {
    let mut lines: Vec<String> = Vec::new();
    for s in sockets {
        let why = OwnerUnknownLabel {
            reason: s.owner_unknown_reason,
            form: OwnerUnknownForm::Explained,
        }
        .as_str();
        if why.is_empty() {
            continue;
        }
        let end = Endpoint(s.local_address, s.local_port);
        let line = format!("  {} {} {end}: {why}", s.proto, s.state);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    if !lines.is_empty() {
        writeln!(out)?;
        writeln!(out, "Sockets without a visible owner:")?;
        for l in lines {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

/// `1h 2m`, `3d 4h`, `42s`.
#[must_use]
pub fn human_age(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC` (the model's [`civil_from_days`], no
/// time zone data).
#[must_use]
pub fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (y, m, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::PortVerdict as Verdict;

    fn report(verdict: Verdict, probe: &[ProbeResult], advice: &[String]) -> String {
        let spec = PortSpec {
            port: 8080,
            proto: Some(Proto::Tcp),
        };
        let found = Investigation {
            spec,
            sockets: Vec::new(),
            owners: Vec::new(),
            probe: probe.to_vec(),
            verdict,
            settings: PortSettings::default(),
            advice: advice.to_vec(),
            warnings: Vec::new(),
            pid_namespace: None,
        };
        let doc = WhoDocument::of(&found);
        let mut out = Vec::new();
        write_report(&mut out, &doc, Style::plain()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_empty_table_is_free_only_when_no_probe_found_the_port_in_use() {
        let in_use = ProbeResult {
            proto: Proto::Tcp,
            address: "127.0.0.1".parse().unwrap(),
            result: ProbeOutcome::InUse,
            error: Some("Address already in use (os error 98)".into()),
        };
        let text = report(Verdict::InUseUnlisted, &[in_use], &["No listed…".into()]);
        assert!(
            text.starts_with("Port 8080/tcp is in use, but no listed socket explains it"),
            "{text}"
        );
        assert!(!text.contains("free"), "{text}");
        assert!(text.contains("  tcp  127.0.0.1   in_use"), "{text}");
        let text = report(Verdict::Free, &[], &[]);
        assert!(text.starts_with("Port 8080/tcp is free"), "{text}");
        // Nothing probed: no probe section at all.
        assert!(!text.contains("Bind probe"), "{text}");
    }

    #[test]
    fn ages() {
        assert_eq!(human_age(42), "42s");
        assert_eq!(human_age(3 * 60 + 4), "3m 4s");
        assert_eq!(human_age(2 * 3600 + 5 * 60), "2h 5m");
        assert_eq!(human_age(3 * 86_400 + 4 * 3600), "3d 4h");
    }

    #[test]
    fn sockets_without_a_visible_owner() {
        use crate::model::OwnerUnknown;
        let socket = |addr, reason| SocketEntry {
            owner_unknown_reason: reason,
            ..SocketEntry::test_listener(addr, 8080)
        };
        // (sockets, what is written)
        let cases = [
            (vec![], ""),
            (
                vec![
                    socket("::1", None),
                    socket("::1", Some(OwnerUnknown::Skipped)),
                ],
                "",
            ),
            (
                vec![socket("::1", Some(OwnerUnknown::Permission))],
                "\nSockets without a visible owner:\n  tcp listen [::1]:8080: not visible without root\n",
            ),
            (
                // The same line twice is written once.
                vec![
                    socket("0.0.0.0", Some(OwnerUnknown::Kernel)),
                    socket("0.0.0.0", Some(OwnerUnknown::Kernel)),
                    socket("10.0.0.1", Some(OwnerUnknown::NotFound)),
                ],
                "\nSockets without a visible owner:\n  tcp listen 0.0.0.0:8080: kernel-owned: no process holds it (TIME_WAIT or a kernel socket)\n  tcp listen 10.0.0.1:8080: no process holds it: a kernel socket (NFS, WireGuard), another PID namespace, or the process exited\n",
            ),
        ];
        for (sockets, want) in cases {
            let mut out = Vec::new();
            write_unseen(&mut out, &sockets).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(951_868_799), "2000-02-29 23:59:59 UTC");
        assert_eq!(utc(4_102_444_800), "2100-01-01 00:00:00 UTC");
    }
}
