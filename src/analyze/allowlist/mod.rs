//! The audit allowlist: a TOML file of `[[allow]]` entries that suppress findings which are known
//! and accepted, each with a reason and optionally an expiry date: the entries, what they match,
//! and how they mark findings. Reading the TOML text, with messages that name the line, is in
//! `parse.rs`.
//!
//! Pure: parsing takes the file's text and matching takes today's date, so this module must not
//! read files or the clock, and must not print; expired entries come back as warning texts.
//!
//! ```toml
//! [[allow]]
//! port = 6379            # or "6379-6380"; required
//! proto = "tcp"          # optional
//! address = "10.0.0.0/8" # optional: IP or CIDR, matched against the bound and the exposing address
//! process = "redis-server"  # optional: exact process name
//! reason = "internal cache, firewalled at the edge"  # required
//! expires = "2030-12-31" # optional: YYYY-MM-DD (UTC); afterwards it stops suppressing
//! ```

use crate::model::{Cidr, Date, Finding, PortRange, Proto};

mod parse;

/// One `[[allow]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Line of the entry in the file (1-based).
    pub line: usize,
    /// Ports covered.
    pub ports: PortRange,
    /// Protocol, or any.
    pub proto: Option<Proto>,
    /// Network of the bound or exposing address, or any.
    pub address: Option<Cidr>,
    /// Exact process name, or any.
    pub process: Option<String>,
    /// Why the finding is accepted.
    pub reason: String,
    /// Last day the entry suppresses (UTC), or forever.
    pub expires: Option<Date>,
}

impl Entry {
    /// True when the entry covers the finding (expiry not considered).
    #[must_use]
    pub fn matches(&self, f: &Finding) -> bool {
        let socket = &f.socket;
        self.ports.contains(socket.port)
            && self.proto.is_none_or(|p| p == socket.proto)
            && self.address.is_none_or(|net| {
                net.contains(socket.local_address)
                    || socket.exposure_address.is_some_and(|a| net.contains(a))
            })
            && self.process.as_ref().is_none_or(|want| {
                socket
                    .processes
                    .iter()
                    .any(|p| p.name.as_deref() == Some(want.as_str()))
            })
    }

    /// True when the entry no longer suppresses on `today`.
    #[must_use]
    pub fn expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|last| today > last)
    }

    fn describe(&self) -> String {
        let mut s = format!("line {} (port {}", self.line, self.ports);
        if let Some(proto) = self.proto {
            s.push('/');
            s.push_str(proto.as_str());
        }
        s.push(')');
        s
    }
}

/// A parsed allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    /// Entries in file order; the first match gives the reason.
    pub entries: Vec<Entry>,
}

/// Why an allowlist was rejected: a message and, when known, the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct AllowlistError {
    /// 1-based line of the problem.
    pub line: Option<usize>,
    /// What is wrong, in one line.
    pub message: String,
}

impl Allowlist {
    /// Mark the findings the allowlist covers as suppressed. Expired entries suppress nothing;
    /// each one gives a warning (whether or not it would have matched), returned in file order.
    pub fn apply(&self, findings: &mut [Finding], today: Date) -> Vec<String> {
        let mut warnings = Vec::new();
        for entry in &self.entries {
            if let (true, Some(last)) = (entry.expired(today), entry.expires) {
                warnings.push(format!(
                    "entry at {} expired on {last} and no longer suppresses anything: renew or \
                     remove it",
                    entry.describe()
                ));
            }
        }
        for f in findings.iter_mut() {
            if let Some(entry) = self
                .entries
                .iter()
                .find(|e| !e.expired(today) && e.matches(f))
            {
                f.suppressed = true;
                f.suppressed_reason = Some(entry.reason.clone());
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::model::{AddrClass, ProcessInfo, SocketEntry, SocketState};

    pub(super) fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    pub(super) fn finding(proto: Proto, addr: &str, port: u16, via: &str, name: &str) -> Finding {
        let entry = SocketEntry {
            proto,
            state: if proto == Proto::Tcp {
                SocketState::Listen
            } else {
                SocketState::Unconnected
            },
            processes: vec![ProcessInfo::test_process(5, name)],
            exposure: Some(AddrClass::Public),
            exposure_address: Some(ip(via)),
            ..SocketEntry::test_listener(addr, port)
        };
        Finding::test_finding(&entry)
    }

    pub(super) fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn matching_by_each_key() {
        let redis = finding(Proto::Tcp, "0.0.0.0", 6379, "11.22.33.44", "redis-server");
        let cases: &[(&str, bool)] = &[
            ("port = 6379", true),
            ("port = \"6000-7000\"", true),
            ("port = 6380", false),
            ("port = 6379\nproto = \"udp\"", false),
            ("port = 6379\nproto = \"tcp\"", true),
            ("port = 6379\naddress = \"0.0.0.0\"", true),
            ("port = 6379\naddress = \"11.22.33.0/24\"", true),
            ("port = 6379\naddress = \"10.0.0.0/8\"", false),
            ("port = 6379\nprocess = \"redis-server\"", true),
            ("port = 6379\nprocess = \"redis\"", false),
        ];
        for &(keys, want) in cases {
            let list = Allowlist::parse(&format!("[[allow]]\n{keys}\nreason = \"r\"\n")).unwrap();
            assert_eq!(list.entries[0].matches(&redis), want, "{keys}");
        }
    }

    #[test]
    fn expiry_stops_suppression_and_warns() {
        let text = "[[allow]]\nport = 23\nreason = \"until migration\"\nexpires = \"2025-06-30\"\n";
        let list = Allowlist::parse(text).unwrap();
        let fresh = || {
            vec![finding(
                Proto::Tcp,
                "11.22.33.44",
                23,
                "11.22.33.44",
                "inetd",
            )]
        };
        // Valid through the expiry day itself.
        let mut fs = fresh();
        assert!(list.apply(&mut fs, day("2025-06-30")).is_empty());
        assert!(fs[0].suppressed);
        assert_eq!(fs[0].suppressed_reason.as_deref(), Some("until migration"));
        let mut fs = fresh();
        let warnings = list.apply(&mut fs, day("2025-07-01"));
        assert!(!fs[0].suppressed && fs[0].suppressed_reason.is_none());
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("line 1 (port 23)") && warnings[0].contains("2025-06-30"),
            "{}",
            warnings[0]
        );
        // A later valid entry still suppresses.
        let text = format!("{text}\n[[allow]]\nport = 23\nreason = \"second\"\n");
        let mut fs = fresh();
        let warnings = Allowlist::parse(&text)
            .unwrap()
            .apply(&mut fs, day("2026-01-01"));
        assert_eq!(warnings.len(), 1);
        assert_eq!(fs[0].suppressed_reason.as_deref(), Some("second"));
    }
}
