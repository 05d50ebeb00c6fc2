//! Port numbers and ranges as the user and the rules name them.
//!
//! Plain data: nothing here touches the operating system.

use serde::{Deserialize, Serialize};

use super::Proto;

/// An inclusive range of ports; a single port has `start == end`. Shown as `80` or `6000-6063`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortRange {
    /// First port of the range.
    pub start: u16,
    /// Last port of the range (inclusive).
    pub end: u16,
}

impl PortRange {
    /// True when `port` lies in the range.
    #[must_use]
    pub fn contains(self, port: u16) -> bool {
        self.start <= port && port <= self.end
    }

    /// The range of one port.
    #[must_use]
    pub fn single(port: u16) -> PortRange {
        PortRange {
            start: port,
            end: port,
        }
    }

    /// Parse `80` or `8000-8100`: one port, or two joined by the first `-`, each a number from 1
    /// to 65535 (blanks around a number are ignored), the lower first. The one parser of port
    /// ranges: `--port`, the allowlist's `port` and the rule table's `ports` each word its
    /// errors from the [`PortRangeError`].
    ///
    /// # Errors
    /// [`PortRangeError::Port`] naming the end that is not a port, or
    /// [`PortRangeError::Backwards`].
    pub fn parse(text: &str) -> Result<PortRange, PortRangeError> {
        let end = |part: &str| {
            port_number(part).map_err(|error| PortRangeError::Port {
                text: part.to_owned(),
                error,
            })
        };
        let (start, last) = match text.split_once('-') {
            Some((a, b)) => (end(a)?, end(b)?),
            None => {
                let port = end(text)?;
                (port, port)
            }
        };
        if start > last {
            return Err(PortRangeError::Backwards);
        }
        Ok(PortRange { start, end: last })
    }
}

/// Why a text is not a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortError {
    /// Nothing but blanks.
    Missing,
    /// Not a decimal number.
    NotANumber,
    /// The number 0.
    Zero,
    /// A number above 65535.
    TooLarge,
}

/// Why a text is not a port range ([`PortRange::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRangeError {
    /// One end is not a port.
    Port {
        /// That end as written (blanks kept).
        text: String,
        /// What is wrong with it.
        error: PortError,
    },
    /// The first port is above the last.
    Backwards,
}

/// One port: a number from 1 to 65535, blanks around it ignored.
fn port_number(text: &str) -> Result<u16, PortError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(PortError::Missing);
    }
    match t.parse::<u64>() {
        Ok(0) => Err(PortError::Zero),
        Ok(n) => u16::try_from(n).map_err(|_| PortError::TooLarge),
        Err(_) if t.bytes().all(|b| b.is_ascii_digit()) => Err(PortError::TooLarge),
        Err(_) => Err(PortError::NotANumber),
    }
}

/// The message of [`parse_port`] for `text`, which `error` rejected.
fn port_message(text: &str, error: PortError) -> String {
    let t = text.trim();
    match error {
        PortError::Missing => "a port is missing: give a number from 1 to 65535".to_string(),
        PortError::Zero => format!("'{t}' is not a usable port: ports are 1 to 65535"),
        PortError::TooLarge => format!("'{t}' is out of range: ports are 1 to 65535"),
        PortError::NotANumber => {
            format!("'{t}' is not a port number: give a number from 1 to 65535")
        }
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// The IANA range a port falls in (RFC 6335): shown as `(system)` in a table when the port has
/// no service name, `"system"` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IanaRange {
    /// 0–1023, the well-known ports: binding one needs privileges.
    System,
    /// 1024–49151.
    Registered,
    /// 49152–65535, the dynamic (private, ephemeral) ports.
    Dynamic,
}

impl IanaRange {
    /// The lower-case name used in JSON and tables.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            IanaRange::System => "system",
            IanaRange::Registered => "registered",
            IanaRange::Dynamic => "dynamic",
        }
    }
}

impl std::fmt::Display for IanaRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parse one port: a number from 1 to 65535.
///
/// # Errors
/// A message naming the value when it is not such a number.
pub fn parse_port(text: &str) -> Result<u16, String> {
    port_number(text).map_err(|error| port_message(text, error))
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

impl PortSpec {
    /// True when a socket of `proto` on local port `port` is one this spec asks about.
    #[must_use]
    pub fn matches(self, proto: Proto, port: u16) -> bool {
        port == self.port && self.proto.is_none_or(|p| p == proto)
    }
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
        out.push(PortRange::parse(item).map_err(|e| match e {
            PortRangeError::Port { text, error } => port_message(&text, error),
            PortRangeError::Backwards => {
                format!("range '{item}' is backwards: write the lower port first")
            }
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_matches_its_port_and_protocol() {
        let both = PortSpec {
            port: 53,
            proto: None,
        };
        let udp = PortSpec {
            proto: Some(Proto::Udp),
            ..both
        };
        let cases = [
            (both, Proto::Tcp, 53, true),
            (both, Proto::Udp, 53, true),
            (both, Proto::Tcp, 54, false),
            (udp, Proto::Udp, 53, true),
            (udp, Proto::Tcp, 53, false),
            (udp, Proto::Udp, 5353, false),
        ];
        for (spec, proto, port, want) in cases {
            assert_eq!(spec.matches(proto, port), want, "{spec} {proto} {port}");
        }
    }

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
    fn port_ranges() {
        use PortError::*;
        let port = |text: &str, error| {
            Err(PortRangeError::Port {
                text: text.to_owned(),
                error,
            })
        };
        let cases: &[(&str, Result<PortRange, PortRangeError>)] = &[
            ("80", Ok(PortRange::single(80))),
            (" 80 ", Ok(PortRange::single(80))),
            ("+80", Ok(PortRange::single(80))),
            (
                "8000-8100",
                Ok(PortRange {
                    start: 8000,
                    end: 8100,
                }),
            ),
            (
                "8000 - 8100",
                Ok(PortRange {
                    start: 8000,
                    end: 8100,
                }),
            ),
            ("7-7", Ok(PortRange::single(7))),
            (
                "1-65535",
                Ok(PortRange {
                    start: 1,
                    end: 65535,
                }),
            ),
            ("", port("", Missing)),
            ("-5", port("", Missing)),
            ("5-", port("", Missing)),
            ("0", port("0", Zero)),
            ("0-10", port("0", Zero)),
            ("65536", port("65536", TooLarge)),
            ("10-70000", port("70000", TooLarge)),
            (
                "99999999999999999999",
                port("99999999999999999999", TooLarge),
            ),
            ("http", port("http", NotANumber)),
            ("a-b", port("a", NotANumber)),
            ("1-2-3", port("2-3", NotANumber)),
            ("5--1", port("-1", NotANumber)),
            ("20-10", Err(PortRangeError::Backwards)),
        ];
        for (text, want) in cases {
            assert_eq!(&PortRange::parse(text), want, "{text:?}");
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
    fn iana_ranges_read_as_json_names() {
        let cases = [
            (IanaRange::System, "system"),
            (IanaRange::Registered, "registered"),
            (IanaRange::Dynamic, "dynamic"),
        ];
        for (range, name) in cases {
            assert_eq!(range.to_string(), name);
            assert_eq!(
                serde_json::to_string(&range).unwrap(),
                format!("\"{name}\"")
            );
            let back: IanaRange = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, range);
        }
    }
}
