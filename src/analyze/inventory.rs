//! Joins a collected [`Snapshot`] into the rows users see: each socket with all its owning
//! processes, the user names, service name, port range, exposure and, where no owner is shown,
//! the reason; and says what a partial result must warn about ([`warnings_for`],
//! [`shown_pid_namespace`]).
//!
//! Pure: it reads nothing from the system and prints nothing.

use std::cmp::Ordering;

use crate::analyze::exposure;
use crate::analyze::identify::{self, OwnerTable};
use crate::analyze::owner::parse_cgroup;
use crate::analyze::services::{ServiceDb, port_range};
use crate::model::Snapshot;
use std::net::IpAddr;

use std::collections::HashMap;

use crate::model::{
    Family, InterfaceAddr, NetnsFacts, NetnsInfo, OwnerScan, OwnerUnknown, PidNamespace,
    ProcessInfo, Proto, RawSocket, SocketEntry, SocketState,
};

/// Build one [`SocketEntry`] per socket of the snapshot, sorted (see [`sort_entries`]).
#[must_use]
pub fn build(snapshot: &Snapshot, services: &ServiceDb) -> Vec<SocketEntry> {
    let namespaces = namespaces(snapshot);
    let mut entries: Vec<SocketEntry> = snapshot
        .sockets
        .iter()
        .map(|s| entry(snapshot, &namespaces, services, s))
        .collect();
    sort_entries(&mut entries);
    entries
}

/// The entries of [`build`] one at a time, in the same order, for a caller that renders each
/// row as it comes and need not hold every entry (the table of `--all` on a busy host: each
/// entry carries its owners, their details shared with the snapshot's, their fds its own).
pub fn for_each_entry(
    snapshot: &Snapshot,
    services: &ServiceDb,
    mut each: impl FnMut(SocketEntry),
) {
    let namespaces = namespaces(snapshot);
    let mut order: Vec<&RawSocket> = snapshot.sockets.iter().collect();
    order.sort_by(|a, b| compare_raw(a, b));
    for sock in order {
        each(entry(snapshot, &namespaces, services, sock));
    }
}

/// For each socket of the snapshot, its entry where `select` (one flag per socket, in the
/// snapshot's order) is true and `None` elsewhere, for a caller that keeps the rows of the
/// other sockets from an earlier build (`watch`). A missing flag counts as true.
pub fn build_selected(
    snapshot: &Snapshot,
    services: &ServiceDb,
    select: &[bool],
) -> Vec<Option<SocketEntry>> {
    let namespaces = namespaces(snapshot);
    snapshot
        .sockets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            select
                .get(i)
                .copied()
                .unwrap_or(true)
                .then(|| entry(snapshot, &namespaces, services, s))
        })
        .collect()
}

/// True when the sockets read span more than one network namespace (`--all-netns`, or an
/// audit of one other namespace with the host's): the table then shows a NETNS column.
#[must_use]
pub fn spans_namespaces(sockets: &[RawSocket]) -> bool {
    let mut seen = None;
    for ns in sockets.iter().map(|s| s.netns) {
        match seen {
            None => seen = Some(ns),
            Some(first) if first != ns => return true,
            Some(_) => {}
        }
    }
    false
}

/// The namespaces of a snapshot by inode: what a row carries (the container or pod named from
/// the cgroup text of a process living there) and the interfaces its exposure is judged on.
type Namespaces<'a> = HashMap<u64, (NetnsInfo, &'a [InterfaceAddr])>;

fn namespaces(snapshot: &Snapshot) -> Namespaces<'_> {
    snapshot
        .namespaces
        .iter()
        .map(|ns| (ns.inode, (netns_info(ns), ns.interfaces.as_slice())))
        .collect()
}

/// What a row says about the namespace `ns`: the container comes from the cgroup of the
/// process found living there.
#[must_use]
pub fn netns_info(ns: &NetnsFacts) -> NetnsInfo {
    NetnsInfo {
        inode: ns.inode,
        name: ns.name.clone(),
        pid: ns.pid,
        container: ns
            .cgroup
            .as_deref()
            .and_then(|text| parse_cgroup(text).container),
        host: ns.own,
    }
}

fn entry(
    snapshot: &Snapshot,
    namespaces: &Namespaces<'_>,
    services: &ServiceDb,
    sock: &RawSocket,
) -> SocketEntry {
    // A socket of another namespace is judged on that namespace's interfaces: a wildcard bind
    // inside a container covers the container's addresses, not the host's.
    let (netns, interfaces) = match sock.netns.and_then(|inode| namespaces.get(&inode)) {
        Some((info, interfaces)) => (Some(info.clone()), *interfaces),
        None => (None, snapshot.interfaces.as_slice()),
    };
    let holders = match sock.inode {
        Some(0) => None,
        Some(inode) => snapshot.owners.by_inode.get(&inode),
        // The backend knows no inode: its table named the holders of this row.
        None => snapshot.owners.by_socket.get(&(sock.key(), sock.state)),
    };
    let mut processes: Vec<ProcessInfo> = Vec::new();
    for holder in holders.into_iter().flatten() {
        if let Some(existing) = processes.iter_mut().find(|p| p.pid == holder.pid) {
            match (existing.fds.as_mut(), holder.fd) {
                (Some(fds), Some(fd)) => fds.push(fd),
                _ => existing.fds = None,
            }
            continue;
        }
        // The details are shared with every other row of the process (`Arc`s, no string
        // copied); the descriptors and the user name are this row's.
        let info = match snapshot.processes.get(&holder.pid) {
            Some(details) => ProcessInfo {
                pid: details.pid,
                fds: None,
                name: details.name.clone(),
                cmdline: details.cmdline.clone(),
                exe: details.exe.clone(),
                uid: details.uid,
                user: None,
                ppid: details.ppid,
                start_time: details.start_time,
            },
            // The process exited between the fd scan and the details lookup.
            None => ProcessInfo::unknown(holder.pid),
        };
        processes.push(ProcessInfo {
            fds: holder.fd.map(|fd| vec![fd]),
            user: info.uid.and_then(|uid| user_name(snapshot, uid)),
            ..info
        });
    }
    processes.sort_by_key(|p| p.pid);
    let owner_unknown_reason = if processes.is_empty() {
        Some(owner_unknown(sock, &snapshot.owners, snapshot.privileged))
    } else {
        None
    };
    let exposure = exposure::exposure(sock, interfaces);
    // Unknown (netstat2 does not say) stays unknown: Windows defaults to v6-only, Linux not.
    let dual_stack =
        (sock.family == Family::Ipv6 && exposure.wildcard && !sock.local_addr.is_ipv4())
            .then_some(sock.v6only)
            .flatten()
            .map(|v6only| !v6only);
    let interface = sock.bound_ifindex.map(|index| {
        interfaces
            .iter()
            .find(|i| i.index == Some(index))
            .map_or_else(|| format!("if{index}"), |i| i.name.clone())
    });
    let port_name = services.lookup(sock.local_port, sock.proto);
    // Only a listener's owner serves on it; a client socket's port says nothing of its owner.
    let owner = sock
        .state
        .is_listening()
        .then(|| OwnerTable::builtin().identify(&processes, sock.proto))
        .flatten()
        .map(|(owner, _)| owner);
    let (service, service_source) = identify::combine(port_name, owner);
    SocketEntry {
        proto: sock.proto,
        family: sock.family,
        local_address: sock.local_addr,
        local_port: sock.local_port,
        remote_address: sock.remote_addr,
        remote_port: sock.remote_port,
        state: sock.state,
        dual_stack,
        interface,
        uid: sock.uid,
        user: sock.uid.and_then(|uid| user_name(snapshot, uid)),
        inode: sock.inode,
        processes,
        owner_unknown_reason,
        service,
        service_source,
        handshake: None,
        port_range: port_range(sock.local_port),
        exposure: exposure.class,
        exposure_address: exposure.via_address,
        exposure_interface: exposure.via_interface,
        wildcard: exposure.wildcard,
        netns,
    }
}

/// The name of `uid` in the snapshot's user table, `None` when it has none or was not looked up.
fn user_name(snapshot: &Snapshot, uid: u32) -> Option<String> {
    snapshot.users.get(&uid).and_then(Clone::clone)
}

/// Why no owner is shown for a socket that has none in the scan.
#[must_use]
pub fn owner_unknown(sock: &RawSocket, scan: &OwnerScan, privileged: bool) -> OwnerUnknown {
    let verdict = ScanVerdict::of(scan);
    if !verdict.performed {
        OwnerUnknown::Skipped
    } else if sock.inode == Some(0) {
        OwnerUnknown::Kernel
    } else if verdict.from_table {
        OwnerUnknown::NotReported
    } else if verdict.blind {
        if privileged {
            OwnerUnknown::Hidden
        } else {
            OwnerUnknown::Permission
        }
    } else {
        OwnerUnknown::NotFound
    }
}

/// All of an owner scan that [`owner_unknown`] depends on: two scans with the same verdict give
/// every socket the same reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanVerdict {
    /// The scan ran.
    pub performed: bool,
    /// The holders came from the socket table (netstat2), not from a scan.
    pub from_table: bool,
    /// Some processes could not be read, or none was.
    pub blind: bool,
}

impl ScanVerdict {
    /// The verdict of `scan`.
    #[must_use]
    pub fn of(scan: &OwnerScan) -> Self {
        ScanVerdict {
            performed: scan.performed,
            from_table: scan.from_table,
            blind: !scan.denied.is_empty() || scan.processes_scanned == 0,
        }
    }
}

/// The stable order of every view: local port, protocol, local address (IPv4 before IPv6),
/// state, remote end, inode (unknown inodes first).
pub fn sort_entries(entries: &mut [SocketEntry]) {
    entries.sort_by(compare);
}

/// The keys of the stable order, in priority order.
type SortKey = (
    u16,
    Proto,
    IpAddr,
    Family,
    SocketState,
    Option<IpAddr>,
    Option<u16>,
    Option<u64>,
);

fn compare(a: &SocketEntry, b: &SocketEntry) -> Ordering {
    let key = |e: &SocketEntry| -> SortKey {
        (
            e.local_port,
            e.proto,
            e.local_address,
            e.family,
            e.state,
            e.remote_address,
            e.remote_port,
            e.inode,
        )
    };
    key(a).cmp(&key(b))
}

/// [`compare`] on the raw sockets: the same keys, so the same order.
fn compare_raw(a: &RawSocket, b: &RawSocket) -> Ordering {
    let key = |s: &RawSocket| -> SortKey {
        (
            s.local_port,
            s.proto,
            s.local_addr,
            s.family,
            s.state,
            s.remote_addr,
            s.remote_port,
            s.inode,
        )
    };
    key(a).cmp(&key(b))
}

/// The PID namespace to name in a note on stderr: the snapshot's, and only when pids of that
/// namespace are shown (some owner was found).
#[must_use]
pub fn shown_pid_namespace(snapshot: &Snapshot) -> Option<&PidNamespace> {
    snapshot
        .pid_namespace
        .as_ref()
        .filter(|_| !snapshot.processes.is_empty())
}

/// How many shown sockets have no visible owner, by the reasons [`warnings`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnknownOwners {
    /// Owner not visible without privileges.
    pub permission: usize,
    /// Owner's fds unreadable even with privileges.
    pub hidden: usize,
}

impl UnknownOwners {
    /// Count one shown entry.
    pub fn add(&mut self, entry: &SocketEntry) {
        match entry.owner_unknown_reason {
            Some(OwnerUnknown::Permission) => self.permission += 1,
            Some(OwnerUnknown::Hidden) => self.hidden += 1,
            _ => {}
        }
    }
}

/// One line per kind of partial result, with the remedy, for stderr and JSON `warnings`.
#[must_use]
pub fn warnings(entries: &[SocketEntry], snapshot: &Snapshot) -> Vec<String> {
    let mut counts = UnknownOwners::default();
    for e in entries {
        counts.add(e);
    }
    warnings_for(counts, snapshot)
}

/// [`warnings`] from counts gathered while streaming (see [`for_each_entry`]).
#[must_use]
pub fn warnings_for(counts: UnknownOwners, snapshot: &Snapshot) -> Vec<String> {
    let mut out = snapshot.warnings.clone();
    let UnknownOwners { permission, hidden } = counts;
    if permission > 0 {
        out.push(format!(
            "owners of {permission} socket(s) are not visible without privileges: run with sudo, \
             or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH"
        ));
    }
    if hidden > 0 && snapshot.owners.denied.is_empty() {
        out.push(format!(
            "owners of {hidden} socket(s) are unknown: no process could be read under the proc root"
        ));
    } else if hidden > 0 {
        let pids: Vec<String> = snapshot
            .owners
            .denied
            .iter()
            .take(5)
            .map(u32::to_string)
            .collect();
        let more = if snapshot.owners.denied.len() > 5 {
            ", …"
        } else {
            ""
        };
        out.push(format!(
            "owners of {hidden} socket(s) are hidden: the file descriptors of {} process(es) \
             (pid {}{more}) could not be read even with privileges",
            snapshot.owners.denied.len(),
            pids.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FdRef, Proto, SocketState};
    use std::collections::HashMap;
    use std::net::{IpAddr, Ipv4Addr};

    fn sock(inode: u64) -> RawSocket {
        RawSocket {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            state: SocketState::Listen,
            local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: 8080,
            remote_addr: None,
            remote_port: None,
            uid: Some(1000),
            inode: Some(inode),
            bound_ifindex: None,
            v6only: None,
            netns: None,
        }
    }

    #[test]
    fn owner_reasons() {
        let mut scan = OwnerScan {
            performed: true,
            processes_scanned: 10,
            ..OwnerScan::default()
        };
        assert_eq!(owner_unknown(&sock(5), &scan, true), OwnerUnknown::NotFound);
        assert_eq!(owner_unknown(&sock(0), &scan, true), OwnerUnknown::Kernel);
        scan.denied = vec![1];
        assert_eq!(
            owner_unknown(&sock(5), &scan, false),
            OwnerUnknown::Permission
        );
        assert_eq!(owner_unknown(&sock(5), &scan, true), OwnerUnknown::Hidden);
        assert_eq!(
            owner_unknown(&sock(5), &OwnerScan::default(), true),
            OwnerUnknown::Skipped
        );
    }

    #[test]
    fn all_holders_listed_once_per_pid() {
        let mut owners = OwnerScan {
            performed: true,
            processes_scanned: 2,
            ..OwnerScan::default()
        };
        owners.by_inode.insert(
            7,
            vec![
                FdRef {
                    pid: 20,
                    fd: Some(3),
                },
                FdRef {
                    pid: 10,
                    fd: Some(4),
                },
                FdRef {
                    pid: 10,
                    fd: Some(9),
                },
            ],
        );
        let snapshot = Snapshot {
            sockets: vec![sock(7)],
            owners,
            users: HashMap::from([(1000, Some("alice".to_string()))]),
            privileged: true,
            ..Snapshot::default()
        };
        let entries = build(&snapshot, &ServiceDb::builtin());
        let pids: Vec<u32> = entries[0].processes.iter().map(|p| p.pid).collect();
        assert_eq!(pids, vec![10, 20]);
        assert_eq!(entries[0].processes[0].fds, Some(vec![4, 9]));
        assert_eq!(entries[0].user.as_deref(), Some("alice"));
        assert_eq!(entries[0].owner_unknown_reason, None);
    }

    #[test]
    fn rows_of_one_process_share_its_details_and_own_their_fds() {
        let mut owners = OwnerScan {
            performed: true,
            processes_scanned: 1,
            ..OwnerScan::default()
        };
        for (inode, fd) in [(7, 3), (8, 4)] {
            owners.by_inode.insert(
                inode,
                vec![FdRef {
                    pid: 10,
                    fd: Some(fd),
                }],
            );
        }
        let details = ProcessInfo {
            cmdline: ["srv".to_owned(), "--port".to_owned()].into(),
            exe: Some("/usr/bin/srv".into()),
            uid: Some(1000),
            ..ProcessInfo::test_process(10, "srv")
        };
        let snapshot = Snapshot {
            sockets: vec![sock(7), sock(8)],
            owners,
            processes: [(10, details.clone())].into(),
            users: HashMap::from([(1000, Some("alice".to_string()))]),
            privileged: true,
            ..Snapshot::default()
        };
        let entries = build(&snapshot, &ServiceDb::builtin());
        let (a, b) = (&entries[0].processes[0], &entries[1].processes[0]);
        assert!(std::sync::Arc::ptr_eq(&a.cmdline, &details.cmdline));
        assert!(std::sync::Arc::ptr_eq(&a.cmdline, &b.cmdline));
        assert_eq!(a.name.as_deref(), Some("srv"));
        assert_eq!(a.exe.as_deref(), Some("/usr/bin/srv"));
        // (entry, its descriptors)
        assert_eq!(
            (a.fds.clone(), b.fds.clone()),
            (Some(vec![3]), Some(vec![4]))
        );
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert_eq!(details.user, None);
    }

    #[test]
    fn pid_namespace_is_named_only_with_pids_of_it() {
        let other = PidNamespace {
            proc_root: "/proc/42/root/proc".into(),
            inode: Some(4_026_532_000),
            own_inode: None,
            ancestor: false,
        };
        // (namespace of the proc root, some process found) → named
        let cases = [
            (None, false, false),
            (None, true, false),
            (Some(other.clone()), false, false),
            (Some(other.clone()), true, true),
        ];
        for (pid_namespace, with_process, named) in cases {
            let mut snapshot = Snapshot {
                pid_namespace,
                ..Snapshot::default()
            };
            if with_process {
                snapshot.processes.insert(7, ProcessInfo::unknown(7));
            }
            assert_eq!(
                shown_pid_namespace(&snapshot).is_some(),
                named,
                "{:?} {with_process}",
                snapshot.pid_namespace
            );
        }
    }

    #[test]
    fn streamed_entries_come_in_build_order() {
        let mut sockets: Vec<RawSocket> = (1..=6).map(sock).collect();
        sockets[0].local_port = 443;
        sockets[1].state = SocketState::Established;
        sockets[2].proto = Proto::Udp;
        sockets[3].local_port = 22;
        sockets[4].family = Family::Ipv6;
        sockets[4].local_addr = "::1".parse().unwrap();
        let snapshot = Snapshot {
            sockets,
            ..Snapshot::default()
        };
        let services = ServiceDb::builtin();
        let built = build(&snapshot, &services);
        let mut streamed = Vec::new();
        for_each_entry(&snapshot, &services, |e| streamed.push(e));
        assert_eq!(streamed, built);
    }

    #[test]
    fn selected_entries_stay_at_their_sockets_positions() {
        let snapshot = Snapshot {
            sockets: (1..=4).map(sock).collect(),
            ..Snapshot::default()
        };
        let services = ServiceDb::builtin();
        let inodes = |flags: &[bool]| -> Vec<Option<u64>> {
            build_selected(&snapshot, &services, flags)
                .into_iter()
                .map(|e| e.and_then(|e| e.inode))
                .collect()
        };
        // (flags, inode of the entry built at each position)
        let cases: [(&[bool], [Option<u64>; 4]); 3] = [
            (&[true, false, false, true], [Some(1), None, None, Some(4)]),
            (&[false; 4], [None; 4]),
            // A missing flag builds the entry.
            (&[false, true], [None, Some(2), Some(3), Some(4)]),
        ];
        for (flags, want) in cases {
            assert_eq!(inodes(flags), want, "{flags:?}");
        }
    }
}
