//! The data of `portscope audit`: a [`Finding`] (a risky listening socket, the rule that flags it,
//! and what the baseline and the allowlist say about it), the [`Summary`] counts, the `--fail-on`
//! [`Gate`], the [`AuditReport`] a renderer writes, and the [`HostContext`] the findings depend
//! on.
//!
//! Plain data: nothing here touches the operating system, decides a severity or formats for a
//! terminal (the findings are made by [`crate::analyze::audit`], rendered by
//! [`crate::render::audit`]). The serde shape of [`Finding`] and [`Summary`] is the
//! `portscope audit --json` contract (docs/json.md).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::{
    AddrClass, Container, DecidedBy, Decision, Handshake, NetnsInfo, OwnerUnknown, ProcessInfo,
    Proto, Publication, ServiceSource, Severity, SocketEntry, Why,
};

/// Host settings that change how far a socket reaches, collected by the audit command (the
/// `net.ipv4.conf.*.route_localnet` sysctls).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostContext {
    /// Interfaces (`all` included) with `net.ipv4.conf.<if>.route_localnet=1`.
    pub route_localnet: Vec<String>,
}

/// One audit finding: a risky listening socket, or a public one nobody can be named for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The host the finding is on, in an audit of snapshots (`audit --from`): the snapshot's
    /// `host`, or its file name when it names none. `None` (absent from JSON) when auditing
    /// this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Rule id: a port rule of `docs/rules.md` or
    /// [`crate::analyze::audit::UNIDENTIFIED_PUBLIC_LISTENER`].
    pub rule: String,
    /// Service the rule is about, e.g. `Redis`; `None` for rules without one.
    pub service: Option<String>,
    /// How the listener's service was identified (`port`, `process`, `handshake`), as in the
    /// listing; absent when only the port's number matched the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_source: Vec<ServiceSource>,
    /// What a local handshake saw (`audit --identify`); absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<Handshake>,
    /// Severity once exposure (and a risk a handshake showed) is taken into account.
    pub severity: Severity,
    /// The rule's severity for a publicly reachable socket.
    pub base_severity: Severity,
    /// The socket the finding is about. Flattened: its fields (`proto` … `owner_unknown_reason`)
    /// stand in the JSON at this position, between `base_severity` and `why`.
    #[serde(flatten)]
    pub socket: FindingSocket,
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
    /// With `--baseline`: [`Drift::New`] or [`Drift::MoreExposed`] (unchanged findings are
    /// dropped, so never [`Drift::Unchanged`]); `None` without a baseline.
    pub baseline: Option<Drift>,
    /// systemd units of the owning processes (`nginx.service`), from their cgroups.
    #[serde(default)]
    pub units: Vec<String>,
    /// Containers of the owning processes, from their cgroups, and the container a port
    /// forwarder (`docker-proxy -container-ip …`) sends the traffic to.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Whether new connections from outside reach it, as the host firewall decides; absent
    /// when the firewall was not consulted (an audit of snapshots, a loopback listener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable: Option<Reachable>,
    /// How `reachable` was decided; absent with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachability: Option<Reachability>,
    /// For a port published by a DNAT or redirect rule: the rule and where it sends the
    /// traffic. Absent for a socket's own finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
}

/// Whether a finding is reachable from outside. JSON: `yes`, `filtered`, `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachable {
    /// The firewall accepts new connections from outside on at least one exposed address.
    Yes,
    /// It drops or rejects them on every exposed address: the finding is one severity step
    /// lower (the bind is still wrong: defence in depth).
    Filtered,
    /// Something on the path is not modelled, or the firewall could not be read.
    Unknown,
}

impl Reachable {
    /// The JSON name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Reachable::Yes => "yes",
            Reachable::Filtered => "filtered",
            Reachable::Unknown => "unknown",
        }
    }
}

/// Which firewall path decided. JSON: `input`, `forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallPathKind {
    /// To a socket of this machine: ingress, prerouting, input.
    Input,
    /// To another address (a container) after DNAT: ingress, prerouting, forward.
    Forward,
}

/// How a finding's `reachable` was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reachability {
    /// The path evaluated.
    pub path: FirewallPathKind,
    /// The firewall's decision on the address that decided (`accept`, `drop`, `reject`,
    /// `unknown`).
    pub decision: Decision,
    /// The deciding rule or policy; `null` when none (no chain on the path, IP forwarding off,
    /// or the firewall unreadable).
    pub decided_by: Option<DecidedBy>,
    /// One sentence: what decided, or why it is unknown.
    pub reason: String,
    /// The machine's address the deciding packet was addressed to; `null` when the firewall
    /// could not be read.
    pub address: Option<IpAddr>,
    /// The interface it arrives on.
    pub interface: Option<String>,
    /// The severity before the firewall was taken into account (equal to `severity` unless
    /// `filtered`).
    pub severity_unfiltered: Severity,
}

/// A port published by a DNAT or redirect rule on the prerouting hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The rule.
    pub nat_rule: DecidedBy,
    /// The rule as its source names it (`rule handle 4 of chain prerouting in table ip nat`).
    pub nat_rule_name: String,
    /// This machine's addresses the outside port is published on.
    pub addresses: Vec<IpAddr>,
    /// Where the traffic goes: an address (`null` for a redirect to this machine).
    pub target_address: Option<IpAddr>,
    /// The port it goes to.
    pub target_port: u16,
    /// True when the target is this machine (a redirect, or a DNAT to one of its addresses).
    pub target_local: bool,
    /// True when a listening socket portscope was given (this machine's, or a container's)
    /// receives it; its processes are the finding's.
    pub target_visible: bool,
    /// The input-chain rule or policy that would drop or reject the outside port if it were
    /// not published, and does not apply to it; `null` when none.
    pub bypasses: Option<DecidedBy>,
}

impl Finding {
    /// A finding about `entry`'s socket as nothing has marked it yet: rule fields empty, severity
    /// `info`, not suppressed, no drift, no owners named beyond the processes.
    #[must_use]
    pub fn about(entry: &SocketEntry) -> Finding {
        Finding {
            host: None,
            rule: String::new(),
            service: None,
            service_source: Vec::new(),
            handshake: None,
            severity: Severity::Info,
            base_severity: Severity::Info,
            socket: FindingSocket::from(entry),
            why: String::new(),
            why_codes: Vec::new(),
            fix: String::new(),
            notes: Vec::new(),
            suppressed: false,
            suppressed_reason: None,
            baseline: None,
            units: Vec::new(),
            containers: Vec::new(),
            reachable: None,
            reachability: None,
            published: None,
        }
    }

    /// Names of the owning processes, deduplicated, in pid order.
    #[must_use]
    pub fn process_names(&self) -> Vec<String> {
        process_names(&self.socket.processes)
    }
}

#[cfg(test)]
impl Finding {
    /// A fixture for tests: an `info` finding of rule `test-rule` about `entry`'s socket, as
    /// nothing has marked it yet; adjust fields with struct update syntax.
    pub(crate) fn test_finding(entry: &SocketEntry) -> Finding {
        Finding {
            rule: "test-rule".to_owned(),
            ..Finding::about(entry)
        }
    }
}

/// The socket half of a [`Finding`], taken from the inventory's [`SocketEntry`].
///
/// Not the [`SocketEntry`] itself, flattened: the finding's JSON has a subset of its fields, in
/// another order and with `port` for `local_port`, and that document must stay as it is. The
/// fields here are in the finding's JSON order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingSocket {
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
    /// The network namespace of the socket when the audit reads other namespaces (`--netns`,
    /// `--all-netns`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsInfo>,
    /// For a socket in another namespace: the host sockets of the forwarders that publish it
    /// (absent when none does, and when the audit reads only portscope's own namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<Publication>,
}

impl From<&SocketEntry> for FindingSocket {
    fn from(entry: &SocketEntry) -> Self {
        FindingSocket {
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
            netns: entry.netns.clone(),
            published: Vec::new(),
        }
    }
}

/// Names of processes, deduplicated, in order; unnamed ones are skipped.
#[must_use]
pub fn process_names(processes: &[ProcessInfo]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in processes.iter().filter_map(|p| p.name.as_deref()) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// How a finding relates to the baseline. JSON: `new`, `more_exposed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drift {
    /// Same listener, same or lower exposure: not reported.
    Unchanged,
    /// No listener with this protocol, address and port in the baseline.
    New,
    /// In the baseline, but with a lower exposure rank.
    MoreExposed,
}

impl Drift {
    /// `new` / `more_exposed` as in the JSON, `None` for unchanged.
    #[must_use]
    pub fn label(self) -> Option<&'static str> {
        match self {
            Drift::Unchanged => None,
            Drift::New => Some("new"),
            Drift::MoreExposed => Some("more_exposed"),
        }
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

/// The verdict of `--fail-on` (decided by `analyze::audit`'s gate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gate {
    /// An unsuppressed finding is at or above `--fail-on`: exit 1.
    pub failed: bool,
    /// Unsuppressed findings at or above `--fail-on` that `--min-severity` keeps out of the
    /// report: the audit fails on findings it does not show, and must say so.
    pub hidden: usize,
}

/// Everything one audit decided, ready to render (see [`crate::analyze::audit::report`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    /// The findings to report: those left by the baseline and at or above `--min-severity`,
    /// suppressed ones included, most severe first (the JSON `findings`).
    pub findings: Vec<Finding>,
    /// Counts over `findings`.
    pub summary: Summary,
    /// Why the result may be partial, expired allowlist entries, findings the gate failed on
    /// but the report does not show: for stderr and the JSON `warnings`, in that order.
    pub warnings: Vec<String>,
    /// The `--fail-on` verdict, judged before `--min-severity` filtered `findings`.
    pub gate: Gate,
    /// `--show-suppressed`: the table shows suppressed findings too.
    pub show_suppressed: bool,
}

impl AuditReport {
    /// The findings the table shows: suppressed ones only with `--show-suppressed`.
    #[must_use]
    pub fn shown(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| self.show_suppressed || !f.suppressed)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_is_spelled_as_before() {
        let cases = [
            (Drift::New, Some("new"), "\"new\""),
            (Drift::MoreExposed, Some("more_exposed"), "\"more_exposed\""),
            (Drift::Unchanged, None, "\"unchanged\""),
        ];
        for (drift, label, json) in cases {
            assert_eq!(drift.label(), label, "{drift:?}");
            assert_eq!(serde_json::to_string(&drift).unwrap(), json, "{drift:?}");
            assert_eq!(
                serde_json::from_str::<Drift>(json).unwrap(),
                drift,
                "{json}"
            );
        }
    }

    /// The flattened socket keeps the finding's JSON field order.
    #[test]
    fn finding_json_field_order() {
        let entry = SocketEntry {
            exposure: Some(AddrClass::Public),
            ..SocketEntry::test_listener("0.0.0.0", 6379)
        };
        let finding = Finding {
            rule: "exposed-redis".to_owned(),
            service: Some("Redis".to_owned()),
            severity: Severity::High,
            base_severity: Severity::High,
            why: "w".to_owned(),
            fix: "f".to_owned(),
            baseline: Some(Drift::MoreExposed),
            ..Finding::test_finding(&entry)
        };
        let text = serde_json::to_string(&finding).unwrap();
        assert_eq!(
            text,
            "{\"rule\":\"exposed-redis\",\"service\":\"Redis\",\"severity\":\"high\",\
             \"base_severity\":\"high\",\"proto\":\"tcp\",\"port\":6379,\
             \"local_address\":\"0.0.0.0\",\"interface\":null,\"exposure\":\"public\",\
             \"exposure_address\":null,\"exposure_interface\":null,\"wildcard\":true,\
             \"dual_stack\":null,\"processes\":[],\"owner_unknown_reason\":null,\"why\":\"w\",\
             \"why_codes\":[],\"fix\":\"f\",\"notes\":[],\"suppressed\":false,\
             \"suppressed_reason\":null,\"baseline\":\"more_exposed\",\"units\":[],\
             \"containers\":[]}"
        );
        assert_eq!(serde_json::from_str::<Finding>(&text).unwrap(), finding);
        // In an audit of snapshots the host comes first.
        let on_host = Finding {
            host: Some("web1".to_owned()),
            ..finding
        };
        let text = serde_json::to_string(&on_host).unwrap();
        assert!(
            text.starts_with("{\"host\":\"web1\",\"rule\":\"exposed-redis\","),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Finding>(&text).unwrap(), on_host);
    }
}
