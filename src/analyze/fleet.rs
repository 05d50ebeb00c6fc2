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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddrClass, Drift, Severity};

    /// A snapshot document as `portscope --json` writes it, with `sockets`.
    fn doc(host: Option<&str>, sockets: &[SocketEntry]) -> String {
        let mut value = serde_json::json!({
            "schema_version": 1,
            "host": host,
            "taken_at": "2025-01-01T00:00:00Z",
            "sockets": sockets,
            "pid_namespace": null,
            "warnings": ["owners hidden"],
        });
        if host.is_none() {
            let top = value.as_object_mut().unwrap();
            top.remove("host");
            top.remove("taken_at");
        }
        value.to_string()
    }

    fn redis(addr: &str, exposure: AddrClass) -> SocketEntry {
        SocketEntry {
            exposure: Some(exposure),
            ..SocketEntry::test_listener(addr, 6379)
        }
    }

    #[test]
    fn a_snapshot_is_read_back() {
        let sockets = [redis("0.0.0.0", AddrClass::Public)];
        let snap = parse_snapshot(&doc(Some("web1"), &sockets), "snaps/web1.json").unwrap();
        assert_eq!(snap.sockets, sockets);
        assert_eq!(snap.warnings, ["owners hidden"]);
        assert_eq!(
            snap.source,
            SnapshotSource {
                host: "web1".into(),
                host_from_file: false,
                file: "snaps/web1.json".into(),
                taken_at: Some(UnixTime(1_735_689_600)),
                sockets: 1,
            }
        );
        // An older snapshot names no host and no time: the file name stands in.
        let old = parse_snapshot(&doc(None, &sockets), "snaps/db2.json").unwrap();
        assert_eq!(
            (old.source.host.as_str(), old.source.host_from_file),
            ("db2.json", true)
        );
        assert_eq!(old.source.taken_at, None);
        // What the listing writes today is accepted (a null or empty host too).
        for host in ["null", "\"\"", "\"  \""] {
            let text = format!(
                "{{\"schema_version\":1,\"host\":{host},\"taken_at\":null,\"sockets\":[]}}"
            );
            let snap = parse_snapshot(&text, "x.json").unwrap();
            assert_eq!(snap.source.host, "x.json", "{host}");
        }
    }

    #[test]
    fn a_bad_snapshot_is_one_line_saying_what_is_wrong() {
        let good = serde_json::to_value(redis("0.0.0.0", AddrClass::Public)).unwrap();
        let mut bad_state = good.clone();
        bad_state["state"] = "dancing".into();
        let mut no_port = good.clone();
        no_port.as_object_mut().unwrap().remove("local_port");
        let with =
            |sockets: serde_json::Value| format!("{{\"schema_version\":1,\"sockets\":{sockets}}}");
        // (text, what the message must say)
        let cases: Vec<(String, &str)> = vec![
            (
                "".into(),
                "not valid JSON: EOF while parsing a value at line 1 column 0",
            ),
            ("{\"schema_version\": 1,".into(), "not valid JSON"),
            (
                "[1, 2]".into(),
                "expected a JSON object made by `portscope --json`, found [1,2]",
            ),
            ("{\"sockets\": []}".into(), "no schema_version"),
            (
                "{\"schema_version\": \"1\", \"sockets\": []}".into(),
                "schema_version: expected a version number such as 1, found \"1\"",
            ),
            (
                "{\"schema_version\": 2, \"sockets\": []}".into(),
                "schema_version 2: made by a newer portscope (this one reads 1)",
            ),
            (
                "{\"schema_version\": 0, \"sockets\": []}".into(),
                "schema_version 0 is not supported",
            ),
            ("{\"schema_version\": 1}".into(), "no sockets list"),
            (
                "{\"schema_version\": 1, \"sockets\": {}}".into(),
                "sockets: expected a list of socket objects, found {}",
            ),
            (
                with(serde_json::json!([good, 7])),
                "sockets[1]: expected a socket object, found 7",
            ),
            (
                with(serde_json::json!([bad_state])),
                "sockets[0]: unknown variant `dancing`",
            ),
            (
                with(serde_json::json!([good, no_port])),
                "sockets[1]: missing field `local_port`",
            ),
            (
                "{\"schema_version\": 1, \"host\": 5, \"sockets\": []}".into(),
                "host: expected the host's name or null, found 5",
            ),
            (
                "{\"schema_version\": 1, \"taken_at\": \"yesterday\", \"sockets\": []}".into(),
                "taken_at: \"yesterday\" is not an RFC 3339 time",
            ),
            (
                "{\"schema_version\": 1, \"taken_at\": 17, \"sockets\": []}".into(),
                "taken_at: expected an RFC 3339 time",
            ),
            (
                "{\"schema_version\": 1, \"warnings\": [1], \"sockets\": []}".into(),
                "warnings: expected a list of strings, found [1]",
            ),
        ];
        for (text, want) in cases {
            let err = parse_snapshot(&text, "h.json").unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains('\n'), "{text}: {err}");
        }
    }

    #[test]
    fn findings_name_their_host_and_sort_by_it() {
        let snapshot = |host: &str, sockets: Vec<SocketEntry>| {
            parse_snapshot(&doc(Some(host), &sockets), &format!("{host}.json")).unwrap()
        };
        let snaps = [
            snapshot("web2", vec![redis("0.0.0.0", AddrClass::Public)]),
            snapshot(
                "web1",
                vec![
                    redis("10.0.0.5", AddrClass::Private),
                    redis("0.0.0.0", AddrClass::Public),
                ],
            ),
            snapshot("db", vec![redis("127.0.0.1", AddrClass::Loopback)]),
        ];
        let found = findings(&snaps, RuleSet::builtin());
        let rows: Vec<(&str, Severity, Option<AddrClass>)> = found
            .iter()
            .map(|f| (f.host.as_deref().unwrap(), f.severity, f.socket.exposure))
            .collect();
        let base = found[0].base_severity;
        assert!(base > Severity::Medium, "{base}");
        assert_eq!(rows.len(), 3, "{rows:?}");
        // Most severe first, then by host; the loopback Redis of db is no finding.
        assert_eq!(
            (rows[0].0, rows[1].0, rows[2].0),
            ("web1", "web2", "web1"),
            "{rows:?}"
        );
        assert_eq!(rows[2].2, Some(AddrClass::Private));

        // A baseline recorded from the snapshots matches per host; a host-less baseline (one
        // golden machine) matches every host.
        let fleet_baseline = crate::analyze::baseline::Baseline::from_snapshots(&snaps[1..2], 0);
        assert!(
            fleet_baseline
                .listeners
                .iter()
                .all(|l| l.host.as_deref() == Some("web1"))
        );
        let drift: Vec<Drift> = found.iter().map(|f| fleet_baseline.drift(f)).collect();
        assert_eq!(drift, [Drift::Unchanged, Drift::New, Drift::Unchanged]);
        let golden = crate::analyze::baseline::Baseline::from_entries(&snaps[0].sockets, 0);
        let drift: Vec<Drift> = found.iter().map(|f| golden.drift(f)).collect();
        assert_eq!(drift, [Drift::Unchanged, Drift::Unchanged, Drift::New]);
    }

    #[test]
    fn warnings_name_the_host() {
        let a = parse_snapshot(&doc(Some("web1"), &[]), "a.json").unwrap();
        let b = parse_snapshot(&doc(Some("web1"), &[]), "b.json").unwrap();
        let old = parse_snapshot(&doc(None, &[]), "dir/old.json").unwrap();
        assert_eq!(
            warnings(&[a, b, old]),
            [
                "host web1: owners hidden",
                "host web1: owners hidden",
                "host old.json: owners hidden",
                "snapshot dir/old.json names no host (made by an older portscope?): its \
                 findings name the file, old.json",
                "host web1 has 2 snapshots (a.json, b.json): its findings are reported for each",
            ]
        );
    }

    /// The schema read is the one written.
    #[test]
    fn reads_the_version_the_listing_writes() {
        assert_eq!(SNAPSHOT_SCHEMA_VERSION, crate::render::json::SCHEMA_VERSION);
    }
}
