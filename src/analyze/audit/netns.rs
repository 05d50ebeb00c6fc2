//! Sockets in other network namespaces (`--netns`, `--all-netns`): how far they reach from the
//! host's point of view. A socket inside a container's namespace is exposed on that namespace's
//! interfaces (a bridge address such as 172.17.0.2), which the host and the containers beside it
//! reach, but nothing beyond the host does unless something in the host namespace publishes it.
//! So before the rules judge it, its exposure is replaced ([`host_facing`]):
//!
//! - published: the most exposed of the host sockets (or DNAT outside ports) that publish it:
//!   - a `docker-proxy -container-ip A -container-port P` whose target is the socket (bound to
//!     A, or a wildcard of a namespace that carries A);
//!   - a DNAT rule of the host namespace (`dnat to A[:P]`, `--to-destination A[:P]`) whose
//!     destination is the socket the same way (P: the rule's port, else the outside port it
//!     matches); its exposure is that of the host addresses the rule applies on;
//!   - a `pasta` whose `-t`/`-u` spec maps its host port to P, forwarding into the namespace it
//!     holds a descriptor to (or whose `--netns`/trailing PID its command line names);
//!   - a `rootlessport` whose child runs in (or which holds a descriptor to) the namespace, when
//!     a socket there listens on the host port itself: the port it forwards to is not visible
//!     (rootlessport reads its mapping from a pipe), so the link is marked `port_assumed`, and
//!     when nothing there listens on that port the namespace's findings say so instead;
//! - not published: the namespace's own exposure, at most `private` (host-internal).
//!
//! Pure: entries, the namespaces' interfaces, the namespaces forwarder processes hold and the
//! DNAT publications in; links and notes out.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::analyze::exposure::{classify, receives};
use crate::analyze::owner::{NsRef, parse_forwarder, pasta_netns};
use crate::model::{
    AddrClass, Finding, ForwarderKind, NetnsFacts, Proto, Publication, PublisherKind, SocketEntry,
};

use super::reach::NatPublication;

/// What the host namespace publishes beyond its forwarders' command lines.
#[derive(Debug, Clone, Copy)]
pub struct PublishInputs<'a> {
    /// The namespaces every network namespace read (`Snapshot::namespaces`).
    pub namespaces: &'a [NetnsFacts],
    /// The network namespaces each `pasta`/`rootlessport` process holds a descriptor to or runs
    /// a child in, by pid (other than its own), as the collector read them.
    pub held: &'a BTreeMap<u32, Vec<u64>>,
    /// The ports DNAT rules of the host namespace publish, when its firewall was read.
    pub dnat: Option<&'a [NatPublication]>,
}

/// The links between the host namespace and the sockets of other namespaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// The publications of every entry in another namespace, by entry index.
    pub published: HashMap<usize, Vec<Publication>>,
    /// Forwarders that forward into a known namespace to a port portscope cannot tell (or to
    /// which nothing there listens): (namespace inode, the namespace's label, the forwarder).
    pub unseen: Vec<(u64, String, Publication)>,
    /// True when the DNAT rules were read (the firewall was), so "nothing publishes it" covers
    /// them too.
    pub dnat_read: bool,
}

/// Where a publisher sends the traffic.
enum Target {
    /// An address and port (docker-proxy, DNAT).
    Addr(IpAddr, u16),
    /// A port in one of these namespaces (pasta, rootlessport).
    Namespace(Vec<u64>, u16),
}

/// The pids of the host namespace's `pasta` and `rootlessport` listeners: the processes whose
/// descriptors and children the collector is asked about.
#[must_use]
pub fn forwarder_pids(entries: &[SocketEntry]) -> Vec<u32> {
    let mut pids: Vec<u32> = entries
        .iter()
        .filter(|e| e.netns.as_ref().is_some_and(|n| n.host))
        .flat_map(|e| {
            e.processes.iter().filter(|p| {
                parse_forwarder(p.name.as_deref(), &p.cmdline, e.local_port, e.proto).is_some_and(
                    |f| matches!(f.kind, ForwarderKind::Pasta | ForwarderKind::RootlessPort),
                )
            })
        })
        .map(|p| p.pid)
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The namespaces a pasta command line names (`--netns PATH|NAME`, a trailing PID), among
/// those read.
fn named_namespaces(cmdline: &[String], namespaces: &[NetnsFacts]) -> Vec<u64> {
    let Some(named) = pasta_netns(cmdline) else {
        return Vec::new();
    };
    namespaces
        .iter()
        .filter(|n| !n.own)
        .filter(|n| match &named {
            NsRef::Name(name) => n.name.as_deref() == Some(name.as_str()),
            NsRef::Pid(pid) => n.pid == Some(*pid),
        })
        .map(|n| n.inode)
        .collect()
}

/// The label of a namespace for notes: as its rows name it, else its `/run/netns` name, else
/// `net:[N]`.
fn label(inode: u64, entries: &[SocketEntry], namespaces: &[NetnsFacts]) -> String {
    entries
        .iter()
        .filter_map(|e| e.netns.as_ref())
        .find(|n| n.inode == inode)
        .map(ToString::to_string)
        .or_else(|| {
            namespaces
                .iter()
                .find(|n| n.inode == inode)
                .and_then(|n| n.name.clone())
        })
        .unwrap_or_else(|| format!("net:[{inode}]"))
}

/// A DNAT publication as a [`Publication`]: the outside port, on the one address it applies on
/// (else the wildcard of its family), exposed as the most exposed of those addresses.
fn dnat_publication(p: &NatPublication) -> Option<Publication> {
    // The most exposed address, the first of that class as exposure names it.
    let rank = |a: &IpAddr| crate::analyze::exposure::rank(classify(*a));
    let top = p.on.iter().map(|(a, _)| rank(a)).max()?;
    let (addr, iface) = p.on.iter().find(|(a, _)| rank(a) == top)?;
    let first = p.on.first()?.0;
    let address = if p.on.len() == 1 {
        first
    } else if first.is_ipv6() {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    Some(Publication {
        forwarder: PublisherKind::Dnat,
        pid: None,
        address,
        port: p.port,
        exposure: Some(classify(*addr)),
        exposure_address: Some(*addr),
        exposure_interface: iface.clone(),
        nat_rule: Some(p.rule.clone()),
        nat_rule_name: Some(p.rule_name.clone()),
        port_assumed: false,
    })
}

/// Link every entry in another namespace to what publishes it in the host namespace: its
/// forwarders (docker-proxy by their command line, pasta and rootlessport by the namespace they
/// hold) and its DNAT rules.
#[must_use]
pub fn publications(entries: &[SocketEntry], inputs: &PublishInputs<'_>) -> Links {
    let namespaces = inputs.namespaces;
    let mut links = Links {
        dnat_read: inputs.dnat.is_some(),
        ..Links::default()
    };
    let mut targets: Vec<(Proto, Target, Publication)> = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.netns.as_ref().is_some_and(|n| n.host))
    {
        for p in &e.processes {
            let Some(fwd) = parse_forwarder(p.name.as_deref(), &p.cmdline, e.local_port, e.proto)
            else {
                continue;
            };
            let publication = Publication {
                forwarder: fwd.kind.into(),
                pid: Some(p.pid),
                address: e.local_address,
                port: e.local_port,
                exposure: e.exposure,
                exposure_address: e.exposure_address,
                exposure_interface: e.exposure_interface.clone(),
                nat_rule: None,
                nat_rule_name: None,
                port_assumed: false,
            };
            let held = || {
                let mut inodes = inputs.held.get(&p.pid).cloned().unwrap_or_default();
                if inodes.is_empty() && fwd.kind == ForwarderKind::Pasta {
                    inodes = named_namespaces(&p.cmdline, namespaces);
                }
                inodes
            };
            let target = match fwd.kind {
                ForwarderKind::DockerProxy => {
                    let (Some(addr), Some(port)) = (
                        fwd.container_address
                            .as_deref()
                            .and_then(|a| a.parse().ok()),
                        fwd.container_port,
                    ) else {
                        continue;
                    };
                    Target::Addr(addr, port)
                }
                ForwarderKind::Pasta => {
                    let inodes = held();
                    match fwd.container_port {
                        Some(port) if !inodes.is_empty() => Target::Namespace(inodes, port),
                        // A spec that cannot be read, or one whose ranges exclude this port:
                        // the port it forwards to cannot be told. (`auto` and no spec forward
                        // to the same port and are parsed as such.)
                        _ => {
                            for inode in inodes {
                                let name = label(inode, entries, namespaces);
                                links.unseen.push((inode, name, publication.clone()));
                            }
                            continue;
                        }
                    }
                }
                ForwarderKind::RootlessPort => {
                    let inodes = held();
                    if inodes.is_empty() {
                        continue;
                    }
                    Target::Namespace(inodes, e.local_port)
                }
            };
            targets.push((e.proto, target, publication));
        }
    }
    if let Some(dnat) = inputs.dnat {
        for p in dnat {
            let (Some((addr, port)), Some(publication)) = (p.destination(), dnat_publication(p))
            else {
                continue;
            };
            targets.push((p.proto, Target::Addr(addr, port), publication));
        }
    }
    for (proto, target, publication) in &targets {
        let mut linked = false;
        for (i, e) in entries.iter().enumerate() {
            let Some(ns) = e.netns.as_ref().filter(|n| !n.host) else {
                continue;
            };
            if *proto != e.proto || !e.state.is_listening() {
                continue;
            }
            let covers = match target {
                Target::Addr(addr, port) => *port == e.local_port && receives(e, *addr, namespaces),
                Target::Namespace(inodes, port) => {
                    *port == e.local_port
                        && inodes.contains(&ns.inode)
                        && !e.local_address.is_loopback()
                }
            };
            if covers {
                linked = true;
                let mut publication = publication.clone();
                publication.port_assumed = publication.forwarder == PublisherKind::RootlessPort;
                let list = links.published.entry(i).or_default();
                if !list.contains(&publication) {
                    list.push(publication);
                }
            }
        }
        // rootlessport forwarding into a namespace where nothing listens on its host port:
        // the target port is elsewhere and cannot be seen.
        if let (false, Target::Namespace(inodes, _), PublisherKind::RootlessPort) =
            (linked, target, publication.forwarder)
        {
            for inode in inodes {
                let name = label(*inode, entries, namespaces);
                links.unseen.push((*inode, name, publication.clone()));
            }
        }
    }
    links
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

/// A publisher in words: `docker-proxy (pid 77) on 0.0.0.0:8080, public`, or
/// `DNAT (rule handle 4 of chain prerouting in table ip nat) on 0.0.0.0:15432, public`.
fn publisher_text(p: &Publication) -> String {
    let end = crate::model::Endpoint(p.address, p.port);
    let exposure = p.exposure.map_or("unknown", |c| c.as_str());
    match (&p.nat_rule_name, p.pid) {
        (Some(rule), _) => format!("DNAT ({rule}) on {end}, {exposure}"),
        (None, Some(pid)) => format!("{} (pid {pid}) on {end}, {exposure}", p.forwarder),
        (None, None) => format!("{} on {end}, {exposure}", p.forwarder),
    }
}

/// Why a forwarder's target port cannot be seen.
fn unseen_why(p: &Publication) -> &'static str {
    match p.forwarder {
        PublisherKind::RootlessPort => {
            "rootlessport reads its port mapping from a pipe, and nothing there listens on the \
             host port itself"
        }
        _ => "its command line does not map the host port to one port",
    }
}

/// Label the findings about sockets of other namespaces: which namespace, and either what
/// publishes it or that nothing does; and the findings of forwarders whose target port cannot
/// be seen. `links` is keyed like [`publications`]'s, on the same `entries` the findings were
/// made from.
pub fn attach_namespaces(findings: &mut [Finding], entries: &[SocketEntry], links: &Links) {
    for f in findings.iter_mut() {
        let Some(ns) = f.socket.netns.clone().filter(|n| !n.host) else {
            // A forwarder of the host namespace into a namespace where its target is unseen.
            for (_, name, p) in &links.unseen {
                if p.pid
                    .is_some_and(|pid| f.socket.processes.iter().any(|o| o.pid == pid))
                    && p.port == f.socket.port
                {
                    f.notes.push(format!(
                        "{} forwards into network namespace {name}, to a port portscope cannot \
                         see ({})",
                        p.forwarder,
                        unseen_why(p)
                    ));
                }
            }
            continue;
        };
        let index = entries.iter().position(|e| {
            e.netns.as_ref().map(|n| n.inode) == Some(ns.inode)
                && e.proto == f.socket.proto
                && e.local_port == f.socket.port
                && e.local_address == f.socket.local_address
        });
        let list = index
            .and_then(|i| links.published.get(&i))
            .cloned()
            .unwrap_or_default();
        if list.is_empty() {
            if links.dnat_read {
                f.notes.push(format!(
                    "in network namespace {ns} (not the host's): a bind there covers that \
                     namespace's addresses only, and no forwarder or DNAT rule in the host \
                     namespace publishes it, so it is judged host-internal (at most private)"
                ));
            } else {
                f.notes.push(format!(
                    "in network namespace {ns} (not the host's): a bind there covers that \
                     namespace's addresses only, and no forwarder in the host namespace \
                     publishes it, so it is judged host-internal (at most private); a DNAT rule \
                     could still publish it"
                ));
            }
            for (_, _, p) in links
                .unseen
                .iter()
                .filter(|(inode, _, _)| *inode == ns.inode)
            {
                f.notes.push(format!(
                    "{} forwards into this namespace, to a port portscope cannot see ({}): it \
                     may publish this socket",
                    publisher_text(p),
                    unseen_why(p)
                ));
            }
        } else {
            let via: Vec<String> = list.iter().map(publisher_text).collect();
            let what = if list.iter().all(|p| p.forwarder == PublisherKind::Dnat) {
                "outside port"
            } else {
                "published host socket"
            };
            f.notes.push(format!(
                "in network namespace {ns} (not the host's), published on the host by {}: its \
                 exposure is that of the {what}",
                via.join("; ")
            ));
            for p in list.iter().filter(|p| p.port_assumed) {
                f.notes.push(format!(
                    "{} (pid {}) is linked by its host port {}: rootlessport reads its port \
                     mapping from a pipe, so the port it forwards to is assumed, not seen",
                    p.forwarder,
                    p.pid.unwrap_or_default(),
                    p.port
                ));
            }
        }
        f.socket.published = list;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DecidedBy, InterfaceAddr, NatTarget, NetnsInfo, NftFamily, ProcessInfo};

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
                .into(),
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
            let got = publications(&entries, &inputs(&namespaces, &BTreeMap::new(), None));
            assert_eq!(linked(&got), want, "{what}");
            for list in got.published.values() {
                assert_eq!(list[0].port, 8080, "{what}");
                assert_eq!(list[0].pid, Some(77), "{what}");
                assert_eq!(list[0].forwarder, PublisherKind::DockerProxy, "{what}");
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
        let links = publications(&entries, &inputs(&namespaces, &BTreeMap::new(), None));
        let seen = host_facing(&entries, &links.published);
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
        attach_namespaces(&mut findings, &entries, &links);
        assert!(findings[0].notes.is_empty() && findings[0].socket.published.is_empty());
        assert_eq!(findings[1].socket.published.len(), 1);
        assert!(
            findings[1].notes[0]
                .contains("published on the host by docker-proxy (pid 77) on 0.0.0.0:8080, public"),
            "{:?}",
            findings[1].notes
        );
        assert!(findings[2].notes[0].contains("no forwarder in the host namespace publishes it"));
        assert!(findings[2].notes[0].contains("a DNAT rule could still publish it"));
    }

    fn inputs<'a>(
        namespaces: &'a [NetnsFacts],
        held: &'a BTreeMap<u32, Vec<u64>>,
        dnat: Option<&'a [NatPublication]>,
    ) -> PublishInputs<'a> {
        PublishInputs {
            namespaces,
            held,
            dnat,
        }
    }

    /// The indexes of the entries something publishes, sorted.
    fn linked(links: &Links) -> Vec<usize> {
        let mut keys: Vec<usize> = links.published.keys().copied().collect();
        keys.sort_unstable();
        keys
    }

    /// `dnat to ADDR[:PORT]` of outside port `port`, applying on the public 11.22.33.44.
    fn dnat(port: u16, addr: &str, to_port: Option<u16>) -> NatPublication {
        NatPublication {
            proto: Proto::Tcp,
            port,
            to: NatTarget {
                redirect: false,
                addr: Some(addr.parse().unwrap()),
                port: to_port,
            },
            rule: DecidedBy {
                family: NftFamily::Ip,
                table: "nat".into(),
                chain: "prerouting".into(),
                handle: Some(4),
            },
            rule_name: "rule handle 4 of chain prerouting in table ip nat".into(),
            on: vec![
                ("10.0.0.5".parse().unwrap(), Some("eth1".into())),
                ("11.22.33.44".parse().unwrap(), Some("eth0".into())),
            ],
        }
    }

    #[test]
    fn dnat_rules_link_to_the_namespace_socket_they_send_to() {
        let namespaces = [
            facts(1, &["11.22.33.44", "10.0.0.5"]),
            facts(2, &["172.17.0.2"]),
            facts(3, &["172.17.0.3"]),
        ];
        let redirect = NatPublication {
            to: NatTarget {
                redirect: true,
                addr: None,
                port: Some(6379),
            },
            ..dnat(16379, "172.17.0.2", Some(6379))
        };
        // (what, the rule, the namespace socket, linked)
        let cases: Vec<(&str, NatPublication, SocketEntry, bool)> = vec![
            (
                "bound to the destination address",
                dnat(16379, "172.17.0.2", Some(6379)),
                inside("172.17.0.2", 6379, 2),
                true,
            ),
            (
                "wildcard of the namespace carrying it",
                dnat(16379, "172.17.0.2", Some(6379)),
                inside("0.0.0.0", 6379, 2),
                true,
            ),
            (
                "dual-stack [::] of that namespace",
                dnat(16379, "172.17.0.2", Some(6379)),
                inside("::", 6379, 2),
                true,
            ),
            (
                "no port in the rule: the outside port",
                dnat(6379, "172.17.0.2", None),
                inside("0.0.0.0", 6379, 2),
                true,
            ),
            (
                "no port in the rule, another port inside",
                dnat(16379, "172.17.0.2", None),
                inside("0.0.0.0", 6379, 2),
                false,
            ),
            (
                "another namespace's wildcard",
                dnat(16379, "172.17.0.2", Some(6379)),
                inside("0.0.0.0", 6379, 3),
                false,
            ),
            (
                "another address bound",
                dnat(16379, "172.17.0.2", Some(6379)),
                inside("172.17.0.9", 6379, 2),
                false,
            ),
            (
                "another port",
                dnat(16379, "172.17.0.2", Some(6379)),
                inside("0.0.0.0", 6380, 2),
                false,
            ),
            (
                "a redirect stays on the host",
                redirect,
                inside("0.0.0.0", 6379, 2),
                false,
            ),
        ];
        for (what, rule, socket, want) in cases {
            let entries = vec![socket];
            let rules = [rule];
            let links = publications(
                &entries,
                &inputs(&namespaces, &BTreeMap::new(), Some(&rules)),
            );
            assert!(links.dnat_read, "{what}");
            assert_eq!(
                linked(&links),
                if want { vec![0] } else { vec![] },
                "{what}"
            );
            if let Some(list) = links.published.get(&0) {
                let p = &list[0];
                assert_eq!(p.forwarder, PublisherKind::Dnat, "{what}");
                assert_eq!(p.pid, None, "{what}");
                assert_eq!(p.port, rules[0].port, "{what}: the outside port");
                assert_eq!(p.address, "0.0.0.0".parse::<IpAddr>().unwrap(), "{what}");
                assert_eq!(p.exposure, Some(AddrClass::Public), "{what}");
                assert_eq!(
                    p.exposure_address,
                    Some("11.22.33.44".parse().unwrap()),
                    "{what}"
                );
                assert_eq!(p.exposure_interface.as_deref(), Some("eth0"), "{what}");
                assert_eq!(p.nat_rule.as_ref().and_then(|r| r.handle), Some(4));
            }
        }

        // Published by DNAT: public as the outside port, and the note names the rule.
        let entries = vec![inside("0.0.0.0", 6379, 2), inside("0.0.0.0", 5432, 2)];
        let rules = [dnat(16379, "172.17.0.2", Some(6379))];
        let links = publications(
            &entries,
            &inputs(&namespaces, &BTreeMap::new(), Some(&rules)),
        );
        let seen = host_facing(&entries, &links.published);
        assert_eq!(seen[0].exposure, Some(AddrClass::Public));
        assert_eq!(seen[1].exposure, Some(AddrClass::Private));
        let mut findings: Vec<Finding> = seen.iter().map(Finding::test_finding).collect();
        attach_namespaces(&mut findings, &entries, &links);
        assert_eq!(
            findings[0].socket.published[0].forwarder,
            PublisherKind::Dnat
        );
        assert!(
            findings[0].notes[0].contains(
                "published on the host by DNAT (rule handle 4 of chain prerouting in table ip \
                 nat) on 0.0.0.0:16379, public: its exposure is that of the outside port"
            ),
            "{:?}",
            findings[0].notes
        );
        // The firewall was read: nothing publishes the other one, DNAT rules included.
        assert!(
            findings[1].notes[0].contains("no forwarder or DNAT rule in the host namespace"),
            "{:?}",
            findings[1].notes
        );
    }

    /// A host listener of `name` (pid 90) on `port` with `cmdline`.
    fn forwarder(name: &str, cmdline: &str, port: u16) -> SocketEntry {
        SocketEntry {
            processes: vec![ProcessInfo {
                name: Some(name.into()),
                cmdline: cmdline.split_whitespace().map(String::from).collect(),
                ..ProcessInfo::unknown(90)
            }],
            ..proxy(port, "192.0.2.200", 1)
        }
    }

    #[test]
    fn pasta_links_into_the_namespace_it_holds() {
        let namespaces = [
            facts(1, &["203.0.113.9"]),
            NetnsFacts {
                name: Some("ctr".into()),
                pid: Some(4242),
                ..facts(2, &["10.0.2.100"])
            },
            facts(3, &["10.0.2.100"]),
        ];
        let holds_2 = BTreeMap::from([(90, vec![2])]);
        let holds_none = BTreeMap::new();
        // (what, pasta's command line, host port, what it holds, the socket inside, linked)
        type Case<'a> = (
            &'a str,
            &'a str,
            u16,
            &'a BTreeMap<u32, Vec<u64>>,
            SocketEntry,
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                "mapped port, held namespace",
                "pasta --config-net -t 8080:6379",
                8080,
                &holds_2,
                inside("0.0.0.0", 6379, 2),
                true,
            ),
            (
                "range with an address prefix",
                "pasta -t 127.0.0.1/8000-8010:6370-6380",
                8009,
                &holds_2,
                inside("10.0.2.100", 6379, 2),
                true,
            ),
            (
                "same namespace, another port",
                "pasta -t 8080:6379",
                8080,
                &holds_2,
                inside("0.0.0.0", 6380, 2),
                false,
            ),
            (
                "another namespace",
                "pasta -t 8080:6379",
                8080,
                &holds_2,
                inside("0.0.0.0", 6379, 3),
                false,
            ),
            (
                "loopback inside",
                "pasta -t 8080:6379",
                8080,
                &holds_2,
                inside("127.0.0.1", 6379, 2),
                false,
            ),
            (
                "no descriptor, --netns NAME",
                "pasta -t 8080:6379 --netns ctr",
                8080,
                &holds_none,
                inside("0.0.0.0", 6379, 2),
                true,
            ),
            (
                "no descriptor, a trailing PID",
                "pasta --config-net -t 8080:6379 4242",
                8080,
                &holds_none,
                inside("0.0.0.0", 6379, 2),
                true,
            ),
            (
                "no descriptor, nothing named",
                "pasta -t 8080:6379",
                8080,
                &holds_none,
                inside("0.0.0.0", 6379, 2),
                false,
            ),
            (
                "-t auto: the same port",
                "pasta -t auto",
                6379,
                &holds_2,
                inside("0.0.0.0", 6379, 2),
                true,
            ),
        ];
        for (what, cmdline, port, held, socket, want) in cases {
            let entries = vec![forwarder("pasta", cmdline, port), socket];
            let links = publications(&entries, &inputs(&namespaces, held, None));
            assert_eq!(
                linked(&links),
                if want { vec![1] } else { vec![] },
                "{what}"
            );
            if want {
                let p = &links.published[&1][0];
                assert_eq!(p.forwarder, PublisherKind::Pasta, "{what}");
                assert_eq!((p.pid, p.port, p.port_assumed), (Some(90), port, false));
                assert_eq!(p.exposure, Some(AddrClass::Public), "{what}");
            }
        }
        assert_eq!(
            forwarder_pids(&[forwarder("pasta", "pasta -t 1", 1)]),
            vec![90]
        );
        assert!(forwarder_pids(&[proxy(8080, "172.17.0.2", 80)]).is_empty());
    }

    #[test]
    fn rootlessport_links_only_by_its_host_port_and_says_so() {
        let namespaces = [facts(1, &["203.0.113.9"]), facts(2, &["10.88.0.2"])];
        let held = BTreeMap::from([(90, vec![2])]);
        let host = forwarder("rootlessport", "rootlessport", 8080);
        // Something listens on the host port inside: linked, the port marked assumed.
        let entries = vec![host.clone(), inside("0.0.0.0", 8080, 2)];
        let links = publications(&entries, &inputs(&namespaces, &held, None));
        assert_eq!(linked(&links), vec![1]);
        let p = &links.published[&1][0];
        assert_eq!(
            (p.forwarder, p.port_assumed),
            (PublisherKind::RootlessPort, true)
        );
        assert!(links.unseen.is_empty());
        let seen = host_facing(&entries, &links.published);
        let mut findings: Vec<Finding> = seen.iter().map(Finding::test_finding).collect();
        attach_namespaces(&mut findings, &entries, &links);
        assert!(
            findings[1]
                .notes
                .iter()
                .any(|n| n.contains("assumed, not seen")),
            "{:?}",
            findings[1].notes
        );

        // Nothing inside on the host port: not linked; the namespace's findings and the
        // forwarder's own say where it forwards and that the port cannot be seen.
        let entries = vec![host, inside("0.0.0.0", 6379, 2)];
        let links = publications(&entries, &inputs(&namespaces, &held, None));
        assert!(linked(&links).is_empty());
        assert_eq!(links.unseen.len(), 1);
        assert_eq!(links.unseen[0].1, "net:[2]");
        let seen = host_facing(&entries, &links.published);
        assert_eq!(seen[1].exposure, Some(AddrClass::Private));
        let mut findings: Vec<Finding> = seen.iter().map(Finding::test_finding).collect();
        attach_namespaces(&mut findings, &entries, &links);
        assert!(
            findings[1].notes.iter().any(|n| n.contains(
                "rootlessport (pid 90) on 0.0.0.0:8080, public forwards into this namespace, to \
                 a port portscope cannot see"
            )),
            "{:?}",
            findings[1].notes
        );
        assert!(
            findings[0].notes.iter().any(|n| n.contains(
                "rootlessport forwards into network namespace net:[2], to a port portscope \
                 cannot see"
            )),
            "{:?}",
            findings[0].notes
        );
        // Without a namespace it forwards into, nothing is said.
        let links = publications(&entries, &inputs(&namespaces, &BTreeMap::new(), None));
        assert!(links.unseen.is_empty() && links.published.is_empty());
    }
}
