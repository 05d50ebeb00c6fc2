//! Snapshots of other hosts, as `portscope audit --from` reads them back: the listing of one
//! host (`portscope --json` taken there) with where it came from.
//!
//! Plain data: reading the files is `collect`'s, checking and parsing the text is
//! `analyze::fleet`'s; nothing here reads the system or decides anything.

use serde::Serialize;

use crate::model::{SocketEntry, UnixTime};

/// One host's snapshot, checked and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSnapshot {
    /// Where it came from.
    pub source: SnapshotSource,
    /// The listing's sockets, exposure already decided on that host.
    pub sockets: Vec<SocketEntry>,
    /// The listing's warnings (why that host's answer may be partial).
    pub warnings: Vec<String>,
}

/// Where a snapshot came from: the host it names and the file it was read from. Written in the
/// audit's JSON (`hosts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotSource {
    /// The host's name: the snapshot's `host`, or the file name when it names none (a snapshot
    /// of an older portscope, or a host whose name was unknown).
    pub host: String,
    /// True when `host` is the file name because the snapshot names no host.
    pub host_from_file: bool,
    /// The file, as given to `--from`.
    pub file: String,
    /// When the snapshot was taken; `None` when it does not say (an older portscope).
    #[serde(serialize_with = "taken_at")]
    pub taken_at: Option<UnixTime>,
    /// How many sockets it lists.
    pub sockets: usize,
}

fn taken_at<S: serde::Serializer>(time: &Option<UnixTime>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => s.serialize_str(&t.rfc3339()),
        None => s.serialize_none(),
    }
}
