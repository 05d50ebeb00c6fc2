//! Reachability in the audit: each finding's `reachable` (yes, filtered, unknown) as the host
//! firewall decides for new connections from outside, and the ports DNAT or redirect rules
//! publish, as findings of their own. The evaluation is [`crate::analyze::firewall`]'s (one
//! evaluator for `check` and the audit), run once per (protocol, address, port, interface).
//!
//! Pure: the command passes in the ruleset it read (or why it could not), the machine's
//! addresses and the forwarding sysctls; nothing here reads the system.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::analyze::exposure::{classify, rank};
use crate::analyze::firewall::{
    NatOutcome, Packet, describe, evaluate_ignoring_nat, evaluate_published, evaluate_remote,
    nat_candidates, nat_prerouting,
};
use crate::analyze::rules::{RuleSet, effective_severity};
use crate::model::Finding;
use crate::model::{
    AddrClass, Decision, FindingSocket, FirewallPathKind, FirewallVerdict, InterfaceAddr,
    NatTarget, NetnsFacts, Proto, Published, PublisherKind, Reachability, Reachable, Ruleset,
    SocketEntry,
};

/// What the audit knows about the firewall.
pub struct ReachContext<'a> {
    /// The ruleset, or why it could not be read.
    pub ruleset: Result<&'a Ruleset, &'a str>,
    /// The machine's addresses with their interfaces.
    pub addresses: &'a [InterfaceAddr],
    /// IPv4 and IPv6 forwarding (`None`: unknown, taken as on).
    pub forwarding: [Option<bool>; 2],
    /// The network namespaces read (`--netns`, `--all-netns`; empty otherwise), so a DNAT
    /// target that is a wildcard bind in another namespace is found by that namespace's
    /// addresses.
    pub namespaces: &'a [NetnsFacts],
}

/// The fix a published port that bypasses an input-chain deny calls for.
pub const BYPASS_FIX: &str = "bind the published port to 127.0.0.1 (docker run -p \
     127.0.0.1:HOST:CONTAINER), or filter it in the DOCKER-USER chain (the forward path), not in \
     INPUT";

/// Mark every finding with `reachable` (lowering filtered ones a step), add the findings of
/// published ports, and return the warnings (the one hint when the firewall could not be
/// read, DNAT rules whose ports are not listed). Findings are sorted again.
pub fn apply(
    findings: &mut Vec<Finding>,
    entries: &[SocketEntry],
    rules: &RuleSet,
    cx: &ReachContext<'_>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let ruleset = match cx.ruleset {
        Ok(r) => r,
        Err(why) => {
            let mut judged = false;
            for f in findings.iter_mut().filter(|f| judged_class(f)) {
                judged = true;
                f.reachable = Some(Reachable::Unknown);
                f.reachability = Some(Reachability {
                    path: FirewallPathKind::Input,
                    decision: Decision::Unknown,
                    decided_by: None,
                    reason: why.to_owned(),
                    address: None,
                    interface: None,
                    severity_unfiltered: f.severity,
                });
            }
            if judged {
                warnings.push(format!(
                    "the firewall was not read ({why}): reachability is unknown and severities \
                     follow the bind address alone"
                ));
            }
            return warnings;
        }
    };
    let mut cache: HashMap<Packet, FirewallVerdict> = HashMap::new();
    for f in findings.iter_mut().filter(|f| judged_class(f)) {
        let targets = exposed_addresses(&f.socket, cx.addresses);
        let verdicts: Vec<(Packet, FirewallVerdict)> = targets
            .into_iter()
            .map(|(addr, iface)| {
                let packet = Packet {
                    proto: f.socket.proto,
                    daddr: addr,
                    dport: f.socket.port,
                    iifname: iface,
                };
                let v = cache
                    .entry(packet.clone())
                    .or_insert_with(|| evaluate_remote(ruleset, &packet))
                    .clone();
                (packet, v)
            })
            .collect();
        mark(f, FirewallPathKind::Input, &verdicts);
    }
    published(findings, entries, rules, ruleset, cx, &mut warnings);
    super::sort(findings);
    warnings
}

/// Findings judged: those exposed beyond loopback.
fn judged_class(f: &Finding) -> bool {
    f.published.is_none()
        && !f
            .socket
            .published
            .iter()
            .any(|l| l.forwarder == PublisherKind::Dnat)
        && matches!(f.socket.exposure, Some(c) if c != AddrClass::Loopback)
}

/// The machine's addresses (and interfaces) a socket is exposed on at its exposure class.
fn exposed_addresses(
    s: &FindingSocket,
    addresses: &[InterfaceAddr],
) -> Vec<(IpAddr, Option<String>)> {
    if !s.wildcard {
        let addr = s.exposure_address.unwrap_or(s.local_address);
        return vec![(
            addr,
            s.exposure_interface.clone().or_else(|| s.interface.clone()),
        )];
    }
    let v4 = s.local_address.is_ipv4() || s.dual_stack != Some(false);
    let v6 = s.local_address.is_ipv6();
    let mut out: Vec<(IpAddr, Option<String>)> = addresses
        .iter()
        .filter(|a| (a.addr.is_ipv4() && v4) || (a.addr.is_ipv6() && v6))
        .filter(|a| s.interface.as_ref().is_none_or(|dev| *dev == a.name))
        .filter(|a| Some(classify(a.addr)) == s.exposure)
        .map(|a| (a.addr, Some(a.name.clone())))
        .collect();
    if out.is_empty() {
        if let Some(addr) = s.exposure_address {
            out.push((addr, s.exposure_interface.clone()));
        }
    }
    out
}

/// Combine the verdicts of every exposed address: reachable when any accepts, filtered when
/// all drop or reject, else unknown; lower a filtered finding one step.
fn mark(f: &mut Finding, path: FirewallPathKind, verdicts: &[(Packet, FirewallVerdict)]) {
    let pick = verdicts
        .iter()
        .find(|(_, v)| v.decision == Decision::Accept)
        .or_else(|| {
            verdicts
                .iter()
                .find(|(_, v)| v.decision == Decision::Unknown)
        })
        .or_else(|| verdicts.first());
    let Some((packet, v)) = pick else {
        return;
    };
    let reachable = match v.decision {
        Decision::Accept => Reachable::Yes,
        Decision::Drop | Decision::Reject => Reachable::Filtered,
        Decision::Unknown => Reachable::Unknown,
    };
    let unfiltered = f.severity;
    match reachable {
        Reachable::Filtered => {
            f.severity = f.severity.lowered(1);
            f.notes.push(format!(
                "filtered from outside ({}); reported one step lower ({} → {}): the bind is \
                 still wider than it needs to be",
                v.reason, unfiltered, f.severity
            ));
        }
        Reachable::Unknown => {
            f.notes
                .push(format!("reachability from outside unknown: {}", v.reason));
        }
        Reachable::Yes => {}
    }
    f.reachable = Some(reachable);
    f.reachability = Some(Reachability {
        path,
        decision: v.decision,
        decided_by: v.decided_by.clone(),
        reason: v.reason.clone(),
        address: Some(packet.daddr),
        interface: packet.iifname.clone(),
        severity_unfiltered: unfiltered,
    });
}

/// One outside port a DNAT or redirect rule of this machine publishes, with the addresses it
/// applies on: the prerouting NAT of a new connection to each of the machine's addresses beyond
/// loopback (on the interface carrying it) is rewritten by that very rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatPublication {
    /// The protocol.
    pub proto: Proto,
    /// The outside port the rule matches.
    pub port: u16,
    /// Where it sends the traffic.
    pub to: NatTarget,
    /// The rule.
    pub rule: crate::model::DecidedBy,
    /// The rule in words ([`describe`]).
    pub rule_name: String,
    /// The machine's addresses (and their interfaces) the rule applies on.
    pub on: Vec<(IpAddr, Option<String>)>,
}

impl NatPublication {
    /// The address and port a DNAT rule sends the traffic to (the port: the rule's, or the
    /// outside port when it keeps it); `None` for a redirect to this machine.
    #[must_use]
    pub fn destination(&self) -> Option<(IpAddr, u16)> {
        if self.to.redirect {
            return None;
        }
        Some((self.to.addr?, self.to.port.unwrap_or(self.port)))
    }
}

/// The ports DNAT and redirect rules of `ruleset` publish on `addresses` (the machine's own),
/// and how many NAT rules name no port that can be listed (no destination port, a map, a wide
/// range).
#[must_use]
pub fn nat_publications(
    ruleset: &Ruleset,
    addresses: &[InterfaceAddr],
) -> (Vec<NatPublication>, usize) {
    let (candidates, unlisted) = nat_candidates(ruleset);
    let outside: Vec<&InterfaceAddr> = addresses
        .iter()
        .filter(|a| !a.addr.is_loopback() && classify(a.addr) != AddrClass::Loopback)
        .collect();
    let mut pubs: Vec<NatPublication> = Vec::new();
    for cand in &candidates {
        let protos: &[Proto] = match cand.proto {
            Some(Proto::Tcp) => &[Proto::Tcp],
            Some(Proto::Udp) => &[Proto::Udp],
            None => &[Proto::Tcp, Proto::Udp],
        };
        for &proto in protos {
            for &port in &cand.ports {
                let mut publication: Option<NatPublication> = None;
                for a in &outside {
                    let packet = Packet {
                        proto,
                        daddr: a.addr,
                        dport: port,
                        iifname: Some(a.name.clone()),
                    };
                    if let NatOutcome::Rewritten { to, by } = nat_prerouting(ruleset, &packet) {
                        if by == cand.by {
                            publication
                                .get_or_insert_with(|| NatPublication {
                                    proto,
                                    port,
                                    to,
                                    rule_name: describe(ruleset.source, &by),
                                    rule: by.clone(),
                                    on: Vec::new(),
                                })
                                .on
                                .push((a.addr, Some(a.name.clone())));
                        }
                    }
                }
                pubs.extend(publication);
            }
        }
    }
    (pubs, unlisted)
}

fn published(
    findings: &mut Vec<Finding>,
    entries: &[SocketEntry],
    rules: &RuleSet,
    ruleset: &Ruleset,
    cx: &ReachContext<'_>,
    warnings: &mut Vec<String>,
) {
    let (pubs, unlisted) = nat_publications(ruleset, cx.addresses);
    if unlisted > 0 {
        warnings.push(format!(
            "{unlisted} DNAT or redirect rule(s) name no destination port portscope can list \
             (no port, a map or a wide range): the ports they publish are not in this audit"
        ));
    }
    // Sockets of other namespaces a DNAT rule publishes (analyze/audit/netns.rs): judged on the
    // path of the published port, not on an input path to their own port.
    for f in findings.iter_mut() {
        let Some(link) = f
            .socket
            .published
            .iter()
            .find(|l| l.forwarder == PublisherKind::Dnat)
        else {
            continue;
        };
        let Some(p) = pubs.iter().find(|p| {
            p.proto == f.socket.proto
                && p.port == link.port
                && link.nat_rule.as_ref() == Some(&p.rule)
        }) else {
            continue;
        };
        let (path, verdicts, _) = publication_verdicts(p, ruleset, cx);
        mark(f, path, &verdicts);
    }
    for p in pubs {
        if let Some(f) = publication_finding(&p, entries, rules, ruleset, cx) {
            findings.push(f);
        }
    }
}

/// The verdicts on the path of a published port, one per address it is published on, the
/// path (input for a target on this machine, else forward) and whether the target is local.
fn publication_verdicts(
    p: &NatPublication,
    ruleset: &Ruleset,
    cx: &ReachContext<'_>,
) -> (FirewallPathKind, Vec<(Packet, FirewallVerdict)>, bool) {
    let target_addr = if p.to.redirect { None } else { p.to.addr };
    let target_local =
        target_addr.is_none_or(|t| t.is_loopback() || cx.addresses.iter().any(|a| a.addr == t));
    let forwarding = |addr: IpAddr| cx.forwarding[usize::from(addr.is_ipv6())].unwrap_or(true);
    let verdicts = p
        .on
        .iter()
        .map(|(addr, iface)| {
            let packet = Packet {
                proto: p.proto,
                daddr: *addr,
                dport: p.port,
                iifname: iface.clone(),
            };
            let to_family = target_addr.unwrap_or(*addr);
            let v =
                evaluate_published(ruleset, &packet, &p.to, target_local, forwarding(to_family));
            (packet, v)
        })
        .collect();
    let path = if target_local {
        FirewallPathKind::Input
    } else {
        FirewallPathKind::Forward
    };
    (path, verdicts, target_local)
}

fn publication_finding(
    p: &NatPublication,
    entries: &[SocketEntry],
    rules: &RuleSet,
    ruleset: &Ruleset,
    cx: &ReachContext<'_>,
) -> Option<Finding> {
    let (first_addr, first_iface) = p.on.first()?.clone();
    let target_port = p.to.port.unwrap_or(p.port);
    let target_addr = if p.to.redirect { None } else { p.to.addr };
    let rule = rules
        .lookup(target_port, p.proto)
        .or_else(|| rules.lookup(p.port, p.proto))?;
    let class =
        p.on.iter()
            .map(|(a, _)| classify(*a))
            .max_by_key(|c| rank(*c))?;
    let severity = effective_severity(rule.severity, Some(class))?;
    let (path, verdicts, target_local) = publication_verdicts(p, ruleset, cx);
    // The socket that receives it, when portscope was given it.
    let receiver = entries.iter().find(|e| {
        e.proto == p.proto
            && e.state.is_listening()
            && e.local_port == target_port
            && match target_addr {
                Some(t) => {
                    e.local_address == t
                        || (target_local && covers(e, t))
                        || crate::analyze::exposure::receives(e, t, cx.namespaces)
                }
                None => covers(e, first_addr),
            }
    });
    let address = if p.on.len() == 1 {
        first_addr
    } else if first_addr.is_ipv6() {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let nat_rule_name = p.rule_name.clone();
    let target_text = match target_addr {
        Some(IpAddr::V6(t)) => format!("[{t}]:{target_port}"),
        Some(t) => format!("{t}:{target_port}"),
        None => format!("this machine port {target_port}"),
    };
    let mut notes = vec![format!(
        "published by {nat_rule_name}: {} port {} goes to {target_text}{}",
        p.proto.as_str(),
        p.port,
        if receiver.is_some() {
            ""
        } else {
            " (target not visible: no listening socket portscope was given receives it)"
        }
    )];
    let mut finding = Finding {
        rule: rule.id.clone(),
        service: Some(rule.service.clone()),
        service_source: Vec::new(),
        handshake: None,
        severity,
        base_severity: rule.severity,
        socket: FindingSocket {
            proto: p.proto,
            port: p.port,
            local_address: address,
            interface: None,
            exposure: Some(class),
            exposure_address: Some(first_addr),
            exposure_interface: first_iface.clone(),
            wildcard: p.on.len() > 1,
            dual_stack: None,
            processes: receiver.map(|e| e.processes.clone()).unwrap_or_default(),
            owner_unknown_reason: receiver.and_then(|e| e.owner_unknown_reason),
            netns: receiver.and_then(|e| e.netns.clone()),
            published: Vec::new(),
        },
        why: rule.summary.clone(),
        why_codes: rule.why.clone(),
        fix: rule.fix.clone(),
        host: None,
        notes: Vec::new(),
        suppressed: false,
        suppressed_reason: None,
        baseline: None,
        units: Vec::new(),
        containers: Vec::new(),
        reachable: None,
        reachability: None,
        published: None,
    };
    finding.notes.append(&mut notes);
    mark(&mut finding, path, &verdicts);
    // What the input chain's author expects for the outside port, had it not been published.
    let mut bypasses = None;
    if finding.reachable == Some(Reachable::Yes) && !target_local {
        let (packet, _) = &verdicts[0];
        let believed = evaluate_ignoring_nat(ruleset, packet);
        if matches!(believed.decision, Decision::Drop | Decision::Reject) {
            finding.notes.push(format!(
                "bypasses the input chain: {} would {} {} port {}, but DNAT sends the traffic \
                 through the forward path, where nothing stops it; {BYPASS_FIX}",
                believed.decided_by.as_ref().map_or_else(
                    || believed.reason.clone(),
                    |by| describe(ruleset.source, by)
                ),
                believed.decision.as_str(),
                p.proto.as_str(),
                p.port
            ));
            bypasses = believed.decided_by;
        }
    }
    finding.published = Some(Published {
        nat_rule: p.rule.clone(),
        nat_rule_name,
        addresses: p.on.iter().map(|(a, _)| *a).collect(),
        target_address: target_addr,
        target_port,
        target_local,
        target_visible: receiver.is_some(),
        bypasses,
    });
    Some(finding)
}

/// True when `e` (a listening socket of this machine) accepts packets to `addr`.
fn covers(e: &SocketEntry, addr: IpAddr) -> bool {
    if e.local_address == addr {
        return true;
    }
    e.wildcard
        && match e.local_address {
            IpAddr::V4(_) => addr.is_ipv4(),
            IpAddr::V6(_) => addr.is_ipv6() || e.dual_stack != Some(false),
        }
}

#[cfg(test)]
mod tests;
