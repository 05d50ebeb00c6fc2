//! Collection: the only code that reads the operating system. Each function returns plain data
//! (see [`crate::model`]); per-item failures are counted in the result, never fatal.
//!
//! Linux reads the socket table through netlink sock_diag and owners through one pass over
//! `/proc/*/fd`; other systems go through the `netstat2` crate behind the same functions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::model::{
    InterfaceAddr, OwnerScan, PidNamespace, PortSpec, ProcessInfo, Proto, RawSocket,
};

pub mod files;
pub mod interfaces;
#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
use linux as target_os;
#[cfg(not(target_os = "linux"))]
pub mod other;
#[cfg(not(target_os = "linux"))]
use other as target_os;
pub mod pidns;
pub mod probe;
pub mod signal;
pub mod sysinfo_details;
pub mod users;
pub mod who;

pub use interfaces::interfaces;
pub use target_os::{privileged, processes, sockets};

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
    Decode {
        /// Which request.
        what: String,
        /// Decoder message.
        detail: String,
    },
    /// The proc filesystem given with `--proc-root` cannot be read.
    #[error("cannot read the proc filesystem '{path}' (--proc-root)")]
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
}

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

    /// Every state of the sockets on one local port, of the protocol asked for (both when
    /// none): the kernel skips every other port (sock_diag bytecode, as `ss 'sport = :P'`).
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
}

/// What a command asks the collectors for.
#[derive(Debug, Clone)]
pub struct Request {
    /// Sockets to dump.
    pub query: SocketQuery,
    /// Look up owning processes (the `/proc` pass and process details).
    pub owners: bool,
    /// Root of the proc filesystem (`--proc-root`).
    pub proc_root: PathBuf,
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

/// Collect a snapshot. `keep` filters sockets before the owner lookup, so the `/proc` pass only
/// records what will be shown.
///
/// # Errors
/// When the socket table cannot be read. A failing interface listing is a warning.
pub fn snapshot(
    request: &Request,
    keep: &dyn Fn(&RawSocket) -> bool,
) -> Result<Snapshot, CollectError> {
    if request.owners && cfg!(target_os = "linux") {
        std::fs::read_dir(&request.proc_root).map_err(|source| CollectError::ProcRoot {
            path: request.proc_root.display().to_string(),
            source,
        })?;
    }
    let mut phases = Phases::default();
    let (sockets, owners) = target_os::socket_table(
        &request.query,
        keep,
        request.owners,
        &request.proc_root,
        &mut phases,
    )?;
    let pids: Vec<u32> = owners
        .by_inode
        .values()
        .flatten()
        .map(|f| f.pid)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let processes = if request.owners {
        phases.time("process details", || processes(&request.proc_root, &pids))
    } else {
        BTreeMap::new()
    };
    let users = phases.time("user names", || {
        let mut db = users::UserDb::new();
        let uids: BTreeSet<u32> = sockets
            .iter()
            .filter_map(|s| s.uid)
            .chain(processes.values().filter_map(|p| p.uid))
            .collect();
        uids.into_iter().map(|uid| (uid, db.name(uid))).collect()
    });
    let mut warnings = Vec::new();
    let interfaces = phases.time("interfaces", || {
        interfaces().unwrap_or_else(|err| {
            let cause = std::error::Error::source(&err)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            warnings.push(format!(
                "{err}{cause}; exposure of wildcard binds is unknown"
            ));
            Vec::new()
        })
    });
    Ok(Snapshot {
        sockets,
        owners,
        processes,
        users,
        interfaces,
        privileged: privileged(&request.proc_root),
        pid_namespace: if request.owners {
            pidns::pid_namespace(&request.proc_root)
        } else {
            None
        },
        warnings,
        phases,
    })
}

/// Interfaces whose `net.ipv4.conf.<if>.route_localnet` is 1, read from
/// `<proc_root>/sys/net/ipv4/conf/*/route_localnet` (`all` included, `default` skipped: it only
/// seeds interfaces created later). The sysctls are those of the reader's network namespace.
/// Where the files do not exist (other systems, a fixture tree without them) the list is empty.
#[must_use]
pub fn route_localnet(proc_root: &Path) -> Vec<String> {
    let dir = proc_root.join("sys/net/ipv4/conf");
    let Ok(read) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = read
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name != "default")
        .filter(|name| {
            files::proc_text(&dir.join(name).join("route_localnet"))
                .is_some_and(|v| v.trim() == "1")
        })
        .collect();
    out.sort();
    out
}

/// Default proc root of this platform.
#[must_use]
pub fn default_proc_root() -> &'static Path {
    Path::new("/proc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_localnet_reads_the_proc_root() {
        let root = tempfile::tempdir().unwrap();
        let conf = root.path().join("sys/net/ipv4/conf");
        for (dev, value) in [("all", "0"), ("default", "1"), ("eth0", "1\n"), ("lo", "0")] {
            std::fs::create_dir_all(conf.join(dev)).unwrap();
            std::fs::write(conf.join(dev).join("route_localnet"), value).unwrap();
        }
        std::fs::create_dir_all(conf.join("wg0")).unwrap();
        assert_eq!(route_localnet(root.path()), vec!["eth0".to_owned()]);
        assert!(route_localnet(&root.path().join("missing")).is_empty());
    }
}
