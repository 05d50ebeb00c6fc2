//! Audit baselines for drift detection: the listeners of a known-good host (a golden image) and
//! the comparison that keeps only findings that are new or more exposed since.
//!
//! Pure: the file is read and written by the command; this module turns entries into a
//! [`Baseline`], text into a [`Baseline`], and compares. It must not touch the file system.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::analyze::audit::{Finding, process_names};
use crate::analyze::exposure::rank;
use crate::model::{AddrClass, Proto, SocketEntry};

/// Version of the baseline file format.
pub const BASELINE_SCHEMA_VERSION: u32 = 1;

/// A saved baseline (`--save-baseline`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`BASELINE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When it was recorded, Unix seconds.
    pub created: u64,
    /// Every listener at that time.
    pub listeners: Vec<Listener>,
}

/// One listener of a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// Transport protocol.
    pub proto: Proto,
    /// Bound address.
    pub local_address: IpAddr,
    /// Port.
    pub port: u16,
    /// Exposure class then.
    pub exposure: Option<AddrClass>,
    /// Wildcard bind.
    pub wildcard: bool,
    /// Names of the owning processes (informational; not used for matching, since upgrades and
    /// restarts change them).
    #[serde(default)]
    pub processes: Vec<String>,
}

/// How a finding relates to the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drift {
    /// Same listener, same or lower exposure: not reported.
    Unchanged,
    /// No listener with this protocol, address and port in the baseline.
    New,
    /// In the baseline, but with a lower exposure rank.
    MoreExposed,
}

impl Drift {
    /// `new` / `more_exposed` for JSON, `None` for unchanged.
    #[must_use]
    pub fn label(self) -> Option<&'static str> {
        match self {
            Drift::Unchanged => None,
            Drift::New => Some("new"),
            Drift::MoreExposed => Some("more_exposed"),
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
                .map(|e| Listener {
                    proto: e.proto,
                    local_address: e.local_address,
                    port: e.local_port,
                    exposure: e.exposure,
                    wildcard: e.wildcard,
                    processes: process_names(&e.processes),
                })
                .collect(),
        }
    }

    /// Parse a baseline file's text.
    ///
    /// # Errors
    /// A one-line message (with the line for malformed JSON) when the text is not a baseline
    /// or has another schema version.
    pub fn parse(text: &str) -> Result<Baseline, String> {
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
    /// protocol, address and port decides.
    #[must_use]
    pub fn drift(&self, f: &Finding) -> Drift {
        let before = self
            .listeners
            .iter()
            .filter(|l| {
                l.proto == f.proto && l.port == f.port && l.local_address == f.local_address
            })
            .map(|l| l.exposure.map_or(0, rank))
            .max();
        match before {
            None => Drift::New,
            Some(old) if f.exposure.map_or(0, rank) > old => Drift::MoreExposed,
            Some(_) => Drift::Unchanged,
        }
    }

    /// Keep only the findings that are new or more exposed, labelled in `baseline`; returns how
    /// many were dropped as unchanged.
    pub fn filter(&self, findings: &mut Vec<Finding>) -> usize {
        let before = findings.len();
        findings.retain_mut(|f| {
            let label = self.drift(f).label();
            f.baseline = label.map(str::to_owned);
            label.is_some()
        });
        before - findings.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::audit::{HostContext, findings};
    use crate::analyze::rules::RuleSet;

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
        let mut fs = findings(&now, RuleSet::builtin(), &HostContext::default());
        assert_eq!(fs.len(), 5);
        let dropped = base.filter(&mut fs);
        assert_eq!(dropped, 2);
        let mut kept: Vec<(u16, String, Option<String>)> = fs
            .iter()
            .map(|f| (f.port, f.local_address.to_string(), f.baseline.clone()))
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
        let less = findings(
            &[entry("::", 6379, LinkLocal)],
            RuleSet::builtin(),
            &HostContext::default(),
        );
        assert_eq!(base.drift(&less[0]), Drift::Unchanged);
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
