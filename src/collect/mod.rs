//! Collection: the only code that reads the operating system or acts on it. A backend implements
//! one interface, [`Platform`]; a [`Collector`] holds one and turns requests into
//! [`crate::model::Snapshot`]s, caching what does not change between two looks. Everything it
//! returns is plain data from [`crate::model`]; per-item failures are counted in the result,
//! never fatal.
//!
//! Backends ([`Backend`], `--backend`): [`linux::Linux`] (netlink sock_diag for the socket
//! table, one pass over `/proc/*/fd` for owners, everything Linux-only: cgroups, sysctls,
//! systemd socket units, PID namespaces, pidfds) and [`netstat2::Netstat2`] (the `netstat2`
//! crate and sysinfo: Windows and macOS, and Linux on request). What several Unix backends share
//! (kill(2), the bind probe, passwd look-ups, `/etc/services`) is in `unix`; what only Windows
//! has (process handles, Winsock, `netsh`) in `windows`; the bind probe's loop in `probe`.
//! Tests serve recorded data through `recorded::Recorded`.
//!
//! It must not decide what to show or whom to signal (that is `analyze`), nor import from
//! `analyze`, `render` or `commands`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::model::FirewallText;
use crate::model::{
    CheckTarget, ConnectResult, ForeignListener, InterfaceAddr, NetnsFacts, NetnsSelection,
    OwnerRaw, OwnerScan, Phases, PidNamespace, PortSettings, PortSpec, ProbeResult, ProcIdentity,
    ProcessInfo, Proto, RawSocket, Signal, SignalError, SocketQuery, UnitFile,
};

mod collector;
#[cfg(any(target_os = "linux", windows))]
pub(crate) mod command;
pub mod connect;
pub mod files;
pub mod handshake;
mod interfaces;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod netstat2;
pub mod output;
pub mod pause;
mod probe;
#[cfg(test)]
pub(crate) mod recorded;
mod sysinfo_details;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

pub use collector::Collector;

/// The column count of the terminal on standard output, `None` when it is not a terminal or
/// reports no width. Where a terminal reports 0 rows its columns still count.
#[must_use]
pub fn terminal_columns() -> Option<usize> {
    #[cfg(unix)]
    {
        unix::terminal_columns()
    }
    #[cfg(not(unix))]
    {
        terminal_size::terminal_size()
            .map(|(w, _)| usize::from(w.0))
            .filter(|&w| w > 0)
    }
}

/// portscope's own proc filesystem: the default `--proc-root`, and where `kill` re-checks a
/// process before signalling it when the proc root is another PID namespace's.
pub const PROC_ROOT: &str = "/proc";

/// Errors at the collection boundary. Per-process failures are not errors: they are counted in
/// [`crate::model::OwnerScan`].
#[derive(Debug, Error)]
pub enum CollectError {
    /// The kernel's socket table could not be read.
    #[error("cannot read the socket table ({what})")]
    SocketTable {
        /// Which request failed, e.g. "netlink sock_diag tcp/ipv6 dump".
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A reply from the kernel could not be decoded.
    #[error("cannot decode the socket table ({what}): {detail}")]
    #[cfg_attr(
        not(target_os = "linux"),
        expect(dead_code, reason = "only the sock_diag reader decodes")
    )]
    Decode {
        /// Which request.
        what: String,
        /// Decoder message.
        detail: String,
    },
    /// The proc filesystem given with `--proc-root` cannot be read.
    #[error("cannot read the proc filesystem '{path}' (--proc-root)")]
    #[cfg_attr(
        not(target_os = "linux"),
        expect(dead_code, reason = "only Linux has a proc root")
    )]
    ProcRoot {
        /// The path given.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Listing interface addresses failed.
    #[error("cannot list interface addresses")]
    Interfaces(#[source] std::io::Error),
    /// A network namespace `--netns` names (or portscope's own) cannot be read or entered.
    #[error("cannot read the network namespace {what}")]
    #[cfg_attr(
        not(target_os = "linux"),
        expect(dead_code, reason = "only Linux has network namespaces")
    )]
    Netns {
        /// The namespace file.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `--netns` or `--all-netns` without root.
    #[error(
        "--netns and --all-netns need root: entering another network namespace (setns) takes \
         CAP_SYS_ADMIN; run with sudo"
    )]
    #[cfg_attr(
        not(target_os = "linux"),
        expect(dead_code, reason = "only Linux has network namespaces")
    )]
    NetnsNeedsRoot,
    /// `--netns` or `--all-netns` where the backend cannot enter namespaces.
    #[error("--netns and --all-netns need the Linux sock_diag backend (--backend auto on Linux)")]
    NetnsUnsupported,
    /// `--owner-scan bpf` was asked for and the kernel iterator cannot run here.
    #[error(
        "cannot scan socket owners with BPF (--owner-scan bpf): {reason}; use --owner-scan proc"
    )]
    OwnerScan {
        /// Why, e.g. the loader's error.
        reason: String,
    },
}

/// Through which proc filesystem a per-process read of `kill` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcView {
    /// The proc root the platform was built with (`--proc-root`): the pids of the report.
    Root,
    /// portscope's own ([`PROC_ROOT`]): the pids portscope can signal.
    Own,
}

/// A process pinned for signalling: a signal sent through it reaches that process or fails, and
/// never reaches a later process that reuses its pid. On Linux a pidfd (the netstat2 backend
/// pins nothing there), on Windows a process handle; on macOS no such handle exists
/// ([`Platform::pin`] always answers `None` there) and the type has no values.
#[cfg(target_os = "linux")]
pub use linux::pidfd::Pidfd as Pinned;
/// A process pinned for signalling; on macOS there is none (see the Linux documentation).
#[cfg(not(any(target_os = "linux", windows)))]
pub use netstat2::NoHandle as Pinned;
/// A process pinned for signalling: a process handle (see the Linux documentation).
#[cfg(windows)]
pub use windows::process::Handle as Pinned;

/// The interface a platform backend implements: everything portscope reads from, or does to,
/// the operating system. Each method answers for the proc root / network namespace the backend
/// was built for. What a backend cannot know it reports as unknown (`None`, empty, default),
/// never as invented data; the documentation of each method says what differs by platform.
///
/// Methods are grouped as the commands use them: the snapshot (`list`, `audit`, `who`), host
/// facts (`who`, `audit`), owner facts (`who`), the bind probe (`who`) and signalling (`kill`).
pub trait Platform: fmt::Debug {
    // ── the snapshot ────────────────────────────────────────────────────────────────────────

    /// The socket table: the sockets `query` asks for that `keep` accepts and, with
    /// `with_owners`, every holder of those sockets (the owner scan). Steps are timed into
    /// `phases`.
    ///
    /// Linux: netlink sock_diag with the kernel filtering states and ports, then one pass over
    /// `PROC_ROOT/*/fd`. netstat2: everything is dumped and filtered here, owners are pids only.
    ///
    /// # Errors
    /// When the socket table cannot be read, and (Linux, `with_owners`) when the proc root
    /// cannot be listed ([`CollectError::ProcRoot`], checked first).
    fn socket_table(
        &self,
        query: &SocketQuery,
        keep: &dyn Fn(&RawSocket) -> bool,
        with_owners: bool,
        phases: &mut Phases,
    ) -> Result<(Vec<RawSocket>, OwnerScan), CollectError>;

    /// Every holder of the socket `inodes`: the owner scan alone, for a poller (`watch`) that
    /// dumped the table without owners and looks owners up only for sockets it has not seen.
    /// `None` where the platform cannot look owners up by inode (netstat2 has no inodes): the
    /// caller then asks [`Platform::socket_table`] with owners.
    ///
    /// Linux: the same one pass over `PROC_ROOT/*/fd` as the socket table's, recording only
    /// `inodes`.
    fn owners_of(&self, inodes: &HashSet<u64>) -> Option<OwnerScan> {
        let _ = inodes;
        None
    }

    /// Details of the given pids (name, command line, executable, uid, parent, start time);
    /// a pid that exited meanwhile is absent. `user` is left `None`: names come from
    /// [`Platform::user_name`] through the collector's cache.
    fn processes(&self, pids: &[u32]) -> BTreeMap<u32, ProcessInfo>;

    /// Every address on every local interface of this network namespace, grouped by interface
    /// index.
    ///
    /// # Errors
    /// [`CollectError::Interfaces`] when the OS refuses to list them.
    fn interfaces(&self) -> Result<Vec<InterfaceAddr>, CollectError>;

    /// The network namespaces the last [`Platform::socket_table`] read (each with the
    /// interfaces listed inside it then), and warnings about namespaces that could not be read
    /// (gone meanwhile); empty when only portscope's own namespace is read, as every backend but
    /// Linux's does.
    fn network_namespaces(&self) -> (Vec<NetnsFacts>, Vec<String>) {
        (Vec::new(), Vec::new())
    }

    /// Whether this process may see the owners of other users' sockets (Linux: euid 0, or both
    /// CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; macOS: root; Windows: always).
    fn privileged(&self) -> bool;

    /// The PID namespace the pids belong to when the proc root is not portscope's own; `None`
    /// when it is, and on platforms without PID namespaces.
    fn pid_namespace(&self) -> Option<PidNamespace>;

    /// This host's name, for the snapshot (`host` in `portscope --json`, naming the host in a
    /// fleet audit). Unix: `gethostname(2)`, the name of portscope's UTS namespace (not the proc
    /// root's); Windows: the `COMPUTERNAME` variable. `None` when unknown.
    fn hostname(&self) -> Option<String>;

    /// The name of `uid` in the system's user database (NSS on Unix), `None` when it has none
    /// or the platform has no uids.
    fn user_name(&self, uid: u32) -> Option<String>;

    /// The uid of the account `name`, `None` when there is none (or no uids on this platform).
    fn uid_of(&self, name: &str) -> Option<u32>;

    /// The text of the system's services table (`/etc/services` on Unix), `None` when it cannot
    /// be read or the platform has none; the built-in tables then stand alone.
    fn services_text(&self) -> Option<String>;

    // ── host facts ──────────────────────────────────────────────────────────────────────────

    /// The kernel's port settings (Linux sysctls under `PROC_ROOT/sys/net/ipv4`); every field
    /// `None` elsewhere.
    fn port_settings(&self) -> PortSettings;

    /// Interfaces whose `net.ipv4.conf.<if>.route_localnet` is 1 (`all` included), sorted;
    /// empty where the setting does not exist.
    fn route_localnet(&self) -> Vec<String>;

    /// Whether the kernel forwards IPv4 and IPv6 packets (`net.ipv4.ip_forward`,
    /// `net.ipv6.conf.all.forwarding`): a DNATed packet to another machine or a container goes
    /// nowhere without it. `None` where unknown (then treated as on: the worst case).
    fn ip_forwarding(&self) -> [Option<bool>; 2] {
        [None, None]
    }

    /// Every systemd `*.socket` unit as (unit name, text), first directory of a name winning;
    /// empty without systemd.
    fn socket_units(&self) -> Vec<(String, String)>;

    // ── owner facts ─────────────────────────────────────────────────────────────────────────

    /// The cgroup text, parent chain and kernel-thread flag of `pid`; empty where unknown.
    fn owner_raw(&self, pid: u32) -> OwnerRaw;

    /// The raw cgroup text of `pid`, `None` when unreadable or off Linux.
    fn cgroup(&self, pid: u32) -> Option<String>;

    /// For each of `pids` (the audit asks only about its `pasta` and `rootlessport` listeners):
    /// the network namespaces other than the process's own that it holds a descriptor to
    /// (`PROC_ROOT/PID/fd/N` reads `net:[INODE]`) or that one of its children lives in
    /// (`PROC_ROOT/PID/task/TID/children`, then `PROC_ROOT/CHILD/ns/net`): where it forwards.
    /// Bounded (descriptors, tasks and children per process); a process that cannot be read
    /// has an empty list. Empty off Linux.
    fn held_namespaces(&self, pids: &[u32]) -> BTreeMap<u32, Vec<u64>> {
        let _ = pids;
        BTreeMap::new()
    }

    // ── the bind probe ──────────────────────────────────────────────────────────────────────

    /// Try to bind `port` for each protocol on the IPv4 and IPv6 wildcard and loopback
    /// addresses, without `SO_REUSEADDR`, and report what the kernel said; empty where the
    /// platform cannot probe.
    fn probe(&self, port: u16, protos: &[Proto]) -> Vec<ProbeResult>;

    // ── signalling (`kill`) ─────────────────────────────────────────────────────────────────

    /// Who `pid` is, read through `view`; fields that cannot be read are `None` (all of them
    /// off Linux).
    fn identity(&self, view: ProcView, pid: u32) -> ProcIdentity;

    /// The processes of portscope's own proc filesystem whose innermost PID namespace is `ns`,
    /// with their identities; `None` when that cannot be told (off Linux, or `/proc` is not
    /// portscope's own).
    fn own_namespace_processes_in(&self, ns: u64) -> Option<Vec<(u32, ProcIdentity)>>;

    /// True when `pid`, read through `view`, still holds a socket of `port`: on Linux one of
    /// the socket `inodes` it held (its descriptors are read); with netstat2, which knows no
    /// inodes everywhere and no descriptors anywhere, the socket table is read again for the
    /// port and `pid` must be named as an owner of one of its sockets.
    ///
    /// # Errors
    /// When its descriptors or the socket table cannot be read (gone, not permitted).
    fn holds_any_socket(
        &self,
        view: ProcView,
        pid: u32,
        port: PortSpec,
        inodes: &BTreeSet<u64>,
    ) -> io::Result<bool>;

    /// True when `pid` is visible through `view` (Linux: `PROC_ROOT/PID` exists).
    fn process_exists(&self, view: ProcView, pid: u32) -> bool;

    /// Pin `pid` (a pid of portscope's own namespace) for signalling. `Ok(None)` when the
    /// platform has no such handle (off Linux, kernels before 5.3, a seccomp filter): the caller
    /// then falls back to [`Platform::signal`].
    ///
    /// # Errors
    /// [`SignalError::Gone`] when no process has this pid; [`SignalError::Other`] for pid 0 or
    /// one that does not fit a `pid_t` (EINVAL).
    fn pin(&self, pid: u32) -> Result<Option<Pinned>, SignalError>;

    /// Send `signal` to `pid` (kill(2) on Unix, with the system's number for it): the fallback
    /// where pinning is unavailable. Never a process group: pids that would address one are
    /// refused ([`SignalError::Other`], EINVAL).
    ///
    /// # Errors
    /// [`SignalError::Gone`] when the process is gone, [`SignalError::NotPermitted`] when not
    /// permitted, [`SignalError::Unsupported`] where signals do not exist (Windows).
    fn signal(&self, pid: u32, signal: Signal) -> Result<(), SignalError>;

    /// Wait until one of `pinned` exits or `timeout` passes; return which have exited.
    ///
    /// # Errors
    /// When waiting fails.
    fn wait_exit(&self, pinned: &[Pinned], timeout: Duration) -> io::Result<Vec<bool>>;

    // ── connection checks (`check`) ─────────────────────────────────────────────────────────
    // Default implementations answer "unknown", so a backend adds them when it can.

    /// The firewall ruleset as `nft -j list ruleset` prints it, or where nft is not installed
    /// as `iptables-save` and `ip6tables-save` print it; or why it cannot be read with what to
    /// do (neither installed, no permission, a timeout). Linux only.
    ///
    /// # Errors
    /// The reason as one sentence.
    fn firewall_text(&self) -> Result<FirewallText, String> {
        Err("reading the firewall is implemented for Linux (nftables, iptables) only".into())
    }

    /// Listeners on `port` over `proto` in network namespaces other than portscope's own;
    /// empty where unknown.
    fn foreign_listeners(&self, port: u16, proto: Proto) -> Vec<ForeignListener> {
        let _ = (port, proto);
        Vec::new()
    }

    /// systemd service and socket unit files, read bounded; empty without systemd.
    fn unit_files(&self) -> Vec<UnitFile> {
        Vec::new()
    }

    /// Whether a systemd unit has processes now; `None` when that cannot be told.
    fn unit_running(&self, unit: &str) -> Option<bool> {
        let _ = unit;
        None
    }

    /// Connect once to `target` (an address of this machine), waiting at most `timeout`;
    /// `scope_id` is the interface index of a link-local IPv6 address (0 otherwise).
    fn connect(&self, target: &CheckTarget, scope_id: u32, timeout: Duration) -> ConnectResult {
        connect::connect(target, scope_id, timeout)
    }
}

/// Which backend reads the system (`--backend`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// The best one for this OS: sock_diag and `/proc` on Linux, netstat2 elsewhere.
    #[default]
    Auto,
    /// netstat2 and sysinfo, on every OS (on Linux for comparison and for testing the code the
    /// other systems run).
    Netstat2,
}

impl Backend {
    /// Every backend, in help order.
    pub const ALL: [Backend; 2] = [Backend::Auto, Backend::Netstat2];

    /// The name `--backend` takes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Netstat2 => "netstat2",
        }
    }
}

/// How the Linux backend finds the holders of socket inodes (`--owner-scan`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OwnerScanMode {
    /// The BPF iterator when it can run (root, BTF, a kernel with `task_file` iterators, this
    /// PID namespace's `/proc`), otherwise the `/proc` pass, with the same result.
    #[default]
    Auto,
    /// The BPF `task_file` iterator (`bpf/task_file.bpf.c`), or an error saying why not.
    Bpf,
    /// One pass over `/proc/*/fd`.
    Proc,
}

impl OwnerScanMode {
    /// Every mode, in help order.
    pub const ALL: [OwnerScanMode; 3] =
        [OwnerScanMode::Auto, OwnerScanMode::Bpf, OwnerScanMode::Proc];

    /// The name `--owner-scan` takes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerScanMode::Auto => "auto",
            OwnerScanMode::Bpf => "bpf",
            OwnerScanMode::Proc => "proc",
        }
    }
}

/// Why `--owner-scan bpf` cannot be honoured with this backend on this system, if it cannot:
/// only the Linux sock_diag backend has a BPF owner scan (netstat2 reads owners from its table).
#[must_use]
pub fn unsupported_owner_scan(backend: Backend, owner_scan: OwnerScanMode) -> Option<CollectError> {
    let reason = if owner_scan != OwnerScanMode::Bpf {
        return None;
    } else if !cfg!(target_os = "linux") {
        "the BPF task_file iterator exists on Linux only"
    } else if backend == Backend::Netstat2 {
        "--backend netstat2 takes its owners from its own table"
    } else {
        return None;
    };
    Some(CollectError::OwnerScan {
        reason: reason.to_owned(),
    })
}

/// The backend of the system portscope runs on, reading processes through `proc_root`
/// (`--proc-root`; only the Linux backend has one, netstat2 ignores it), sockets in the
/// network namespaces `netns` selects (`--netns`, `--all-netns`) and finding owners as
/// `owner_scan` says (`--owner-scan`; the Linux backend only).
///
/// # Errors
/// [`CollectError::NetnsUnsupported`] when other namespaces are asked of a backend that cannot
/// enter them (netstat2, every system but Linux).
pub fn native(
    proc_root: PathBuf,
    backend: Backend,
    netns: NetnsSelection,
    owner_scan: OwnerScanMode,
) -> Result<Box<dyn Platform>, CollectError> {
    #[cfg(not(target_os = "linux"))]
    let _ = owner_scan;
    if netns.is_other() && (backend != Backend::Auto || !cfg!(target_os = "linux")) {
        return Err(CollectError::NetnsUnsupported);
    }
    Ok(match backend {
        #[cfg(target_os = "linux")]
        Backend::Auto => {
            Box::new(linux::Linux::with_netns(proc_root, netns).with_owner_scan(owner_scan))
        }
        #[cfg(not(target_os = "linux"))]
        Backend::Auto => {
            let _ = proc_root;
            Box::new(netstat2::Netstat2)
        }
        Backend::Netstat2 => Box::new(netstat2::Netstat2),
    })
}
