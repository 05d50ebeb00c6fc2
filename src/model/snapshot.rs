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
    Family, InterfaceAddr, OwnerScan, PidNamespace, PortSpec, ProcessInfo, Proto, RawSocket,
    SocketEntry,
};

/// Which sockets to ask the kernel for. State masks are bit sets of kernel `TCP_*` state numbers
/// (`1 << 10` is LISTEN); a zero mask skips that protocol entirely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketQuery {
    /// TCP states to dump.
    pub tcp_states: u32,
    /// UDP states to dump (`1 << 7` is unconnected, `1 << 1` connected).
    pub udp_states: u32,
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
    /// Kernel TCP state number of LISTEN.
    pub const TCP_LISTEN: u8 = 10;
    /// Kernel state number of CLOSE (unconnected UDP).
    pub const TCP_CLOSE: u8 = 7;
    /// Kernel pseudo-state TCP_BOUND_INACTIVE (Linux 6.5): asking for it makes the kernel walk
    /// its bind table for TCP sockets that are bound but neither listening nor connected, which
    /// it then reports in state CLOSE. Older kernels ignore the bit.
    pub const TCP_BOUND_INACTIVE: u8 = 13;
    /// All kernel states 1..=12 and TCP_BOUND_INACTIVE (13).
    pub const ALL_STATES: u32 = 0x3ffe;

    /// The listening view: TCP LISTEN only (CLOSE is deliberately not OR-ed in, so the kernel
    /// skips the established hash) and unconnected UDP.
    #[must_use]
    pub fn listening() -> Self {
        SocketQuery {
            tcp_states: 1 << Self::TCP_LISTEN,
            udp_states: 1 << Self::TCP_CLOSE,
            ipv4: true,
            ipv6: true,
            local_ports: None,
        }
    }

    /// Every state of both protocols.
    #[must_use]
    pub fn all() -> Self {
        SocketQuery {
            tcp_states: Self::ALL_STATES,
            udp_states: Self::ALL_STATES,
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
            Some(Proto::Tcp) => query.udp_states = 0,
            Some(Proto::Udp) => query.tcp_states = 0,
            None => {}
        }
        query
    }

    /// True when the kernel would return `socket` for this query: its protocol's state mask
    /// holds its state, its family is asked for and its local port is in range. For backends
    /// that cannot filter at the source (netstat2, a recorded snapshot).
    #[must_use]
    pub fn matches(&self, socket: &RawSocket) -> bool {
        let mask = match socket.proto {
            Proto::Tcp => self.tcp_states,
            Proto::Udp => self.udp_states,
        };
        let state = socket
            .state
            .kernel_number(socket.proto)
            .is_some_and(|n| mask & (1u32 << n) != 0);
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
    /// Sockets kept by the caller's pre-filter.
    pub sockets: Vec<RawSocket>,
    /// Holders of those sockets.
    pub owners: OwnerScan,
    /// Details of every holder, by pid.
    pub processes: BTreeMap<u32, ProcessInfo>,
    /// Names of every uid that appears (socket owners and process owners).
    pub users: HashMap<u32, Option<String>>,
    /// Local interface addresses.
    pub interfaces: Vec<InterfaceAddr>,
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
/// inode (TIME_WAIT, 0) are told apart by their remote end.
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
    /// Socket inode (0 when no file refers to it).
    pub inode: u64,
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
            inode: 1,
            bound_ifindex: None,
            v6only: None,
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
                    inode: 2,
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
                udp_states: 0,
                local_ports: Some((8080, 8080)),
                ..SocketQuery::all()
            }
        );
    }
}
