//! The audit of many hosts' snapshots (`portscope audit --from FILE...`): a snapshot's text
//! checked and parsed into a [`HostSnapshot`], and the findings of every host, each naming its
//! host.
//!
//! A snapshot is `portscope --json` taken on another host, so exposure is already decided there
//! (from that host's interfaces); the audit applies the same rules to its sockets
//! ([`crate::analyze::audit::findings`]). What a snapshot does not carry is not guessed: the
//! owners' cgroups (no units or containers are named) and the host's `route_localnet` sysctls.
//!
//! Snapshots are untrusted input: every problem is one line saying what is wrong, in the user's
//! words. Pure: the files are read by the command; nothing here reads the system or prints.

use serde::Deserialize;
use serde_json::Value;

use crate::analyze::audit;
use crate::analyze::baseline::found;
use crate::analyze::rules::RuleSet;
use crate::model::{Finding, HostContext, HostSnapshot, SnapshotSource, SocketEntry, UnixTime};

/// The newest listing schema this portscope reads (the version `portscope --json` writes).
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

/// What a snapshot is, for messages.
const WHAT: &str = "a JSON object made by `portscope --json`";

/// Check and parse the text of the snapshot read from `file` (the path as given, which names
/// the host when the snapshot does not).
///
/// # Errors
/// One line, without the file name (the caller adds it): not JSON (with the line and column),
/// not an object, no or a bad `schema_version`, a newer schema ("made by a newer portscope"),
/// no `sockets` list, a socket that is not a socket object (with its index), a bad `host`,
/// `taken_at` or `warnings`.
pub fn parse_snapshot(text: &str, file: &str) -> Result<HostSnapshot, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(top) = value.as_object() else {
        return Err(format!(
            "not a portscope snapshot: expected {WHAT}, found {}",
            found(&value)
        ));
    };
    let version = match top.get("schema_version") {
        None => {
            return Err(format!(
                "not a portscope snapshot: no schema_version (expected {WHAT})"
            ));
        }
        Some(v) => v.as_u64().ok_or_else(|| {
            format!(
                "schema_version: expected a version number such as 1, found {}",
                found(v)
            )
        })?,
    };
    if version > u64::from(SNAPSHOT_SCHEMA_VERSION) {
        return Err(format!(
            "schema_version {version}: made by a newer portscope (this one reads \
             {SNAPSHOT_SCHEMA_VERSION}); upgrade portscope where the audit runs"
        ));
    }
    if version < 1 {
        return Err(format!(
            "schema_version {version} is not supported (expected {SNAPSHOT_SCHEMA_VERSION})"
        ));
    }
    let sockets = match top.get("sockets") {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, s)| socket(i, s))
            .collect::<Result<Vec<SocketEntry>, String>>()?,
        Some(other) => {
            return Err(format!(
                "sockets: expected a list of socket objects, found {}",
                found(other)
            ));
        }
        None => {
            return Err(format!(
                "not a portscope snapshot: no sockets list (expected {WHAT})"
            ));
        }
    };
    let host = match top.get("host") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if name.trim().is_empty() => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => {
            return Err(format!(
                "host: expected the host's name or null, found {}",
                found(other)
            ));
        }
    };
    let taken_at = match top.get("taken_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(UnixTime::parse_rfc3339(text).map_err(|e| format!("taken_at: {e}"))?)
        }
        Some(other) => {
            return Err(format!(
                "taken_at: expected an RFC 3339 time such as 2025-01-02T03:04:05Z, found {}",
                found(other)
            ));
        }
    };
    let warnings = match top.get("warnings") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => Vec::<String>::deserialize(v)
            .map_err(|_| format!("warnings: expected a list of strings, found {}", found(v)))?,
    };
    let host_from_file = host.is_none();
    Ok(HostSnapshot {
        source: SnapshotSource {
            host: host.unwrap_or_else(|| file_host(file)),
            host_from_file,
            file: file.to_owned(),
            taken_at,
            sockets: sockets.len(),
        },
        sockets,
        warnings,
    })
}

/// One socket object of a snapshot.
fn socket(i: usize, value: &Value) -> Result<SocketEntry, String> {
    if !value.is_object() {
        return Err(format!(
            "sockets[{i}]: expected a socket object, found {}",
            found(value)
        ));
    }
    SocketEntry::deserialize(value).map_err(|e| format!("sockets[{i}]: {e}"))
}

/// The name standing in for the host of a snapshot that names none: the file's name (its last
/// path component), the path itself when it has none.
#[must_use]
pub fn file_host(file: &str) -> String {
    std::path::Path::new(file)
        .file_name()
        .map_or_else(|| file.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The findings of every snapshot, each naming its host, most severe first, then by host (then
/// as [`audit::sort`] orders). The rules are those of the live audit; the host context is empty
/// (a snapshot does not carry `route_localnet`).
#[must_use]
pub fn findings(snapshots: &[HostSnapshot], rules: &RuleSet) -> Vec<Finding> {
    let mut all: Vec<Finding> = snapshots
        .iter()
        .flat_map(|snap| {
            audit::findings(&snap.sockets, rules, &HostContext::default())
                .into_iter()
                .map(|f| Finding {
                    host: Some(snap.source.host.clone()),
                    ..f
                })
        })
        .collect();
    audit::sort(&mut all);
    all
}

/// The warnings of the snapshots, each naming its host, then one per snapshot that names no
/// host and one per host named by more than one snapshot.
#[must_use]
pub fn warnings(snapshots: &[HostSnapshot]) -> Vec<String> {
    let mut out = Vec::new();
    for snap in snapshots {
        let s = &snap.source;
        out.extend(
            snap.warnings
                .iter()
                .map(|w| format!("host {}: {w}", s.host)),
        );
        if s.host_from_file {
            out.push(format!(
                "snapshot {} names no host (made by an older portscope?): its findings name the \
                 file, {}",
                s.file, s.host
            ));
        }
    }
    for (i, snap) in snapshots.iter().enumerate() {
        let host = &snap.source.host;
        let first = snapshots.iter().position(|o| &o.source.host == host);
        if first == Some(i) {
            let files: Vec<&str> = snapshots
                .iter()
                .filter(|o| &o.source.host == host)
                .map(|o| o.source.file.as_str())
                .collect();
            if files.len() > 1 {
                out.push(format!(
                    "host {host} has {} snapshots ({}): its findings are reported for each",
                    files.len(),
                    files.join(", ")
                ));
            }
        }
    }
    out
}
