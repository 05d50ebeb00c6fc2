//! The findings of `portscope audit`: which listening sockets are risky, how severe each is, why
//! and how to fix it.
//!
//! Input is the listening inventory ([`SocketEntry`] rows, exposure already decided by
//! [`crate::analyze::exposure`]), the rule table and a little host context ([`HostContext`]);
//! output is plain [`Finding`]s. Three checks go beyond the port table: a public listener whose
//! owner cannot be identified, a note on container port forwarders (their published ports bypass
//! the host's INPUT rules), and `route_localnet=1`, which makes loopback listeners reachable.
//!
//! Pure: it must not read the system, print, or decide exposure itself. Allowlists and baselines
//! are applied afterwards by [`crate::analyze::allowlist`] and [`crate::analyze::baseline`].

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::analyze::owner::parse_forwarder;
use crate::analyze::rules::{RuleSet, effective_severity};
use crate::model::{AddrClass, OwnerUnknown, ProcessInfo, Proto, SocketEntry};
use crate::model::{CgroupInfo, Container, Forwarder};
use crate::model::{Severity, Why};

/// Rule id of a public listener whose owning process cannot be identified.
pub const UNIDENTIFIED_PUBLIC_LISTENER: &str = "unidentified-public-listener";

/// Base severity of [`UNIDENTIFIED_PUBLIC_LISTENER`] when the owner is hidden or not found.
pub const UNIDENTIFIED_SEVERITY: Severity = Severity::Medium;

/// Process names of container port forwarders: their listeners stand for published container
/// ports, whose traffic is DNATed in PREROUTING and never meets the host's INPUT chain.
pub const FORWARDERS: [&str; 5] = [
    "docker-proxy",
    "rootlessport",
    "pasta",
    "dockerd",
    "containerd",
];

/// What a finding says about container port forwarders.
pub const FORWARDER_NOTE: &str = "held by a container port forwarder: traffic to a published \
     container port is DNATed in PREROUTING and forwarded, so the host's INPUT firewall rules \
     (ufw, firewalld) do not filter it; filter in the DOCKER-USER chain, or publish to \
     127.0.0.1 only (-p 127.0.0.1:HOST:CONTAINER)";

/// Host settings that change how far a socket reaches, collected by
/// [`crate::collect::route_localnet`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostContext {
    /// Interfaces (`all` included) with `net.ipv4.conf.<if>.route_localnet=1`.
    pub route_localnet: Vec<String>,
}

/// One audit finding: a risky listening socket, or a public one nobody can be named for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id: a port rule of `docs/rules.md` or [`UNIDENTIFIED_PUBLIC_LISTENER`].
    pub rule: String,
    /// Service the rule is about, e.g. `Redis`; `None` for rules without one.
    pub service: Option<String>,
    /// Severity once exposure is taken into account.
    pub severity: Severity,
    /// The rule's severity for a publicly reachable socket.
    pub base_severity: Severity,
    /// Transport protocol.
    pub proto: Proto,
    /// Local port.
    pub port: u16,
    /// Local (bound) address.
    pub local_address: IpAddr,
    /// Bound device, if any.
    pub interface: Option<String>,
    /// Exposure class of the socket.
    pub exposure: Option<AddrClass>,
    /// The local address that makes the socket as exposed as `exposure` says.
    pub exposure_address: Option<IpAddr>,
    /// The interface carrying `exposure_address`.
    pub exposure_interface: Option<String>,
    /// True for a wildcard bind (also covers addresses added later).
    pub wildcard: bool,
    /// For an IPv6 wildcard: true when it accepts IPv4 too.
    pub dual_stack: Option<bool>,
    /// Every process holding the socket (same objects as `portscope --json`).
    pub processes: Vec<ProcessInfo>,
    /// Why `processes` is empty.
    pub owner_unknown_reason: Option<OwnerUnknown>,
    /// Why it matters.
    pub why: String,
    /// Reason codes (see docs/rules.md).
    pub why_codes: Vec<Why>,
    /// What to do about it.
    pub fix: String,
    /// Extra context: forwarders, route_localnet, wildcard binds.
    pub notes: Vec<String>,
    /// True when an allowlist entry covers the finding.
    pub suppressed: bool,
    /// The allowlist entry's reason.
    pub suppressed_reason: Option<String>,
    /// With `--baseline`: `new` (absent from the baseline) or `more_exposed`.
    pub baseline: Option<String>,
    /// systemd units of the owning processes (`nginx.service`), from their cgroups.
    #[serde(default)]
    pub units: Vec<String>,
    /// Containers of the owning processes, from their cgroups, and the container a port
    /// forwarder (`docker-proxy -container-ip …`) sends the traffic to.
    #[serde(default)]
    pub containers: Vec<Container>,
}

impl Finding {
    /// Names of the owning processes, deduplicated, in pid order.
    #[must_use]
    pub fn process_names(&self) -> Vec<String> {
        process_names(&self.processes)
    }
}

/// Name each finding's owners beyond their processes: the systemd unit and the container of
/// every owning pid (from `cgroups`, parsed `/proc/PID/cgroup` texts), and for a container port
/// forwarder the address and port it forwards to, as a note.
pub fn attach_owners(findings: &mut [Finding], cgroups: &HashMap<u32, CgroupInfo>) {
    for f in findings.iter_mut() {
        for p in &f.processes {
            let Some(info) = cgroups.get(&p.pid) else {
                continue;
            };
            // Session and user-manager scopes say nothing an administrator would stop.
            if let Some(unit) = info
                .unit
                .as_ref()
                .filter(|u| u.ends_with(".service") || u.ends_with(".socket"))
            {
                if !f.units.contains(unit) {
                    f.units.push(unit.clone());
                }
            }
            if let Some(c) = &info.container {
                if !f.containers.iter().any(|k| k.id == c.id) {
                    f.containers.push(c.clone());
                }
            }
        }
        for p in &f.processes {
            let fwd = parse_forwarder(p.name.as_deref(), &p.cmdline, f.port, f.proto);
            if let Some(Forwarder {
                kind,
                container_address: Some(addr),
                container_port,
                ..
            }) = fwd
            {
                let target = match container_port {
                    Some(port) => format!("{addr}:{port}"),
                    None => addr,
                };
                let note = format!("{kind} forwards this port to the container at {target}");
                if !f.notes.contains(&note) {
                    f.notes.push(note);
                }
            }
        }
    }
}

/// Names of processes, deduplicated, in order; unnamed ones are skipped.
#[must_use]
pub fn process_names(processes: &[ProcessInfo]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in processes.iter().filter_map(|p| p.name.as_ref()) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// True when a process name is a container port forwarder ([`FORWARDERS`]); `pasta.avx2` counts
/// as `pasta`.
#[must_use]
pub fn is_forwarder(name: &str) -> bool {
    FORWARDERS.iter().any(|f| {
        name == *f
            || name
                .strip_prefix(f)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Every finding for the listening sockets `entries`, most severe first (then by port, protocol
/// and address).
#[must_use]
pub fn findings(entries: &[SocketEntry], rules: &RuleSet, host: &HostContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for entry in entries.iter().filter(|e| e.state.is_listening()) {
        if let Some(finding) = port_finding(entry, rules, host) {
            out.push(finding);
        }
        if let Some(finding) = unidentified_finding(entry) {
            out.push(finding);
        }
    }
    sort(&mut out);
    out
}

/// Most severe first, then port, protocol, address, rule.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.port.cmp(&b.port))
            .then(a.proto.cmp(&b.proto))
            .then(a.local_address.cmp(&b.local_address))
            .then(a.rule.cmp(&b.rule))
    });
}

/// True when the socket accepts IPv4 packets to a 127/8 address: an IPv4 loopback bind, or a
/// wildcard covering IPv4.
fn accepts_ipv4_loopback(entry: &SocketEntry) -> bool {
    match entry.local_address {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified(),
        IpAddr::V6(_) => entry.wildcard && entry.dual_stack != Some(false),
    }
}

fn port_finding(entry: &SocketEntry, rules: &RuleSet, host: &HostContext) -> Option<Finding> {
    let rule = rules.lookup(entry.local_port, entry.proto)?;
    let mut notes = Vec::new();
    let severity = match effective_severity(rule.severity, entry.exposure) {
        Some(level) => level,
        None if entry.exposure == Some(AddrClass::Loopback)
            && !host.route_localnet.is_empty()
            && accepts_ipv4_loopback(entry) =>
        {
            notes.push(format!(
                "net.ipv4.conf.{{{}}}.route_localnet=1: packets to 127.0.0.0/8 arriving from \
                 outside are no longer dropped as martians, so this loopback listener can be \
                 reached from neighbours on that link; set route_localnet=0 unless a DNAT rule \
                 needs it",
                host.route_localnet.join(",")
            ));
            route_localnet_severity(rule.severity)
        }
        None => return None,
    };
    if entry.wildcard && entry.exposure.is_some() {
        notes.push(
            "wildcard bind: it also covers any address added later (DHCP, VPN, a new interface)"
                .to_owned(),
        );
    }
    if entry.dual_stack == Some(false) {
        notes.push("IPv6 only (IPV6_V6ONLY): the host's IPv4 addresses do not count".to_owned());
    }
    add_forwarder_note(entry, &mut notes);
    Some(Finding {
        rule: rule.id.clone(),
        service: Some(rule.service.clone()),
        severity,
        base_severity: rule.severity,
        why: rule.summary.clone(),
        why_codes: rule.why.clone(),
        fix: rule.fix.clone(),
        notes,
        ..base(entry)
    })
}

/// Severity of a risky loopback listener on a host with `route_localnet=1`: two steps below the
/// base, at least low.
#[must_use]
pub fn route_localnet_severity(base: Severity) -> Severity {
    base.lowered(2).max(Severity::Low)
}

fn unidentified_finding(entry: &SocketEntry) -> Option<Finding> {
    if entry.exposure != Some(AddrClass::Public) || !entry.processes.is_empty() {
        return None;
    }
    let reason = entry.owner_unknown_reason?;
    let (severity, why) = match reason {
        // Skipped never happens in an audit; kernel-held sockets are not listeners.
        OwnerUnknown::Skipped | OwnerUnknown::Kernel => return None,
        OwnerUnknown::Permission => (
            Severity::Low,
            "Without privileges the owners of other users' sockets are not visible, so nobody \
             can say what answers on this public address.",
        ),
        OwnerUnknown::Hidden => (
            UNIDENTIFIED_SEVERITY,
            "The owner's file descriptors could not be read even with privileges (another PID \
             namespace, a security module or a sandbox): something answers on a public address \
             and cannot be named.",
        ),
        OwnerUnknown::NotFound => (
            UNIDENTIFIED_SEVERITY,
            "No process holds this socket: it belongs to the kernel (NFS, WireGuard, a \
             container's network namespace) or to a process in another PID namespace, and \
             answers on a public address without an owner to ask.",
        ),
    };
    let fix = match reason {
        OwnerUnknown::Permission => {
            "Run the audit as root (or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH) to identify \
             the owner; then judge it like any other listener."
        }
        _ => {
            "Identify the service (kernel modules, containers, `ss -ltunpe`), then stop it, bind \
             it to a private or loopback address, or allowlist it with a reason."
        }
    };
    Some(Finding {
        rule: UNIDENTIFIED_PUBLIC_LISTENER.to_owned(),
        service: None,
        severity,
        base_severity: severity,
        why: why.to_owned(),
        why_codes: Vec::new(),
        fix: fix.to_owned(),
        notes: Vec::new(),
        ..base(entry)
    })
}

fn add_forwarder_note(entry: &SocketEntry, notes: &mut Vec<String>) {
    let forwarder = entry
        .processes
        .iter()
        .filter_map(|p| p.name.as_deref())
        .any(is_forwarder);
    if forwarder {
        notes.push(FORWARDER_NOTE.to_owned());
    }
}

/// The socket half of a finding; rule fields are filled by the caller.
fn base(entry: &SocketEntry) -> Finding {
    Finding {
        rule: String::new(),
        service: None,
        severity: Severity::Info,
        base_severity: Severity::Info,
        proto: entry.proto,
        port: entry.local_port,
        local_address: entry.local_address,
        interface: entry.interface.clone(),
        exposure: entry.exposure,
        exposure_address: entry.exposure_address,
        exposure_interface: entry.exposure_interface.clone(),
        wildcard: entry.wildcard,
        dual_stack: entry.dual_stack,
        processes: entry.processes.clone(),
        owner_unknown_reason: entry.owner_unknown_reason,
        why: String::new(),
        why_codes: Vec::new(),
        fix: String::new(),
        notes: Vec::new(),
        suppressed: false,
        suppressed_reason: None,
        baseline: None,
        units: Vec::new(),
        containers: Vec::new(),
    }
}

/// Counts for the summary line and JSON `summary`: unsuppressed findings per severity, and the
/// suppressed ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Unsuppressed critical findings.
    pub critical: usize,
    /// Unsuppressed high findings.
    pub high: usize,
    /// Unsuppressed medium findings.
    pub medium: usize,
    /// Unsuppressed low findings.
    pub low: usize,
    /// Unsuppressed info findings.
    pub info: usize,
    /// Findings an allowlist entry covers.
    pub suppressed: usize,
}

impl Summary {
    /// Count `findings`.
    #[must_use]
    pub fn of(findings: &[Finding]) -> Self {
        let mut s = Summary::default();
        for f in findings {
            if f.suppressed {
                s.suppressed += 1;
                continue;
            }
            *s.slot(f.severity) += 1;
        }
        s
    }

    fn slot(&mut self, level: Severity) -> &mut usize {
        match level {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        }
    }

    /// Unsuppressed findings of one level.
    #[must_use]
    pub fn count(&self, level: Severity) -> usize {
        let mut copy = *self;
        *copy.slot(level)
    }

    /// `2 high, 1 medium, 1 suppressed`, or `no findings` (plus `, N suppressed`).
    #[must_use]
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = Severity::ALL
            .iter()
            .filter(|&&level| self.count(level) > 0)
            .map(|&level| format!("{} {level}", self.count(level)))
            .collect();
        if parts.is_empty() {
            parts.push("no findings".to_owned());
        }
        if self.suppressed > 0 {
            parts.push(format!("{} suppressed", self.suppressed));
        }
        parts.join(", ")
    }
}

/// True when an unsuppressed finding is at or above `threshold`.
#[must_use]
pub fn fails(findings: &[Finding], threshold: Severity) -> bool {
    findings
        .iter()
        .any(|f| !f.suppressed && f.severity >= threshold)
}

/// The verdict of `--fail-on` (see [`gate`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gate {
    /// An unsuppressed finding is at or above `--fail-on`: exit 1.
    pub failed: bool,
    /// Unsuppressed findings at or above `--fail-on` that `--min-severity` keeps out of the
    /// report: the audit fails on findings it does not show, and must say so.
    pub hidden: usize,
}

/// The CI gate. `--fail-on` judges every unsuppressed finding left after the baseline and the
/// allowlist, whatever `--min-severity` leaves out of the report: that option only filters what
/// is shown, so `--min-severity critical --fail-on high` still fails on a high finding (and
/// counts it in [`Gate::hidden`]). Without `--fail-on` the audit never fails.
#[must_use]
pub fn gate(
    findings: &[Finding],
    fail_on: Option<Severity>,
    min_severity: Option<Severity>,
) -> Gate {
    let Some(threshold) = fail_on else {
        return Gate::default();
    };
    let hidden = findings
        .iter()
        .filter(|f| !f.suppressed && f.severity >= threshold)
        .filter(|f| min_severity.is_some_and(|floor| f.severity < floor))
        .count();
    Gate {
        failed: fails(findings, threshold),
        hidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SocketState;
    use AddrClass::*;
    use Severity::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn process(pid: u32, name: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            fds: vec![3],
            name: Some(name.to_owned()),
            cmdline: vec![name.to_owned()],
            exe: None,
            uid: Some(0),
            user: Some("root".to_owned()),
            ppid: Some(1),
            start_time: None,
        }
    }

    fn entry(proto: Proto, addr: &str, port: u16, exposure: Option<AddrClass>) -> SocketEntry {
        let local = ip(addr);
        SocketEntry {
            proto,
            state: if proto == Proto::Tcp {
                SocketState::Listen
            } else {
                SocketState::Unconnected
            },
            user: Some("root".to_owned()),
            inode: 99,
            processes: vec![process(42, "daemon")],
            port_range: "system".to_owned(),
            exposure,
            exposure_address: Some(if local.is_unspecified() {
                ip("11.22.33.44")
            } else {
                local
            }),
            exposure_interface: Some("eth0".to_owned()),
            ..SocketEntry::test_listener(addr, port)
        }
    }

    fn run(entries: &[SocketEntry], host: &HostContext) -> Vec<Finding> {
        findings(entries, RuleSet::builtin(), host)
    }

    #[test]
    fn severity_follows_exposure() {
        use Proto::{Tcp, Udp};
        type Case<'a> = (
            Proto,
            &'a str,
            u16,
            Option<AddrClass>,
            Option<(&'a str, Severity)>,
        );
        let cases: &[Case] = &[
            (
                Tcp,
                "11.22.33.44",
                23,
                Some(Public),
                Some(("exposed-telnet", High)),
            ),
            (
                Tcp,
                "10.0.0.1",
                6379,
                Some(Private),
                Some(("exposed-redis", Medium)),
            ),
            (
                Tcp,
                "169.254.1.1",
                5432,
                Some(LinkLocal),
                Some(("exposed-postgresql", Low)),
            ),
            (Tcp, "127.0.0.1", 6379, Some(Loopback), None),
            (
                Udp,
                "0.0.0.0",
                11211,
                Some(Public),
                Some(("exposed-memcached-udp", High)),
            ),
            (
                Tcp,
                "0.0.0.0",
                2375,
                Some(Public),
                Some(("exposed-docker-api", Critical)),
            ),
            (Tcp, "0.0.0.0", 2375, None, None),
            (Tcp, "11.22.33.44", 8123, Some(Public), None),
            (
                Tcp,
                "11.22.33.44",
                80,
                Some(Public),
                Some(("exposed-http", Info)),
            ),
        ];
        for &(proto, addr, port, exposure, want) in cases {
            let got = run(
                &[entry(proto, addr, port, exposure)],
                &HostContext::default(),
            );
            let got: Vec<(&str, Severity)> =
                got.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
            assert_eq!(
                got,
                want.into_iter().collect::<Vec<_>>(),
                "{addr}:{port}/{proto}"
            );
        }
    }

    #[test]
    fn finding_carries_socket_owner_and_rule_text() {
        let f = &run(
            &[entry(Proto::Tcp, "0.0.0.0", 6379, Some(Public))],
            &HostContext::default(),
        )[0];
        assert_eq!((f.severity, f.base_severity), (High, High));
        assert_eq!(f.exposure_address, Some(ip("11.22.33.44")));
        assert_eq!(f.exposure_interface.as_deref(), Some("eth0"));
        assert_eq!(f.process_names(), vec!["daemon".to_owned()]);
        assert!(f.why.contains("Redis") || !f.why.is_empty());
        assert!(!f.fix.is_empty() && !f.why_codes.is_empty());
        assert!(
            f.notes.iter().any(|n| n.starts_with("wildcard bind")),
            "{:?}",
            f.notes
        );
        assert!(!f.suppressed && f.suppressed_reason.is_none());
    }

    #[test]
    fn v6_only_wildcard_is_noted() {
        let mut e = entry(Proto::Tcp, "::", 6379, Some(Private));
        e.dual_stack = Some(false);
        let f = &run(&[e], &HostContext::default())[0];
        assert_eq!(f.severity, Medium);
        assert!(
            f.notes.iter().any(|n| n.contains("IPv6 only")),
            "{:?}",
            f.notes
        );
    }

    #[test]
    fn unknown_owner_on_public_address() {
        let cases = [
            (OwnerUnknown::NotFound, Some(Public), Some(Medium)),
            (OwnerUnknown::Hidden, Some(Public), Some(Medium)),
            (OwnerUnknown::Permission, Some(Public), Some(Low)),
            (OwnerUnknown::NotFound, Some(Private), None),
            (OwnerUnknown::Skipped, Some(Public), None),
        ];
        for (reason, exposure, want) in cases {
            let mut e = entry(Proto::Udp, "0.0.0.0", 51820, exposure);
            e.processes.clear();
            e.owner_unknown_reason = Some(reason);
            let got: Vec<Severity> = run(&[e], &HostContext::default())
                .iter()
                .filter(|f| f.rule == UNIDENTIFIED_PUBLIC_LISTENER)
                .map(|f| f.severity)
                .collect();
            assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{reason:?}");
        }
        // A risky port with no owner gives both findings.
        let mut e = entry(Proto::Tcp, "11.22.33.44", 23, Some(Public));
        e.processes.clear();
        e.owner_unknown_reason = Some(OwnerUnknown::NotFound);
        let rules: Vec<String> = run(&[e], &HostContext::default())
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(rules, vec!["exposed-telnet", UNIDENTIFIED_PUBLIC_LISTENER]);
    }

    #[test]
    fn forwarders_get_the_firewall_note() {
        for (name, noted) in [
            ("docker-proxy", true),
            ("rootlessport", true),
            ("pasta", true),
            ("pasta.avx2", true),
            ("dockerd", true),
            ("containerd", true),
            ("redis-server", false),
            ("pastapasta", false),
        ] {
            let mut e = entry(Proto::Tcp, "0.0.0.0", 6379, Some(Public));
            e.processes = vec![process(7, name)];
            let f = &run(&[e], &HostContext::default())[0];
            assert_eq!(f.notes.iter().any(|n| n == FORWARDER_NOTE), noted, "{name}");
        }
    }

    #[test]
    fn route_localnet_raises_loopback_binds() {
        let host = HostContext {
            route_localnet: vec!["eth0".to_owned()],
        };
        let cases: &[(&str, u16, Option<Severity>)] = &[
            ("127.0.0.1", 6379, Some(Low)),
            ("127.0.0.1", 2375, Some(Medium)),
            ("127.0.0.1", 5353, Some(Low)),
            ("::1", 6379, None),
            ("127.0.0.1", 8123, None),
        ];
        for &(addr, port, want) in cases {
            let proto = if port == 5353 { Proto::Udp } else { Proto::Tcp };
            let got = run(&[entry(proto, addr, port, Some(Loopback))], &host);
            assert_eq!(got.first().map(|f| f.severity), want, "{addr}:{port}");
            if let Some(f) = got.first() {
                assert!(f.notes[0].contains("route_localnet=1") && f.notes[0].contains("eth0"));
                assert!(f.notes[0].contains("martians"));
            }
        }
        // Without the sysctl, loopback stays silent.
        let none = run(
            &[entry(Proto::Tcp, "127.0.0.1", 6379, Some(Loopback))],
            &HostContext::default(),
        );
        assert!(none.is_empty());
        assert_eq!(route_localnet_severity(Critical), Medium);
        assert_eq!(route_localnet_severity(Info), Low);
    }

    #[test]
    fn order_summary_and_threshold() {
        let entries = [
            entry(Proto::Tcp, "11.22.33.44", 21, Some(Public)),
            entry(Proto::Tcp, "11.22.33.44", 23, Some(Public)),
            entry(Proto::Tcp, "11.22.33.44", 2375, Some(Public)),
            entry(Proto::Tcp, "10.0.0.1", 6379, Some(Private)),
        ];
        let mut fs = run(&entries, &HostContext::default());
        let order: Vec<u16> = fs.iter().map(|f| f.port).collect();
        assert_eq!(order, vec![2375, 23, 21, 6379]);
        assert_eq!(Summary::of(&fs).line(), "1 critical, 1 high, 2 medium");
        assert!(fails(&fs, Critical));
        fs[0].suppressed = true;
        assert!(!fails(&fs, Critical) && fails(&fs, High));
        assert_eq!(Summary::of(&fs).line(), "1 high, 2 medium, 1 suppressed");
        assert_eq!(Summary::of(&[]).line(), "no findings");
        for f in &mut fs {
            f.suppressed = true;
        }
        assert_eq!(Summary::of(&fs).line(), "no findings, 4 suppressed");
    }

    #[test]
    fn gate_ignores_the_display_filter() {
        let entries = [
            entry(Proto::Tcp, "0.0.0.0", 23, Some(Public)),
            entry(Proto::Tcp, "10.0.0.5", 6379, Some(Private)),
        ];
        // One high (telnet, public) and one medium (redis, private) finding.
        let fs = run(&entries, &HostContext::default());
        assert_eq!(Summary::of(&fs).line(), "1 high, 1 medium");
        let mut suppressed = fs.clone();
        suppressed[0].suppressed = true;
        let gate = |failed, hidden| Gate { failed, hidden };
        // (findings, --fail-on, --min-severity) → verdict
        let cases = [
            (&fs, None, None, gate(false, 0)),
            (&fs, None, Some(Critical), gate(false, 0)),
            (&fs, Some(Critical), None, gate(false, 0)),
            (&fs, Some(High), None, gate(true, 0)),
            (&fs, Some(High), Some(High), gate(true, 0)),
            (&fs, Some(High), Some(Low), gate(true, 0)),
            // The reported combination: the high finding is not shown but still fails.
            (&fs, Some(High), Some(Critical), gate(true, 1)),
            (&fs, Some(Medium), Some(Critical), gate(true, 2)),
            (&fs, Some(Medium), Some(High), gate(true, 1)),
            (&fs, Some(Critical), Some(Critical), gate(false, 0)),
            // Suppressed findings never fail, shown or not.
            (&suppressed, Some(High), Some(Critical), gate(false, 0)),
            (&suppressed, Some(Medium), Some(Critical), gate(true, 1)),
            (&vec![], Some(Info), Some(Critical), gate(false, 0)),
        ];
        for (findings, fail_on, min, want) in cases {
            assert_eq!(
                super::gate(findings, fail_on, min),
                want,
                "--fail-on {fail_on:?} --min-severity {min:?}"
            );
        }
    }

    #[test]
    fn owners_are_named_by_unit_container_and_forwarder_target() {
        use crate::analyze::owner::parse_cgroup;
        let mut f = base(&redis_entry_for_owner_test());
        f.processes[0].name = Some("docker-proxy".into());
        f.processes[0].cmdline = [
            "/usr/bin/docker-proxy",
            "-proto",
            "tcp",
            "-host-ip",
            "0.0.0.0",
            "-host-port",
            "6379",
            "-container-ip",
            "172.17.0.2",
            "-container-port",
            "6379",
        ]
        .map(String::from)
        .to_vec();
        let pid = f.processes[0].pid;
        let cgroups = HashMap::from([(pid, parse_cgroup("0::/system.slice/docker.service\n"))]);
        let mut findings = vec![f];
        attach_owners(&mut findings, &cgroups);
        assert_eq!(findings[0].units, vec!["docker.service"]);
        assert!(findings[0].containers.is_empty());
        assert!(
            findings[0]
                .notes
                .iter()
                .any(|n| n.contains("172.17.0.2:6379")),
            "{:?}",
            findings[0].notes
        );
        let cgroups = HashMap::from([(
            pid,
            parse_cgroup(&format!(
                "0::/system.slice/docker-{}.scope\n",
                "ab".repeat(32)
            )),
        )]);
        attach_owners(&mut findings, &cgroups);
        assert_eq!(findings[0].containers.len(), 1);
        assert_eq!(findings[0].containers[0].runtime, "docker");
    }

    fn redis_entry_for_owner_test() -> SocketEntry {
        SocketEntry {
            inode: 9,
            processes: vec![ProcessInfo {
                fds: vec![4],
                uid: Some(0),
                user: Some("root".into()),
                ppid: Some(1),
                ..ProcessInfo::test_process(4321, "redis-server")
            }],
            service: Some("redis".into()),
            port_range: "registered".into(),
            exposure: Some(AddrClass::Public),
            ..SocketEntry::test_listener("0.0.0.0", 6379)
        }
    }
}
