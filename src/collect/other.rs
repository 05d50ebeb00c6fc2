//! macOS and Windows backend through the `netstat2` crate, behind the same functions as the
//! Linux backend. It is compiled only off Linux and is not exercised by this project's CI.
//!
//! Differences the callers must expect (see docs/architecture.md): netstat2 has no kernel state
//! filter (everything is dumped and filtered here), UDP sockets have no state or remote end (all
//! are reported as unconnected), the IPv6-only flag and bound device are unknown, there is no
//! socket inode (a synthetic one numbers the rows) and no fd numbers. On macOS, sockets of
//! processes the caller cannot inspect are missing entirely, and a socket shared by N processes
//! comes back N times: rows are merged here.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};

use crate::collect::{CollectError, Phases, SocketQuery};
use crate::model::{Family, FdRef, OwnerScan, ProcessInfo, Proto, RawSocket, SocketState};

/// Dump the sockets the query asks for, owners dropped.
///
/// # Errors
/// When netstat2 fails.
pub fn sockets(query: &SocketQuery) -> Result<Vec<RawSocket>, CollectError> {
    socket_table(
        query,
        &|_| true,
        false,
        Path::new("/proc"),
        &mut Phases::default(),
    )
    .map(|(s, _)| s)
}

/// The socket table with owners, filtered by the query and `keep`.
///
/// # Errors
/// When netstat2 fails.
pub fn socket_table(
    query: &SocketQuery,
    keep: &dyn Fn(&RawSocket) -> bool,
    with_owners: bool,
    _proc_root: &Path,
    phases: &mut Phases,
) -> Result<(Vec<RawSocket>, OwnerScan), CollectError> {
    phases.time("socket table and owners (netstat2)", || {
        table_via_netstat2(query, keep, with_owners)
    })
}

fn table_via_netstat2(
    query: &SocketQuery,
    keep: &dyn Fn(&RawSocket) -> bool,
    with_owners: bool,
) -> Result<(Vec<RawSocket>, OwnerScan), CollectError> {
    let mut af = AddressFamilyFlags::empty();
    if query.ipv4 {
        af |= AddressFamilyFlags::IPV4;
    }
    if query.ipv6 {
        af |= AddressFamilyFlags::IPV6;
    }
    let mut pf = ProtocolFlags::empty();
    if query.tcp_states != 0 {
        pf |= ProtocolFlags::TCP;
    }
    if query.udp_states != 0 {
        pf |= ProtocolFlags::UDP;
    }
    let infos = netstat2::get_sockets_info(af, pf).map_err(|e| CollectError::SocketTable {
        what: "netstat2".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    // Merge duplicates (macOS reports a shared socket once per holder).
    let mut merged: BTreeMap<(Proto, String, u16, String, u16, u8), (RawSocket, Vec<u32>)> =
        BTreeMap::new();
    for info in infos {
        let (raw, kernel_state) = match info.protocol_socket_info {
            ProtocolSocketInfo::Tcp(t) => {
                let state = tcp_state(t.state);
                let remote = (!t.remote_addr.is_unspecified() || t.remote_port != 0)
                    .then_some((t.remote_addr.to_canonical(), t.remote_port));
                (
                    RawSocket {
                        proto: Proto::Tcp,
                        family: if t.local_addr.is_ipv4() {
                            Family::Ipv4
                        } else {
                            Family::Ipv6
                        },
                        state: state.0,
                        local_addr: t.local_addr.to_canonical(),
                        local_port: t.local_port,
                        remote_addr: remote.map(|r| r.0),
                        remote_port: remote.map(|r| r.1),
                        uid: None,
                        inode: 0,
                        bound_ifindex: None,
                        v6only: None,
                    },
                    state.1,
                )
            }
            ProtocolSocketInfo::Udp(u) => (
                RawSocket {
                    proto: Proto::Udp,
                    family: if u.local_addr.is_ipv4() {
                        Family::Ipv4
                    } else {
                        Family::Ipv6
                    },
                    state: SocketState::Unconnected,
                    local_addr: u.local_addr.to_canonical(),
                    local_port: u.local_port,
                    remote_addr: None,
                    remote_port: None,
                    uid: None,
                    inode: 0,
                    bound_ifindex: None,
                    v6only: None,
                },
                SocketQuery::TCP_CLOSE,
            ),
        };
        let mask = if raw.proto == Proto::Tcp {
            query.tcp_states
        } else {
            query.udp_states
        };
        if mask & (1u32 << kernel_state) == 0 || !keep(&raw) {
            continue;
        }
        let key = (
            raw.proto,
            raw.local_addr.to_string(),
            raw.local_port,
            raw.remote_addr.map(|a| a.to_string()).unwrap_or_default(),
            raw.remote_port.unwrap_or(0),
            kernel_state,
        );
        let entry = merged.entry(key).or_insert_with(|| (raw, Vec::new()));
        entry.1.extend(info.associated_pids);
    }
    let mut table = Vec::with_capacity(merged.len());
    let mut by_inode: HashMap<u64, Vec<FdRef>> = HashMap::new();
    for (n, (_, (mut raw, mut pids))) in (1u64..).zip(merged) {
        raw.inode = n;
        pids.sort_unstable();
        pids.dedup();
        if with_owners && !pids.is_empty() {
            by_inode.insert(
                n,
                pids.into_iter()
                    .map(|pid| FdRef { pid, fd: None })
                    .collect(),
            );
        }
        table.push(raw);
    }
    let scan = OwnerScan {
        by_inode,
        processes_scanned: 0,
        denied: Vec::new(),
        vanished: 0,
        performed: with_owners,
    };
    Ok((table, scan))
}

fn tcp_state(state: TcpState) -> (SocketState, u8) {
    match state {
        TcpState::Established => (SocketState::Established, 1),
        TcpState::SynSent => (SocketState::SynSent, 2),
        TcpState::SynReceived => (SocketState::SynRecv, 3),
        TcpState::FinWait1 => (SocketState::FinWait1, 4),
        TcpState::FinWait2 => (SocketState::FinWait2, 5),
        TcpState::TimeWait => (SocketState::TimeWait, 6),
        TcpState::CloseWait => (SocketState::CloseWait, 8),
        TcpState::LastAck => (SocketState::LastAck, 9),
        TcpState::Listen => (SocketState::Listen, 10),
        TcpState::Closing => (SocketState::Closing, 11),
        _ => (SocketState::Bound, SocketQuery::TCP_BOUND_INACTIVE),
    }
}

/// Details of the given pids through sysinfo's targeted refresh.
#[must_use]
pub fn processes(_proc_root: &Path, pids: &[u32]) -> BTreeMap<u32, ProcessInfo> {
    crate::collect::sysinfo_details::details(pids).unwrap_or_default()
}

/// Whether owners of other users' sockets are visible. Windows always reports owners; on macOS
/// only root sees every process.
#[must_use]
pub fn privileged(_proc_root: &Path) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    {
        true
    }
}
