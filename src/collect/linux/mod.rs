//! The Linux backend: netlink sock_diag for the socket table, one pass over `/proc/*/fd` for
//! owners, sysinfo (or the same files under `--proc-root`) for process details, and everything
//! only Linux has: cgroups, port and `route_localnet` sysctls, systemd socket units, PID
//! namespaces and pidfds. What other Unix systems share (kill(2), the bind probe, passwd
//! look-ups, `/etc/services`) comes from `collect::unix`.
//!
//! Every `/proc` read goes through [`Linux`]'s one proc root, except what by design reads
//! portscope's own ([`crate::collect::PROC_ROOT`]): the PID-namespace check and the re-check of
//! a process before `kill` signals it.

mod bpf_iter;
mod bpf_sys;
mod btf_slim;
mod host;
mod namespaces;
mod netns;
mod nft;
pub(crate) mod pidfd;
mod pidns;
mod process;
mod procfs;
mod sock_diag;
mod units;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::collect::probe;
use crate::collect::unix::{self, signal, users};
use crate::collect::{
    CollectError, OwnerScanMode, PROC_ROOT, Pinned, Platform, ProcView, files, interfaces,
};
use crate::model::FirewallText;
use crate::model::{
    Family, ForeignListener, InterfaceAddr, NetnsFacts, NetnsSelection, OwnerRaw, OwnerScan,
    Phases, PidNamespace, PortSettings, PortSpec, ProbeResult, ProcIdentity, ProcessInfo, Proto,
    RawSocket, Signal, SignalError, SocketQuery, UnitFile,
};

/// The Linux platform, reading processes through one proc root (`--proc-root`) and sockets in
/// the network namespaces of one selection (`--netns`, `--all-netns`).
#[derive(Debug, Clone)]
pub struct Linux {
    proc_root: PathBuf,
    netns: NetnsSelection,
    /// What the last socket table read of each namespace, and the namespaces it could not read.
    namespaces_read: RefCell<(Vec<NetnsFacts>, Vec<String>)>,
    owner_scan: OwnerScanMode,
    /// The BPF iterator, loaded on first use and shared by clones.
    bpf: Arc<bpf_iter::BpfScanner>,
}

impl Linux {
    /// A backend reading processes through `proc_root` (usually [`PROC_ROOT`]) and sockets in
    /// the network namespaces `netns` selects ([`NetnsSelection::Own`]: portscope's own).
    #[must_use]
    pub fn with_netns(proc_root: PathBuf, netns: NetnsSelection) -> Self {
        Linux {
            proc_root,
            netns,
            namespaces_read: RefCell::new((Vec::new(), Vec::new())),
            owner_scan: OwnerScanMode::Auto,
            bpf: Arc::default(),
        }
    }

    /// The sockets `query` asks for in every namespace of the selection, each tagged with its
    /// namespace's inode; the facts of each namespace (interfaces listed inside it, the cgroup of
    /// a process living there) are kept for [`Platform::network_namespaces`]. A namespace that
    /// vanished meanwhile under `--all-netns` is a warning; the one `--netns` names is an error.
    fn sockets_in_namespaces(&self, query: &SocketQuery) -> Result<Vec<RawSocket>, CollectError> {
        if !unix::is_root() {
            return Err(CollectError::NetnsNeedsRoot);
        }
        let found = namespaces::discover(&self.proc_root, &self.netns)?;
        let mut out = Vec::new();
        let mut facts = Vec::new();
        let mut warnings = Vec::new();
        for ns in &found {
            let read = namespaces::in_namespace(ns, || (sockets(query), interfaces::interfaces()));
            let (table, ifaces) = match read {
                Ok(read) => read,
                Err(source) if ns.own || matches!(self.netns, NetnsSelection::One { .. }) => {
                    return Err(CollectError::Netns {
                        what: ns.path.display().to_string(),
                        source,
                    });
                }
                Err(e) => {
                    warnings.push(format!(
                        "network namespace net:[{}] ({}) could not be read: {e}",
                        ns.inode,
                        ns.path.display()
                    ));
                    continue;
                }
            };
            let mut table = table?;
            for s in &mut table {
                s.netns = Some(ns.inode);
            }
            out.extend(table);
            let interfaces = ifaces.unwrap_or_else(|e| {
                warnings.push(format!(
                    "cannot list the interfaces of network namespace net:[{}]: {e}; exposure of \
                     its wildcard binds is unknown",
                    ns.inode
                ));
                Vec::new()
            });
            facts.push(NetnsFacts {
                inode: ns.inode,
                name: ns.name.clone(),
                pid: ns.pid,
                cgroup: ns.pid.and_then(|pid| process::cgroup(&self.proc_root, pid)),
                own: ns.own,
                interfaces,
            });
        }
        *self.namespaces_read.borrow_mut() = (facts, warnings);
        Ok(out)
    }

    /// The same backend finding owners as `--owner-scan` says.
    #[must_use]
    pub fn with_owner_scan(mut self, owner_scan: OwnerScanMode) -> Self {
        self.owner_scan = owner_scan;
        self
    }

    /// The holders of the `wanted` socket inodes (every socket with `None`), by the scan
    /// `--owner-scan` chooses: `auto` tries the BPF iterator where its answer is the `/proc`
    /// scan's (this PID namespace's `/proc`, privileged) and it pays (enough open files on
    /// the system), and falls back silently.
    ///
    /// # Errors
    /// Only under `--owner-scan bpf`, saying why the iterator cannot run.
    fn scan_owners(
        &self,
        wanted: Option<&HashSet<u64>>,
        phases: &mut Phases,
    ) -> Result<OwnerScan, CollectError> {
        let own_proc = self.proc_root == Path::new(PROC_ROOT);
        match self.owner_scan {
            OwnerScanMode::Bpf => {
                let refused = if !own_proc {
                    Some(format!(
                        "it reads this PID namespace's processes, not --proc-root '{}'",
                        self.proc_root.display()
                    ))
                } else if !bpf_iter::same_pid_namespace(&self.proc_root) {
                    Some("/proc belongs to another PID namespace than portscope's".to_owned())
                } else {
                    None
                };
                if let Some(reason) = refused {
                    return Err(CollectError::OwnerScan { reason });
                }
                let scan = self
                    .bpf
                    .scan(wanted, phases)
                    .map_err(|reason| CollectError::OwnerScan { reason })?;
                Ok(self.with_denied(scan, wanted, phases))
            }
            OwnerScanMode::Auto
                if own_proc
                    && self.privileged()
                    && bpf_iter::worth_loading(&self.proc_root)
                    && bpf_iter::same_pid_namespace(&self.proc_root) =>
            {
                match self.bpf.scan(wanted, phases) {
                    Ok(scan) => Ok(self.with_denied(scan, wanted, phases)),
                    Err(_) => Ok(self.proc_scan(wanted, phases)),
                }
            }
            OwnerScanMode::Auto | OwnerScanMode::Proc => Ok(self.proc_scan(wanted, phases)),
        }
    }

    /// The iterator's `scan` with what the `/proc` scan would add for a socket left without a
    /// holder: the processes whose descriptors `/proc` cannot read even as root (on this
    /// project's machines, pid 1), which make that socket `hidden` rather than `not_found`.
    /// The iterator cannot be denied, but neither does it prove those processes hold nothing
    /// (the kernel may keep a task's table from it too), so the answer stays the `/proc` one.
    /// One link per process is read, only when some wanted socket is without a holder.
    fn with_denied(
        &self,
        mut scan: OwnerScan,
        wanted: Option<&HashSet<u64>>,
        phases: &mut Phases,
    ) -> OwnerScan {
        let unfound = wanted.is_none_or(|w| w.iter().any(|i| !scan.by_inode.contains_key(i)));
        if unfound {
            let (denied, scanned) = phases.time("owner scan (bpf: /proc access check)", || {
                procfs::denied(&self.proc_root)
            });
            scan.denied = denied;
            scan.processes_scanned = scanned;
        }
        scan
    }

    fn proc_scan(&self, wanted: Option<&HashSet<u64>>, phases: &mut Phases) -> OwnerScan {
        phases.time("owner scan (/proc/*/fd)", || {
            procfs::scan_owners(&self.proc_root, wanted)
        })
    }

    /// The proc filesystem a per-process read goes through.
    fn root(&self, view: ProcView) -> &Path {
        match view {
            ProcView::Root => &self.proc_root,
            ProcView::Own => Path::new(PROC_ROOT),
        }
    }
}

impl Platform for Linux {
    /// Checks the proc root first (with owners), then dumps, keeps what `keep` accepts and runs
    /// one `/proc` pass recording only the kept sockets' inodes.
    fn socket_table(
        &self,
        query: &SocketQuery,
        keep: &dyn Fn(&RawSocket) -> bool,
        with_owners: bool,
        phases: &mut Phases,
    ) -> Result<(Vec<RawSocket>, OwnerScan), CollectError> {
        if with_owners {
            std::fs::read_dir(&self.proc_root).map_err(|source| CollectError::ProcRoot {
                path: self.proc_root.display().to_string(),
                source,
            })?;
        }
        let mut table = if self.netns.is_other() {
            phases.time("socket dump (netlink, every namespace)", || {
                self.sockets_in_namespaces(query)
            })?
        } else {
            phases.time("socket dump (netlink)", || sockets(query))?
        };
        table.retain(|s| keep(s));
        let scan = if with_owners {
            let wanted: HashSet<u64> = table
                .iter()
                .filter_map(|s| s.inode)
                .filter(|&i| i != 0)
                .collect();
            self.scan_owners(Some(&wanted), phases)?
        } else {
            OwnerScan::default()
        };
        Ok((table, scan))
    }

    /// Under `--owner-scan bpf` an iterator that fails here (it ran for the first snapshot)
    /// falls back to `/proc`: this lookup has no error to report.
    fn owners_of(&self, inodes: &HashSet<u64>) -> Option<OwnerScan> {
        let mut phases = Phases::default();
        Some(
            self.scan_owners(Some(inodes), &mut phases)
                .unwrap_or_else(|_| procfs::scan_owners(&self.proc_root, Some(inodes))),
        )
    }

    fn processes(&self, pids: &[u32]) -> BTreeMap<u32, ProcessInfo> {
        process::details(&self.proc_root, pids)
    }

    fn interfaces(&self) -> Result<Vec<InterfaceAddr>, CollectError> {
        interfaces::interfaces()
    }

    fn network_namespaces(&self) -> (Vec<NetnsFacts>, Vec<String>) {
        self.namespaces_read.borrow().clone()
    }

    /// Effective uid 0, or both CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH in the effective set
    /// (read from the proc root's `self/status`).
    fn privileged(&self) -> bool {
        if unix::is_root() {
            return true;
        }
        // Opening another user's /proc/PID/fd needs CAP_DAC_READ_SEARCH; reading its links needs
        // CAP_SYS_PTRACE. One without the other sees no owner at all.
        const CAP_DAC_READ_SEARCH: u32 = 2;
        const CAP_SYS_PTRACE: u32 = 19;
        const BOTH: u64 = (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_SYS_PTRACE);
        files::proc_text(&self.proc_root.join("self/status"))
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapEff:"))
                    .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            })
            .is_some_and(|caps| caps & BOTH == BOTH)
    }

    fn pid_namespace(&self) -> Option<PidNamespace> {
        pidns::pid_namespace(&self.proc_root)
    }

    fn hostname(&self) -> Option<String> {
        unix::hostname()
    }

    fn user_name(&self, uid: u32) -> Option<String> {
        users::name_of(uid)
    }

    fn uid_of(&self, name: &str) -> Option<u32> {
        users::uid_of(name)
    }

    fn services_text(&self) -> Option<String> {
        unix::etc_services()
    }

    fn port_settings(&self) -> PortSettings {
        host::port_settings(&self.proc_root)
    }

    fn route_localnet(&self) -> Vec<String> {
        host::route_localnet(&self.proc_root)
    }

    fn ip_forwarding(&self) -> [Option<bool>; 2] {
        host::ip_forwarding(&self.proc_root)
    }

    fn socket_units(&self) -> Vec<(String, String)> {
        host::socket_units()
    }

    fn owner_raw(&self, pid: u32) -> OwnerRaw {
        host::owner_raw(&self.proc_root, pid)
    }

    fn cgroup(&self, pid: u32) -> Option<String> {
        process::cgroup(&self.proc_root, pid)
    }

    fn probe(&self, port: u16, protos: &[Proto]) -> Vec<ProbeResult> {
        probe::probe(port, protos)
    }

    fn identity(&self, view: ProcView, pid: u32) -> ProcIdentity {
        pidns::identity(self.root(view), pid)
    }

    fn own_namespace_processes_in(&self, ns: u64) -> Option<Vec<(u32, ProcIdentity)>> {
        pidns::own_namespace_processes_in(ns)
    }

    fn holds_any_socket(
        &self,
        view: ProcView,
        pid: u32,
        _port: PortSpec,
        inodes: &BTreeSet<u64>,
    ) -> io::Result<bool> {
        pidns::holds_any_socket(self.root(view), pid, inodes)
    }

    fn process_exists(&self, view: ProcView, pid: u32) -> bool {
        self.root(view).join(pid.to_string()).exists()
    }

    fn pin(&self, pid: u32) -> Result<Option<Pinned>, SignalError> {
        pidfd::Pidfd::open(pid).map_err(|e| signal::error(&e))
    }

    fn signal(&self, pid: u32, signal: Signal) -> Result<(), SignalError> {
        signal::deliver(pid, signal)
    }

    fn wait_exit(&self, pinned: &[Pinned], timeout: Duration) -> io::Result<Vec<bool>> {
        pidfd::wait_exit(pinned, timeout)
    }

    fn firewall_text(&self) -> Result<FirewallText, String> {
        nft::firewall_text()
    }

    fn foreign_listeners(&self, port: u16, proto: Proto) -> Vec<ForeignListener> {
        netns::foreign_listeners(&self.proc_root, port, proto)
    }

    fn held_namespaces(&self, pids: &[u32]) -> BTreeMap<u32, Vec<u64>> {
        netns::held_namespaces(&self.proc_root, pids)
    }

    fn unit_files(&self) -> Vec<UnitFile> {
        units::unit_files()
    }

    fn unit_running(&self, unit: &str) -> Option<bool> {
        units::unit_running(unit)
    }
}

/// Dump the sockets the query asks for, one netlink request per (protocol, family).
///
/// # Errors
/// When netlink cannot be opened or a reply cannot be decoded.
fn sockets(query: &SocketQuery) -> Result<Vec<RawSocket>, CollectError> {
    let mut out = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp] {
        // The whole set goes to sock_diag, which makes the kernel's mask of it for `proto`
        // (every kernel state when every state is asked).
        if query.states_of(proto).is_empty() {
            continue;
        }
        for (family, wanted) in [(Family::Ipv4, query.ipv4), (Family::Ipv6, query.ipv6)] {
            if wanted {
                out.extend(sock_diag::dump_filtered(
                    proto,
                    family,
                    query.states,
                    query.local_ports,
                )?);
            }
        }
    }
    Ok(out)
}
