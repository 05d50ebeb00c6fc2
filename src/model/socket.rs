//! Sockets: as the kernel's table reports them ([`RawSocket`]), who holds them ([`OwnerScan`]),
//! and the enriched row every renderer and `--json` sees ([`SocketEntry`]).
//!
//! Plain data: nothing here touches the operating system or formats for a terminal.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{AddrClass, Handshake, IanaRange, NetnsInfo, OwnerUnknown, ProcessInfo, ServiceSource};

/// Transport protocol of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// Lower-case name as used in the CLI, JSON and `/etc/services`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Address family of a socket (not of the address shown: an IPv6 socket bound to `::ffff:a.b.c.d`
/// is `Ipv6` while its address is shown as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// AF_INET.
    Ipv4,
    /// AF_INET6.
    Ipv6,
}

impl Family {
    /// `"ipv4"` or `"ipv6"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// Socket state. TCP states carry the kernel's names; a bound, unconnected UDP socket is
/// `Unconnected` and a connected UDP socket is `Established`, as `ss` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SocketState {
    /// TCP_LISTEN.
    Listen,
    /// UDP socket with no remote end (kernel state TCP_CLOSE on a UDP socket).
    Unconnected,
    /// TCP_ESTABLISHED, or a connected UDP socket.
    Established,
    /// TCP_SYN_SENT.
    SynSent,
    /// TCP_SYN_RECV.
    SynRecv,
    /// TCP_FIN_WAIT1.
    FinWait1,
    /// TCP_FIN_WAIT2.
    FinWait2,
    /// TCP_TIME_WAIT.
    TimeWait,
    /// A TCP socket that is bound to a port but neither listening nor connected (a server
    /// between `bind` and `listen`, a client that bound before `connect`). Kernels since 6.5
    /// list these when asked for the pseudo-state TCP_BOUND_INACTIVE (13) and report them in
    /// state TCP_CLOSE (7); older kernels do not list them at all.
    Bound,
    /// TCP_CLOSE_WAIT.
    CloseWait,
    /// TCP_LAST_ACK.
    LastAck,
    /// TCP_CLOSING.
    Closing,
    /// TCP_NEW_SYN_RECV (a request socket of a listener).
    NewSynRecv,
}

impl SocketState {
    /// Every state, in the order used for parsing and help texts.
    pub const ALL: [SocketState; 13] = [
        SocketState::Listen,
        SocketState::Unconnected,
        SocketState::Established,
        SocketState::SynSent,
        SocketState::SynRecv,
        SocketState::FinWait1,
        SocketState::FinWait2,
        SocketState::TimeWait,
        SocketState::Bound,
        SocketState::CloseWait,
        SocketState::LastAck,
        SocketState::Closing,
        SocketState::NewSynRecv,
    ];

    /// True when a socket of `proto` can be in this state: UDP sockets are only `unconnected`
    /// or `established`, TCP sockets never `unconnected`.
    #[must_use]
    pub fn occurs_in(self, proto: Proto) -> bool {
        match proto {
            Proto::Udp => matches!(self, SocketState::Unconnected | SocketState::Established),
            Proto::Tcp => self != SocketState::Unconnected,
        }
    }

    /// The snake_case name used in JSON and accepted by `--state`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SocketState::Listen => "listen",
            SocketState::Unconnected => "unconnected",
            SocketState::Established => "established",
            SocketState::SynSent => "syn_sent",
            SocketState::SynRecv => "syn_recv",
            SocketState::FinWait1 => "fin_wait1",
            SocketState::FinWait2 => "fin_wait2",
            SocketState::TimeWait => "time_wait",
            SocketState::Bound => "bound",
            SocketState::CloseWait => "close_wait",
            SocketState::LastAck => "last_ack",
            SocketState::Closing => "closing",
            SocketState::NewSynRecv => "new_syn_recv",
        }
    }

    /// True for the states of the default (listening) view.
    #[must_use]
    pub fn is_listening(self) -> bool {
        matches!(self, SocketState::Listen | SocketState::Unconnected)
    }
}

impl std::fmt::Display for SocketState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One socket as the kernel's socket table reports it, before any owner lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSocket {
    /// Transport protocol.
    pub proto: Proto,
    /// Address family of the socket.
    pub family: Family,
    /// State (see [`SocketState`]).
    pub state: SocketState,
    /// Local address, IPv4-mapped IPv6 addresses already canonicalised to IPv4.
    pub local_addr: IpAddr,
    /// Local port.
    pub local_port: u16,
    /// Remote address, `None` when there is no remote end (listeners, unconnected UDP).
    pub remote_addr: Option<IpAddr>,
    /// Remote port, `None` when there is no remote end.
    pub remote_port: Option<u16>,
    /// Owning uid of the socket (visible without privileges); `None` for the kernel's mini
    /// sockets (TIME_WAIT, a connection request in SYN_RECV), whose reply carries no uid.
    pub uid: Option<u32>,
    /// Socket inode; `Some(0)` for sockets no file refers to (TIME_WAIT, kernel sockets),
    /// `None` where the backend cannot know it (netstat2 on Windows and macOS).
    pub inode: Option<u64>,
    /// Interface index of a device-bound socket (`SO_BINDTODEVICE`, or a scoped link-local bind).
    pub bound_ifindex: Option<u32>,
    /// IPV6_V6ONLY of an IPv6 socket; `None` for IPv4 sockets or when the kernel did not say.
    pub v6only: Option<bool>,
    /// The inode of the network namespace the socket lives in, when the run reads other
    /// namespaces (`--netns`, `--all-netns`); `None` when only portscope's own is read.
    pub netns: Option<u64>,
}

/// One (process, file descriptor) that holds a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FdRef {
    /// Process id.
    pub pid: u32,
    /// File descriptor number in that process; `None` where the OS does not say (not Linux).
    pub fd: Option<u32>,
}

/// Who holds the sockets: on Linux the result of the one pass over `/proc/*/fd` (every holder
/// of every socket inode, and what could not be read); with netstat2 the pids its socket table
/// reports for each row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerScan {
    /// Socket inode → every (pid, fd) holding it, sorted.
    pub by_inode: HashMap<u64, Vec<FdRef>>,
    /// For sockets without a known inode ([`RawSocket::inode`] `None`): the socket's
    /// [`super::SocketKey`] and state → every pid the socket table names for that row.
    pub by_socket: HashMap<(super::SocketKey, SocketState), Vec<FdRef>>,
    /// True when the owners come from the socket table itself (netstat2) rather than a scan of
    /// every process: a socket without holders then has none *reported*
    /// ([`OwnerUnknown::NotReported`](super::OwnerUnknown::NotReported)).
    pub from_table: bool,
    /// Processes whose fd table was read.
    pub processes_scanned: usize,
    /// Processes whose fd table (or some of its links) could not be read: permission denied.
    pub denied: Vec<u32>,
    /// Processes that exited during the scan.
    pub vanished: usize,
    /// False when the scan was skipped on request (`--no-owners`).
    pub performed: bool,
}

/// A fully enriched socket row as the renderers and `--json` see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocketEntry {
    /// Transport protocol.
    pub proto: Proto,
    /// Socket family.
    pub family: Family,
    /// Local address (IPv4-mapped shown as IPv4).
    pub local_address: IpAddr,
    /// Local port.
    pub local_port: u16,
    /// Remote address or `None`.
    pub remote_address: Option<IpAddr>,
    /// Remote port or `None`.
    pub remote_port: Option<u16>,
    /// State.
    pub state: SocketState,
    /// For an IPv6 wildcard socket: true when it accepts IPv4 too (not v6-only). `None` where it
    /// does not apply (IPv4 sockets, specific addresses).
    pub dual_stack: Option<bool>,
    /// Bound device name, or `None`.
    pub interface: Option<String>,
    /// Socket owner uid; `None` when the kernel does not say (TIME_WAIT, SYN_RECV requests).
    pub uid: Option<u32>,
    /// Name of that uid, `None` when it has none or the uid is unknown.
    pub user: Option<String>,
    /// Socket inode (0 for TIME_WAIT and kernel sockets); `null` where the platform does not
    /// report one (Windows, macOS).
    pub inode: Option<u64>,
    /// Every process holding the socket, sorted by pid.
    pub processes: Vec<ProcessInfo>,
    /// Why `processes` is empty, or `None` when it is not.
    pub owner_unknown_reason: Option<OwnerUnknown>,
    /// Service name: the owning process's when the owner table knows it, else the port's
    /// (or, with `--identify`, what the handshake showed); `None` when nothing names it.
    pub service: Option<String>,
    /// How `service` was identified, weakest first: `["port"]`, `["process"]`,
    /// `["process", "handshake"]`; empty when there is no service. Read as empty from JSON
    /// written before the field existed.
    #[serde(default)]
    pub service_source: Vec<ServiceSource>,
    /// What a local handshake saw (`--identify`); absent from JSON without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<Handshake>,
    /// IANA range of the port: `system` (0–1023), `registered` (1024–49151), `dynamic`.
    pub port_range: IanaRange,
    /// Exposure class (see [`super::Exposure::class`]).
    pub exposure: Option<AddrClass>,
    /// The address that makes the socket as exposed as `exposure` says.
    pub exposure_address: Option<IpAddr>,
    /// The interface carrying `exposure_address`.
    pub exposure_interface: Option<String>,
    /// True for a wildcard bind.
    pub wildcard: bool,
    /// The network namespace the socket lives in when the run reads other namespaces
    /// (`--netns`, `--all-netns`); `null` when only portscope's own is read. Missing in
    /// documents written before it existed (read as `null`).
    #[serde(default)]
    pub netns: Option<NetnsInfo>,
}

#[cfg(test)]
impl SocketEntry {
    /// A fixture for tests: a TCP listener on `addr:port` (UDP callers change `proto` and
    /// `state`), owned by nobody known, loopback-exposed, in the registered port range whatever
    /// the port; adjust fields with struct update syntax.
    pub(crate) fn test_listener(addr: &str, port: u16) -> SocketEntry {
        let local: IpAddr = addr.parse().expect("fixture address");
        SocketEntry {
            proto: Proto::Tcp,
            family: if local.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            local_address: local,
            local_port: port,
            remote_address: None,
            remote_port: None,
            state: SocketState::Listen,
            dual_stack: None,
            interface: None,
            uid: Some(0),
            user: None,
            inode: Some(1),
            processes: Vec::new(),
            owner_unknown_reason: None,
            service: None,
            service_source: Vec::new(),
            handshake: None,
            port_range: IanaRange::Registered,
            exposure: Some(AddrClass::Loopback),
            exposure_address: None,
            exposure_interface: None,
            wildcard: local.is_unspecified(),
            netns: None,
        }
    }
}

/// Parse a state name as JSON spells it (`time_wait`); `-` may stand for `_` and case is ignored.
///
/// # Errors
/// A message listing the accepted names.
pub fn parse_state(text: &str) -> Result<SocketState, String> {
    let norm = text.trim().to_ascii_lowercase().replace('-', "_");
    let norm = match norm.as_str() {
        "estab" => "established".to_string(),
        "unconn" => "unconnected".to_string(),
        // ss's names for a bound TCP socket; portscope's `bound` was called `close` before.
        "close" | "bound_inactive" => "bound".to_string(),
        _ => norm,
    };
    SocketState::ALL
        .into_iter()
        .find(|s| s.as_str() == norm)
        .ok_or_else(|| {
            let names: Vec<&str> = SocketState::ALL.iter().map(|s| s.as_str()).collect();
            format!(
                "unknown state '{text}': expected one of {}",
                names.join(", ")
            )
        })
}
