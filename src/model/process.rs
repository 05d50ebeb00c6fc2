//! Processes that hold sockets, why an owner may be unknown, and the PID namespace their pids
//! belong to.
//!
//! Plain data: nothing here touches the operating system.

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What is known about one process that owns a socket.
///
/// A process holding many sockets appears in the row of each: the details read once per process
/// (`name`, `cmdline`, `exe`) are shared between those copies (`Arc`, so cloning a
/// `ProcessInfo` copies pointers, not strings), while `fds` and `user` are filled per row.
/// Serialized exactly as plain strings and a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// File descriptors of this socket in the process; `None` (JSON `null`) where the platform
    /// does not say (the netstat2 backend: Windows' and macOS' socket tables name pids only).
    pub fds: Option<Vec<u32>>,
    /// Process name: the executable's file name when the kernel's 15-byte `comm` was truncated.
    pub name: Option<Arc<str>>,
    /// Command line, one string per argument; empty when unreadable.
    pub cmdline: Arc<[String]>,
    /// Executable path, `None` when unreadable (other users' processes without privileges).
    pub exe: Option<Arc<str>>,
    /// Real uid of the process.
    pub uid: Option<u32>,
    /// User name of that uid, resolved through the system's user database (NSS).
    pub user: Option<String>,
    /// Parent process id.
    pub ppid: Option<u32>,
    /// Start time, seconds since the Unix epoch.
    pub start_time: Option<u64>,
}

impl ProcessInfo {
    /// A process of which nothing but the pid is known (it exited before its details were read).
    #[must_use]
    pub fn unknown(pid: u32) -> ProcessInfo {
        ProcessInfo {
            pid,
            fds: Some(Vec::new()),
            name: None,
            cmdline: Arc::from([]),
            exe: None,
            uid: None,
            user: None,
            ppid: None,
            start_time: None,
        }
    }
}

/// Why a socket's owning process is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerUnknown {
    /// Not privileged: other users' `/proc/PID/fd` cannot be read.
    Permission,
    /// Privileged, yet some processes' descriptors could not be read (another PID namespace, a
    /// security module, a sandbox manager). The socket is probably held by one of them.
    Hidden,
    /// No file refers to the socket: TIME_WAIT and other kernel-held sockets (inode 0).
    Kernel,
    /// Every process was read and none holds the socket: a kernel-owned socket (NFS, WireGuard),
    /// a process in another PID namespace, or one that exited meanwhile.
    NotFound,
    /// The owner scan was skipped on request (`--no-owners`).
    Skipped,
    /// The OS's socket table names no process for the socket (netstat2 backend: pid 0 or no
    /// pid, as Windows reports for TIME_WAIT and Wine for every socket). Nothing was scanned,
    /// so nothing more can be said.
    NotReported,
}

impl OwnerUnknown {
    /// Short snake_case name as used in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerUnknown::Permission => "permission",
            OwnerUnknown::Hidden => "hidden",
            OwnerUnknown::Kernel => "kernel",
            OwnerUnknown::NotFound => "not_found",
            OwnerUnknown::Skipped => "skipped",
            OwnerUnknown::NotReported => "not_reported",
        }
    }
}

/// The PID namespace the pids of a report belong to, when it is not portscope's own: the
/// `--proc-root` is another namespace's proc filesystem (`/proc/PID/root/proc` of a container,
/// a host's `/proc` seen from a container, or a fixture tree). `None` where such a value is
/// optional means the pids are portscope's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidNamespace {
    /// The `--proc-root` the pids were read through.
    pub proc_root: String,
    /// Inode of that namespace (`pid:[N]` in `ls -l /proc/PID/ns/pid`), `None` when unreadable.
    pub inode: Option<u64>,
    /// Inode of portscope's own PID namespace, `None` when unreadable.
    pub own_inode: Option<u64>,
    /// True when that namespace contains portscope's own (a host's `/proc` seen from a
    /// container): its processes outside portscope's namespace cannot be signalled from here.
    pub ancestor: bool,
}

impl std::fmt::Display for PidNamespace {
    /// One sentence, e.g. "pids are those of the PID namespace of --proc-root '/proc/42/root/proc'
    /// (pid:[4026532301]), not portscope's own (pid:[4026531836])". Not sanitized: the path is
    /// the user's and a renderer escapes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = |inode: Option<u64>| {
            inode.map_or_else(|| "unknown".to_string(), |i| format!("pid:[{i}]"))
        };
        write!(
            f,
            "pids are those of the PID namespace of --proc-root '{}' ({}), not portscope's own ({})",
            self.proc_root,
            ns(self.inode),
            ns(self.own_inode)
        )
    }
}

/// A user given by name or uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSpec {
    /// Numeric uid.
    Uid(u32),
    /// Account name.
    Name(String),
}

impl FromStr for UserSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("a user name or uid is missing".to_string());
        }
        Ok(match s.parse::<u32>() {
            Ok(uid) => UserSpec::Uid(uid),
            Err(_) => UserSpec::Name(s.to_string()),
        })
    }
}

#[cfg(test)]
impl ProcessInfo {
    /// A fixture for tests: process `pid` named `name`, everything else unknown.
    pub(crate) fn test_process(pid: u32, name: &str) -> ProcessInfo {
        ProcessInfo {
            name: Some(name.into()),
            ..ProcessInfo::unknown(pid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users() {
        assert_eq!("0".parse::<UserSpec>(), Ok(UserSpec::Uid(0)));
        assert_eq!(
            "www-data".parse::<UserSpec>(),
            Ok(UserSpec::Name("www-data".into()))
        );
        assert!("".parse::<UserSpec>().is_err());
    }
}
