//! `portscope explain PORT|SERVICE`: what the user asked about ([`ExplainQuery`], parsed here as
//! a constructor) and what is known about each port it names ([`PortExplanation`]): its IANA
//! registrations and range, the curated service, the audit rule with its secure alternative,
//! and what holds it on this machine.
//!
//! Plain data: the look-ups are `analyze::explain`, the wording `render::explain`.

use serde::{Deserialize, Serialize};

use super::{IanaRange, Proto, Severity, SocketEntry, Why};

/// The argument of `explain`: a port number or a service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainQuery {
    /// A port, 1–65535.
    Port(u16),
    /// A service name, lower-cased: `rdp`, `postgres`, `http-alt`.
    Name(String),
}

impl ExplainQuery {
    /// Parse `PORT` or `SERVICE`: digits are a port (1–65535); otherwise a name of letters,
    /// digits, `-`, `_`, `.` and `+`, starting with a letter or digit, at most 64 bytes.
    ///
    /// # Errors
    /// A message naming the input when it is neither.
    pub fn parse(text: &str) -> Result<ExplainQuery, String> {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<u32>() {
                Ok(port @ 1..=65535) => Ok(ExplainQuery::Port(
                    u16::try_from(port).map_err(|e| e.to_string())?,
                )),
                _ => Err(format!("'{t}' is not a port: ports are 1 to 65535")),
            };
        }
        let name_ok = !t.is_empty()
            && t.len() <= 64
            && t.as_bytes()[0].is_ascii_alphanumeric()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'));
        if name_ok {
            Ok(ExplainQuery::Name(t.to_ascii_lowercase()))
        } else {
            Err(format!(
                "'{t}' is neither a port (1 to 65535) nor a service name (letters, digits, '-')"
            ))
        }
    }
}

impl std::fmt::Display for ExplainQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExplainQuery::Port(port) => write!(f, "{port}"),
            ExplainQuery::Name(name) => f.write_str(name),
        }
    }
}

/// A service name for one protocol of a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceName {
    /// The transport.
    pub proto: Proto,
    /// The name (`postgresql`).
    pub name: String,
}

/// A cited source of an audit rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The reference as the rule table writes it, e.g. `CIS-DEB12 2.1.19`.
    pub reference: String,
    /// The source's title.
    pub title: String,
    /// Where to read it.
    pub url: String,
}

/// The audit's view of a port on one protocol: how bad it is when exposed and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRisk {
    /// The audit rule id (`exposed-telnet`), `null` for a plain-text protocol the audit has no
    /// rule for (HTTP, SMTP, IMAP, POP3), which only carries an alternative.
    pub rule: Option<String>,
    /// The service's human name.
    pub service: String,
    /// The transport the rule applies to.
    pub proto: Proto,
    /// Severity when reachable from the internet; `null` without a rule.
    pub severity: Option<Severity>,
    /// Why it is risky.
    pub why: Vec<Why>,
    /// Why it matters; `null` without a rule.
    pub summary: Option<String>,
    /// What to do; `null` without a rule.
    pub fix: Option<String>,
    /// The secure replacement, where one exists.
    pub alternative: Option<String>,
    /// Sources of the rule.
    pub sources: Vec<SourceRef>,
}

/// Everything `explain` knows about one port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortExplanation {
    /// The port.
    pub port: u16,
    /// Its RFC 6335 range: system 0–1023, registered (user) 1024–49151, dynamic 49152–65535.
    pub range: IanaRange,
    /// Whether the port is in this kernel's ephemeral range (`null` when that is unknown).
    pub ephemeral: Option<bool>,
    /// The IANA registrations (first name per protocol).
    pub iana: Vec<ServiceName>,
    /// What usually runs there (portscope's curated table).
    pub curated: Vec<ServiceName>,
    /// The audit rules for the port, and plain-text protocols' alternatives.
    pub risks: Vec<PortRisk>,
    /// What listens on the port on this machine now (the listing's rows); empty when nothing.
    pub here: Vec<SocketEntry>,
}

impl PortExplanation {
    /// True when anything at all is known: a registration, a curated name, a rule or a
    /// listener. A port with none of these is reported as unknown (exit 1).
    #[must_use]
    pub fn is_known(&self) -> bool {
        !(self.iana.is_empty()
            && self.curated.is_empty()
            && self.risks.is_empty()
            && self.here.is_empty())
    }
}

/// The answer to one `explain` query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The query as understood (a port number or a lower-cased name).
    pub query: String,
    /// This kernel's ephemeral range (`net.ipv4.ip_local_port_range`), `null` when unknown.
    pub ephemeral_range: Option<(u16, u16)>,
    /// One entry per port the query names, in port order; empty for an unknown name.
    pub ports: Vec<PortExplanation>,
}

impl Explanation {
    /// True when the query named at least one port anything is known about.
    #[must_use]
    pub fn found(&self) -> bool {
        self.ports.iter().any(PortExplanation::is_known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_as_ports_or_names() {
        let cases: [(&str, Result<ExplainQuery, &str>); 8] = [
            ("22", Ok(ExplainQuery::Port(22))),
            (" 65535 ", Ok(ExplainQuery::Port(65535))),
            ("RDP", Ok(ExplainQuery::Name("rdp".into()))),
            ("http-alt", Ok(ExplainQuery::Name("http-alt".into()))),
            ("0", Err("'0' is not a port")),
            ("70000", Err("'70000' is not a port")),
            ("-5", Err("'-5' is neither")),
            ("a b", Err("'a b' is neither")),
        ];
        for (text, want) in cases {
            match (ExplainQuery::parse(text), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{text}: {got}"),
                (got, want) => panic!("{text}: {got:?} vs {want:?}"),
            }
        }
        assert!(ExplainQuery::parse("").is_err());
        assert!(ExplainQuery::parse(&"a".repeat(65)).is_err());
    }
}
