//! Audit baselines for drift detection: the listeners of a known-good host (a golden image) and
//! the comparison that keeps only findings that are new or more exposed since.
//!
//! Pure: the file is read and written by the command; this module turns entries into a
//! [`Baseline`], text into a [`Baseline`], and compares. It must not touch the file system.

use std::net::IpAddr;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};

use crate::analyze::exposure::rank;
use crate::model::{AddrClass, Drift, Finding, HostSnapshot, Proto, SocketEntry, process_names};

/// Version of the baseline file format.
pub const BASELINE_SCHEMA_VERSION: u32 = 1;

/// A saved baseline (`--save-baseline`).
///
/// A baseline file is untrusted input: each field is read through a checker whose error says
/// what the field expects, in the user's words, instead of a Rust type name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    expecting = "a portscope baseline (a JSON object with schema_version, created and listeners)"
)]
pub struct Baseline {
    /// Always [`BASELINE_SCHEMA_VERSION`].
    #[serde(deserialize_with = "de_schema_version")]
    pub schema_version: u32,
    /// When it was recorded, Unix seconds.
    #[serde(deserialize_with = "de_created")]
    pub created: u64,
    /// Every listener at that time.
    pub listeners: Vec<Listener>,
}

/// One listener of a baseline.
///
/// Its own fields rather than a finding's flattened socket ([`crate::model::FindingSocket`]):
/// the file has `local_address` before `port`, process names instead of processes, and a checker
/// per field; and a flattened struct would be read from a buffer, so serde_json would report a
/// bad field at the end of its listener instead of at the field (`… at line L column C`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    expecting = "a listener (a JSON object with proto, local_address, port, exposure and wildcard)"
)]
pub struct Listener {
    /// The host, in a baseline recorded from snapshots (`audit --from … --save-baseline`): the
    /// listener then matches findings of that host only. Absent (a baseline of one machine, a
    /// golden image): it matches findings of every host.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_host"
    )]
    pub host: Option<String>,
    /// Transport protocol.
    #[serde(deserialize_with = "de_proto")]
    pub proto: Proto,
    /// Bound address.
    #[serde(deserialize_with = "de_local_address")]
    pub local_address: IpAddr,
    /// Port.
    #[serde(deserialize_with = "de_port")]
    pub port: u16,
    /// Exposure class then.
    #[serde(default, deserialize_with = "de_exposure")]
    pub exposure: Option<AddrClass>,
    /// Wildcard bind.
    #[serde(deserialize_with = "de_wildcard")]
    pub wildcard: bool,
    /// Names of the owning processes (informational; not used for matching, since upgrades and
    /// restarts change them).
    #[serde(default, deserialize_with = "de_processes")]
    pub processes: Vec<String>,
}

/// Read one field as JSON, then as `T`; on failure say `KEY: expected EXPECTED, found VALUE`.
fn checked<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
    key: &str,
    expected: &str,
) -> Result<T, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    T::deserialize(&value).map_err(|_| {
        D::Error::custom(format!(
            "{key}: expected {expected}, found {}",
            found(&value)
        ))
    })
}

/// A JSON value as quoted back in a message: strings cut at 40 characters, lists and objects
/// named.
pub(crate) fn found(value: &serde_json::Value) -> String {
    use serde_json::Value;
    let clip = |s: &str| match s.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    };
    match value {
        Value::String(s) => format!("\"{}\"", clip(s)),
        // A list or object is quoted as JSON too: "found [1]" says what is wrong inside it.
        other => clip(&other.to_string()),
    }
}

fn de_schema_version<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    checked(d, "schema_version", "a version number such as 1")
}

fn de_created<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    checked(d, "created", "a time in Unix seconds")
}

fn de_host<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, "host", "the host's name")
}

fn de_proto<'de, D: Deserializer<'de>>(d: D) -> Result<Proto, D::Error> {
    checked(d, "proto", "\"tcp\" or \"udp\"")
}

fn de_local_address<'de, D: Deserializer<'de>>(d: D) -> Result<IpAddr, D::Error> {
    checked(
        d,
        "local_address",
        "an IP address such as \"0.0.0.0\" or \"::1\"",
    )
}

fn de_port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    checked(d, "port", "a port number 0-65535")
}

fn de_exposure<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AddrClass>, D::Error> {
    checked(
        d,
        "exposure",
        "null or an exposure class (loopback, link_local, private, documentation, multicast, \
         reserved, public)",
    )
}

fn de_wildcard<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    checked(d, "wildcard", "true or false")
}

fn de_processes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    checked(d, "processes", "a list of process names")
}

impl Listener {
    /// The listener of an inventory row.
    #[must_use]
    pub fn of(entry: &SocketEntry) -> Listener {
        Listener {
            host: None,
            proto: entry.proto,
            local_address: entry.local_address,
            port: entry.local_port,
            exposure: entry.exposure,
            wildcard: entry.wildcard,
            processes: process_names(&entry.processes),
        }
    }
}

impl Baseline {
    /// Record the listeners of `entries`.
    #[must_use]
    pub fn from_entries(entries: &[SocketEntry], created: u64) -> Baseline {
        Baseline {
            schema_version: BASELINE_SCHEMA_VERSION,
            created,
            listeners: entries
                .iter()
                .filter(|e| e.state.is_listening())
                .map(Listener::of)
                .collect(),
        }
    }

    /// Record the listeners of every snapshot, each with its host.
    #[must_use]
    pub fn from_snapshots(snapshots: &[HostSnapshot], created: u64) -> Baseline {
        let listeners = snapshots
            .iter()
            .flat_map(|snap| {
                Baseline::from_entries(&snap.sockets, created)
                    .listeners
                    .into_iter()
                    .map(|l| Listener {
                        host: Some(snap.source.host.clone()),
                        ..l
                    })
            })
            .collect();
        Baseline {
            schema_version: BASELINE_SCHEMA_VERSION,
            created,
            listeners,
        }
    }

    /// Parse a baseline file's text.
    ///
    /// # Errors
    /// A one-line message (with the line for malformed JSON) when the text is not a baseline
    /// or has another schema version.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        // The shape first, in the user's words: serde's own messages for a wrong top-level or
        // listener type ("invalid length 0", "invalid type: integer") say nothing useful.
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("not a portscope baseline: not valid JSON: {e}"))?;
        let object = "a JSON object with schema_version, created and listeners";
        let Some(top) = value.as_object() else {
            return Err(format!(
                "not a portscope baseline: expected a portscope baseline ({object}), found {}",
                found(&value)
            ));
        };
        if let Some(listeners) = top.get("listeners").and_then(|l| l.as_array()) {
            if let Some((i, bad)) = listeners.iter().enumerate().find(|(_, l)| !l.is_object()) {
                return Err(format!(
                    "not a portscope baseline: listeners[{i}]: expected a listener (a JSON object \
                     with proto, local_address, port, exposure and wildcard), found {}",
                    found(bad)
                ));
            }
        }
        let baseline: Baseline = serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            // serde_json appends " at line L column C" itself.
            format!("not a portscope baseline: {msg}")
        })?;
        if baseline.schema_version != BASELINE_SCHEMA_VERSION {
            return Err(format!(
                "schema_version {} is not supported (expected {BASELINE_SCHEMA_VERSION}): \
                 record it again with --save-baseline",
                baseline.schema_version
            ));
        }
        Ok(baseline)
    }

    /// How `f` compares with the baseline: the most exposed baseline listener with the same
    /// protocol, address and port (and host, when both name one) decides.
    #[must_use]
    pub fn drift(&self, f: &Finding) -> Drift {
        let now = &f.socket;
        let before = self
            .listeners
            .iter()
            .filter(|l| {
                l.proto == now.proto
                    && l.port == now.port
                    && l.local_address == now.local_address
                    && (l.host.is_none() || f.host.is_none() || l.host == f.host)
            })
            .map(|l| l.exposure.map_or(0, rank))
            .max();
        match before {
            None => Drift::New,
            Some(old) if now.exposure.map_or(0, rank) > old => Drift::MoreExposed,
            Some(_) => Drift::Unchanged,
        }
    }

    /// Keep only the findings that are new or more exposed, their drift in `baseline`; returns
    /// how many were dropped as unchanged.
    pub fn filter(&self, findings: &mut Vec<Finding>) -> usize {
        let before = findings.len();
        findings.retain_mut(|f| {
            let drift = self.drift(f);
            f.baseline = Some(drift);
            drift != Drift::Unchanged
        });
        before - findings.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The findings a rule would make of `entries`: one per entry.
    fn findings(entries: &[SocketEntry]) -> Vec<Finding> {
        entries.iter().map(Finding::test_finding).collect()
    }

    fn entry(addr: &str, port: u16, exposure: AddrClass) -> SocketEntry {
        SocketEntry {
            exposure: Some(exposure),
            ..SocketEntry::test_listener(addr, port)
        }
    }

    #[test]
    fn new_and_more_exposed_are_kept() {
        use AddrClass::*;
        let golden = [
            entry("0.0.0.0", 23, Public),
            entry("::", 6379, Private),
            entry("10.0.0.1", 5432, Private),
        ];
        let base = Baseline::from_entries(&golden, 1_700_000_000);
        let text = serde_json::to_string(&base).unwrap();
        let base = Baseline::parse(&text).unwrap();
        assert_eq!(base.listeners.len(), 3);
        let now = [
            entry("0.0.0.0", 23, Public),       // unchanged
            entry("::", 6379, Public),          // a public IPv6 address appeared
            entry("10.0.0.1", 5432, Private),   // unchanged
            entry("11.22.33.44", 5432, Public), // new address
            entry("0.0.0.0", 3306, Public),     // new port
        ];
        let mut fs = findings(&now);
        assert_eq!(fs.len(), 5);
        let dropped = base.filter(&mut fs);
        assert_eq!(dropped, 2);
        let mut kept: Vec<(u16, String, Option<String>)> = fs
            .iter()
            .map(|f| {
                let drift = f.baseline.and_then(Drift::label).map(str::to_owned);
                (f.socket.port, f.socket.local_address.to_string(), drift)
            })
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            vec![
                (3306, "0.0.0.0".into(), Some("new".into())),
                (5432, "11.22.33.44".into(), Some("new".into())),
                (6379, "::".into(), Some("more_exposed".into())),
            ]
        );
        // Less exposed than before is not drift.
        let less = findings(&[entry("::", 6379, LinkLocal)]);
        assert_eq!(base.drift(&less[0]), Drift::Unchanged);
    }

    /// Issue 8: serde's own words ("unknown variant", "expected u16") reached the user.
    #[test]
    fn messages_say_what_was_expected() {
        let listener = |field: &str| {
            let mut l = serde_json::json!({
                "proto": "tcp", "local_address": "::", "port": 22,
                "exposure": "public", "wildcard": true
            });
            let (key, value) = field.split_once('=').unwrap();
            l[key] = serde_json::from_str(value).unwrap();
            format!("{{\"schema_version\":1,\"created\":0,\"listeners\":[{l}]}}")
        };
        let cases: &[(String, &str)] = &[
            (
                listener("proto=\"sctp\""),
                "proto: expected \"tcp\" or \"udp\", found \"sctp\"",
            ),
            (
                listener("port=70000"),
                "port: expected a port number 0-65535, found 70000",
            ),
            (
                listener("port=\"22\""),
                "port: expected a port number 0-65535, found \"22\"",
            ),
            (
                listener("local_address=\"host\""),
                "local_address: expected an IP address such as \"0.0.0.0\" or \"::1\", found \"host\"",
            ),
            (
                listener("exposure=\"space\""),
                "exposure: expected null or an exposure class",
            ),
            (
                listener("wildcard=1"),
                "wildcard: expected true or false, found 1",
            ),
            (
                listener("processes=[1]"),
                "processes: expected a list of process names, found [1]",
            ),
            (
                "{\"schema_version\":\"1\",\"created\":0,\"listeners\":[]}".to_owned(),
                "schema_version: expected a version number such as 1, found \"1\"",
            ),
            (
                "{\"schema_version\":1,\"created\":-1,\"listeners\":[]}".to_owned(),
                "created: expected a time in Unix seconds, found -1",
            ),
            (
                "[]".to_owned(),
                "expected a portscope baseline (a JSON object with schema_version, created and \
                 listeners), found []",
            ),
            (
                "{\"schema_version\":1,\"created\":0,\"listeners\":[1]}".to_owned(),
                "listeners[0]: expected a listener (a JSON object with proto, local_address, \
                 port, exposure and wildcard), found 1",
            ),
            (
                "{\"schema_version\":1,\"created\":1e400,\"listeners\":[]}".to_owned(),
                "not valid JSON: number out of range",
            ),
            (
                "{\"schema_version\":1,\"created\":0,\"listeners\":[5]}".to_owned(),
                "expected a listener (a JSON object",
            ),
        ];
        for (text, want) in cases {
            let err = Baseline::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
            for internal in [
                "variant",
                "u16",
                "u32",
                "u64",
                "struct",
                "Listener",
                "IpAddr",
                "invalid length",
                "invalid type",
            ] {
                assert!(!err.contains(internal), "{text}: {err}");
            }
        }
    }

    #[test]
    fn bad_files_are_rejected() {
        assert!(Baseline::parse("{").unwrap_err().contains("line 1"));
        assert!(Baseline::parse("[]").is_err());
        let err = Baseline::parse("{\"schema_version\": 9, \"created\": 0, \"listeners\": []}")
            .unwrap_err();
        assert!(err.contains("schema_version 9"), "{err}");
    }
}
