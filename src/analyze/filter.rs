//! Filters of the listing views and the parsers of their values (`--port 22,80,8000-8100`,
//! `--state`, `--exposure`, `--user`).
//!
//! Pure. Filters that only need the socket table run before the owner lookup
//! ([`Filter::keep_raw`]), the others afterwards ([`Filter::keep_entry`]).

use std::str::FromStr;

use crate::analyze::exposure;
use crate::model::{AddrClass, Proto, RawSocket, SocketEntry, SocketState};

pub use crate::model::PortRange;

/// Parse one port: a number from 1 to 65535.
///
/// # Errors
/// A message naming the value when it is not such a number.
pub fn parse_port(text: &str) -> Result<u16, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("a port is missing: give a number from 1 to 65535".to_string());
    }
    match t.parse::<u64>() {
        Ok(0) => Err(format!("'{t}' is not a usable port: ports are 1 to 65535")),
        Ok(n) => {
            u16::try_from(n).map_err(|_| format!("'{t}' is out of range: ports are 1 to 65535"))
        }
        Err(_) if t.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("'{t}' is out of range: ports are 1 to 65535"))
        }
        Err(_) => Err(format!(
            "'{t}' is not a port number: give a number from 1 to 65535"
        )),
    }
}

/// A port with an optional protocol: `8080`, `8080/tcp`, `53/udp` (the argument of `who` and
/// `kill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// The port.
    pub port: u16,
    /// The protocol asked for; `None` means both.
    pub proto: Option<Proto>,
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.proto {
            Some(p) => write!(f, "{}/{p}", self.port),
            None => write!(f, "{}", self.port),
        }
    }
}

/// Parse `PORT[/tcp|/udp]`.
///
/// # Errors
/// A message naming the value when the port or the suffix is not valid.
pub fn parse_port_spec(text: &str) -> Result<PortSpec, String> {
    let t = text.trim();
    let (port, proto) = match t.split_once('/') {
        Some((port, suffix)) => {
            let proto = match suffix.to_ascii_lowercase().as_str() {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                _ => {
                    return Err(format!(
                        "'{t}' has an unknown protocol '{suffix}': write PORT, PORT/tcp or PORT/udp"
                    ));
                }
            };
            (port, Some(proto))
        }
        None => (t, None),
    };
    Ok(PortSpec {
        port: parse_port(port)?,
        proto,
    })
}

/// Parse a port list such as `22,80,8000-8100`.
///
/// # Errors
/// A message naming the offending item.
pub fn parse_port_list(text: &str) -> Result<Vec<PortRange>, String> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.starts_with('-') {
            return Err(format!("'{item}' is not a port: ports are 1 to 65535"));
        }
        if let Some((a, b)) = item.split_once('-') {
            let (start, end) = (parse_port(a)?, parse_port(b)?);
            if start > end {
                return Err(format!(
                    "range '{item}' is backwards: write the lower port first"
                ));
            }
            out.push(PortRange { start, end });
        } else {
            let port = parse_port(item)?;
            out.push(PortRange {
                start: port,
                end: port,
            });
        }
    }
    Ok(out)
}

/// Parse a state name as JSON spells it (`time_wait`); `-` may stand for `_` and case is ignored.
///
/// # Errors
/// A message listing the accepted names.
pub fn parse_state(text: &str) -> Result<SocketState, String> {
    let norm = text.trim().to_ascii_lowercase().replace('-', "_");
    let norm = match norm.as_str() {
        "estab" => "established".to_string(),
        "unconn" => "unconnected".to_string(),
        // ss's names for a bound TCP socket; portscope's `bound` was called `close` before.
        "close" | "bound_inactive" => "bound".to_string(),
        _ => norm,
    };
    SocketState::ALL
        .into_iter()
        .find(|s| s.as_str() == norm)
        .ok_or_else(|| {
            let names: Vec<&str> = SocketState::ALL.iter().map(|s| s.as_str()).collect();
            format!(
                "unknown state '{text}': expected one of {}",
                names.join(", ")
            )
        })
}

/// Parse an exposure class (`public`, `private`, `link_local` or `link-local`, `loopback`, …).
///
/// # Errors
/// A message listing the accepted names.
pub fn parse_exposure(text: &str) -> Result<AddrClass, String> {
    const ALL: [AddrClass; 7] = [
        AddrClass::Loopback,
        AddrClass::LinkLocal,
        AddrClass::Private,
        AddrClass::Documentation,
        AddrClass::Multicast,
        AddrClass::Reserved,
        AddrClass::Public,
    ];
    let norm = text.trim().to_ascii_lowercase().replace('-', "_");
    ALL.into_iter().find(|c| c.as_str() == norm).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|c| c.as_str()).collect();
        format!(
            "unknown exposure '{text}': expected one of {}",
            names.join(", ")
        )
    })
}

/// Parse a pid: a positive number.
///
/// # Errors
/// A message naming the value.
pub fn parse_pid(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err(format!("'{text}' is not a pid: give a positive number")),
        Ok(pid) => Ok(pid),
    }
}

/// Parse a process name for `--process`: not empty.
///
/// # Errors
/// When the name is empty.
pub fn parse_process_name(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        Err("a process name is missing".to_string())
    } else {
        Ok(t.to_string())
    }
}

/// A user given by name or uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSpec {
    /// Numeric uid.
    Uid(u32),
    /// Account name.
    Name(String),
}

impl FromStr for UserSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("a user name or uid is missing".to_string());
        }
        Ok(match s.parse::<u32>() {
            Ok(uid) => UserSpec::Uid(uid),
            Err(_) => UserSpec::Name(s.to_string()),
        })
    }
}

/// Every filter of the listing views; an empty list means "no restriction".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Local port ranges.
    pub ports: Vec<PortRange>,
    /// Owning pids.
    pub pids: Vec<u32>,
    /// Process names (exact, or a substring of the name when no exact match exists).
    pub processes: Vec<String>,
    /// Socket owner or process owner.
    pub users: Vec<UserSpec>,
    /// States.
    pub states: Vec<SocketState>,
    /// Exposure: sockets exposed at least as far as one of these classes (by
    /// [`exposure::rank`]; in practice the least far one given).
    pub exposure: Vec<AddrClass>,
    /// Protocols (empty: both).
    pub protos: Vec<Proto>,
}

impl Filter {
    /// True when the filter needs owners to decide (pid, process or user given by process).
    #[must_use]
    pub fn needs_owners(&self) -> bool {
        !self.pids.is_empty() || !self.processes.is_empty() || !self.users.is_empty()
    }

    /// Pre-filter on the raw socket: port, protocol and state.
    #[must_use]
    pub fn keep_raw(&self, sock: &RawSocket) -> bool {
        (self.ports.is_empty() || self.ports.iter().any(|r| r.contains(sock.local_port)))
            && (self.protos.is_empty() || self.protos.contains(&sock.proto))
            && (self.states.is_empty() || self.states.contains(&sock.state))
    }

    /// Post-filter on the enriched row: owners, users and exposure.
    #[must_use]
    pub fn keep_entry(&self, entry: &SocketEntry) -> bool {
        let pid_ok =
            self.pids.is_empty() || entry.processes.iter().any(|p| self.pids.contains(&p.pid));
        let proc_ok = self.processes.is_empty()
            || entry.processes.iter().any(|p| {
                p.name.as_deref().is_some_and(|name| {
                    self.processes
                        .iter()
                        .any(|want| name == want || name.contains(want.as_str()))
                })
            });
        let user_ok = self.users.is_empty()
            || self.users.iter().any(|u| match u {
                UserSpec::Uid(uid) => {
                    entry.uid == Some(*uid) || entry.processes.iter().any(|p| p.uid == Some(*uid))
                }
                UserSpec::Name(name) => {
                    entry.user.as_deref() == Some(name.as_str())
                        || entry
                            .processes
                            .iter()
                            .any(|p| p.user.as_deref() == Some(name.as_str()))
                }
            });
        let exposure_ok = self.exposure.is_empty()
            || entry.exposure.is_some_and(|class| {
                self.exposure
                    .iter()
                    .any(|&floor| exposure::rank(class) >= exposure::rank(floor))
            });
        pid_ok && proc_ok && user_ok && exposure_ok && self.keep_raw_entry(entry)
    }

    fn keep_raw_entry(&self, entry: &SocketEntry) -> bool {
        (self.ports.is_empty() || self.ports.iter().any(|r| r.contains(entry.local_port)))
            && (self.protos.is_empty() || self.protos.contains(&entry.proto))
            && (self.states.is_empty() || self.states.contains(&entry.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists() {
        type Case<'a> = (&'a str, Result<Vec<(u16, u16)>, &'a str>);
        let cases: &[Case] = &[
            ("22", Ok(vec![(22, 22)])),
            ("22,80", Ok(vec![(22, 22), (80, 80)])),
            ("8000-8100", Ok(vec![(8000, 8100)])),
            (" 22 , 8000-8001 ", Ok(vec![(22, 22), (8000, 8001)])),
            ("65535", Ok(vec![(65535, 65535)])),
            ("99999", Err("'99999' is out of range")),
            ("0", Err("'0' is not a usable port")),
            ("abc", Err("'abc' is not a port number")),
            ("", Err("a port is missing")),
            ("80,", Err("a port is missing")),
            ("9-3", Err("range '9-3' is backwards")),
            ("-5", Err("'-5' is not a port")),
            (
                "99999999999999999999",
                Err("'99999999999999999999' is out of range"),
            ),
            ("1-2-3", Err("'2-3' is not a port number")),
        ];
        for (input, want) in cases {
            let got = parse_port_list(input)
                .map(|v| v.iter().map(|r| (r.start, r.end)).collect::<Vec<_>>());
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(&g, w, "{input}"),
                (Err(w), Err(g)) => assert!(g.starts_with(w), "{input}: {g}"),
                (w, g) => panic!("{input}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn port_specs() {
        type Case<'a> = (&'a str, Result<(u16, Option<Proto>), &'a str>);
        let cases: &[Case] = &[
            ("8080", Ok((8080, None))),
            ("8080/tcp", Ok((8080, Some(Proto::Tcp)))),
            ("53/UDP", Ok((53, Some(Proto::Udp)))),
            (" 1/udp ", Ok((1, Some(Proto::Udp)))),
            ("65535/tcp", Ok((65535, Some(Proto::Tcp)))),
            ("0", Err("'0' is not a usable port")),
            ("65536", Err("'65536' is out of range")),
            ("http", Err("'http' is not a port number")),
            ("", Err("a port is missing")),
            ("/tcp", Err("a port is missing")),
            ("80/sctp", Err("'80/sctp' has an unknown protocol 'sctp'")),
            ("80/", Err("'80/' has an unknown protocol ''")),
            ("-1/tcp", Err("'-1' is not a port number")),
        ];
        for (input, want) in cases {
            let got = parse_port_spec(input).map(|s| (s.port, s.proto));
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(&g, w, "{input}"),
                (Err(w), Err(g)) => assert!(g.starts_with(w), "{input}: {g}"),
                (w, g) => panic!("{input}: want {w:?}, got {g:?}"),
            }
        }
        assert_eq!(parse_port_spec("53/udp").unwrap().to_string(), "53/udp");
    }

    #[test]
    fn states_and_exposures() {
        assert_eq!(parse_state("TIME-WAIT"), Ok(SocketState::TimeWait));
        assert_eq!(parse_state("estab"), Ok(SocketState::Established));
        assert_eq!(parse_state("bound"), Ok(SocketState::Bound));
        assert_eq!(parse_state("close"), Ok(SocketState::Bound));
        assert_eq!(parse_state("bound-inactive"), Ok(SocketState::Bound));
        assert!(parse_state("bogus").unwrap_err().contains("time_wait"));
        assert_eq!(parse_exposure("link-local"), Ok(AddrClass::LinkLocal));
        assert!(parse_exposure("internet").unwrap_err().contains("public"));
    }

    #[test]
    fn exposure_filter_is_at_least_this_far() {
        use AddrClass::*;
        let classes = [
            Loopback,
            LinkLocal,
            Multicast,
            Private,
            Documentation,
            Reserved,
            Public,
        ];
        // --exposure X → the classes shown (in the order above); a socket without a class
        // (a wildcard that covers no address) is never shown.
        let cases: [(&[AddrClass], &[AddrClass]); 10] = [
            (&[Loopback], &classes),
            (&[LinkLocal], &classes[1..]),
            (&[Multicast], &classes[1..]),
            (&[Private], &classes[3..]),
            (&[Documentation], &classes[3..]),
            (&[Reserved], &classes[3..]),
            (&[Public], &[Public]),
            (&[Public, LinkLocal], &classes[1..]),
            (&[Public, Private], &classes[3..]),
            (&[], &classes),
        ];
        for (wanted, shown) in cases {
            let filter = Filter {
                exposure: wanted.to_vec(),
                ..Filter::default()
            };
            let mut entry = SocketEntry::test_listener("127.0.0.1", 80);
            let got: Vec<AddrClass> = classes
                .into_iter()
                .filter(|&class| {
                    entry.exposure = Some(class);
                    filter.keep_entry(&entry)
                })
                .collect();
            assert_eq!(got, shown, "--exposure {wanted:?}");
            entry.exposure = None;
            assert_eq!(filter.keep_entry(&entry), wanted.is_empty(), "{wanted:?}");
        }
    }

    #[test]
    fn pids_and_names() {
        assert_eq!(parse_pid("42"), Ok(42));
        assert!(parse_pid("abc").unwrap_err().contains("'abc' is not a pid"));
        assert!(parse_pid("0").is_err());
        assert!(parse_process_name(" ").is_err());
        assert_eq!(parse_process_name("nginx"), Ok("nginx".into()));
    }

    #[test]
    fn users() {
        assert_eq!("0".parse::<UserSpec>(), Ok(UserSpec::Uid(0)));
        assert_eq!(
            "www-data".parse::<UserSpec>(),
            Ok(UserSpec::Name("www-data".into()))
        );
        assert!("".parse::<UserSpec>().is_err());
    }
}
