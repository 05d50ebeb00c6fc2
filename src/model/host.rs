//! Facts about the host beyond its socket table, as a platform backend reports them: the port
//! sysctls, the outcome of a bind probe, the raw facts about one owning process (its cgroup
//! text and parent chain) and who a process is independently of the proc filesystem it is seen
//! through.
//!
//! Plain data: nothing here reads the system (the backends in `collect` fill these values) or
//! interprets them (`analyze` does: cgroup paths, advice, whom to signal).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Proto;

/// The kernel's port settings that matter when a bind fails. Each field is `None` where the
/// platform does not have the setting or it could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSettings {
    /// `net.ipv4.ip_local_port_range`: the ephemeral range for outgoing connections.
    pub ephemeral_range: Option<(u16, u16)>,
    /// `net.ipv4.ip_local_reserved_ports`, as written there (`8080,9000-9010`).
    pub reserved_ports: Option<String>,
    /// `net.ipv4.ip_unprivileged_port_start`: lower ports need privileges to bind.
    pub unprivileged_port_start: Option<u16>,
}

/// What the kernel said to one bind of the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// The bind succeeded: nothing on this address blocks the port.
    Free,
    /// EADDRINUSE: a socket (listener, bound socket or TIME_WAIT) blocks the bind.
    InUse,
    /// EACCES: binding needs privileges (below `net.ipv4.ip_unprivileged_port_start`).
    PermissionDenied,
    /// EADDRNOTAVAIL or EAFNOSUPPORT: the address is not configured (e.g. no IPv6).
    AddressUnavailable,
    /// Any other error (see `error`).
    Error,
}

impl ProbeOutcome {
    /// snake_case name as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeOutcome::Free => "free",
            ProbeOutcome::InUse => "in_use",
            ProbeOutcome::PermissionDenied => "permission_denied",
            ProbeOutcome::AddressUnavailable => "address_unavailable",
            ProbeOutcome::Error => "error",
        }
    }
}

/// One probed (protocol, address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Protocol probed.
    pub proto: Proto,
    /// Address probed.
    pub address: IpAddr,
    /// What happened.
    pub result: ProbeOutcome,
    /// The OS error text, `None` when the bind succeeded.
    pub error: Option<String>,
}

/// One ancestor of an owning process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    /// Process id.
    pub pid: u32,
    /// Its `comm` name, `None` when unreadable.
    pub name: Option<String>,
}

/// What the system says about one owner beyond [`super::ProcessInfo`]: on Linux,
/// `/proc/PID/cgroup` and the `stat` files of its parents. Empty where the platform cannot say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerRaw {
    /// Text of `/proc/PID/cgroup`.
    pub cgroup: Option<String>,
    /// Parent, grandparent, … up to and including pid 1 (or as far as readable).
    pub ancestors: Vec<Ancestor>,
    /// True for a kernel thread.
    pub kernel_thread: bool,
}

/// Who a process is, independently of the proc filesystem it is looked at through: what
/// `portscope kill` compares before it signals a pid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcIdentity {
    /// Inode of the process's own (innermost) PID namespace; `None` when `ns/pid` is
    /// unreadable (another user's process without privileges, a fixture tree) or the platform
    /// has no PID namespaces.
    pub ns: Option<u64>,
    /// Its pid in that namespace: the last `NSpid:` entry.
    pub ns_pid: Option<u32>,
    /// Start time in clock ticks since boot (`stat` field 22).
    pub start_ticks: Option<u64>,
}
