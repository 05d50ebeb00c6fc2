//! The data of `portscope watch`: what happened to a socket between two polls ([`WatchEvent`]).
//!
//! Plain data: nothing here polls, compares or formats for a terminal (the events are made by
//! `analyze::watch`, written by `render::watch`). The JSON names of [`EventKind`] are part of
//! the `portscope watch --json` contract (docs/json.md).

use serde::{Deserialize, Serialize};

use crate::model::{Finding, SocketEntry};

/// What happened. JSON: `opened`, `closed`, `owner_changed`, `exposure_changed`, `finding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A socket that was not there at the previous poll.
    Opened,
    /// A socket that was there at the previous poll and is gone.
    Closed,
    /// The set of processes holding the socket changed (by pid).
    OwnerChanged,
    /// The socket's exposure changed: an interface address it covers came or went.
    ExposureChanged,
    /// An audit finding about a socket that opened or became more exposed (`--audit`).
    Finding,
}

impl EventKind {
    /// The JSON name, also the table's EVENT cell.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Closed => "closed",
            EventKind::OwnerChanged => "owner_changed",
            EventKind::ExposureChanged => "exposure_changed",
            EventKind::Finding => "finding",
        }
    }
}

/// One event of `portscope watch`: the socket as it is now (as it was last seen, for
/// [`EventKind::Closed`]) and, for a change, as it was before.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventKind,
    /// The socket, as the listing shows it.
    pub socket: SocketEntry,
    /// The socket at the previous poll, for [`EventKind::OwnerChanged`] and
    /// [`EventKind::ExposureChanged`]; `None` otherwise.
    pub previous: Option<SocketEntry>,
    /// The finding, for [`EventKind::Finding`]; `None` otherwise.
    pub finding: Option<Finding>,
}

impl WatchEvent {
    /// An event of `kind` about `socket`, without a previous state or finding.
    #[must_use]
    pub fn new(kind: EventKind, socket: SocketEntry) -> WatchEvent {
        WatchEvent {
            kind,
            socket,
            previous: None,
            finding: None,
        }
    }
}
