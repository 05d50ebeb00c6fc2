//! The netstat2 backend: the socket table and the owning pids through the `netstat2` crate,
//! process details through sysinfo. It is the backend of Windows and macOS, and runs on Linux
//! with `--backend netstat2`, so this project's CI runs it against live sockets and compares it
//! with sock_diag. What differs by OS sits behind `cfg`: on Unix (macOS, Linux) `collect::unix`
//! (kill(2), the bind probe, passwd look-ups, `/etc/services`); on Windows `collect::windows`
//! (process handles, the Winsock bind probe, excluded port ranges, elevation).
//!
//! Differences the callers must expect (docs/architecture.md lists them): netstat2 has no state
//! filter (everything is dumped and filtered here); UDP sockets have no state or remote end (all
//! are reported `unconnected`, connected ones too); the IPv6-only flag, the bound device and the
//! fd numbers are unknown; the socket inode is known on Linux only (`None` elsewhere, and rows
//! are then joined to their owners by their ends and state); the socket's uid is known on Linux
//! only. Owners are the pids the OS names for each row: pid 0 means "none named" (Windows says
//! so for TIME_WAIT, Wine for every socket) and is dropped. On macOS, sockets of processes the
//! caller cannot inspect are missing entirely, and a socket shared by N processes comes back N
//! times: rows are merged here. There is no proc root, no PID namespace, no cgroup, no port
//! sysctl and no systemd here: those answers are empty, never guessed.
//!
//! `kill`: on Windows a process handle pins the holder (see `collect::windows::process`); on
//! Unix there is no handle here, the identity is sysinfo's start time (whole seconds) and the
//! signal goes by pid after the re-check, which reads the socket table again.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::time::Duration;

use ::netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, SocketInfo, TcpState};

#[cfg(unix)]
use crate::collect::unix::{self, signal, users};
#[cfg(windows)]
use crate::collect::windows;
use crate::collect::{
    CollectError, Pinned, Platform, ProcView, interfaces, probe, sysinfo_details,
};
use crate::model::{
    Family, FdRef, InterfaceAddr, OwnerRaw, OwnerScan, Phases, PidNamespace, PortSettings,
    PortSpec, ProbeResult, ProcIdentity, ProcessInfo, Proto, RawSocket, Signal, SignalError,
    SocketKey, SocketQuery, SocketState,
};

/// The netstat2 platform. It has no proc root: `--proc-root` is ignored here.
#[derive(Debug, Clone, Copy, Default)]
pub struct Netstat2;

/// A pinned process where no handle exists (macOS): this type has no values, so its methods
/// cannot be called.
#[cfg(not(any(target_os = "linux", windows)))]
#[derive(Debug)]
pub enum NoHandle {}

#[cfg(not(any(target_os = "linux", windows)))]
impl NoHandle {
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

    /// Unix: root. Windows: an elevated token (the socket table names every owner without it,
    /// but other users' processes cannot be terminated).
    fn privileged(&self) -> bool {
        #[cfg(unix)]
        {
            unix::is_root()
        }
        #[cfg(windows)]
        {
            windows::is_elevated()
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
        #[cfg(windows)]
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
        #[cfg(windows)]
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
        #[cfg(windows)]
        {
            // Windows keeps the same format under the system directory.
            let root = std::env::var_os("SystemRoot")?;
            let path = std::path::Path::new(&root).join(r"System32\drivers\etc\services");
            std::fs::read_to_string(path).ok()
        }
    }

    /// Windows: the excluded port ranges; nothing else is known here.
    fn port_settings(&self) -> PortSettings {
        PortSettings {
            #[cfg(windows)]
            excluded_ranges: windows::netsh::excluded_ranges(),
            ..PortSettings::default()
        }
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
        probe::probe(port, protos)
    }

    /// Windows: the creation time, read on a process handle. Unix: sysinfo's start time in whole
    /// seconds (no namespace fields).
    fn identity(&self, _view: ProcView, pid: u32) -> ProcIdentity {
        #[cfg(windows)]
        {
            windows::process::identity(pid)
        }
        #[cfg(unix)]
        {
            ProcIdentity {
                ns: None,
                ns_pid: None,
                start_ticks: sysinfo_details::details(&[pid])
                    .and_then(|m| m.get(&pid).and_then(|p| p.start_time)),
            }
        }
    }

    fn own_namespace_processes_in(&self, _ns: u64) -> Option<Vec<(u32, ProcIdentity)>> {
        None
    }

    /// The socket table is read again for `port`: true when it names `pid` as an owner of one
    /// of its sockets. `inodes` are not used (unknown off Linux; the pid is what matters).
    fn holds_any_socket(
        &self,
        _view: ProcView,
        pid: u32,
        port: PortSpec,
        _inodes: &BTreeSet<u64>,
    ) -> io::Result<bool> {
        let query = SocketQuery::port(port);
        let keep = |s: &RawSocket| port.matches(s.proto, s.local_port);
        let (_, scan) =
            table_via_netstat2(&query, &keep, true).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(scan
            .by_inode
            .values()
            .chain(scan.by_socket.values())
            .any(|holders| holders.iter().any(|h| h.pid == pid)))
    }

    /// Unix: kill(pid, 0) succeeds or is refused. Windows: a handle can be opened, or is denied.
    fn process_exists(&self, _view: ProcView, pid: u32) -> bool {
        #[cfg(unix)]
        {
            match signal::send(pid, 0) {
                Ok(()) => true,
                Err(e) => e.raw_os_error() == Some(libc::EPERM),
            }
        }
        #[cfg(windows)]
        {
            !matches!(windows::process::Handle::open(pid), Err(SignalError::Gone))
        }
    }

    /// Windows: a process handle (the pid cannot be reused while it is open). Unix: none here.
    fn pin(&self, pid: u32) -> Result<Option<Pinned>, SignalError> {
        #[cfg(windows)]
        {
            windows::process::Handle::open(pid).map(Some)
        }
        #[cfg(unix)]
        {
            let _ = pid;
            Ok(None)
        }
    }

    /// Unix: kill(2). Windows: `TerminateProcess` through a handle opened for it (every signal
    /// ends the process there).
    fn signal(&self, pid: u32, signal: Signal) -> Result<(), SignalError> {
        #[cfg(unix)]
        {
            signal::deliver(pid, signal)
        }
        #[cfg(windows)]
        {
            windows::process::Handle::open(pid)?.send(signal)
        }
    }

    fn wait_exit(&self, pinned: &[Pinned], timeout: Duration) -> io::Result<Vec<bool>> {
        #[cfg(windows)]
        {
            windows::process::wait_exit(pinned, timeout)
        }
        #[cfg(unix)]
        {
            // Nothing is pinned here (`pin` answers `None`): wait as the caller would.
            std::thread::sleep(timeout.min(Duration::from_millis(100)));
            Ok(vec![false; pinned.len()])
        }
    }
}

/// Where this OS's netstat2 says the socket inode: on Linux netstat2 reads it from sock_diag
/// (0 for TIME_WAIT, which no file refers to); elsewhere it is unknown.
fn inode_of(info: &SocketInfo) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        Some(u64::from(info.inode))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = info;
        None
    }
}

/// The socket's uid where netstat2 says it (Linux, for full sockets: those with an inode; the
/// kernel writes 0 for TIME_WAIT, which means none), else unknown.
fn uid_of(info: &SocketInfo) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        (info.inode != 0).then_some(info.uid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = info;
        None
    }
}

/// One netstat2 row as a [`RawSocket`].
fn raw_socket(info: &SocketInfo) -> RawSocket {
    let family = |a: &std::net::IpAddr| {
        if a.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    };
    match &info.protocol_socket_info {
        ProtocolSocketInfo::Tcp(t) => {
            let remote = (!t.remote_addr.is_unspecified() || t.remote_port != 0)
                .then_some((t.remote_addr.to_canonical(), t.remote_port));
            RawSocket {
                proto: Proto::Tcp,
                family: family(&t.local_addr),
                state: tcp_state(t.state),
                local_addr: t.local_addr.to_canonical(),
                local_port: t.local_port,
                remote_addr: remote.map(|r| r.0),
                remote_port: remote.map(|r| r.1),
                uid: uid_of(info),
                inode: inode_of(info),
                bound_ifindex: None,
                v6only: None,
                netns: None,
            }
        }
        ProtocolSocketInfo::Udp(u) => RawSocket {
            proto: Proto::Udp,
            family: family(&u.local_addr),
            // netstat2 has no UDP state or remote end: every UDP socket looks unconnected.
            state: SocketState::Unconnected,
            local_addr: u.local_addr.to_canonical(),
            local_port: u.local_port,
            remote_addr: None,
            remote_port: None,
            uid: uid_of(info),
            inode: inode_of(info),
            bound_ifindex: None,
            v6only: None,
            netns: None,
        },
    }
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
    if !query.states_of(Proto::Tcp).is_empty() {
        pf |= ProtocolFlags::TCP;
    }
    if !query.states_of(Proto::Udp).is_empty() {
        pf |= ProtocolFlags::UDP;
    }
    if af.is_empty() || pf.is_empty() {
        return Ok((Vec::new(), empty_scan(with_owners)));
    }
    let infos = ::netstat2::get_sockets_info(af, pf).map_err(|e| CollectError::SocketTable {
        what: "netstat2".into(),
        source: io::Error::other(e.to_string()),
    })?;
    Ok(merge(infos, query, keep, with_owners))
}

fn empty_scan(with_owners: bool) -> OwnerScan {
    OwnerScan {
        performed: with_owners,
        from_table: true,
        ..OwnerScan::default()
    }
}

/// The rows the query and `keep` accept, one per socket (macOS reports a shared socket once per
/// holder: such rows have the same key and state and are merged), with the pids each row names.
fn merge(
    infos: Vec<SocketInfo>,
    query: &SocketQuery,
    keep: &dyn Fn(&RawSocket) -> bool,
    with_owners: bool,
) -> (Vec<RawSocket>, OwnerScan) {
    let mut merged: BTreeMap<(SocketKey, SocketState), (RawSocket, Vec<u32>)> = BTreeMap::new();
    for info in infos {
        let raw = raw_socket(&info);
        // The same filter the Linux backend gives the kernel, applied after the dump.
        if !query.matches(&raw) || !keep(&raw) {
            continue;
        }
        let entry = merged
            .entry((raw.key(), raw.state))
            .or_insert_with(|| (raw, Vec::new()));
        // pid 0 names no process (Windows' TIME_WAIT rows, every row under Wine).
        entry
            .1
            .extend(info.associated_pids.into_iter().filter(|&p| p != 0));
    }
    let mut scan = empty_scan(with_owners);
    let mut table = Vec::with_capacity(merged.len());
    for (key, (raw, mut pids)) in merged {
        pids.sort_unstable();
        pids.dedup();
        if with_owners && !pids.is_empty() && raw.inode != Some(0) {
            let holders: Vec<FdRef> = pids
                .into_iter()
                .map(|pid| FdRef { pid, fd: None })
                .collect();
            match raw.inode {
                Some(inode) => {
                    scan.by_inode.insert(inode, holders);
                }
                None => {
                    scan.by_socket.insert(key, holders);
                }
            }
        }
        table.push(raw);
    }
    (table, scan)
}

fn tcp_state(state: TcpState) -> SocketState {
    match state {
        TcpState::Established => SocketState::Established,
        TcpState::SynSent => SocketState::SynSent,
        TcpState::SynReceived => SocketState::SynRecv,
        TcpState::FinWait1 => SocketState::FinWait1,
        TcpState::FinWait2 => SocketState::FinWait2,
        TcpState::TimeWait => SocketState::TimeWait,
        TcpState::CloseWait => SocketState::CloseWait,
        TcpState::LastAck => SocketState::LastAck,
        TcpState::Listen => SocketState::Listen,
        TcpState::Closing => SocketState::Closing,
        // Closed, DeleteTcb (Windows) and Unknown: a TCP socket that is neither listening nor
        // connected.
        _ => SocketState::Bound,
    }
}
