//! The findings of `portscope audit`: which listening sockets are risky, how severe each is, why
//! and how to fix it; and, in the submodules, the rest of the audit decision up to the exit code.
//!
//! Input is the listening inventory ([`SocketEntry`] rows, exposure already decided by
//! [`crate::analyze::exposure`]), the rule table and a little host context ([`HostContext`]);
//! output is plain [`Finding`]s. Three checks go beyond the port table: a public listener whose
//! owner cannot be identified, a note on container port forwarders (their published ports bypass
//! the host's INPUT rules), and `route_localnet=1`, which makes loopback listeners reachable.
//! `owners.rs` names the owners' units and containers, `gate.rs` judges `--fail-on`, and
//! `report.rs` ([`report()`]) composes it all with the baseline ([`crate::analyze::baseline`]) and
//! the allowlist ([`crate::analyze::allowlist`]) into the [`crate::model::AuditReport`] a command
//! renders.
//!
//! Pure: it must not read the system, the clock, print, or decide exposure itself; the command
//! passes in what it read (cgroup texts, today's date).

use std::net::IpAddr;

use crate::analyze::handshake;
use crate::analyze::rules::{Rule, RuleSet, effective_severity};
use crate::model::{AddrClass, Finding, HostContext, OwnerUnknown, SocketEntry};
use crate::model::{ServiceSource, Severity};

mod gate;
mod netns;
mod owners;
mod reach;
mod report;

#[cfg(test)]
use gate::fails;
pub use netns::{
    Links, PublishInputs, attach_namespaces, forwarder_pids, host_facing, publications,
};
pub use owners::owner_cgroups;
#[cfg(test)]
pub use owners::owner_pids;
pub use reach::{ReachContext, apply as apply_reachability, nat_publications};
pub use report::{Accepted, AuditOptions, report};

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

/// Most severe first, then host (in an audit of snapshots), port, protocol, address, rule.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.host.cmp(&b.host))
            .then(a.socket.port.cmp(&b.socket.port))
            .then(a.socket.proto.cmp(&b.socket.proto))
            .then(a.socket.local_address.cmp(&b.socket.local_address))
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

/// True when the listener's service was named by its owner or a handshake, not only its port.
#[must_use]
pub fn identified(entry: &SocketEntry) -> bool {
    entry
        .service_source
        .iter()
        .any(|s| *s != ServiceSource::Port)
}

/// The rule for a listener: by its identified service on whatever port when its owner or a
/// handshake named it (the owner wins over the port: nginx on 6379 is not Redis), else by its
/// port number.
#[must_use]
pub fn rule_for<'a>(entry: &SocketEntry, rules: &'a RuleSet) -> Option<&'a Rule> {
    if identified(entry) {
        rules.lookup_service(entry.service.as_deref()?, entry.proto)
    } else {
        rules.lookup(entry.local_port, entry.proto)
    }
}

fn port_finding(entry: &SocketEntry, rules: &RuleSet, host: &HostContext) -> Option<Finding> {
    let rule = rule_for(entry, rules)?;
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
    // A risk only the handshake can show (no authentication, the Docker API or an admin
    // interface over plain HTTP) raises the severity one step.
    let shown = entry
        .handshake
        .as_ref()
        .and_then(|seen| handshake::risk(seen, &rule.why));
    let severity = match shown {
        Some(risk) => {
            let raised = severity.raised(1);
            notes.push(format!(
                "{risk}: severity raised one step ({severity} → {raised})"
            ));
            raised
        }
        None => severity,
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
        service_source: if identified(entry) {
            entry.service_source.clone()
        } else {
            Vec::new()
        },
        handshake: entry.handshake.clone(),
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
        OwnerUnknown::NotReported => (
            UNIDENTIFIED_SEVERITY,
            "The system's socket table names no process for this socket: something answers on \
             a public address and cannot be named from here.",
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

/// A finding about `entry` with its socket half filled in; the rule fields are the caller's.
fn base(entry: &SocketEntry) -> Finding {
    Finding::about(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProcessInfo, Proto, SocketState, Summary};
    use AddrClass::*;
    use Severity::*;

    pub(super) fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    pub(super) fn process(pid: u32, name: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            fds: Some(vec![3]),
            name: Some(name.into()),
            cmdline: [name.to_owned()].into(),
            exe: None,
            uid: Some(0),
            user: Some("root".to_owned()),
            ppid: Some(1),
            start_time: None,
        }
    }

    pub(super) fn entry(
        proto: Proto,
        addr: &str,
        port: u16,
        exposure: Option<AddrClass>,
    ) -> SocketEntry {
        let local = ip(addr);
        SocketEntry {
            proto,
            state: if proto == Proto::Tcp {
                SocketState::Listen
            } else {
                SocketState::Unconnected
            },
            user: Some("root".to_owned()),
            inode: Some(99),
            processes: vec![process(42, "daemon")],
            port_range: crate::model::IanaRange::System,
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

    pub(super) fn run(entries: &[SocketEntry], host: &HostContext) -> Vec<Finding> {
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
        assert_eq!(f.socket.exposure_address, Some(ip("11.22.33.44")));
        assert_eq!(f.socket.exposure_interface.as_deref(), Some("eth0"));
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
        let order: Vec<u16> = fs.iter().map(|f| f.socket.port).collect();
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

    /// Issue 15: the identified service chooses the rule on any port; the owner wins.
    #[test]
    fn rules_follow_the_identified_service() {
        use crate::model::ServiceSource::{Port, Process};
        let rules = RuleSet::builtin();
        let host = HostContext::default();
        let with = |port, service: &str, sources: &[crate::model::ServiceSource]| SocketEntry {
            service: Some(service.to_owned()),
            service_source: sources.to_vec(),
            ..entry(Proto::Tcp, "0.0.0.0", port, Some(Public))
        };
        let rule = |e: &SocketEntry| {
            findings(std::slice::from_ref(e), rules, &host)
                .into_iter()
                .find(|f| f.rule.starts_with("exposed-"))
                .map(|f| (f.rule, f.severity, f.service_source))
        };
        let redis_6380 = rule(&with(6380, "redis", &[Process]));
        let redis_6379 = rule(&with(6379, "redis", &[Port]));
        assert_eq!(
            redis_6380,
            Some(("exposed-redis".to_owned(), High, vec![Process]))
        );
        assert_eq!(
            redis_6379.map(|(r, s, _)| (r, s)),
            Some(("exposed-redis".to_owned(), High))
        );
        // nginx on 6379 is not Redis; sshd on 2222 is SSH.
        assert_eq!(
            rule(&with(6379, "http", &[Process])).map(|(r, _, _)| r),
            Some("exposed-http".to_owned())
        );
        assert_eq!(
            rule(&with(2222, "ssh", &[Process])).map(|(r, _, _)| r),
            Some("exposed-ssh".to_owned())
        );
        // A service no rule covers gives no finding, whatever its port.
        assert_eq!(rule(&with(5432, "node", &[Process])), None);
        // Identified by the port only: the number decides (snapshots of older versions too).
        assert_eq!(
            rule(&with(5432, "postgresql", &[])).map(|(r, _, _)| r),
            Some("exposed-postgresql".to_owned())
        );
    }
}
