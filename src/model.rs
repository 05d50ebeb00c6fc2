//! The plain data every layer shares: sockets as the kernel reports them, the processes that own
//! them, interface addresses, and the enriched rows that reach the renderers.
//!
//! Nothing here touches the operating system or formats for a terminal. Numbers stay numbers and
//! an unknown value is `None` (JSON `null`), never a placeholder string. One file per concept;
//! everything is re-exported here, so users write `crate::model::SocketEntry`.

mod exposure;
mod host_label;
mod investigation;
mod kill;
mod owner;
mod port;
mod process;
mod severity;
mod socket;

pub use exposure::{AddrClass, Exposure, InterfaceAddr, parse_exposure};
pub use host_label::HostLabel;
pub use investigation::{Investigation, PortVerdict, TIME_WAIT_SECONDS};
pub use kill::{Signal, parse_timeout};
pub use owner::{CgroupInfo, Container, ContainerRuntime, Forwarder, ForwarderKind, OwnerDetails};
pub use port::{PortRange, PortSpec, parse_port, parse_port_list, parse_port_spec};
pub use process::{OwnerUnknown, PidNamespace, ProcessInfo, UserSpec};
pub use severity::{ParseSeverityError, Severity, Why};
pub use socket::{
    Family, FdRef, OwnerScan, Proto, RawSocket, SocketEntry, SocketState, parse_state,
};
