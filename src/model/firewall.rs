//! The host firewall as data: an nftables ruleset typed from `nft -j list ruleset`
//! ([`Ruleset::from_nft_json`], a constructor) and the verdict an evaluation reaches
//! ([`FirewallVerdict`]).
//!
//! Only what the evaluator understands is typed; everything else is kept as "other" with its
//! JSON text, so the evaluator can answer unknown instead of guessing. General on purpose: the
//! `check` command uses it for the input path, and the audit's reachability can use the same
//! model and evaluator. Nothing here runs `nft` (that is `collect`) or evaluates (`analyze`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::Proto;

/// An nftables address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NftFamily {
    /// IPv4 only.
    Ip,
    /// IPv6 only.
    Ip6,
    /// Both.
    Inet,
    /// ARP.
    Arp,
    /// Bridge.
    Bridge,
    /// Per-device (ingress/egress hooks).
    Netdev,
}

impl NftFamily {
    fn parse(text: &str) -> Option<NftFamily> {
        Some(match text {
            "ip" => NftFamily::Ip,
            "ip6" => NftFamily::Ip6,
            "inet" => NftFamily::Inet,
            "arp" => NftFamily::Arp,
            "bridge" => NftFamily::Bridge,
            "netdev" => NftFamily::Netdev,
            _ => return None,
        })
    }

    /// The name nft uses.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            NftFamily::Ip => "ip",
            NftFamily::Ip6 => "ip6",
            NftFamily::Inet => "inet",
            NftFamily::Arp => "arp",
            NftFamily::Bridge => "bridge",
            NftFamily::Netdev => "netdev",
        }
    }
}

/// Where a ruleset was read from, which decides how its rules are named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RulesetSource {
    /// `nft -j list ruleset`: rules are named by handle.
    #[default]
    Nft,
    /// `iptables-save` / `ip6tables-save` (where nft is missing): rules are numbered per chain
    /// (`iptables filter INPUT rule 3`).
    Iptables,
}

/// The whole ruleset: every chain with its rules, and the named sets rules refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// Where it was read from.
    pub source: RulesetSource,
    /// Chains in the order nft listed them.
    pub chains: Vec<Chain>,
    /// Named sets.
    pub sets: Vec<NamedSet>,
}

/// One chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Table family.
    pub family: NftFamily,
    /// Table name.
    pub table: String,
    /// Chain name.
    pub name: String,
    /// The hook of a base chain; `None` for a regular chain (reached by jump or goto only).
    pub base: Option<BaseHook>,
    /// Rules in order.
    pub rules: Vec<Rule>,
}

/// Where a base chain is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseHook {
    /// The hook: `prerouting`, `input`, `forward`, `output`, `postrouting`, `ingress`.
    pub hook: String,
    /// The chain type: `filter`, `nat`, `route`.
    pub kind: String,
    /// Priority; lower runs first.
    pub priority: i64,
    /// The devices of an `ingress` chain (nft's `dev`); empty when nft does not say (nft
    /// 1.0.6 leaves it out of its JSON) or for other hooks.
    pub devices: Vec<String>,
    /// What happens to a packet that reaches the end: accept or drop.
    pub policy: Verdict,
}

/// One rule: its handle (for iptables, its number in the chain from 1) and its expressions in
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule's handle (`nft -a` shows it).
    pub handle: u64,
    /// Expressions, matches and statements.
    pub exprs: Vec<Expr>,
}

/// One expression of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `left op right`.
    Match {
        /// What is looked at.
        left: Key,
        /// The comparison.
        op: MatchOp,
        /// What it is compared with.
        right: Value,
    },
    /// A verdict statement.
    Verdict(Verdict),
    /// A statement that does not change the verdict: `counter`, `log`.
    Passive(String),
    /// A destination NAT statement (`dnat to ADDR[:PORT]`, `redirect [to :PORT]`; iptables
    /// `-j DNAT --to-destination`, `-j REDIRECT --to-ports`) with a plain address and port:
    /// on the prerouting hook it ends the nat chain and sends the packet elsewhere.
    Nat(NatTarget),
    /// Anything else, with its JSON text.
    Other(String),
}

/// Where a destination NAT statement sends a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatTarget {
    /// `redirect`: to this machine itself (the address the packet arrived on).
    pub redirect: bool,
    /// The new destination address; `None` for a redirect (or a DNAT that keeps it).
    pub addr: Option<IpAddr>,
    /// The new destination port; `None` when the port is kept.
    pub port: Option<u16>,
}

/// What a match looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `meta l4proto` (`v6` `None`), `ip protocol` (`Some(false)`: it also requires IPv4),
    /// `ip6 nexthdr` (`Some(true)`: it also requires IPv6).
    L4Proto {
        /// The IP version the payload expression implies.
        v6: Option<bool>,
    },
    /// `tcp dport`, `udp dport` (`proto` set: the match also requires that protocol), `th
    /// dport` (`proto` `None`).
    Dport {
        /// The protocol the payload expression names.
        proto: Option<Proto>,
    },
    /// `ip daddr` (v6 false) or `ip6 daddr` (v6 true).
    Daddr {
        /// IPv6.
        v6: bool,
    },
    /// `meta iifname`.
    Iifname,
    /// `meta iif` (nft prints the name).
    Iif,
    /// `ct state`.
    CtState,
    /// `meta nfproto`.
    NfProto,
    /// `fib daddr type` (iptables `-m addrtype --dst-type`): `local` when the destination is
    /// an address of this machine.
    FibDaddrType,
    /// Anything else, worded as nft shows it where simple (`ip saddr 10.0.0.0/8`, `meta mark
    /// 1`), else its JSON text (bounded).
    Other {
        /// The wording.
        text: String,
        /// The IP version an `ip …` / `ip6 …` payload implies (`ip saddr` never matches IPv6).
        v6: Option<bool>,
        /// The protocol a `tcp …` / `udp …` payload implies.
        proto: Option<Proto>,
    },
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `==` (and an implicit comparison).
    Eq,
    /// `!=`.
    Ne,
    /// `in`: set membership, or flags for `ct state`.
    In,
    /// `<`, `>`, `<=`, `>=` and anything else: not evaluated.
    Other,
}

/// The right-hand side of a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A number.
    Number(u64),
    /// A string: an address, an interface name, a protocol or state name, `@set`.
    Text(String),
    /// `a-b`.
    Range(Box<Value>, Box<Value>),
    /// An address prefix.
    Prefix {
        /// The network address.
        addr: IpAddr,
        /// The prefix length.
        len: u8,
    },
    /// An anonymous set or a list (`{ 22, 80 }`, `established,related`).
    Set(Vec<Value>),
    /// Anything else, with its JSON text.
    Other(String),
}

/// A verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Accept (in this base chain; later base chains still see the packet).
    Accept,
    /// Drop silently.
    Drop,
    /// Drop and answer with a TCP reset or an ICMP error.
    Reject,
    /// Evaluate a chain, then come back.
    Jump(String),
    /// Evaluate a chain, and do not come back.
    Goto(String),
    /// Leave this chain.
    Return,
    /// Go on with the next rule.
    Continue,
    /// `queue` and the like: not modelled.
    Other(String),
}

/// A named set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSet {
    /// Table family.
    pub family: NftFamily,
    /// Table name.
    pub table: String,
    /// Set name.
    pub name: String,
    /// Its elements; `None` when they are of a kind not modelled (maps, concatenations).
    pub elements: Option<Vec<Value>>,
}

/// The firewall's text as the platform read it: nft's JSON, or where nft is missing the
/// output of `iptables-save` and `ip6tables-save` (either may be missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirewallText {
    /// `nft -j list ruleset`.
    NftJson(String),
    /// `iptables-save`, `ip6tables-save`.
    IptablesSave {
        /// IPv4 rules.
        v4: Option<String>,
        /// IPv6 rules.
        v6: Option<String>,
    },
}

impl Ruleset {
    /// Type whichever text the platform read.
    ///
    /// # Errors
    /// When it cannot be read as such.
    pub fn from_text(text: &FirewallText) -> Result<Ruleset, String> {
        match text {
            FirewallText::NftJson(json) => Ruleset::from_nft_json(json),
            FirewallText::IptablesSave { v4, v6 } => {
                Ruleset::from_iptables_save(v4.as_deref(), v6.as_deref())
            }
        }
    }

    /// Type the output of `nft -j list ruleset`. Objects of kinds not modelled (flowtables,
    /// counters, maps) are skipped; chains of an unknown family are skipped too, which the
    /// evaluator never reaches for IP traffic.
    ///
    /// # Errors
    /// When the text is not JSON of that shape (no `nftables` array).
    pub fn from_nft_json(text: &str) -> Result<Ruleset, String> {
        let doc: Json =
            serde_json::from_str(text).map_err(|e| format!("nft output is not JSON: {e}"))?;
        let items = doc
            .get("nftables")
            .and_then(Json::as_array)
            .ok_or("nft output has no \"nftables\" array")?;
        let mut ruleset = Ruleset::default();
        let mut rules: Vec<(NftFamily, String, String, Rule)> = Vec::new();
        for item in items {
            if let Some(chain) = item.get("chain") {
                let Some((family, table, name)) = names(chain, "name") else {
                    continue;
                };
                let base = chain
                    .get("hook")
                    .and_then(Json::as_str)
                    .map(|hook| BaseHook {
                        hook: hook.to_owned(),
                        kind: text_of(chain, "type").unwrap_or("filter").to_owned(),
                        priority: chain.get("prio").and_then(Json::as_i64).unwrap_or(0),
                        devices: match chain.get("dev") {
                            Some(Json::String(d)) => vec![d.clone()],
                            Some(Json::Array(list)) => list
                                .iter()
                                .filter_map(|d| d.as_str().map(str::to_owned))
                                .collect(),
                            _ => Vec::new(),
                        },
                        policy: match text_of(chain, "policy") {
                            Some("drop") => Verdict::Drop,
                            Some("accept") | None => Verdict::Accept,
                            Some(other) => Verdict::Other(other.to_owned()),
                        },
                    });
                ruleset.chains.push(Chain {
                    family,
                    table,
                    name,
                    base,
                    rules: Vec::new(),
                });
            } else if let Some(rule) = item.get("rule") {
                let Some((family, table, chain)) = names(rule, "chain") else {
                    continue;
                };
                let exprs = rule
                    .get("expr")
                    .and_then(Json::as_array)
                    .map(|list| list.iter().map(expr).collect())
                    .unwrap_or_default();
                let handle = rule.get("handle").and_then(Json::as_u64).unwrap_or(0);
                rules.push((family, table, chain, Rule { handle, exprs }));
            } else if let Some(set) = item.get("set") {
                let Some((family, table, name)) = names(set, "name") else {
                    continue;
                };
                let plain_type = set.get("type").is_some_and(Json::is_string);
                let elements = if plain_type {
                    match set.get("elem") {
                        None => Some(Vec::new()),
                        Some(Json::Array(list)) => Some(list.iter().map(value).collect()),
                        Some(_) => None,
                    }
                } else {
                    None
                };
                ruleset.sets.push(NamedSet {
                    family,
                    table,
                    name,
                    elements,
                });
            }
        }
        for (family, table, chain, rule) in rules {
            if let Some(c) = ruleset
                .chains
                .iter_mut()
                .find(|c| c.family == family && c.table == table && c.name == chain)
            {
                c.rules.push(rule);
            }
        }
        Ok(ruleset)
    }

    /// The chain `name` of the table (`family`, `table`).
    #[must_use]
    pub fn chain(&self, family: NftFamily, table: &str, name: &str) -> Option<&Chain> {
        self.chains
            .iter()
            .find(|c| c.family == family && c.table == table && c.name == name)
    }

    /// The named set `name` of the table (`family`, `table`).
    #[must_use]
    pub fn set(&self, family: NftFamily, table: &str, name: &str) -> Option<&NamedSet> {
        self.sets
            .iter()
            .find(|s| s.family == family && s.table == table && s.name == name)
    }
}

fn text_of<'a>(obj: &'a Json, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Json::as_str)
}

/// (family, table, name under `key`) of a chain, rule or set object.
fn names(obj: &Json, key: &str) -> Option<(NftFamily, String, String)> {
    Some((
        NftFamily::parse(text_of(obj, "family")?)?,
        text_of(obj, "table")?.to_owned(),
        text_of(obj, key)?.to_owned(),
    ))
}

fn expr(e: &Json) -> Expr {
    if let Some(m) = e.get("match") {
        let op = match text_of(m, "op") {
            Some("==") | None => MatchOp::Eq,
            Some("!=") => MatchOp::Ne,
            Some("in") => MatchOp::In,
            Some(_) => MatchOp::Other,
        };
        let left = m.get("left").map_or_else(|| other_key(String::new()), key);
        let right = m.get("right").map_or(Value::Other(String::new()), value);
        // A match not modelled keeps its whole text, worded as nft shows it.
        let left = match left {
            Key::Other { text, v6, proto } => {
                let op = match text_of(m, "op") {
                    Some("==") | None => String::new(),
                    Some(op) => format!(" {op}"),
                };
                Key::Other {
                    text: bounded(&format!("{text}{op} {}", word_value(&right))),
                    v6,
                    proto,
                }
            }
            known => known,
        };
        return Expr::Match { left, op, right };
    }
    let Some((name, arg)) = e.as_object().and_then(|o| o.iter().next()) else {
        return Expr::Other(e.to_string());
    };
    let target = || text_of(arg, "target").unwrap_or_default().to_owned();
    match name.as_str() {
        "accept" => Expr::Verdict(Verdict::Accept),
        "drop" => Expr::Verdict(Verdict::Drop),
        "reject" => Expr::Verdict(Verdict::Reject),
        "return" => Expr::Verdict(Verdict::Return),
        "continue" => Expr::Verdict(Verdict::Continue),
        "jump" => Expr::Verdict(Verdict::Jump(target())),
        "goto" => Expr::Verdict(Verdict::Goto(target())),
        "queue" => Expr::Verdict(Verdict::Other("queue".into())),
        "counter" | "log" | "comment" => Expr::Passive(name.clone()),
        "dnat" | "redirect" => nat_target(name == "redirect", arg).map_or_else(
            || Expr::Other(bounded(&word_statement(name, arg))),
            Expr::Nat,
        ),
        _ => Expr::Other(bounded(&word_statement(name, arg))),
    }
}

/// A `dnat` or `redirect` statement with a plain address and port (`null` for a bare
/// `redirect`); `None` for maps, ranges and other forms.
fn nat_target(redirect: bool, arg: &Json) -> Option<NatTarget> {
    let addr = match arg.get("addr") {
        None => None,
        Some(Json::String(a)) => Some(a.parse().ok()?),
        Some(_) => return None,
    };
    let port = match arg.get("port") {
        None => None,
        Some(p) => Some(u16::try_from(p.as_u64()?).ok()?),
    };
    if redirect == addr.is_some() || (!redirect && arg.get("flags").is_some()) {
        return None;
    }
    Some(NatTarget {
        redirect,
        addr,
        port,
    })
}

/// Longest wording of a match or statement that is not modelled.
const WORDING_MAX: usize = 120;

/// `text` cut at [`WORDING_MAX`] bytes (on a character boundary), with `…` when cut.
fn bounded(text: &str) -> String {
    if text.len() <= WORDING_MAX {
        return text.to_owned();
    }
    let mut end = WORDING_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The left side of a match as nft prints it where simple: `ip saddr`, `meta mark`,
/// `ct original saddr`; else its JSON text.
fn word_left(left: &Json) -> String {
    if let Some(p) = left.get("payload") {
        if let (Some(proto), Some(field)) = (text_of(p, "protocol"), text_of(p, "field")) {
            return format!("{proto} {field}");
        }
    }
    if let Some(key) = left.get("meta").and_then(|m| text_of(m, "key")) {
        return format!("meta {key}");
    }
    if let Some(ct) = left.get("ct") {
        if let Some(key) = text_of(ct, "key") {
            return match text_of(ct, "dir") {
                Some(dir) => format!("ct {dir} {key}"),
                None => format!("ct {key}"),
            };
        }
    }
    if let Some(obj) = left.as_object() {
        if let Some((name, arg)) = obj.iter().next() {
            if let Some(key) = text_of(arg, "key") {
                return format!("{name} {key}");
            }
            return name.clone();
        }
    }
    left.to_string()
}

/// A value as nft prints it: `22`, `10.0.0.0/8`, `1-1024`, `{ 22, 80 }`.
fn word_value(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Text(t) => t.clone(),
        Value::Range(lo, hi) => format!("{}-{}", word_value(lo), word_value(hi)),
        Value::Prefix { addr, len } => format!("{addr}/{len}"),
        Value::Set(items) => {
            let items: Vec<String> = items.iter().map(word_value).collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Other(text) => text.clone(),
    }
}

/// A statement as nft prints its head: `dnat to 10.0.0.1`, `meta mark set`, else its name.
fn word_statement(name: &str, arg: &Json) -> String {
    match (name, arg.get("addr").and_then(Json::as_str)) {
        ("dnat" | "snat", Some(addr)) => format!("{name} to {addr}"),
        _ => match arg.get("key").filter(|k| k.is_object()) {
            Some(key) => format!("{name} {} set", word_left(key)),
            None => name.to_owned(),
        },
    }
}

fn key(left: &Json) -> Key {
    if let Some(meta) = left.get("meta") {
        return match text_of(meta, "key") {
            Some("l4proto") => Key::L4Proto { v6: None },
            Some("iifname") => Key::Iifname,
            Some("iif") => Key::Iif,
            Some("nfproto") => Key::NfProto,
            _ => other_key(word_left(left)),
        };
    }
    if let Some(fib) = left.get("fib") {
        let daddr_only = fib.get("flags").is_some_and(|f| {
            f.as_array().map_or(f.as_str() == Some("daddr"), |list| {
                list.len() == 1 && list[0].as_str() == Some("daddr")
            })
        });
        if daddr_only && text_of(fib, "result") == Some("type") {
            return Key::FibDaddrType;
        }
        return other_key(word_left(left));
    }
    if let Some(ct) = left.get("ct") {
        return if text_of(ct, "key") == Some("state") && ct.get("dir").is_none() {
            Key::CtState
        } else {
            other_key(word_left(left))
        };
    }
    if let Some(p) = left.get("payload") {
        return match (text_of(p, "protocol"), text_of(p, "field")) {
            (Some("tcp"), Some("dport")) => Key::Dport {
                proto: Some(Proto::Tcp),
            },
            (Some("udp"), Some("dport")) => Key::Dport {
                proto: Some(Proto::Udp),
            },
            (Some("th"), Some("dport")) => Key::Dport { proto: None },
            (Some("ip"), Some("daddr")) => Key::Daddr { v6: false },
            (Some("ip6"), Some("daddr")) => Key::Daddr { v6: true },
            (Some("ip"), Some("protocol")) => Key::L4Proto { v6: Some(false) },
            (Some("ip6"), Some("nexthdr")) => Key::L4Proto { v6: Some(true) },
            (protocol, _) => Key::Other {
                text: word_left(left),
                v6: match protocol {
                    Some("ip") => Some(false),
                    Some("ip6") => Some(true),
                    _ => None,
                },
                proto: match protocol {
                    Some("tcp") => Some(Proto::Tcp),
                    Some("udp") => Some(Proto::Udp),
                    _ => None,
                },
            },
        };
    }
    other_key(word_left(left))
}

fn other_key(text: String) -> Key {
    Key::Other {
        text,
        v6: None,
        proto: None,
    }
}

fn value(v: &Json) -> Value {
    match v {
        Json::Number(n) => n
            .as_u64()
            .map_or_else(|| Value::Other(v.to_string()), Value::Number),
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(list) => Value::Set(list.iter().map(value).collect()),
        Json::Object(o) => {
            if let Some(Json::Array(set)) = o.get("set") {
                return Value::Set(set.iter().map(value).collect());
            }
            if let Some(Json::Array(pair)) = o.get("range") {
                if let [lo, hi] = pair.as_slice() {
                    return Value::Range(Box::new(value(lo)), Box::new(value(hi)));
                }
            }
            if let Some(prefix) = o.get("prefix") {
                let addr = text_of(prefix, "addr").and_then(|a| a.parse().ok());
                let len = prefix
                    .get("len")
                    .and_then(Json::as_u64)
                    .and_then(|l| u8::try_from(l).ok());
                if let (Some(addr), Some(len)) = (addr, len) {
                    return Value::Prefix { addr, len };
                }
            }
            // Set elements with a timeout or comment: {"elem": {"val": …}}.
            if let Some(elem) = o.get("elem").and_then(|e| e.get("val")) {
                return value(elem);
            }
            Value::Other(v.to_string())
        }
        _ => Value::Other(v.to_string()),
    }
}

/// What an evaluation of the firewall decided for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Every base chain on the path accepts it.
    Accept,
    /// A rule or policy drops it: the client waits until it times out.
    Drop,
    /// A rule rejects it: the client sees "refused" or an ICMP error.
    Reject,
    /// Something on the path is not modelled, or the ruleset could not be read.
    Unknown,
}

impl Decision {
    /// snake_case name as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Drop => "drop",
            Decision::Reject => "reject",
            Decision::Unknown => "unknown",
        }
    }
}

/// The rule or policy that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidedBy {
    /// Table family.
    pub family: NftFamily,
    /// Table name.
    pub table: String,
    /// Chain name (a regular chain when reached by jump or goto).
    pub chain: String,
    /// The rule's handle; `null` when the chain's policy decided (or nothing at all: no base
    /// chain on the path, then table and chain are empty).
    pub handle: Option<u64>,
}

/// The verdict of an evaluation, with where it was reached and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallVerdict {
    /// The decision.
    pub decision: Decision,
    /// Where it was reached; `null` when no chain decided (no base chain on the path: accept)
    /// or the decision is unknown before any rule.
    pub decided_by: Option<DecidedBy>,
    /// One sentence: what decided, or why it is unknown.
    pub reason: String,
}
