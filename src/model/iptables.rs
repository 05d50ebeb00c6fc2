//! The iptables fallback of the firewall model: `iptables-save` / `ip6tables-save` text
//! translated into the same [`Ruleset`] that `nft -j list ruleset` gives
//! ([`Ruleset::from_iptables_save`], a constructor), so one evaluator decides either way.
//!
//! Translated: the `filter` table (its `INPUT` chain, user chains and chain policies), and the
//! `PREROUTING`/`INPUT` chains of `raw` and `mangle` (filter-like, earlier) and `nat` (any rule
//! there makes the answer unknown, as for nft). In a rule: `-p`, `--dport` (`N`, `N:M`),
//! `-m multiport --dports`, `-d`, `-i` (`+` wildcard), `-m conntrack --ctstate` / `-m state
//! --state`, each possibly negated with `!`; targets `ACCEPT`, `DROP`, `REJECT`, `RETURN`, a
//! user chain (`-j`, `-g`), `LOG`. Any other option is an unknown match (with its text), any
//! other target an unknown statement: the evaluator then answers unknown when it matters.
//! Rules are numbered per chain from 1, as `iptables -L --line-numbers` shows them; the number
//! is the rule's `handle`.
//!
//! Pure: nothing here runs iptables-save (that is `collect`).

use std::net::IpAddr;

use super::Proto;
use super::firewall::{
    BaseHook, Chain, Expr, Key, MatchOp, NatTarget, NftFamily, Rule, Ruleset, RulesetSource, Value,
    Verdict,
};

/// Longest wording of an option that is not modelled.
const WORDING_MAX: usize = 120;

impl Ruleset {
    /// Translate `iptables-save` (`v4`) and `ip6tables-save` (`v6`) output; either may be
    /// missing.
    ///
    /// # Errors
    /// When neither is given, or a line cannot be read as iptables-save output (a rule before
    /// its table, a chain declared without a policy).
    pub fn from_iptables_save(v4: Option<&str>, v6: Option<&str>) -> Result<Ruleset, String> {
        if v4.is_none() && v6.is_none() {
            return Err("neither iptables-save nor ip6tables-save output".into());
        }
        let mut ruleset = Ruleset {
            source: RulesetSource::Iptables,
            ..Ruleset::default()
        };
        for (text, family) in [(v4, NftFamily::Ip), (v6, NftFamily::Ip6)] {
            if let Some(text) = text {
                translate(text, family, &mut ruleset)?;
            }
        }
        Ok(ruleset)
    }
}

/// Where a built-in chain of an iptables table hooks, with the priority nft gives that table.
fn builtin(table: &str, chain: &str) -> Option<(&'static str, &'static str, i64)> {
    let hook = match chain {
        "PREROUTING" => "prerouting",
        "INPUT" => "input",
        // The forward path of a DNATed packet (the audit's published ports).
        "FORWARD" if table != "nat" => "forward",
        _ => return None,
    };
    let (kind, priority) = match table {
        "raw" => ("filter", -300),
        "mangle" => ("filter", -150),
        "nat" => ("nat", -100),
        "filter" => ("filter", 0),
        _ => return None,
    };
    Some((hook, kind, priority))
}

fn translate(text: &str, family: NftFamily, ruleset: &mut Ruleset) -> Result<(), String> {
    let mut table: Option<String> = None;
    let tool = if family == NftFamily::Ip6 {
        "ip6tables-save"
    } else {
        "iptables-save"
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let at = || format!("{tool} line {}", n + 1);
        if line.is_empty() || line.starts_with('#') || line == "COMMIT" {
            continue;
        }
        if let Some(name) = line.strip_prefix('*') {
            table = Some(name.to_owned());
            continue;
        }
        let Some(table) = table.as_deref() else {
            return Err(format!("{}: a line before any table", at()));
        };
        if !matches!(table, "filter" | "raw" | "mangle" | "nat") {
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut words = decl.split_whitespace();
            let (Some(name), Some(policy)) = (words.next(), words.next()) else {
                return Err(format!("{}: a chain without a policy", at()));
            };
            let base = builtin(table, name).map(|(hook, kind, priority)| BaseHook {
                hook: hook.to_owned(),
                kind: kind.to_owned(),
                priority,
                devices: Vec::new(),
                policy: match policy {
                    "DROP" => Verdict::Drop,
                    "ACCEPT" => Verdict::Accept,
                    other => Verdict::Other(other.to_owned()),
                },
            });
            // Built-in chains of other hooks (OUTPUT, POSTROUTING) are never on the input or
            // forward path; keep them as regular chains, which nothing jumps to.
            ruleset.chains.push(Chain {
                family,
                table: table.to_owned(),
                name: name.to_owned(),
                base,
                rules: Vec::new(),
            });
            continue;
        }
        let Some(rest) = line.strip_prefix("-A ") else {
            continue;
        };
        let words = split_words(rest);
        let Some((chain_name, args)) = words.split_first() else {
            return Err(format!("{}: a rule without a chain", at()));
        };
        let Some(chain) = ruleset
            .chains
            .iter_mut()
            .find(|c| c.family == family && c.table == table && &c.name == chain_name)
        else {
            return Err(format!("{}: chain {chain_name} was not declared", at()));
        };
        let handle = u64::try_from(chain.rules.len() + 1).unwrap_or(u64::MAX);
        let exprs = rule_exprs(args, family == NftFamily::Ip6);
        chain.rules.push(Rule { handle, exprs });
    }
    Ok(())
}

/// Split a rule into words, keeping `"quoted text"` (comments) as one word.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The expressions of one rule's arguments (after `-A CHAIN`).
fn rule_exprs(args: &[String], v6: bool) -> Vec<Expr> {
    let mut exprs = Vec::new();
    let mut proto: Option<Proto> = None;
    let mut negate = false;
    let mut i = 0;
    // The values of an option: the words up to the next option or `!`.
    let values = |from: usize| -> Vec<&str> {
        args[from..]
            .iter()
            .take_while(|w| !w.starts_with('-') && w.as_str() != "!")
            .map(String::as_str)
            .collect()
    };
    while i < args.len() {
        let word = args[i].as_str();
        if word == "!" {
            negate = true;
            i += 1;
            continue;
        }
        let vals = values(i + 1);
        let one = vals.first().copied().unwrap_or_default();
        let op = if negate { MatchOp::Ne } else { MatchOp::Eq };
        let matched = |left: Key, right: Value| Expr::Match { left, op, right };
        let expr = match word {
            "-p" | "--protocol" => {
                proto = match one {
                    "tcp" | "6" => Some(Proto::Tcp),
                    "udp" | "17" => Some(Proto::Udp),
                    _ => None,
                };
                if one == "all" || one == "0" {
                    // Every protocol: no match at all (negated: none).
                    (negate).then(|| unknown_match(word, &vals, v6))
                } else {
                    Some(matched(
                        Key::L4Proto { v6: None },
                        match proto {
                            Some(p) => Value::Text(p.as_str().to_owned()),
                            None => Value::Text(one.to_owned()),
                        },
                    ))
                }
            }
            "--dport" | "--destination-port" => {
                port_value(one).map(|v| matched(Key::Dport { proto }, v))
            }
            "--dports" | "--destination-ports" => {
                let ports: Option<Vec<Value>> = one.split(',').map(port_value).collect();
                ports.map(|p| matched(Key::Dport { proto }, Value::Set(p)))
            }
            "-d" | "--destination" => address_value(one, v6).map(|v| matched(Key::Daddr { v6 }, v)),
            "-i" | "--in-interface" => {
                let name = match one.strip_suffix('+') {
                    Some(prefix) => format!("{prefix}*"),
                    None => one.to_owned(),
                };
                Some(matched(Key::Iifname, Value::Text(name)))
            }
            "--dst-type" => Some(matched(
                Key::FibDaddrType,
                Value::Text(one.to_ascii_lowercase()),
            )),
            "--ctstate" | "--state" => {
                let states: Vec<Value> = one
                    .split(',')
                    .map(|s| Value::Text(s.to_ascii_lowercase()))
                    .collect();
                let op = if negate { MatchOp::Ne } else { MatchOp::In };
                Some(Expr::Match {
                    left: Key::CtState,
                    op,
                    right: Value::Set(states),
                })
            }
            // Modules whose options are read one by one; a comment.
            "-m" | "--match" if !negate => {
                i += 1 + vals.len();
                continue;
            }
            "--comment" if !negate => Some(Expr::Passive("comment".into())),
            "-j" | "--jump" | "-g" | "--goto" if !negate => {
                let goto = matches!(word, "-g" | "--goto");
                Some(match one {
                    "ACCEPT" => Expr::Verdict(Verdict::Accept),
                    "DROP" => Expr::Verdict(Verdict::Drop),
                    "REJECT" => Expr::Verdict(Verdict::Reject),
                    "RETURN" => Expr::Verdict(Verdict::Return),
                    "LOG" | "NFLOG" => Expr::Passive(one.to_ascii_lowercase()),
                    "DNAT" | "REDIRECT" => nat_target(one == "REDIRECT", &args[i + 1..])
                        .map_or_else(|| Expr::Other(format!("-j {one}")), Expr::Nat),
                    chain if goto => Expr::Verdict(Verdict::Goto(chain.to_owned())),
                    chain if is_user_chain(chain) => Expr::Verdict(Verdict::Jump(chain.to_owned())),
                    target => Expr::Other(bounded(&format!("-j {target}"))),
                })
            }
            // The target's own options (--reject-with, --log-prefix) come after it.
            "--reject-with" | "--log-prefix" | "--log-level" | "--nflog-group"
            | "--nflog-prefix" | "--to-destination" | "--to-ports"
                if !negate =>
            {
                None
            }
            _ => Some(unknown_match(word, &vals, v6)),
        };
        // A value that did not read (a service name, a dotted mask): not modelled.
        let expr = expr.or_else(|| {
            (!matches!(
                word,
                "-p" | "--protocol"
                    | "--reject-with"
                    | "--log-prefix"
                    | "--log-level"
                    | "--nflog-group"
                    | "--nflog-prefix"
                    | "--to-destination"
                    | "--to-ports"
            ))
            .then(|| unknown_match(word, &vals, v6))
        });
        exprs.extend(expr);
        negate = false;
        i += 1 + vals.len();
    }
    exprs
}

/// The target of `-j DNAT --to-destination ADDR[:PORT]` or `-j REDIRECT [--to-ports PORT]`
/// (`after`: the words after the target); `None` for ranges and other forms.
fn nat_target(redirect: bool, after: &[String]) -> Option<NatTarget> {
    let option = |name: &str| {
        after
            .iter()
            .position(|w| w == name)
            .and_then(|at| after.get(at + 1))
    };
    if redirect {
        let port = match option("--to-ports") {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        return Some(NatTarget {
            redirect,
            addr: None,
            port,
        });
    }
    let to = option("--to-destination")?;
    let (addr, port) = match to.parse::<IpAddr>() {
        Ok(addr) => (addr, None),
        Err(_) => match to.parse::<std::net::SocketAddr>() {
            Ok(sa) => (sa.ip(), Some(sa.port())),
            // 10.0.0.1:80 without brackets is v4 only; a range (a-b) is not modelled.
            Err(_) => return None,
        },
    };
    Some(NatTarget {
        redirect,
        addr: Some(addr),
        port,
    })
}

/// A user chain's name: not a built-in target (those are upper case by convention, but user
/// chains may be too, so only the targets iptables itself defines are excluded).
fn is_user_chain(name: &str) -> bool {
    !matches!(
        name,
        "DNAT"
            | "SNAT"
            | "MASQUERADE"
            | "REDIRECT"
            | "MARK"
            | "CONNMARK"
            | "TPROXY"
            | "NOTRACK"
            | "CT"
            | "TCPMSS"
            | "NFQUEUE"
            | "QUEUE"
            | "TRACE"
            | "CLASSIFY"
            | "DSCP"
            | "TOS"
            | "TTL"
            | "HL"
            | "SET"
            | "AUDIT"
            | "CHECKSUM"
            | "SECMARK"
            | "CONNSECMARK"
    )
}

fn unknown_match(option: &str, values: &[&str], v6: bool) -> Expr {
    let text = if values.is_empty() {
        option.to_owned()
    } else {
        format!("{option} {}", values.join(" "))
    };
    Expr::Match {
        left: Key::Other {
            text: bounded(&text),
            v6: Some(v6),
            proto: None,
        },
        op: MatchOp::Eq,
        right: Value::Other(String::new()),
    }
}

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

/// `22` or `1000:2000` (an open end `:2000` or `1000:` as iptables allows).
fn port_value(text: &str) -> Option<Value> {
    match text.split_once(':') {
        Some((lo, hi)) => {
            let lo: u64 = if lo.is_empty() { 0 } else { lo.parse().ok()? };
            let hi: u64 = if hi.is_empty() {
                65535
            } else {
                hi.parse().ok()?
            };
            Some(Value::Range(
                Box::new(Value::Number(lo)),
                Box::new(Value::Number(hi)),
            ))
        }
        None => text.parse().ok().map(Value::Number),
    }
}

/// `10.0.0.1/32` → an address, `10.0.0.0/8` → a prefix; `None` for a dotted mask or a name.
fn address_value(text: &str, v6: bool) -> Option<Value> {
    let (addr, len) = match text.split_once('/') {
        Some((addr, len)) => (addr, Some(len.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    if addr.is_ipv6() != v6 {
        return None;
    }
    let full = if v6 { 128 } else { 32 };
    Some(match len {
        Some(len) if len < full => Value::Prefix { addr, len },
        _ => Value::Text(addr.to_string()),
    })
}

#[cfg(test)]
mod tests;
