//! A heuristic evaluator of an nftables ruleset ([`crate::model::Ruleset`]): what happens to
//! a new connection's first packet (protocol, destination address and port, input interface)
//! on its way to a local socket. General, not `check`-specific, so the audit's reachability
//! can reuse it.
//!
//! Modelled ([`MODELLED`]): filter base chains on the `ingress` hook of `netdev` and `inet`
//! tables (on the packet's device), then the `prerouting` and `input` hooks of `ip`, `ip6` and
//! `inet` tables, in hook order then priority; chain policies; rules matching
//! `meta l4proto` / `ip protocol` / `ip6 nexthdr` (the last two also require their IP
//! version), `tcp|udp|th dport`, `ip|ip6 daddr`,
//! `meta iifname|iif` (with `*` wildcards), `meta nfproto` and `ct state` (the packet is
//! `new`), against values, ranges, prefixes, anonymous and named sets, with `==`, `!=` and
//! `in`; verdicts accept, drop, reject, jump, goto, return, continue; `counter` and `log`.
//! Anything else on the path ([`NOT_MODELLED`]) makes the answer unknown, never a guess.
//!
//! The ruleset may come from `iptables-save` where nft is missing
//! (`model::Ruleset::from_iptables_save`); its rules are then named `iptables filter INPUT
//! rule N`.
//!
//! Pure: it must not run nft or read the system.

use std::net::IpAddr;

use crate::model::{
    BaseHook, Chain, DecidedBy, Decision, Expr, FirewallVerdict, Key, MatchOp, NatTarget,
    NftFamily, Proto, Rule, Ruleset, RulesetSource, Value, Verdict,
};

/// What the evaluator understands (shown with every verdict: it is a heuristic).
pub const MODELLED: &[&str] = &[
    "nftables filter chains on the ingress hook (netdev, inet; on the packet's device), then the prerouting and input hooks (ip, ip6, inet), by priority, with their policies",
    "matches on l4proto, tcp/udp/th dport, ip/ip6 daddr, iifname/iif, nfproto, ct state (a new connection)",
    "values, ranges, prefixes, anonymous and named sets; jump, goto, return",
    "without nft: iptables-save and ip6tables-save (filter INPUT, user chains, policies; raw, mangle and nat PREROUTING), translated to the same model",
];

/// What it does not model: any of these on the path makes the answer unknown (or, for the
/// last ones, is not seen at all).
pub const NOT_MODELLED: &[&str] = &[
    "NAT (a DNAT rule may send the packet elsewhere), maps, meters, marks, fib, socket and source-address matches, ct state on the ingress hook",
    "rules of the legacy iptables backend when nft is installed (nft does not show them), eBPF/XDP programs, cloud and upstream firewalls",
    "rate limits and connection state other than a new connection",
];

/// The first packet of a new connection, as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    /// Transport protocol.
    pub proto: Proto,
    /// Destination address.
    pub daddr: IpAddr,
    /// Destination port.
    pub dport: u16,
    /// The interface it arrives on (`lo` for a connection from this machine); `None` when
    /// unknown, which makes interface matches unknown.
    pub iifname: Option<String>,
}

/// A match's outcome: yes, no, or not modelled (with why).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown(String),
}

/// Where a chain's evaluation ended.
enum Flow {
    /// A final verdict (accept ends this base chain only).
    Final(Verdict, DecidedBy),
    /// The chain ended or returned: the caller goes on.
    Fallthrough,
    /// A `dnat`/`redirect` rule matched (it ends a nat chain).
    Nat(NatTarget, DecidedBy),
    /// Not modelled.
    Unknown(String, Option<DecidedBy>),
}

/// What every chain of one evaluation shares.
struct Cx<'a> {
    ruleset: &'a Ruleset,
    packet: &'a Packet,
    /// The chain runs on the ingress hook (or is reached from one), before conntrack.
    ingress: bool,
    /// The destination is an address of this machine (`fib daddr type local`).
    local: bool,
}

/// How deep jumps may nest before the answer is unknown (nft itself allows 16).
const MAX_DEPTH: usize = 16;

/// The hooks a packet to this machine passes, in order.
const INPUT_HOOKS: &[&str] = &["ingress", "prerouting", "input"];

/// One leg of a path: the packet as the chains of `hooks` see it, and whether its destination
/// is this machine (`fib daddr type local`).
struct Stage<'a> {
    packet: &'a Packet,
    hooks: &'static [&'static str],
    local: bool,
}

/// What to do with nat chains on the path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NatMode {
    /// A nat chain with rules makes the answer unknown (`check`).
    Unknown,
    /// The caller resolved NAT first ([`nat_prerouting`]): nat chains are skipped.
    Skip,
}

/// Evaluate `packet` against `ruleset` on its way in (ingress on its device, prerouting,
/// input). An ingress chain whose device nft does not name is evaluated too; when it would
/// stop the packet the answer is unknown. A nat chain with rules on the path makes the answer
/// unknown (see [`evaluate_remote`] for the path with NAT resolved).
#[must_use]
pub fn evaluate(ruleset: &Ruleset, packet: &Packet) -> FirewallVerdict {
    walk(
        ruleset,
        &[Stage {
            packet,
            hooks: INPUT_HOOKS,
            local: true,
        }],
        NatMode::Unknown,
    )
}

/// Where the nat chains of the prerouting hook send `packet` (addressed to this machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatOutcome {
    /// No DNAT or redirect rule matches: the packet keeps its destination.
    Kept,
    /// A DNAT or redirect rule sends it elsewhere.
    Rewritten {
        /// Where to.
        to: NatTarget,
        /// The rule.
        by: DecidedBy,
    },
    /// Something on the way is not modelled.
    Unknown(String, Option<DecidedBy>),
}

/// Evaluate the nat base chains of the prerouting hook (by priority) for `packet`, whose
/// destination is an address of this machine: the first matching `dnat`/`redirect` decides.
#[must_use]
pub fn nat_prerouting(ruleset: &Ruleset, packet: &Packet) -> NatOutcome {
    let v6 = packet.daddr.is_ipv6();
    let mut chains: Vec<(&Chain, &BaseHook)> = ruleset
        .chains
        .iter()
        .filter_map(|c| c.base.as_ref().map(|b| (c, b)))
        .filter(|(c, b)| b.kind == "nat" && b.hook == "prerouting" && family_applies(c, b, v6))
        .collect();
    chains.sort_by_key(|(c, b)| (b.priority, c.family, c.table.clone()));
    let cx = Cx {
        ruleset,
        packet,
        ingress: false,
        local: true,
    };
    for (chain, _) in chains {
        match eval_chain(&cx, chain, 0) {
            Flow::Fallthrough | Flow::Final(Verdict::Accept, _) => {}
            Flow::Nat(to, by) => return NatOutcome::Rewritten { to, by },
            Flow::Final(_, by) => {
                return NatOutcome::Unknown(
                    format!(
                        "{}: a nat chain that stops the packet is not modelled",
                        rule_name(ruleset.source, &by)
                    ),
                    Some(by),
                );
            }
            Flow::Unknown(reason, by) => return NatOutcome::Unknown(reason, by),
        }
    }
    NatOutcome::Kept
}

/// The input path from outside to a local socket with NAT resolved: when no DNAT rule takes
/// the packet, the filter chains of ingress, prerouting and input decide; when one does, the
/// socket is not what answers (unknown, naming the rule); what is not modelled is unknown.
#[must_use]
pub fn evaluate_remote(ruleset: &Ruleset, packet: &Packet) -> FirewallVerdict {
    match nat_prerouting(ruleset, packet) {
        NatOutcome::Kept => evaluate_ignoring_nat(ruleset, packet),
        NatOutcome::Rewritten { to, by } => unknown(
            format!(
                "{} sends the packet to {} instead",
                rule_name(ruleset.source, &by),
                word_target(&to, packet)
            ),
            Some(by),
        ),
        NatOutcome::Unknown(reason, by) => unknown(reason, by),
    }
}

/// The filter chains of ingress, prerouting and input for `packet` as if no nat chain
/// existed: what the input chain's author expects for the port (an input-chain deny a
/// published port bypasses).
#[must_use]
pub fn evaluate_ignoring_nat(ruleset: &Ruleset, packet: &Packet) -> FirewallVerdict {
    walk(
        ruleset,
        &[Stage {
            packet,
            hooks: INPUT_HOOKS,
            local: true,
        }],
        NatMode::Skip,
    )
}

/// The path of a packet a DNAT or redirect rule rewrote (`to`): the filter chains of ingress
/// and prerouting see it as it came (`packet`); then, when the new destination is this
/// machine (`local_target`), the input chains, else the forward chains, see it rewritten. A
/// forwarded packet needs IP forwarding: `forwarding` false drops it (net.ipv4.ip_forward=0).
#[must_use]
pub fn evaluate_published(
    ruleset: &Ruleset,
    packet: &Packet,
    to: &NatTarget,
    local_target: bool,
    forwarding: bool,
) -> FirewallVerdict {
    let rewritten = Packet {
        daddr: if to.redirect {
            packet.daddr
        } else {
            to.addr.unwrap_or(packet.daddr)
        },
        dport: to.port.unwrap_or(packet.dport),
        ..packet.clone()
    };
    if !local_target && !forwarding {
        return FirewallVerdict {
            decision: Decision::Drop,
            decided_by: None,
            reason: format!(
                "IP forwarding is off (net.{}.{}=0): the packet sent to {} is not forwarded",
                if rewritten.daddr.is_ipv6() {
                    "ipv6.conf.all"
                } else {
                    "ipv4"
                },
                if rewritten.daddr.is_ipv6() {
                    "forwarding"
                } else {
                    "ip_forward"
                },
                word_target(to, packet)
            ),
        };
    }
    walk(
        ruleset,
        &[
            Stage {
                packet,
                hooks: &["ingress", "prerouting"],
                local: true,
            },
            Stage {
                packet: &rewritten,
                hooks: if local_target {
                    &["input"]
                } else {
                    &["forward"]
                },
                local: local_target,
            },
        ],
        NatMode::Skip,
    )
}

/// `10.0.0.2:5432`, `[fd00::2]:80`, `this machine port 8080` (a redirect).
fn word_target(to: &NatTarget, packet: &Packet) -> String {
    let port = to.port.unwrap_or(packet.dport);
    match to.addr {
        Some(IpAddr::V6(a)) if !to.redirect => format!("[{a}]:{port}"),
        Some(a) if !to.redirect => format!("{a}:{port}"),
        _ => format!("this machine port {port}"),
    }
}

fn family_applies(chain: &Chain, base: &BaseHook, v6: bool) -> bool {
    match chain.family {
        NftFamily::Ip => !v6,
        NftFamily::Ip6 => v6,
        NftFamily::Inet => true,
        // Its payload matches carry their IP version (ip daddr, ip protocol).
        NftFamily::Netdev => base.hook == "ingress",
        NftFamily::Arp | NftFamily::Bridge => false,
    }
}

fn walk(ruleset: &Ruleset, stages: &[Stage<'_>], nat: NatMode) -> FirewallVerdict {
    let mut bases: Vec<(&Chain, &BaseHook, usize, &Stage<'_>)> = Vec::new();
    let mut rank_base = 0;
    for stage in stages {
        let packet = stage.packet;
        let v6 = packet.daddr.is_ipv6();
        let hook_rank = |hook: &str| stage.hooks.iter().position(|h| *h == hook);
        for chain in &ruleset.chains {
            let Some(base) = &chain.base else { continue };
            let Some(rank) = hook_rank(&base.hook) else {
                continue;
            };
            if !family_applies(chain, base, v6) {
                continue;
            }
            if base.hook == "ingress" && !base.devices.is_empty() {
                match &packet.iifname {
                    Some(dev) if !base.devices.contains(dev) => continue,
                    Some(_) => {}
                    None if chain.rules.is_empty() => continue,
                    None => {
                        return unknown(
                            format!(
                                "the ingress chain {} {} {} is on {}, and the input interface is unknown",
                                chain.family.as_str(),
                                chain.table,
                                chain.name,
                                base.devices.join(", ")
                            ),
                            None,
                        );
                    }
                }
            }
            if base.kind == "nat" {
                // A DNAT may send the packet elsewhere; only an empty nat chain is harmless.
                if chain.rules.is_empty() || nat == NatMode::Skip {
                    continue;
                }
                return unknown(
                    format!(
                        "the nat chain {} {} {} on {} is not modelled (a DNAT may redirect the packet)",
                        chain.family.as_str(),
                        chain.table,
                        chain.name,
                        base.hook
                    ),
                    None,
                );
            }
            bases.push((chain, base, rank_base + rank, stage));
        }
        rank_base += stage.hooks.len();
    }
    bases.sort_by_key(|(chain, base, rank, _)| {
        (*rank, base.priority, chain.family, chain.table.clone())
    });
    let mut last_accept: Option<DecidedBy> = None;
    for (chain, base, _, stage) in bases {
        let ingress = base.hook == "ingress";
        let cx = Cx {
            ruleset,
            packet: stage.packet,
            ingress,
            local: stage.local,
        };
        let flow = eval_chain(&cx, chain, 0);
        // An ingress chain whose device nft does not name (nft 1.0.6 leaves `dev` out of its
        // JSON) may or may not see the packet: it matters only when it would stop it.
        let flow = match flow {
            Flow::Final(Verdict::Drop | Verdict::Reject, by)
                if ingress && base.devices.is_empty() =>
            {
                Flow::Unknown(
                    format!(
                        "rule handle {} of the ingress chain {} in table {} {} stops the packet, but nft does not say which device the chain is on",
                        by.handle.unwrap_or_default(),
                        chain.name,
                        chain.family.as_str(),
                        chain.table
                    ),
                    Some(by),
                )
            }
            Flow::Fallthrough
                if ingress && base.devices.is_empty() && base.policy == Verdict::Drop =>
            {
                Flow::Unknown(
                    format!(
                        "the ingress chain {} in table {} {} has a drop policy, but nft does not say which device the chain is on",
                        chain.name,
                        chain.family.as_str(),
                        chain.table
                    ),
                    None,
                )
            }
            other => other,
        };
        match flow {
            Flow::Final(Verdict::Accept, by) => last_accept = Some(by),
            Flow::Final(Verdict::Drop, by) => return decided(ruleset.source, Decision::Drop, by),
            Flow::Final(Verdict::Reject, by) => {
                return decided(ruleset.source, Decision::Reject, by);
            }
            Flow::Final(_, by) => {
                return unknown("a verdict that is not modelled".into(), Some(by));
            }
            Flow::Nat(_, by) => {
                return unknown("NAT outside a nat chain is not modelled".into(), Some(by));
            }
            Flow::Unknown(reason, by) => return unknown(reason, by),
            Flow::Fallthrough => {
                let by = DecidedBy {
                    family: chain.family,
                    table: chain.table.clone(),
                    chain: chain.name.clone(),
                    handle: None,
                };
                match &base.policy {
                    Verdict::Accept => last_accept = Some(by),
                    Verdict::Drop => return decided(ruleset.source, Decision::Drop, by),
                    _ => return unknown("a chain policy that is not modelled".into(), Some(by)),
                }
            }
        }
    }
    match last_accept {
        Some(by) => decided(ruleset.source, Decision::Accept, by),
        None => FirewallVerdict {
            decision: Decision::Accept,
            decided_by: None,
            reason: "no nftables base chain filters incoming packets".into(),
        },
    }
}

fn unknown(reason: String, by: Option<DecidedBy>) -> FirewallVerdict {
    FirewallVerdict {
        decision: Decision::Unknown,
        decided_by: by,
        reason,
    }
}

/// A rule or policy named as its source shows it: `rule handle 3 of chain input in table
/// inet filter` (nft), `iptables filter INPUT rule 3` (iptables-save, numbered per chain).
fn rule_name(source: RulesetSource, by: &DecidedBy) -> String {
    let (chain, table, family) = (&by.chain, &by.table, by.family.as_str());
    match (source, by.handle) {
        (RulesetSource::Nft, Some(handle)) => {
            format!("rule handle {handle} of chain {chain} in table {family} {table}")
        }
        (RulesetSource::Nft, None) => {
            format!("the policy of chain {chain} in table {family} {table}")
        }
        (RulesetSource::Iptables, handle) => {
            let tool = if by.family == NftFamily::Ip6 {
                "ip6tables"
            } else {
                "iptables"
            };
            match handle {
                Some(n) => format!("{tool} {table} {chain} rule {n}"),
                None => format!("the policy of {tool} {table} {chain}"),
            }
        }
    }
}

fn decided(source: RulesetSource, decision: Decision, by: DecidedBy) -> FirewallVerdict {
    let reason = format!("{} decides: {}", rule_name(source, &by), decision.as_str());
    FirewallVerdict {
        decision,
        decided_by: Some(by),
        reason,
    }
}

fn eval_chain(cx: &Cx<'_>, chain: &Chain, depth: usize) -> Flow {
    let ruleset = cx.ruleset;
    if depth > MAX_DEPTH {
        return Flow::Unknown("jumps nest too deep".into(), None);
    }
    for rule in &chain.rules {
        let by = DecidedBy {
            family: chain.family,
            table: chain.table.clone(),
            chain: chain.name.clone(),
            handle: Some(rule.handle),
        };
        match eval_rule(cx, chain, rule) {
            Tri::No => continue,
            Tri::Unknown(why) => {
                // A rule whose statements cannot change the verdict does not matter.
                if rule
                    .exprs
                    .iter()
                    .all(|e| matches!(e, Expr::Match { .. } | Expr::Passive(_)))
                {
                    continue;
                }
                return Flow::Unknown(
                    format!("{}: {why}", rule_name(ruleset.source, &by)),
                    Some(by),
                );
            }
            Tri::Yes => {}
        }
        if let Some(to) = rule.exprs.iter().find_map(|e| match e {
            Expr::Nat(to) => Some(*to),
            _ => None,
        }) {
            return Flow::Nat(to, by);
        }
        let verdict = rule.exprs.iter().find_map(|e| match e {
            Expr::Verdict(v) => Some(v),
            _ => None,
        });
        match verdict {
            None | Some(Verdict::Continue) => {}
            Some(Verdict::Return) => return Flow::Fallthrough,
            Some(v @ (Verdict::Accept | Verdict::Drop | Verdict::Reject)) => {
                return Flow::Final(v.clone(), by);
            }
            Some(Verdict::Jump(target) | Verdict::Goto(target)) => {
                let goto = matches!(verdict, Some(Verdict::Goto(_)));
                let Some(next) = ruleset.chain(chain.family, &chain.table, target) else {
                    return Flow::Unknown(format!("chain {target} is missing"), Some(by));
                };
                match eval_chain(cx, next, depth + 1) {
                    Flow::Fallthrough if goto => return Flow::Fallthrough,
                    Flow::Fallthrough => {}
                    other => return other,
                }
            }
            Some(Verdict::Other(what)) => {
                return Flow::Unknown(format!("the verdict {what} is not modelled"), Some(by));
            }
        }
    }
    Flow::Fallthrough
}

/// Whether every match of `rule` holds. Statements other than matches, passive ones and the
/// verdict make the rule unknown when it would otherwise match.
fn eval_rule(cx: &Cx<'_>, chain: &Chain, rule: &Rule) -> Tri {
    let mut result = Tri::Yes;
    for e in &rule.exprs {
        let here = match e {
            Expr::Match { left, op, right } => eval_match(cx, chain, left, *op, right),
            Expr::Verdict(_) | Expr::Passive(_) | Expr::Nat(_) => Tri::Yes,
            Expr::Other(text) => Tri::Unknown(format!("the statement `{text}` is not modelled")),
        };
        match here {
            Tri::No => return Tri::No,
            Tri::Unknown(why) if result == Tri::Yes => result = Tri::Unknown(why),
            _ => {}
        }
    }
    result
}

fn eval_match(cx: &Cx<'_>, chain: &Chain, left: &Key, op: MatchOp, right: &Value) -> Tri {
    let (ruleset, packet, ingress) = (cx.ruleset, cx.packet, cx.ingress);
    let v6 = packet.daddr.is_ipv6();
    let member = |fact: &dyn Fn(&Value) -> Tri| -> Tri {
        let found = contains(ruleset, chain, right, fact);
        match (op, found) {
            (MatchOp::Other, _) => Tri::Unknown("a comparison that is not modelled".into()),
            (_, Tri::Unknown(w)) => Tri::Unknown(w),
            (MatchOp::Eq | MatchOp::In, t) => t,
            (MatchOp::Ne, Tri::Yes) => Tri::No,
            (MatchOp::Ne, _) => Tri::Yes,
        }
    };
    match left {
        // `ip protocol` also requires IPv4, `ip6 nexthdr` IPv6, whatever the comparison.
        Key::L4Proto { v6: Some(rule_v6) } if *rule_v6 != v6 => Tri::No,
        Key::L4Proto { .. } => member(&|v| match v {
            Value::Text(t) => tri(t == packet.proto.as_str()),
            Value::Number(n) => tri(*n == if packet.proto == Proto::Tcp { 6 } else { 17 }),
            _ => Tri::Unknown("an l4proto value that is not modelled".into()),
        }),
        Key::NfProto if chain.family == NftFamily::Netdev => {
            Tri::Unknown("meta nfproto in a netdev table is not modelled".into())
        }
        Key::NfProto => member(&|v| match v {
            Value::Text(t) => tri(t == if v6 { "ipv6" } else { "ipv4" }),
            _ => Tri::Unknown("an nfproto value that is not modelled".into()),
        }),
        Key::Dport { proto } => {
            // `tcp dport X` also requires TCP, whatever the comparison.
            if proto.is_some_and(|p| p != packet.proto) {
                return Tri::No;
            }
            member(&|v| port_in(v, packet.dport))
        }
        Key::Daddr { v6: rule_v6 } => {
            if *rule_v6 != v6 {
                return Tri::No;
            }
            member(&|v| addr_in(v, packet.daddr))
        }
        Key::Iifname | Key::Iif => match &packet.iifname {
            None => Tri::Unknown("the input interface is unknown".into()),
            Some(name) => member(&|v| match v {
                Value::Text(t) => tri(match t.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => t == name,
                }),
                _ => Tri::Unknown("an interface value that is not modelled".into()),
            }),
        },
        Key::FibDaddrType => member(&|v| match v {
            Value::Text(t) if t == "local" => tri(cx.local),
            Value::Text(t) if t == "unicast" => tri(!cx.local),
            _ => Tri::Unknown("a fib address type that is not modelled".into()),
        }),
        Key::CtState if ingress => Tri::Unknown(
            "ct state on the ingress hook (before connection tracking) is not modelled".into(),
        ),
        Key::CtState => {
            // A new connection's first packet is in state `new`; `ct state != new` style
            // matches and flag lists work through the same membership.
            member(&|v| match v {
                Value::Text(t) => tri(t == "new"),
                _ => Tri::Unknown("a ct state value that is not modelled".into()),
            })
        }
        // `ip saddr …` never matches IPv6, `tcp sport …` never UDP: no need to model them.
        Key::Other {
            v6: Some(rule_v6), ..
        } if *rule_v6 != v6 => Tri::No,
        Key::Other { proto: Some(p), .. } if *p != packet.proto => Tri::No,
        Key::Other { text, .. } => Tri::Unknown(format!("the match `{text}` is not modelled")),
    }
}

fn tri(b: bool) -> Tri {
    if b { Tri::Yes } else { Tri::No }
}

/// Whether `right` (a value, a set, `@named`) holds a value `fact` says yes to.
fn contains(ruleset: &Ruleset, chain: &Chain, right: &Value, fact: &dyn Fn(&Value) -> Tri) -> Tri {
    match right {
        Value::Set(items) => {
            let mut result = Tri::No;
            for item in items {
                match contains(ruleset, chain, item, fact) {
                    Tri::Yes => return Tri::Yes,
                    Tri::Unknown(w) => result = Tri::Unknown(w),
                    Tri::No => {}
                }
            }
            result
        }
        Value::Text(t) if t.starts_with('@') => {
            let name = &t[1..];
            match ruleset
                .set(chain.family, &chain.table, name)
                .and_then(|s| s.elements.as_ref())
            {
                Some(elements) => contains(ruleset, chain, &Value::Set(elements.clone()), fact),
                None => Tri::Unknown(format!("the set @{name} is not modelled")),
            }
        }
        other => fact(other),
    }
}

fn port_in(v: &Value, port: u16) -> Tri {
    let number = |v: &Value| match v {
        Value::Number(n) => Some(*n),
        _ => None,
    };
    match v {
        Value::Number(n) => tri(*n == u64::from(port)),
        Value::Range(lo, hi) => match (number(lo), number(hi)) {
            (Some(lo), Some(hi)) => tri((lo..=hi).contains(&u64::from(port))),
            _ => Tri::Unknown("a port range that is not modelled".into()),
        },
        // Service names (`ssh`) appear only with nft -S; numbers are the default.
        _ => Tri::Unknown("a port value that is not modelled".into()),
    }
}

fn addr_in(v: &Value, addr: IpAddr) -> Tri {
    match v {
        Value::Text(t) => match t.parse::<IpAddr>() {
            Ok(a) => tri(a == addr),
            Err(_) => Tri::Unknown(format!("the address value {t} is not modelled")),
        },
        Value::Prefix { addr: net, len } => tri(in_prefix(*net, *len, addr)),
        Value::Range(lo, hi) => match (lo.as_ref(), hi.as_ref()) {
            (Value::Text(lo), Value::Text(hi)) => {
                match (lo.parse::<IpAddr>(), hi.parse::<IpAddr>()) {
                    (Ok(lo), Ok(hi)) => tri(lo <= addr && addr <= hi),
                    _ => Tri::Unknown("an address range that is not modelled".into()),
                }
            }
            _ => Tri::Unknown("an address range that is not modelled".into()),
        },
        _ => Tri::Unknown("an address value that is not modelled".into()),
    }
}

fn in_prefix(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// A candidate published port: a `dnat`/`redirect` rule of a nat chain and the destination
/// ports it names. Whether it applies to a packet (its address, interface and other matches)
/// is decided by [`nat_prerouting`] on packets to this machine's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The protocol the rule names; `None`: try both.
    pub proto: Option<Proto>,
    /// The outside ports it names.
    pub ports: Vec<u16>,
    /// The rule.
    pub by: DecidedBy,
}

/// Widest port range a published-port candidate expands.
const CANDIDATE_RANGE_MAX: u64 = 64;

/// The `dnat`/`redirect` rules of nat chains with the destination ports they match (values,
/// sets, named sets and ranges of at most 64 ports). A rule that names no port, or ports in a
/// form not modelled, is counted in the second value: it may publish ports nobody lists.
#[must_use]
pub fn nat_candidates(ruleset: &Ruleset) -> (Vec<Candidate>, usize) {
    let mut out = Vec::new();
    let mut unlisted = 0;
    for chain in &ruleset.chains {
        for rule in &chain.rules {
            if !rule.exprs.iter().any(|e| matches!(e, Expr::Nat(_))) {
                continue;
            }
            let mut proto = None;
            let mut ports: Option<Vec<u16>> = None;
            for e in &rule.exprs {
                let Expr::Match { left, op, right } = e else {
                    continue;
                };
                if !matches!(op, MatchOp::Eq | MatchOp::In) {
                    continue;
                }
                match left {
                    Key::Dport { proto: p } => {
                        proto = proto.or(*p);
                        ports = port_list(ruleset, chain, right);
                    }
                    Key::L4Proto { .. } => {
                        if let Value::Text(t) = right {
                            proto = proto.or(match t.as_str() {
                                "tcp" => Some(Proto::Tcp),
                                "udp" => Some(Proto::Udp),
                                _ => None,
                            });
                        }
                    }
                    _ => {}
                }
            }
            match ports {
                Some(ports) if !ports.is_empty() => out.push(Candidate {
                    proto,
                    ports,
                    by: DecidedBy {
                        family: chain.family,
                        table: chain.table.clone(),
                        chain: chain.name.clone(),
                        handle: Some(rule.handle),
                    },
                }),
                _ => unlisted += 1,
            }
        }
    }
    (out, unlisted)
}

/// The ports a dport value lists; `None` when it is of a form not modelled.
fn port_list(ruleset: &Ruleset, chain: &Chain, v: &Value) -> Option<Vec<u16>> {
    match v {
        Value::Number(n) => Some(vec![u16::try_from(*n).ok()?]),
        Value::Range(lo, hi) => match (lo.as_ref(), hi.as_ref()) {
            (Value::Number(lo), Value::Number(hi)) if hi >= lo && hi - lo < CANDIDATE_RANGE_MAX => {
                (*lo..=*hi).map(|p| u16::try_from(p).ok()).collect()
            }
            _ => None,
        },
        Value::Set(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(port_list(ruleset, chain, item)?);
            }
            Some(all)
        }
        Value::Text(t) if t.starts_with('@') => {
            let set = ruleset.set(chain.family, &chain.table, &t[1..])?;
            port_list(ruleset, chain, &Value::Set(set.elements.clone()?))
        }
        _ => None,
    }
}

/// A rule or policy named as its source shows it (for reports outside this module).
#[must_use]
pub fn describe(source: RulesetSource, by: &DecidedBy) -> String {
    rule_name(source, by)
}

#[cfg(test)]
mod tests;
