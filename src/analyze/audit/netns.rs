//! Sockets in other network namespaces (`--netns`, `--all-netns`): how far they reach from the
//! host's point of view. A socket inside a container's namespace is exposed on that namespace's
//! interfaces (a bridge address such as 172.17.0.2), which the host and the containers beside it
//! reach, but nothing beyond the host does unless a forwarder in the host namespace publishes
//! it. So before the rules judge it, its exposure is replaced ([`host_facing`]):
//!
//! - published: a forwarder (`docker-proxy -container-ip A -container-port P`) in portscope's own
//!   namespace names the socket's address and port (the socket is bound to A, or a wildcard of
//!   a namespace that carries A): the most exposed of the publishing host sockets' exposures;
//! - not published: the namespace's own exposure, at most `private` (host-internal).
//!
//! Only forwarders whose command line names the target are linked (docker-proxy; rootlessport
//! reads its target from a pipe and pasta names no address, so neither is). DNAT rules are
//! not read here (issue 16's firewall reachability).
//!
//! Pure: entries and the namespaces' interfaces in, entries and notes out.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::analyze::owner::parse_forwarder;
use crate::model::{AddrClass, Finding, NetnsFacts, Publication, SocketEntry};

/// The publications of every entry in another namespace, by entry index: the forwarders of
/// portscope's own namespace whose target is that entry's address and port.
#[must_use]
pub fn publications(
    entries: &[SocketEntry],
    namespaces: &[NetnsFacts],
) -> HashMap<usize, Vec<Publication>> {
    // (proto, target address, target port) → the host sockets forwarding there.
    let mut targets: Vec<(crate::model::Proto, IpAddr, u16, Publication)> = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.netns.as_ref().is_some_and(|n| n.host))
    {
        for p in &e.processes {
            let Some(fwd) = parse_forwarder(p.name.as_deref(), &p.cmdline, e.local_port, e.proto)
            else {
                continue;
            };
            let (Some(addr), Some(port)) = (
                fwd.container_address
                    .as_deref()
                    .and_then(|a| a.parse().ok()),
                fwd.container_port,
            ) else {
                continue;
            };
            targets.push((
                e.proto,
                addr,
                port,
                Publication {
                    forwarder: fwd.kind,
                    pid: p.pid,
                    address: e.local_address,
                    port: e.local_port,
                    exposure: e.exposure,
                    exposure_address: e.exposure_address,
                    exposure_interface: e.exposure_interface.clone(),
                },
            ));
        }
    }
    let mut out: HashMap<usize, Vec<Publication>> = HashMap::new();
    if targets.is_empty() {
        return out;
    }
    let carries = |inode: u64, addr: IpAddr| {
        namespaces
            .iter()
            .find(|n| n.inode == inode)
            .is_some_and(|n| n.interfaces.iter().any(|i| i.addr == addr))
    };
    for (i, e) in entries.iter().enumerate() {
        let Some(ns) = e.netns.as_ref().filter(|n| !n.host) else {
            continue;
        };
        for (proto, addr, port, publication) in &targets {
            if *proto != e.proto || *port != e.local_port {
                continue;
            }
            let covers = if e.wildcard {
                let family_ok = addr.is_ipv6() == e.local_address.is_ipv6()
                    || (addr.is_ipv4() && e.dual_stack != Some(false));
                family_ok && carries(ns.inode, *addr)
            } else {
                e.local_address == *addr
            };
            if covers {
                let list = out.entry(i).or_default();
                if !list.contains(publication) {
                    list.push(publication.clone());
                }
            }
        }
    }
    out
}

/// Exposure ranks for "the most exposed": public first, loopback last.
fn rank(class: Option<AddrClass>) -> u8 {
    match class {
        Some(AddrClass::Public) => 6,
        Some(AddrClass::Private) => 5,
        Some(AddrClass::Documentation | AddrClass::Reserved) => 4,
        Some(AddrClass::LinkLocal | AddrClass::Multicast) => 3,
        Some(AddrClass::Loopback) => 2,
        None => 1,
    }
}

/// The entries as the host sees them: every entry of another namespace gets the exposure of
/// its most exposed publication, or, unpublished, its own capped at `private`; entries of
/// portscope's own namespace (or of a run without namespaces) are unchanged.
#[must_use]
pub fn host_facing(
    entries: &[SocketEntry],
    published: &HashMap<usize, Vec<Publication>>,
) -> Vec<SocketEntry> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            if e.netns.as_ref().is_none_or(|n| n.host) {
                return e;
            }
            match published
                .get(&i)
                .and_then(|list| list.iter().max_by_key(|p| rank(p.exposure)))
            {
                Some(p) => {
                    e.exposure = p.exposure;
                    e.exposure_address = p.exposure_address;
                    e.exposure_interface = p.exposure_interface.clone();
                }
                None => {
                    if rank(e.exposure) > rank(Some(AddrClass::Private)) {
                        e.exposure = Some(AddrClass::Private);
                    }
                }
            }
            e
        })
        .collect()
}

/// Label the findings about sockets of other namespaces: which namespace, and either the host
/// sockets that publish it or that nothing does. `published` is keyed like
/// [`publications`]'s, on the same `entries` the findings were made from.
pub fn attach_namespaces(
    findings: &mut [Finding],
    entries: &[SocketEntry],
    published: &HashMap<usize, Vec<Publication>>,
) {
    for f in findings.iter_mut() {
        let Some(ns) = f.socket.netns.clone().filter(|n| !n.host) else {
            continue;
        };
        let index = entries.iter().position(|e| {
            e.netns.as_ref().map(|n| n.inode) == Some(ns.inode)
                && e.proto == f.socket.proto
                && e.local_port == f.socket.port
                && e.local_address == f.socket.local_address
        });
        let list = index
            .and_then(|i| published.get(&i))
            .cloned()
            .unwrap_or_default();
        if list.is_empty() {
            f.notes.push(format!(
                "in network namespace {ns} (not the host's): a bind there covers that \
                 namespace's addresses only, and no forwarder in the host namespace publishes \
                 it, so it is judged host-internal (at most private); a DNAT rule could still \
                 publish it"
            ));
        } else {
            let via: Vec<String> = list
                .iter()
                .map(|p| {
                    let end = crate::model::Endpoint(p.address, p.port);
                    let exposure = p.exposure.map_or("unknown", |c| c.as_str());
                    format!("{} (pid {}) on {end}, {exposure}", p.forwarder, p.pid)
                })
                .collect();
            f.notes.push(format!(
                "in network namespace {ns} (not the host's), published on the host by {}: its \
                 exposure is that of the published host socket",
                via.join("; ")
            ));
        }
        f.socket.published = list;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{InterfaceAddr, NetnsInfo, ProcessInfo, Proto};

    fn ns(inode: u64, host: bool) -> NetnsInfo {
        NetnsInfo {
            inode,
            name: None,
            pid: None,
            container: None,
            host,
        }
    }

    fn facts(inode: u64, addrs: &[&str]) -> NetnsFacts {
        NetnsFacts {
            inode,
            interfaces: addrs
                .iter()
                .map(|a| InterfaceAddr {
                    addr: a.parse().unwrap(),
                    index: Some(2),
                    name: "eth0".into(),
                })
                .collect(),
            ..NetnsFacts::default()
        }
    }

    fn proxy(host_port: u16, target: &str, port: u16) -> SocketEntry {
        SocketEntry {
            netns: Some(ns(1, true)),
            exposure: Some(AddrClass::Public),
            exposure_address: Some("203.0.113.9".parse().unwrap()),
            processes: vec![ProcessInfo {
                name: Some("docker-proxy".into()),
                cmdline: [
                    "docker-proxy",
                    "-proto",
                    "tcp",
                    "-host-ip",
                    "0.0.0.0",
                    "-host-port",
                    &host_port.to_string(),
                    "-container-ip",
                    target,
                    "-container-port",
                    &port.to_string(),
                ]
                .map(String::from)
                .to_vec(),
                ..ProcessInfo::unknown(77)
            }],
            ..SocketEntry::test_listener("0.0.0.0", host_port)
        }
    }

    fn inside(addr: &str, port: u16, inode: u64) -> SocketEntry {
        SocketEntry {
            netns: Some(ns(inode, false)),
            exposure: Some(AddrClass::Public),
            ..SocketEntry::test_listener(addr, port)
        }
    }

    #[test]
    fn forwarders_link_to_the_namespace_socket_they_name() {
        let namespaces = [
            facts(1, &["192.0.2.1"]),
            facts(2, &["172.17.0.2"]),
            facts(3, &["172.17.0.3"]),
        ];
        // (entries, which entry indexes are published)
        let cases: Vec<(&str, Vec<SocketEntry>, Vec<usize>)> = vec![
            (
                "wildcard of the namespace carrying the target",
                vec![proxy(8080, "172.17.0.2", 6379), inside("0.0.0.0", 6379, 2)],
                vec![1],
            ),
            (
                "the target address itself",
                vec![
                    proxy(8080, "172.17.0.2", 6379),
                    inside("172.17.0.2", 6379, 2),
                ],
                vec![1],
            ),
            (
                "another namespace's wildcard",
                vec![proxy(8080, "172.17.0.2", 6379), inside("0.0.0.0", 6379, 3)],
                vec![],
            ),
            (
                "another port",
                vec![proxy(8080, "172.17.0.2", 6379), inside("0.0.0.0", 6380, 2)],
                vec![],
            ),
            (
                "loopback inside",
                vec![
                    proxy(8080, "172.17.0.2", 6379),
                    inside("127.0.0.1", 6379, 2),
                ],
                vec![],
            ),
            (
                "dual-stack [::] takes IPv4",
                vec![proxy(8080, "172.17.0.2", 6379), inside("::", 6379, 2)],
                vec![1],
            ),
        ];
        for (what, entries, want) in cases {
            let got = publications(&entries, &namespaces);
            let mut keys: Vec<usize> = got.keys().copied().collect();
            keys.sort_unstable();
            assert_eq!(keys, want, "{what}");
            for list in got.values() {
                assert_eq!(list[0].port, 8080, "{what}");
                assert_eq!(list[0].pid, 77, "{what}");
            }
        }
    }

    #[test]
    fn namespace_sockets_reach_beyond_the_host_only_when_published() {
        let namespaces = [facts(1, &["192.0.2.1"]), facts(2, &["172.17.0.2"])];
        let mut unpublished = inside("0.0.0.0", 6380, 2);
        unpublished.exposure = Some(AddrClass::Public);
        let mut link_local = inside("169.254.1.1", 6381, 2);
        link_local.exposure = Some(AddrClass::LinkLocal);
        let entries = vec![
            proxy(8080, "172.17.0.2", 6379),
            SocketEntry {
                exposure: Some(AddrClass::Private),
                ..inside("0.0.0.0", 6379, 2)
            },
            unpublished,
            link_local,
        ];
        let published = publications(&entries, &namespaces);
        let seen = host_facing(&entries, &published);
        // Published: the host socket's exposure; unpublished: capped at private; the host's
        // own entries unchanged.
        assert_eq!(seen[0].exposure, Some(AddrClass::Public));
        assert_eq!(seen[1].exposure, Some(AddrClass::Public));
        assert_eq!(
            seen[1].exposure_address,
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(seen[2].exposure, Some(AddrClass::Private));
        assert_eq!(seen[3].exposure, Some(AddrClass::LinkLocal));

        let mut findings: Vec<Finding> = seen.iter().map(Finding::test_finding).collect();
        attach_namespaces(&mut findings, &entries, &published);
        assert!(findings[0].notes.is_empty() && findings[0].socket.published.is_empty());
        assert_eq!(findings[1].socket.published.len(), 1);
        assert!(
            findings[1].notes[0]
                .contains("published on the host by docker-proxy (pid 77) on 0.0.0.0:8080, public"),
            "{:?}",
            findings[1].notes
        );
        assert!(findings[2].notes[0].contains("no forwarder in the host namespace publishes it"));
        let _ = Proto::Tcp;
    }
}
