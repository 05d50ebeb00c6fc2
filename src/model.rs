//! The plain data every layer shares: sockets as the kernel reports them, the processes that own
//! them, interface addresses, the enriched rows that reach the renderers, and the labels
//! (`Display` wrappers) every output spells them with.
//!
//! Nothing here touches the operating system or formats for a terminal. Numbers stay numbers and
//! an unknown value is `None` (JSON `null`), never a placeholder string. One file per concept;
//! everything is re-exported here, so users write `crate::model::SocketEntry`.

mod audit;
mod check;
mod cidr;
mod date;
mod explain;
mod exposure;
mod firewall;
mod fleet;
mod host;
mod identify;
mod investigation;
mod iptables;
mod kill;
mod label;
mod netns;
mod outcome;
mod owner;
mod port;
mod process;
mod severity;
mod snapshot;
mod socket;
mod watch;

pub use audit::{
    AuditReport, Drift, Finding, FindingSocket, FirewallPathKind, Gate, HostContext, Published,
    Reachability, Reachable, Summary, process_names,
};
pub use check::{
    Cause, CauseCode, CheckTarget, ConnectOutcome, ConnectResult, ForeignListener, UnitFile,
    UnitHint, Zone, is_link_local_v6, parse_connect_timeout,
};
pub use cidr::Cidr;
pub use date::{Date, UnixTime, civil_from_days, rfc3339};
pub use explain::{ExplainQuery, Explanation, PortExplanation, PortRisk, ServiceName, SourceRef};
pub use exposure::{AddrClass, Exposure, InterfaceAddr, parse_exposure};
pub use firewall::{
    BaseHook, Chain, DecidedBy, Decision, Expr, FirewallText, FirewallVerdict, Key, MatchOp,
    NamedSet, NatTarget, NftFamily, Rule, Ruleset, RulesetSource, Value, Verdict,
};
pub use fleet::{HostSnapshot, SnapshotSource};
pub use host::{
    Ancestor, ExcludedPortRange, OwnerRaw, PortList, PortSettings, ProbeOutcome, ProbeResult,
    ProcIdentity,
};
pub use identify::{
    AuthState, Handshake, HandshakeLimits, HandshakeProbe, HandshakeReply, HandshakeStep,
    HandshakeTarget, ServiceSource, StepResult, sources_label,
};
pub use investigation::{Investigation, PortVerdict, TIME_WAIT_SECONDS};
pub use kill::{Os, Signal, SignalError, parse_timeout};
pub use label::{
    ClassName, Endpoint, ExposureLabel, HostAddr, LocalEnd, OwnerUnknownForm, OwnerUnknownLabel,
};
pub use netns::{NetnsFacts, NetnsInfo, NetnsSelection, NetnsTarget, Publication, PublisherKind};
pub use outcome::Outcome;
pub use owner::{CgroupInfo, Container, ContainerRuntime, Forwarder, ForwarderKind, OwnerDetails};
pub use port::{
    IanaRange, PortError, PortRange, PortRangeError, PortSpec, parse_port, parse_port_list,
    parse_port_spec,
};
pub use process::{OwnerUnknown, PidNamespace, ProcessInfo, UserSpec};
pub use severity::{ParseSeverityError, Severity, Why};
pub use snapshot::{Phases, Request, Snapshot, SocketKey, SocketQuery, StateSet};
pub use socket::{
    Family, FdRef, OwnerScan, Proto, RawSocket, SocketEntry, SocketState, parse_state,
};
pub use watch::{EventKind, WatchEvent};
