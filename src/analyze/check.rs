//! `portscope check`: which of the usual causes explains a failed (or working) connection, in
//! the order a careful sysadmin checks them: a listener at all, its bind covering the address
//! used ([`coverage`]), the firewall, the connect itself. Also which unit files may be the
//! missing service ([`unit_hints`]).
//!
//! Pure: the caller collects listeners, the firewall verdict and the connect result. It must
//! not read the system.

use std::net::IpAddr;

use crate::model::{
    Cause, CauseCode, CheckTarget, ConnectOutcome, ConnectResult, Decision, Family,
    FirewallVerdict, ForeignListener, HostAddr, InterfaceAddr, LocalEnd, SocketEntry, UnitFile,
    UnitHint, Zone, is_link_local_v6,
};

/// Ports this close to the target count as "nearby" (a typo, a changed default).
pub const NEARBY: u16 = 10;

/// Whether `listener` accepts a connection to `target` arriving on interface `arrives_on`;
/// `Err` names the cause and the exact fix.
///
/// # Errors
/// The cause when the bind does not cover the address.
pub fn coverage(
    target: &CheckTarget,
    listener: &SocketEntry,
    arrives_on: Option<&str>,
) -> Result<(), Cause> {
    let addr = target.address;
    let end = LocalEnd::of(listener).with_port(listener.local_port);
    let used = HostAddr(addr);
    if let Some(dev) = &listener.interface {
        if arrives_on != Some(dev.as_str()) {
            let via = arrives_on.map_or_else(
                || "another interface".to_owned(),
                |i| format!("interface {i}"),
            );
            return Err(Cause {
                code: CauseCode::DeviceBound,
                text: format!(
                    "the listener {end} is bound to device {dev}, but {used} arrives on {via}: drop its device binding (SO_BINDTODEVICE, e.g. a `%{dev}` or `interface` setting) or connect through {dev}"
                ),
            });
        }
    }
    let bound = listener.local_address;
    if bound.is_unspecified() {
        return match (listener.family, addr) {
            (Family::Ipv4, IpAddr::V4(_)) => Ok(()),
            (Family::Ipv4, IpAddr::V6(_)) => Err(Cause {
                code: CauseCode::Ipv4Only,
                text: format!(
                    "the listener {end} takes IPv4 only, and {used} is IPv6: make it listen on [::] as well (or connect over IPv4)"
                ),
            }),
            (Family::Ipv6, IpAddr::V6(_)) => Ok(()),
            (Family::Ipv6, IpAddr::V4(_)) => {
                if listener.dual_stack == Some(false) {
                    Err(Cause {
                        code: CauseCode::V6Only,
                        text: format!(
                            "the listener {end} is IPv6-only (IPV6_V6ONLY), and {used} is IPv4: make it listen on 0.0.0.0:{port} as well, or turn v6-only off (the service's option, or net.ipv6.bindv6only=0 for sockets that do not set it)",
                            port = listener.local_port
                        ),
                    })
                } else {
                    Ok(())
                }
            }
        };
    }
    if bound == addr {
        return Ok(());
    }
    let wildcard = if addr.is_ipv4() { "0.0.0.0" } else { "[::]" };
    if bound.is_loopback() && !addr.is_loopback() {
        return Err(Cause {
            code: CauseCode::LoopbackOnly,
            text: format!(
                "the listener {end} is bound to loopback only, so connections to {used} are refused: change its bind address from {bound_addr} to {used} (or {wildcard} for every address), and keep the firewall in front of it",
                bound_addr = HostAddr(bound)
            ),
        });
    }
    if bound.is_ipv4() != addr.is_ipv4() {
        let code = if bound.is_ipv4() {
            CauseCode::Ipv4Only
        } else {
            CauseCode::Ipv6Only
        };
        return Err(Cause {
            code,
            text: format!(
                "the listener {end} is bound to {} and {used} is of the other IP version: bind it to {used} too (or {wildcard})",
                HostAddr(bound)
            ),
        });
    }
    Err(Cause {
        code: CauseCode::OtherAddress,
        text: format!(
            "the listener {end} is bound to {} only, not to {used}: change its bind address to {used} (or {wildcard} for every address)",
            HostAddr(bound)
        ),
    })
}

/// The interface (name, index) a link-local IPv6 target is on: the one its scope names
/// (`%eth0`, `%2`), or without a scope the one interface that carries the address. `None`
/// when the address is not link-local, or no interface carries it (the caller then refuses an
/// address that is not this machine's).
///
/// # Errors
/// The scope names an interface that does not carry the address; no scope, and several
/// interfaces carry it (a link-local address is ambiguous without one); an index unknown.
pub fn link_scope(
    target: &CheckTarget,
    interfaces: &[InterfaceAddr],
) -> Result<Option<(String, u32)>, String> {
    let addr = target.address;
    if !is_link_local_v6(addr) {
        return Ok(None);
    }
    let carriers: Vec<&InterfaceAddr> = interfaces.iter().filter(|i| i.addr == addr).collect();
    let chosen = match &target.zone {
        Some(zone) => {
            let found = carriers.iter().find(|i| match zone {
                Zone::Name(n) => &i.name == n,
                Zone::Index(x) => i.index == Some(*x),
            });
            match found {
                Some(i) => *i,
                None => {
                    let on: Vec<&str> = carriers.iter().map(|i| i.name.as_str()).collect();
                    let hint = if on.is_empty() {
                        "no interface of this machine has it".to_owned()
                    } else {
                        format!("it is on {}", on.join(", "))
                    };
                    return Err(format!(
                        "{addr} is not an address of interface {zone}: {hint}"
                    ));
                }
            }
        }
        None => {
            let mut names: Vec<&str> = carriers.iter().map(|i| i.name.as_str()).collect();
            names.dedup();
            match names.as_slice() {
                [] => return Ok(None),
                [_] => carriers[0],
                [first, ..] => {
                    return Err(format!(
                        "the link-local address {addr} is on several interfaces ({}): name one, e.g. [{addr}%{first}]:{}",
                        names.join(", "),
                        target.port
                    ));
                }
            }
        }
    };
    let index = chosen
        .index
        .ok_or_else(|| format!("the index of interface {} is unknown", chosen.name))?;
    Ok(Some((chosen.name.clone(), index)))
}

/// Unit files that may be the missing service: named after one of `service_names` (the
/// port's curated and IANA names: `postgresql` matches `postgresql.service` and
/// `postgresql@.service` is skipped by the reader), or whose `ExecStart=`, `ListenStream=` or
/// `ListenDatagram=` lines name `port` as a port ([`names_port`]). `running` is filled by the
/// caller.
#[must_use]
pub fn unit_hints(units: &[UnitFile], service_names: &[&str], port: u16) -> Vec<UnitHint> {
    let mentions_port = |text: &str| text.lines().any(|line| names_port(line, port));
    units
        .iter()
        .filter_map(|u| {
            let stem = u.name.rsplit_once('.').map_or(u.name.as_str(), |(s, _)| s);
            let by_name = service_names
                .iter()
                .any(|n| !n.is_empty() && (stem == *n || stem.starts_with(&format!("{n}-"))));
            let matched = if by_name {
                "name"
            } else if mentions_port(&u.text) {
                "port"
            } else {
                return None;
            };
            Some(UnitHint {
                unit: u.name.clone(),
                path: u.path.clone(),
                matched: matched.to_owned(),
                running: None,
            })
        })
        .collect()
}

/// Whether one unit-file line names `port` as a port: a `ListenStream=`/`ListenDatagram=`
/// value that is the port or ends in `:PORT`, or in `ExecStart=` an argument after a port
/// option (`--port 5432`, `-p 5432`), a `--port=5432`-style or `port=5432` argument, or an
/// address ending in `:5432`. A digit run inside a path or a name (`polkit-1`, `python3`) is not
/// a port.
#[must_use]
pub fn names_port(line: &str, port: u16) -> bool {
    let line = line.trim();
    let port_text = port.to_string();
    let ends_in_port = |value: &str| {
        value
            .rsplit_once(':')
            .is_some_and(|(host, p)| p == port_text && !host.contains('/'))
    };
    for key in ["ListenStream=", "ListenDatagram="] {
        if let Some(value) = line.strip_prefix(key) {
            let value = value.trim();
            return value == port_text || ends_in_port(value);
        }
    }
    let Some(command) = line.strip_prefix("ExecStart=") else {
        return false;
    };
    let is_port_option = |word: &str| {
        let word = word.trim_start_matches('-').to_ascii_lowercase();
        word == "p" || word.ends_with("port")
    };
    let words: Vec<&str> = command.split_whitespace().collect();
    words.iter().enumerate().any(|(i, word)| {
        let word = word.trim_matches(|c| c == '"' || c == '\'');
        if word == port_text {
            return i > 0 && is_port_option(words[i - 1]);
        }
        if let Some((key, value)) = word.split_once('=') {
            if value == port_text && is_port_option(key) {
                return true;
            }
            return ends_in_port(value);
        }
        ends_in_port(word)
    })
}

/// Everything `diagnose` looks at.
#[derive(Debug)]
pub struct Facts<'a> {
    /// The target.
    pub target: &'a CheckTarget,
    /// Listeners on the port and protocol in this network namespace.
    pub listeners: &'a [SocketEntry],
    /// Listeners on nearby ports (same protocol).
    pub nearby: &'a [SocketEntry],
    /// Listeners on the port in other network namespaces.
    pub foreign: &'a [ForeignListener],
    /// Units that may be the service.
    pub units: &'a [UnitHint],
    /// The interface that carries the address, where other machines' packets arrive (`lo`
    /// for loopback addresses).
    pub arrives_on: Option<&'a str>,
    /// The firewall's verdict for the local path (input on `lo`: the connect just tried),
    /// `None` when it could not be read.
    pub firewall: Option<&'a FirewallVerdict>,
    /// The firewall's verdict for the remote path (input on the interface that carries the
    /// address: what other machines see); `None` for a loopback address (no such path) or
    /// when it could not be read.
    pub firewall_remote: Option<&'a FirewallVerdict>,
    /// The connect.
    pub connect: &'a ConnectResult,
}

/// The diagnosis: whether it works, and every cause found, in checking order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// TCP: the connect succeeded. UDP: a listener covers the address, nothing refused and the
    /// firewall does not drop or reject.
    pub works: bool,
    /// The causes, most basic first.
    pub causes: Vec<Cause>,
    /// The index in `listeners` of the first listener whose bind covers the address (the
    /// one the verdict names); `None` when none does.
    pub accepting: Option<usize>,
}

/// Diagnose a connection from the collected facts.
#[must_use]
pub fn diagnose(f: &Facts<'_>) -> Diagnosis {
    let mut causes = Vec::new();
    let target = f.target;
    if f.listeners.is_empty() {
        let mut text = format!(
            "nothing listens on port {}/{} in this network namespace",
            target.port, target.proto
        );
        if !f.nearby.is_empty() {
            let ports: Vec<String> = f
                .nearby
                .iter()
                .map(|e| {
                    let who = e
                        .processes
                        .first()
                        .and_then(|p| p.name.clone())
                        .unwrap_or_else(|| "owner unknown".into());
                    format!("{} ({who})", e.local_port)
                })
                .collect();
            text.push_str(&format!(
                "; nearby ports in use: {} (a typo or a changed port?)",
                ports.join(", ")
            ));
        }
        for unit in f.units {
            let state = match unit.running {
                Some(true) => "has processes but does not listen here",
                Some(false) => "exists but is not running: start it (systemctl start)",
                None => "exists (whether it runs is unknown)",
            };
            text.push_str(&format!("; unit {} {state}", unit.unit));
        }
        causes.push(Cause {
            code: CauseCode::NoListener,
            text,
        });
        for other in f.foreign {
            causes.push(Cause {
                code: CauseCode::OtherNamespace,
                text: format!(
                    "{}:{} listens in another network namespace (net:[{}], seen through pid {} {}): a container without a published port, or a service in its own namespace, is not reachable from here; publish the port (docker run -p {port}:{port}) or connect from inside that namespace",
                    HostAddr(other.address),
                    other.port,
                    other.netns,
                    other.pid,
                    other.process.as_deref().unwrap_or("?"),
                    port = other.port
                ),
            });
        }
    } else {
        let results: Vec<Result<(), Cause>> = f
            .listeners
            .iter()
            .map(|l| coverage(target, l, f.arrives_on))
            .collect();
        if !results.iter().any(Result::is_ok) {
            for cause in results.into_iter().filter_map(Result::err) {
                if !causes.iter().any(|c: &Cause| c.text == cause.text) {
                    causes.push(cause);
                }
            }
        }
    }
    // The local verdict explains this connect; the remote one what other machines see.
    let mut firewall_blocks = false;
    match f.firewall {
        Some(v) if v.decision == Decision::Drop => {
            firewall_blocks = true;
            causes.push(Cause {
                code: CauseCode::FirewallDrop,
                text: format!(
                    "the firewall drops it ({}); clients wait until they time out: allow {}/{} in that chain before the rule that drops it",
                    v.reason, target.port, target.proto
                ),
            });
        }
        Some(v) if v.decision == Decision::Reject => {
            firewall_blocks = true;
            causes.push(Cause {
                code: CauseCode::FirewallReject,
                text: format!(
                    "the firewall rejects it ({}); clients see \"connection refused\" or an ICMP error: allow {}/{} in that chain before the rule that rejects it",
                    v.reason, target.port, target.proto
                ),
            });
        }
        Some(v) if v.decision == Decision::Unknown => causes.push(Cause {
            code: CauseCode::FirewallUnknown,
            text: format!("the firewall's verdict is unknown: {}", v.reason),
        }),
        _ => {}
    }
    let via = f.arrives_on.unwrap_or("the interface that carries it");
    match f.firewall_remote {
        // The same verdict as the local path is said once.
        Some(r) if f.firewall.is_some_and(|l| l.decision == r.decision) => {}
        Some(r) if r.decision == Decision::Drop => causes.push(Cause {
            code: CauseCode::RemoteFirewallDrop,
            text: format!(
                "from other machines (packets arriving on {via}) the firewall drops it ({}); they wait until they time out: allow {}/{} in that chain before the rule that drops it",
                r.reason, target.port, target.proto
            ),
        }),
        Some(r) if r.decision == Decision::Reject => causes.push(Cause {
            code: CauseCode::RemoteFirewallReject,
            text: format!(
                "from other machines (packets arriving on {via}) the firewall rejects it ({}); they see \"connection refused\" or an ICMP error: allow {}/{} in that chain before the rule that rejects it",
                r.reason, target.port, target.proto
            ),
        }),
        Some(r) if r.decision == Decision::Unknown => causes.push(Cause {
            code: CauseCode::FirewallUnknown,
            text: format!(
                "the firewall's verdict for other machines (packets arriving on {via}) is unknown: {}",
                r.reason
            ),
        }),
        _ => {}
    }
    let accepting = f
        .listeners
        .iter()
        .position(|l| coverage(target, l, f.arrives_on).is_ok());
    let covered = accepting.is_some();
    let works = match (target.proto, f.connect.outcome) {
        (_, ConnectOutcome::Open) => true,
        (crate::model::Proto::Udp, ConnectOutcome::Timeout) => covered && !firewall_blocks,
        _ => false,
    };
    // What other machines see does not explain this connect.
    let explained = causes.iter().any(|c| {
        !matches!(
            c.code,
            CauseCode::FirewallUnknown
                | CauseCode::RemoteFirewallDrop
                | CauseCode::RemoteFirewallReject
        )
    });
    if !works && !explained {
        causes.push(Cause {
            code: CauseCode::ConnectFailed,
            text: format!(
                "the connect ended in {}{}, which none of the checks explains",
                f.connect.outcome.as_str(),
                f.connect
                    .error
                    .as_ref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
        });
    }
    Diagnosis {
        works,
        causes,
        accepting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proto;

    #[test]
    fn link_local_scopes() {
        let iface = |name: &str, index: u32, addr: &str| InterfaceAddr {
            name: name.into(),
            index: Some(index),
            addr: addr.parse().unwrap(),
        };
        let interfaces = [
            iface("eth0", 2, "fe80::1"),
            iface("eth0", 2, "fe80::9"),
            iface("eth1", 3, "fe80::9"),
            iface("eth0", 2, "10.0.0.5"),
        ];
        let scope = |text: &str| link_scope(&CheckTarget::parse(text).unwrap(), &interfaces);
        assert_eq!(scope("[fe80::1]:80"), Ok(Some(("eth0".into(), 2))));
        assert_eq!(scope("[fe80::1%eth0]:80"), Ok(Some(("eth0".into(), 2))));
        assert_eq!(scope("[fe80::9%3]:80"), Ok(Some(("eth1".into(), 3))));
        assert_eq!(scope("10.0.0.5:80"), Ok(None));
        assert_eq!(scope("[fe80::77]:80"), Ok(None));
        let err = scope("[fe80::9]:80").unwrap_err();
        assert!(
            err.contains("on several interfaces (eth0, eth1): name one, e.g. [fe80::9%eth0]:80"),
            "{err}"
        );
        let err = scope("[fe80::1%eth1]:80").unwrap_err();
        assert!(
            err.contains("not an address of interface eth1: it is on eth0"),
            "{err}"
        );
    }

    fn target(addr: &str) -> CheckTarget {
        CheckTarget {
            address: addr.parse().unwrap(),
            port: 8080,
            proto: Proto::Tcp,
            zone: None,
        }
    }

    fn listener(addr: &str) -> SocketEntry {
        SocketEntry::test_listener(addr, 8080)
    }

    #[test]
    fn bind_coverage_table() {
        let v6only = SocketEntry {
            dual_stack: Some(false),
            ..listener("::")
        };
        let dual = SocketEntry {
            dual_stack: Some(true),
            ..listener("::")
        };
        let on_eth1 = SocketEntry {
            interface: Some("eth1".into()),
            ..listener("0.0.0.0")
        };
        // (target, listener, arrives on, expected cause or None, text the fix must contain)
        let cases: Vec<(&str, SocketEntry, &str, Option<CauseCode>, &str)> = vec![
            ("10.0.0.5", listener("0.0.0.0"), "eth0", None, ""),
            ("10.0.0.5", listener("10.0.0.5"), "eth0", None, ""),
            ("127.0.0.1", listener("127.0.0.1"), "lo", None, ""),
            ("10.0.0.5", dual.clone(), "eth0", None, ""),
            ("2001:db8::5", v6only.clone(), "eth0", None, ""),
            (
                "10.0.0.5",
                listener("127.0.0.1"),
                "eth0",
                Some(CauseCode::LoopbackOnly),
                "change its bind address from 127.0.0.1 to 10.0.0.5 (or 0.0.0.0",
            ),
            (
                "10.0.0.5",
                v6only,
                "eth0",
                Some(CauseCode::V6Only),
                "listen on 0.0.0.0:8080 as well",
            ),
            (
                "2001:db8::5",
                listener("0.0.0.0"),
                "eth0",
                Some(CauseCode::Ipv4Only),
                "listen on [::] as well",
            ),
            (
                "10.0.0.5",
                listener("10.0.0.6"),
                "eth0",
                Some(CauseCode::OtherAddress),
                "bound to 10.0.0.6 only, not to 10.0.0.5",
            ),
            (
                "::1",
                listener("127.0.0.1"),
                "lo",
                Some(CauseCode::Ipv4Only),
                "bind it to [::1] too",
            ),
            // The mirror case (it was other_address).
            (
                "127.0.0.1",
                listener("::1"),
                "lo",
                Some(CauseCode::Ipv6Only),
                "bind it to 127.0.0.1 too",
            ),
            (
                "10.0.0.5",
                on_eth1,
                "eth0",
                Some(CauseCode::DeviceBound),
                "bound to device eth1, but 10.0.0.5 arrives on interface eth0",
            ),
        ];
        for (addr, l, via, want, fix) in cases {
            let got = coverage(&target(addr), &l, Some(via));
            match (got, want) {
                (Ok(()), None) => {}
                (Err(cause), Some(code)) => {
                    assert_eq!(cause.code, code, "{addr} vs {}", l.local_address);
                    assert!(cause.text.contains(fix), "{addr}: {}", cause.text);
                }
                (got, want) => panic!("{addr} vs {}: {got:?}, want {want:?}", l.local_address),
            }
        }
        let _ = dual;
    }

    fn connect(outcome: ConnectOutcome) -> ConnectResult {
        ConnectResult {
            outcome,
            errno: None,
            error: None,
        }
    }

    #[test]
    fn diagnoses() {
        let t = target("10.0.0.5");
        let open = connect(ConnectOutcome::Open);
        let refused = connect(ConnectOutcome::Refused);
        let timeout = connect(ConnectOutcome::Timeout);
        let drop = FirewallVerdict {
            decision: Decision::Drop,
            decided_by: None,
            reason: "rule handle 3 of chain input in table inet filter decides: drop".into(),
        };
        let facts = |listeners, firewall, connect| Facts {
            target: &t,
            listeners,
            nearby: &[],
            foreign: &[],
            units: &[],
            arrives_on: Some("eth0"),
            firewall,
            firewall_remote: None,
            connect,
        };
        let any = [listener("0.0.0.0")];
        let lo = [listener("127.0.0.1")];
        let codes = |d: Diagnosis| (d.works, d.causes.iter().map(|c| c.code).collect::<Vec<_>>());
        assert_eq!(codes(diagnose(&facts(&any, None, &open))), (true, vec![]));
        assert_eq!(
            codes(diagnose(&facts(&[], None, &refused))),
            (false, vec![CauseCode::NoListener])
        );
        assert_eq!(
            codes(diagnose(&facts(&lo, None, &refused))),
            (false, vec![CauseCode::LoopbackOnly])
        );
        assert_eq!(
            codes(diagnose(&facts(&any, Some(&drop), &timeout))),
            (false, vec![CauseCode::FirewallDrop])
        );
        assert_eq!(
            codes(diagnose(&facts(&any, None, &timeout))),
            (false, vec![CauseCode::ConnectFailed])
        );
        // A drop for other machines only: the connect works, with a caveat; a timeout from
        // here is not explained by it.
        let accept = FirewallVerdict {
            decision: Decision::Accept,
            decided_by: None,
            reason: "no nftables base chain filters incoming packets".into(),
        };
        let both = |firewall, remote, connect| Facts {
            firewall_remote: remote,
            ..facts(&any, firewall, connect)
        };
        assert_eq!(
            codes(diagnose(&both(Some(&accept), Some(&drop), &open))),
            (true, vec![CauseCode::RemoteFirewallDrop])
        );
        let d = diagnose(&both(Some(&accept), Some(&drop), &open));
        assert!(
            d.causes[0]
                .text
                .starts_with("from other machines (packets arriving on eth0)"),
            "{}",
            d.causes[0].text
        );
        assert_eq!(
            codes(diagnose(&both(Some(&accept), Some(&drop), &timeout))),
            (
                false,
                vec![CauseCode::RemoteFirewallDrop, CauseCode::ConnectFailed]
            )
        );
        // The same drop on both paths is said once, as the local one.
        assert_eq!(
            codes(diagnose(&both(Some(&drop), Some(&drop), &timeout))),
            (false, vec![CauseCode::FirewallDrop])
        );
        // The listener named is one that covers the address, not the first one.
        let both = [listener("127.0.0.1"), listener("0.0.0.0")];
        assert_eq!(diagnose(&facts(&both, None, &open)).accepting, Some(1));
        assert_eq!(diagnose(&facts(&lo, None, &refused)).accepting, None);
    }

    #[test]
    fn unit_lines_name_ports_only_where_a_port_goes() {
        let cases: [(&str, u16, bool); 16] = [
            ("ExecStart=/usr/lib/polkit-1/polkitd --no-debug", 1, false),
            ("ExecStart=/usr/bin/python3 -m http.server", 3, false),
            ("ExecStart=/usr/bin/myapp --port 5432", 5432, true),
            ("ExecStart=/usr/bin/myapp --port=5432", 5432, true),
            ("ExecStart=/usr/bin/myapp -p 8080", 8080, true),
            ("ExecStart=/usr/bin/myapp --http-port 8080", 8080, true),
            (
                "ExecStart=/usr/bin/myapp --listen 127.0.0.1:8080",
                8080,
                true,
            ),
            ("ExecStart=/usr/bin/myapp --listen=[::]:8080", 8080, true),
            ("ExecStart=/usr/bin/myapp --workers 8080", 8080, false),
            ("ExecStart=/usr/bin/myapp --port 54321", 5432, false),
            ("ExecStart=/usr/bin/myapp /srv/data:8080", 8080, false),
            ("ListenStream=22", 22, true),
            ("ListenStream=0.0.0.0:22", 22, true),
            ("ListenStream=/run/app.sock", 22, false),
            ("ListenDatagram=[::1]:53", 53, true),
            ("Description=listens on 8080", 8080, false),
        ];
        for (line, port, want) in cases {
            assert_eq!(names_port(line, port), want, "{line} / {port}");
        }
    }

    #[test]
    fn units_match_by_name_or_port() {
        let unit = |name: &str, text: &str| UnitFile {
            name: name.into(),
            path: format!("/lib/systemd/system/{name}"),
            text: text.into(),
        };
        let units = [
            unit("postgresql.service", "[Service]\nExecStart=/bin/true\n"),
            unit(
                "myapp.service",
                "[Service]\nExecStart=/usr/bin/myapp --port 5432\n",
            ),
            unit(
                "other.service",
                "[Service]\nExecStart=/usr/bin/other --port 54321\n",
            ),
            unit(
                "redis-server.service",
                "[Service]\nExecStart=/usr/bin/redis-server\n",
            ),
        ];
        let hints = unit_hints(&units, &["postgresql"], 5432);
        let got: Vec<(&str, &str)> = hints
            .iter()
            .map(|h| (h.unit.as_str(), h.matched.as_str()))
            .collect();
        assert_eq!(
            got,
            [("postgresql.service", "name"), ("myapp.service", "port")]
        );
        assert_eq!(
            unit_hints(&units, &["redis"], 6379)[0].unit,
            "redis-server.service"
        );
    }
}
