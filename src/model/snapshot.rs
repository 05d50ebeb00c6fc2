//! One collection: what a command asks a platform for ([`Request`], [`SocketQuery`]), what it
//! gets back ([`Snapshot`]) and how long each step took ([`Phases`]); and the key that says two
//! rows of two snapshots are the same socket ([`SocketKey`]).
//!
//! Plain data for the pure analysis. Nothing here reads the system; the one clock read is
//! [`Phases::time`], which measures a step for `PORTSCOPE_TIMINGS` and never feeds a decision.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{
    Family, InterfaceAddr, NetnsFacts, OwnerScan, PidNamespace, PortSpec, ProcessInfo, Proto,
    RawSocket, SocketEntry, SocketState,
};

/// A set of [`SocketState`]s: the states a [`SocketQuery`] asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StateSet(u16);

impl StateSet {
    /// No state.
    pub const EMPTY: StateSet = StateSet(0);
    /// Every state of [`SocketState::ALL`].
    pub const ALL: StateSet = StateSet((1 << SocketState::ALL.len()) - 1);

    fn bit(state: SocketState) -> u16 {
        // Fieldless enum: the discriminant is the declaration index, below 16.
        1 << (state as u16)
    }

    /// The set of `states`.
    #[must_use]
    pub fn of(states: &[SocketState]) -> StateSet {
        states.iter().copied().collect()
    }

    /// True when `state` is in the set.
    #[must_use]
    pub fn contains(self, state: SocketState) -> bool {
        self.0 & Self::bit(state) != 0
    }

    /// True when the set holds every state.
    #[must_use]
    pub fn is_all(self) -> bool {
        self == Self::ALL
    }

    /// True when the set holds no state.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The states of the set that a socket of `proto` can be in.
    #[must_use]
    pub fn of_proto(self, proto: Proto) -> StateSet {
        self.iter().filter(|s| s.occurs_in(proto)).collect()
    }

    /// The states in the set, in the order of [`SocketState::ALL`].
    pub fn iter(self) -> impl Iterator<Item = SocketState> {
        SocketState::ALL
            .into_iter()
            .filter(move |&s| self.contains(s))
    }
}

impl FromIterator<SocketState> for StateSet {
    fn from_iter<I: IntoIterator<Item = SocketState>>(states: I) -> StateSet {
        StateSet(states.into_iter().fold(0, |set, s| set | Self::bit(s)))
    }
}

/// Which sockets to ask the platform for: the states, protocols and families shown, and
/// optionally one local port range. A Linux backend turns this into kernel requests (state
/// bit masks, a port filter program) so the kernel does the filtering; other backends filter
/// after the dump with [`SocketQuery::matches`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketQuery {
    /// The states to show.
    pub states: StateSet,
    /// Include TCP sockets.
    pub tcp: bool,
    /// Include UDP sockets.
    pub udp: bool,
    /// Include IPv4 sockets.
    pub ipv4: bool,
    /// Include IPv6 sockets.
    pub ipv6: bool,
    /// Only sockets whose local port is in this inclusive range, filtered by the kernel (a
    /// sock_diag bytecode filter, as `ss 'sport = :P'` sends): a port lookup then does not
    /// copy every established socket out of the kernel. `None` dumps every port.
    pub local_ports: Option<(u16, u16)>,
}

impl SocketQuery {
    /// The listening view: TCP `listen` and UDP `unconnected`.
    #[must_use]
    pub fn listening() -> Self {
        SocketQuery {
            states: StateSet::of(&[SocketState::Listen, SocketState::Unconnected]),
            ..SocketQuery::all()
        }
    }

    /// Every state of both protocols.
    #[must_use]
    pub fn all() -> Self {
        SocketQuery {
            states: StateSet::ALL,
            tcp: true,
            udp: true,
            ipv4: true,
            ipv6: true,
            local_ports: None,
        }
    }

    /// Every socket on one local port in any state, of the protocol `spec` names (both when it
    /// names none): what `who` and `kill` look at. The kernel skips every other port.
    #[must_use]
    pub fn port(spec: PortSpec) -> Self {
        let mut query = SocketQuery::all();
        query.local_ports = Some((spec.port, spec.port));
        match spec.proto {
            Some(Proto::Tcp) => query.udp = false,
            Some(Proto::Udp) => query.tcp = false,
            None => {}
        }
        query
    }

    /// The states asked for sockets of `proto`: empty when the protocol is not asked for or
    /// none of the states occurs in it (`--state listen` asks nothing of UDP), in which case a
    /// backend skips the protocol entirely.
    #[must_use]
    pub fn states_of(&self, proto: Proto) -> StateSet {
        let asked = match proto {
            Proto::Tcp => self.tcp,
            Proto::Udp => self.udp,
        };
        if asked {
            self.states.of_proto(proto)
        } else {
            StateSet::EMPTY
        }
    }

    /// True when this query asks for `socket`: its protocol is asked for with its state, its
    /// family is asked for and its local port is in range. For backends that cannot filter at
    /// the source (netstat2, a recorded snapshot).
    #[must_use]
    pub fn matches(&self, socket: &RawSocket) -> bool {
        let state = self.states_of(socket.proto).contains(socket.state);
        let family = match socket.family {
            Family::Ipv4 => self.ipv4,
            Family::Ipv6 => self.ipv6,
        };
        let port = self
            .local_ports
            .is_none_or(|(lo, hi)| (lo..=hi).contains(&socket.local_port));
        state && family && port
    }
}

/// What a command asks the collector for.
#[derive(Debug, Clone)]
pub struct Request {
    /// Sockets to dump.
    pub query: SocketQuery,
    /// Look up owning processes (the owner scan and process details).
    pub owners: bool,
}

/// Everything one run collected: plain data for the pure analysis.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The host's name, `None` when unknown.
    pub host: Option<String>,
    /// Sockets kept by the caller's pre-filter.
    pub sockets: Vec<RawSocket>,
    /// Holders of those sockets.
    pub owners: OwnerScan,
    /// Details of every holder, by pid.
    pub processes: BTreeMap<u32, ProcessInfo>,
    /// Names of every uid that appears (socket owners and process owners).
    pub users: HashMap<u32, Option<String>>,
    /// Local interface addresses (of portscope's own network namespace).
    pub interfaces: Vec<InterfaceAddr>,
    /// The network namespaces read when the run reads other ones (`--netns`, `--all-netns`),
    /// each with its own interfaces; empty when only portscope's own is read.
    pub namespaces: Vec<NetnsFacts>,
    /// Whether this process can see other users' sockets' owners.
    pub privileged: bool,
    /// The PID namespace the pids belong to when the proc root is not portscope's own; `None`
    /// when it is, or when owners were not looked up.
    pub pid_namespace: Option<PidNamespace>,
    /// Problems that made the snapshot partial, for the user (stderr and JSON `warnings`).
    pub warnings: Vec<String>,
    /// How long each collection step took (printed with `PORTSCOPE_TIMINGS=1`).
    pub phases: Phases,
}

/// Wall-clock durations of named steps, in the order they ran. Recording costs two clock reads
/// per step, so it is always on; printing them is the command layer's decision
/// (`PORTSCOPE_TIMINGS=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phases(pub Vec<(&'static str, Duration)>);

impl Phases {
    /// Run `step` and record its duration under `name`.
    pub fn time<T>(&mut self, name: &'static str, step: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = step();
        self.0.push((name, start.elapsed()));
        out
    }
}

/// What identifies one socket across two snapshots, so a poller (a future watch mode) can tell
/// new, gone and changed rows apart: protocol, family, both ends and the inode. The state and
/// the owners are not part of it: they are what changes about the same socket. A socket closed
/// and opened again on the same port has a new inode, so it is a new key; sockets without an
/// inode (TIME_WAIT, 0) are told apart by their remote end. Where the backend knows no inode
/// (netstat2 on Windows and macOS, `None`) the ends alone are the key: a socket closed and
/// opened again on the same ends is then the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketKey {
    /// Transport protocol.
    pub proto: Proto,
    /// Address family of the socket.
    pub family: Family,
    /// Local address.
    pub local_addr: IpAddr,
    /// Local port.
    pub local_port: u16,
    /// Remote address, `None` without a remote end.
    pub remote_addr: Option<IpAddr>,
    /// Remote port, `None` without a remote end.
    pub remote_port: Option<u16>,
    /// Socket inode (0 when no file refers to it, `None` when the backend cannot know it).
    pub inode: Option<u64>,
}

impl RawSocket {
    /// The key of this socket (see [`SocketKey`]).
    #[must_use]
    pub fn key(&self) -> SocketKey {
        SocketKey {
            proto: self.proto,
            family: self.family,
            local_addr: self.local_addr,
            local_port: self.local_port,
            remote_addr: self.remote_addr,
            remote_port: self.remote_port,
            inode: self.inode,
        }
    }
}

impl SocketEntry {
    /// The key of this row's socket: the same as its [`RawSocket::key`].
    #[must_use]
    pub fn key(&self) -> SocketKey {
        SocketKey {
            proto: self.proto,
            family: self.family,
            local_addr: self.local_address,
            local_port: self.local_port,
            remote_addr: self.remote_address,
            remote_port: self.remote_port,
            inode: self.inode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SocketState;

    fn raw(proto: Proto, state: SocketState, addr: &str, port: u16) -> RawSocket {
        let local_addr: IpAddr = addr.parse().unwrap();
        RawSocket {
            proto,
            family: if local_addr.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            state,
            local_addr,
            local_port: port,
            remote_addr: None,
            remote_port: None,
            uid: Some(0),
            inode: Some(1),
            bound_ifindex: None,
            v6only: None,
            netns: None,
        }
    }

    #[test]
    fn keys_follow_the_socket_not_its_state_or_owners() {
        let listener = SocketEntry::test_listener("127.0.0.1", 8080);
        let key = listener.key();
        // (what changes, same socket?)
        let cases: Vec<(&str, SocketEntry, bool)> = vec![
            (
                "state",
                SocketEntry {
                    state: SocketState::CloseWait,
                    ..listener.clone()
                },
                true,
            ),
            (
                "owner and user",
                SocketEntry {
                    uid: Some(1000),
                    user: Some("me".into()),
                    ..listener.clone()
                },
                true,
            ),
            (
                "service and exposure",
                SocketEntry {
                    service: Some("http-alt".into()),
                    exposure: None,
                    ..listener.clone()
                },
                true,
            ),
            (
                "inode (closed and opened again)",
                SocketEntry {
                    inode: Some(2),
                    ..listener.clone()
                },
                false,
            ),
            (
                "remote end",
                SocketEntry {
                    remote_address: Some("10.0.0.2".parse().unwrap()),
                    remote_port: Some(50000),
                    ..listener.clone()
                },
                false,
            ),
            (
                "protocol",
                SocketEntry {
                    proto: Proto::Udp,
                    ..listener.clone()
                },
                false,
            ),
            (
                "family",
                SocketEntry {
                    family: Family::Ipv6,
                    ..listener.clone()
                },
                false,
            ),
            (
                "local port",
                SocketEntry {
                    local_port: 8081,
                    ..listener.clone()
                },
                false,
            ),
        ];
        for (what, entry, same) in cases {
            assert_eq!(entry.key() == key, same, "{what}");
        }
        // A raw socket and its row have the same key.
        let raw = raw(Proto::Tcp, SocketState::Listen, "127.0.0.1", 8080);
        assert_eq!(raw.key(), key);
    }

    #[test]
    fn queries_match_as_the_kernel_filters() {
        use SocketState::{Bound, Established, Listen, TimeWait, Unconnected};
        let spec = |port, proto| PortSpec { port, proto };
        let v4_only = SocketQuery {
            ipv6: false,
            ..SocketQuery::listening()
        };
        // (query, socket, returned?)
        let cases = [
            (
                SocketQuery::listening(),
                raw(Proto::Tcp, Listen, "0.0.0.0", 22),
                true,
            ),
            (
                SocketQuery::listening(),
                raw(Proto::Udp, Unconnected, "::", 53),
                true,
            ),
            (
                SocketQuery::listening(),
                raw(Proto::Tcp, Established, "10.0.0.1", 22),
                false,
            ),
            (
                SocketQuery::listening(),
                raw(Proto::Udp, Established, "10.0.0.1", 53),
                false,
            ),
            (
                SocketQuery::listening(),
                raw(Proto::Tcp, Bound, "0.0.0.0", 9),
                false,
            ),
            (
                SocketQuery::all(),
                raw(Proto::Tcp, Bound, "0.0.0.0", 9),
                true,
            ),
            (
                SocketQuery::all(),
                raw(Proto::Tcp, TimeWait, "10.0.0.1", 22),
                true,
            ),
            (v4_only, raw(Proto::Tcp, Listen, "::", 22), false),
            (v4_only, raw(Proto::Tcp, Listen, "0.0.0.0", 22), true),
            (
                SocketQuery::port(spec(22, None)),
                raw(Proto::Udp, Unconnected, "::", 22),
                true,
            ),
            (
                SocketQuery::port(spec(22, None)),
                raw(Proto::Tcp, Listen, "::", 23),
                false,
            ),
            (
                SocketQuery::port(spec(22, Some(Proto::Tcp))),
                raw(Proto::Udp, Unconnected, "::", 22),
                false,
            ),
            (
                SocketQuery::port(spec(22, Some(Proto::Udp))),
                raw(Proto::Udp, Unconnected, "::", 22),
                true,
            ),
        ];
        for (query, socket, want) in cases {
            assert_eq!(query.matches(&socket), want, "{query:?} {socket:?}");
        }
        assert_eq!(
            SocketQuery::port(spec(8080, Some(Proto::Tcp))),
            SocketQuery {
                udp: false,
                local_ports: Some((8080, 8080)),
                ..SocketQuery::all()
            }
        );
    }

    #[test]
    fn state_sets() {
        use SocketState::{Bound, Established, Listen, TimeWait, Unconnected};
        let all: Vec<SocketState> = StateSet::ALL.iter().collect();
        assert_eq!(all, SocketState::ALL);
        assert!(StateSet::of(&SocketState::ALL).is_all());
        assert!(StateSet::EMPTY.is_empty() && StateSet::of(&[]).is_empty());
        // (set, its TCP states, its UDP states)
        let cases = [
            (vec![Listen], vec![Listen], vec![]),
            (vec![Unconnected], vec![], vec![Unconnected]),
            (vec![Listen, Unconnected], vec![Listen], vec![Unconnected]),
            (
                vec![Established, TimeWait, Bound],
                vec![Established, TimeWait, Bound],
                vec![Established],
            ),
        ];
        for (set, tcp, udp) in cases {
            let set = StateSet::of(&set);
            assert_eq!(set.of_proto(Proto::Tcp), StateSet::of(&tcp), "{set:?}");
            assert_eq!(set.of_proto(Proto::Udp), StateSet::of(&udp), "{set:?}");
            let query = SocketQuery {
                states: set,
                ..SocketQuery::all()
            };
            assert_eq!(query.states_of(Proto::Tcp), StateSet::of(&tcp));
            let tcp_only = SocketQuery {
                udp: false,
                ..query
            };
            assert!(tcp_only.states_of(Proto::Udp).is_empty());
        }
        assert_eq!(
            StateSet::ALL.of_proto(Proto::Udp),
            StateSet::of(&[Unconnected, Established])
        );
    }
}
