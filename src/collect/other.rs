//! The macOS and Windows backend: the socket table and owning pids through the `netstat2` crate,
//! process details through sysinfo, and on macOS what Unix systems share (`collect::unix`:
//! kill(2), the bind probe, passwd look-ups, `/etc/services`). It is compiled only off Linux
//! and is not exercised by this project's CI.
//!
//! Differences the callers must expect (see docs/architecture.md): netstat2 has no kernel state
//! filter (everything is dumped and filtered here), UDP sockets have no state or remote end (all
//! are reported as unconnected), the IPv6-only flag and bound device are unknown, there is no
//! socket inode (a synthetic one numbers the rows) and no fd numbers. On macOS, sockets of
//! processes the caller cannot inspect are missing entirely, and a socket shared by N processes
//! comes back N times: rows are merged here. There is no proc root, no PID namespace, no
//! cgroup, no port sysctl and no systemd: those answers are empty, never guessed. Processes
//! cannot be pinned, so `kill` cannot verify a holder before signalling and refuses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::time::Duration;

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};

#[cfg(unix)]
use crate::collect::unix::{self, probe, signal, users};
use crate::collect::{CollectError, Platform, ProcView, interfaces, sysinfo_details};
use crate::model::{
    Family, FdRef, InterfaceAddr, OwnerRaw, OwnerScan, Phases, PidNamespace, PortSettings,
    ProbeResult, ProcIdentity, ProcessInfo, Proto, RawSocket, Signal, SignalError, SocketQuery,
    SocketState,
};

/// The netstat2 platform. It has no proc root: `--proc-root` is ignored here.
#[derive(Debug, Clone, Copy, Default)]
pub struct Netstat2;

/// A pinned process: none exist off Linux ([`Netstat2`]'s `pin` always answers `None`), so this
/// type has no values and its methods cannot be called.
#[derive(Debug)]
pub enum Pinned {}

impl Pinned {
    /// Send `signal` to the pinned process.
    ///
    /// # Errors
    /// Never: there is no value to call it on.
    pub fn send(&self, _signal: Signal) -> Result<(), SignalError> {
        match *self {}
    }

    /// True when the pinned process has exited.
    ///
    /// # Errors
    /// Never: there is no value to call it on.
    pub fn exited(&self) -> io::Result<bool> {
        match *self {}
    }
}

impl Platform for Netstat2 {
    fn socket_table(
        &self,
        query: &SocketQuery,
        keep: &dyn Fn(&RawSocket) -> bool,
        with_owners: bool,
        phases: &mut Phases,
    ) -> Result<(Vec<RawSocket>, OwnerScan), CollectError> {
        phases.time("socket table and owners (netstat2)", || {
            table_via_netstat2(query, keep, with_owners)
        })
    }

    fn processes(&self, pids: &[u32]) -> BTreeMap<u32, ProcessInfo> {
        sysinfo_details::details(pids).unwrap_or_default()
    }

    fn interfaces(&self) -> Result<Vec<InterfaceAddr>, CollectError> {
        interfaces::interfaces()
    }

    /// Windows always reports owners; on macOS only root sees every process.
    fn privileged(&self) -> bool {
        #[cfg(unix)]
        {
            unix::is_root()
        }
        #[cfg(not(unix))]
        {
            true
        }
    }

    fn pid_namespace(&self) -> Option<PidNamespace> {
        None
    }

    fn hostname(&self) -> Option<String> {
        #[cfg(unix)]
        {
            unix::hostname()
        }
        #[cfg(not(unix))]
        {
            std::env::var("COMPUTERNAME").ok().filter(|n| !n.is_empty())
        }
    }

    fn user_name(&self, uid: u32) -> Option<String> {
        #[cfg(unix)]
        {
            users::name_of(uid)
        }
        #[cfg(not(unix))]
        {
            let _ = uid;
            None
        }
    }

    fn uid_of(&self, name: &str) -> Option<u32> {
        #[cfg(unix)]
        {
            users::uid_of(name)
        }
        #[cfg(not(unix))]
        {
            let _ = name;
            None
        }
    }

    fn services_text(&self) -> Option<String> {
        #[cfg(unix)]
        {
            unix::etc_services()
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    fn port_settings(&self) -> PortSettings {
        PortSettings::default()
    }

    fn route_localnet(&self) -> Vec<String> {
        Vec::new()
    }

    fn socket_units(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn owner_raw(&self, _pid: u32) -> OwnerRaw {
        OwnerRaw::default()
    }

    fn cgroup(&self, _pid: u32) -> Option<String> {
        None
    }

    fn probe(&self, port: u16, protos: &[Proto]) -> Vec<ProbeResult> {
        #[cfg(unix)]
        {
            probe::probe(port, protos)
        }
        #[cfg(not(unix))]
        {
            let _ = (port, protos);
            Vec::new()
        }
    }

    fn identity(&self, _view: ProcView, _pid: u32) -> ProcIdentity {
        ProcIdentity::default()
    }

    fn own_namespace_processes_in(&self, _ns: u64) -> Option<Vec<(u32, ProcIdentity)>> {
        None
    }

    fn holds_any_socket(
        &self,
        _view: ProcView,
        _pid: u32,
        _inodes: &BTreeSet<u64>,
    ) -> io::Result<bool> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// On Unix, kill(pid, 0): the process exists when it succeeds or is refused. On Windows
    /// this cannot be told here and is answered true; the identity re-check that follows in
    /// `kill` finds nothing and refuses.
    fn process_exists(&self, _view: ProcView, pid: u32) -> bool {
        #[cfg(unix)]
        {
            match signal::send(pid, 0) {
                Ok(()) => true,
                Err(e) => e.raw_os_error() == Some(libc::EPERM),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = pid;
            true
        }
    }

    fn pin(&self, _pid: u32) -> Result<Option<Pinned>, SignalError> {
        Ok(None)
    }

    fn signal(&self, pid: u32, signal: Signal) -> Result<(), SignalError> {
        #[cfg(unix)]
        {
            signal::deliver(pid, signal)
        }
        #[cfg(not(unix))]
        {
            let _ = (pid, signal);
            Err(SignalError::Unsupported)
        }
    }

    fn wait_exit(&self, pinned: &[Pinned], _timeout: Duration) -> io::Result<Vec<bool>> {
        Ok(pinned.iter().map(|p| match *p {}).collect())
    }
}

/// What makes two netstat2 rows one socket: protocol, local address and port, remote address
/// and port (empty and 0 without a remote end), state number (the Linux `TCP_*` numbering,
/// used here only to tell rows apart).
type MergeKey = (Proto, String, u16, String, u16, u8);

/// The state number of every netstat2 UDP row (TCP_CLOSE in the Linux numbering).
const UDP_UNCONNECTED: u8 = 7;

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
    if !query.states_of(Proto::Tcp).is_empty() {
        pf |= ProtocolFlags::TCP;
    }
    if !query.states_of(Proto::Udp).is_empty() {
        pf |= ProtocolFlags::UDP;
    }
    let infos = netstat2::get_sockets_info(af, pf).map_err(|e| CollectError::SocketTable {
        what: "netstat2".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    // Merge duplicates (macOS reports a shared socket once per holder).
    let mut merged: BTreeMap<MergeKey, (RawSocket, Vec<u32>)> = BTreeMap::new();
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
                UDP_UNCONNECTED,
            ),
        };
        // The same set the Linux backend asks the kernel for, applied after the dump.
        if !query.states_of(raw.proto).contains(raw.state) || !keep(&raw) {
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
        _ => (SocketState::Bound, 13),
    }
}
