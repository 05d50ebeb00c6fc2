//! The audit allowlist: a TOML file of `[[allow]]` entries that suppress findings which are known
//! and accepted, each with a reason and optionally an expiry date. Also the tiny CIDR matcher the
//! `address` key uses.
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

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;
use toml::Spanned;

use crate::analyze::audit::Finding;
use crate::analyze::date::Date;
use crate::analyze::filter::{PortRange, parse_port};
use crate::model::Proto;

/// An IP network `addr/len`; a plain address is a `/32` or `/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address (host bits may be set; they are ignored).
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// True when `ip` lies in the network. IPv4-mapped IPv6 addresses count as IPv4; the other
    /// family never matches.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                net.to_bits() & mask == ip.to_bits() & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                net.to_bits() & mask == ip.to_bits() & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Parse `10.0.0.0/8`, `fd00::/8`, `192.168.1.5` or `::1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("\"{s}\" is not an IP address or CIDR such as 10.0.0.0/8 or fd00::/8");
        let (addr, len) = match s.trim().split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(text) => match text.parse::<u8>() {
                Ok(n) if n <= max && text.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(format!("\"{s}\": the prefix length must be 0 to {max}")),
            },
            None => max,
        };
        // A mapped address with a v6 prefix length is awkward; keep the simple families.
        Ok(Cidr { addr, len })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

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
        self.ports.contains(f.port)
            && self.proto.is_none_or(|p| p == f.proto)
            && self.address.is_none_or(|net| {
                net.contains(f.local_address) || f.exposure_address.is_some_and(|a| net.contains(a))
            })
            && self.process.as_ref().is_none_or(|want| {
                f.processes
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
        let mut s = format!("line {} (port {}", self.line, port_label(self.ports));
        if let Some(proto) = self.proto {
            s.push('/');
            s.push_str(proto.as_str());
        }
        s.push(')');
        s
    }
}

fn port_label(r: PortRange) -> String {
    if r.start == r.end {
        r.start.to_string()
    } else {
        format!("{}-{}", r.start, r.end)
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    allow: Vec<Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    port: Spanned<RawPort>,
    proto: Option<Proto>,
    address: Option<Spanned<String>>,
    process: Option<String>,
    reason: String,
    expires: Option<Spanned<RawDate>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPort {
    Number(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDate {
    Text(String),
    Toml(toml::value::Datetime),
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |before| {
        before.bytes().filter(|&b| b == b'\n').count() + 1
    })
}

impl Allowlist {
    /// Parse an allowlist file's text.
    ///
    /// # Errors
    /// [`AllowlistError`] naming the line when the text is not TOML, has unknown keys, lacks
    /// `port` or `reason`, or has a bad port, address or date.
    pub fn parse(text: &str) -> Result<Allowlist, AllowlistError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| AllowlistError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().replace('\n', " "),
        })?;
        let mut entries = Vec::with_capacity(raw.allow.len());
        for spanned in raw.allow {
            let line = line_of(text, spanned.span().start);
            let raw = spanned.into_inner();
            let err = |span: std::ops::Range<usize>, message: String| AllowlistError {
                line: Some(line_of(text, span.start)),
                message,
            };
            let port_span = raw.port.span();
            let ports = match raw.port.into_inner() {
                RawPort::Number(n) => {
                    let port = u16::try_from(n).ok().filter(|&p| p != 0).ok_or_else(|| {
                        err(
                            port_span.clone(),
                            format!("port {n} is not within 1..=65535"),
                        )
                    })?;
                    PortRange {
                        start: port,
                        end: port,
                    }
                }
                RawPort::Text(t) => {
                    let (a, b) = t.split_once('-').unwrap_or((&t, &t));
                    let start = parse_port(a).map_err(|m| err(port_span.clone(), m))?;
                    let end = parse_port(b).map_err(|m| err(port_span.clone(), m))?;
                    if start > end {
                        return Err(err(
                            port_span,
                            format!("port range \"{t}\" is backwards: write the lower port first"),
                        ));
                    }
                    PortRange { start, end }
                }
            };
            let address = match raw.address {
                Some(a) => {
                    let span = a.span();
                    Some(a.into_inner().parse::<Cidr>().map_err(|m| err(span, m))?)
                }
                None => None,
            };
            let expires = match raw.expires {
                Some(d) => {
                    let span = d.span();
                    let text = match d.into_inner() {
                        RawDate::Text(t) => t,
                        RawDate::Toml(dt) => dt.to_string(),
                    };
                    Some(text.parse::<Date>().map_err(|m| err(span, m))?)
                }
                None => None,
            };
            if raw.reason.trim().is_empty() {
                return Err(AllowlistError {
                    line: Some(line),
                    message: "\"reason\" is empty: say why this finding is accepted".to_owned(),
                });
            }
            if raw.process.as_ref().is_some_and(|p| p.trim().is_empty()) {
                return Err(AllowlistError {
                    line: Some(line),
                    message: "\"process\" is empty: name a process or drop the key".to_owned(),
                });
            }
            entries.push(Entry {
                line,
                ports,
                proto: raw.proto,
                address,
                process: raw.process,
                reason: raw.reason,
                expires,
            });
        }
        Ok(Allowlist { entries })
    }

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
    use super::*;
    use crate::analyze::audit::{HostContext, findings};
    use crate::analyze::rules::RuleSet;
    use crate::model::{AddrClass, ProcessInfo, SocketEntry, SocketState};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn finding(proto: Proto, addr: &str, port: u16, via: &str, name: &str) -> Finding {
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
        findings(&[entry], RuleSet::builtin(), &HostContext::default())
            .into_iter()
            .next()
            .unwrap()
    }

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_matching() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.1.2.3", "10.1.2.3", true),
            ("10.1.2.3", "10.1.2.4", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("0.0.0.0/0", "::1", false),
            ("0.0.0.0", "0.0.0.0", true),
            ("11.22.33.0/24", "::ffff:11.22.33.44", true),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
            ("::/0", "2001:db8::1", true),
            ("::", "::", true),
            ("192.168.1.77/24", "192.168.1.1", true),
        ];
        for &(net, addr, want) in cases {
            let cidr: Cidr = net.parse().unwrap();
            assert_eq!(cidr.contains(ip(addr)), want, "{net} ∋ {addr}");
        }
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0/8",
            "host",
            "10.0.0.0/",
            "1.2.3.4/-1",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_entries_with_lines() {
        let text = "# accepted exposures\n\n[[allow]]\nport = 23\nreason = \"lab\"\n\n\
                    [[allow]]\nport = \"6379-6380\"\nproto = \"tcp\"\naddress = \"10.0.0.0/8\"\n\
                    process = \"redis-server\"\nreason = \"cache\"\nexpires = \"2030-12-31\"\n\n\
                    [[allow]]\nport = 5432\nreason = \"db\"\nexpires = 2031-01-02\n";
        let list = Allowlist::parse(text).unwrap();
        assert_eq!(list.entries.len(), 3);
        let e = &list.entries[1];
        assert_eq!(e.line, 7);
        assert_eq!(
            e.ports,
            PortRange {
                start: 6379,
                end: 6380
            }
        );
        assert_eq!(e.proto, Some(Proto::Tcp));
        assert_eq!(e.address, Some("10.0.0.0/8".parse().unwrap()));
        assert_eq!(e.expires, Some(day("2030-12-31")));
        assert_eq!(list.entries[2].expires, Some(day("2031-01-02")));
        assert_eq!(Allowlist::parse("").unwrap(), Allowlist::default());
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[[allow]]\nport = 23\nreason = \"x\"\ncolour = \"red\"\n",
                4,
                "colour",
            ),
            ("[[allow]]\nport = 23\n", 1, "reason"),
            ("[[allow]]\nreason = \"x\"\n", 1, "port"),
            ("\n[[allow]]\nport = 70000\nreason = \"x\"\n", 3, "70000"),
            (
                "[[allow]]\nport = \"30-20\"\nreason = \"x\"\n",
                2,
                "backwards",
            ),
            ("[[allow]]\nport = \"abc\"\nreason = \"x\"\n", 2, "abc"),
            (
                "[[allow]]\nport = 1\naddress = \"10.0.0.0/40\"\nreason = \"x\"\n",
                3,
                "prefix",
            ),
            (
                "[[allow]]\nport = 1\nreason = \"x\"\nexpires = \"31.12.2030\"\n",
                4,
                "YYYY-MM-DD",
            ),
            (
                "[[allow]]\nport = 1\nreason = \"x\"\nexpires = \"2030-02-30\"\n",
                4,
                "calendar",
            ),
            ("[[allow]]\nport = 1\nreason = \" \"\n", 1, "reason"),
            (
                "[[allow]]\nport = 1\nproto = \"sctp\"\nreason = \"x\"\n",
                3,
                "sctp",
            ),
            ("[[allow]\nport = 1\n", 1, ""),
            ("[[allow]]\nport = 1\nreason = \"x\n", 3, ""),
            ("[[allowed]]\nport = 1\nreason = \"x\"\n", 1, "allowed"),
        ];
        for &(text, line, needle) in cases {
            let err = Allowlist::parse(text).unwrap_err();
            assert_eq!(err.line, Some(line), "{text:?}: {err}");
            let msg = err.to_string();
            assert!(msg.starts_with(&format!("line {line}: ")), "{msg}");
            assert!(msg.contains(needle), "{text:?}: {msg}");
            assert!(!msg.contains('\n'), "{msg:?}");
        }
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
