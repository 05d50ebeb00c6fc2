//! `portscope check [ADDRESS:]PORT[/tcp|/udp]`: the target ([`CheckTarget`], parsed here as a
//! constructor), the raw facts the platform reports about it (a connect attempt, listeners in
//! other network namespaces, systemd units) and the diagnosis (`Cause`s, a verdict).
//!
//! Plain data: the decisions are `analyze::check`, the wording of the report `render::check`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Endpoint, Proto, parse_port};

/// What `check` is asked about: an address of this machine, a port and a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckTarget {
    /// The address connected to (127.0.0.1 when none was given).
    pub address: IpAddr,
    /// The port.
    pub port: u16,
    /// The protocol (tcp when none was given).
    pub proto: Proto,
}

impl CheckTarget {
    /// Parse `[ADDRESS:]PORT[/tcp|/udp]`: `8080`, `8080/udp`, `10.0.0.5:8080`,
    /// `[::1]:8080/tcp`, `localhost:80`. IPv6 addresses go in brackets; IPv4-mapped IPv6 is
    /// taken as IPv4. No name resolution besides `localhost` (127.0.0.1).
    ///
    /// # Errors
    /// A message naming the input.
    pub fn parse(text: &str) -> Result<CheckTarget, String> {
        let t = text.trim();
        let (rest, proto) = match t.rsplit_once('/') {
            Some((rest, suffix)) => match suffix.to_ascii_lowercase().as_str() {
                "tcp" => (rest, Proto::Tcp),
                "udp" => (rest, Proto::Udp),
                _ => {
                    return Err(format!(
                        "'{t}' has an unknown protocol '{suffix}': write PORT/tcp or PORT/udp"
                    ));
                }
            },
            None => (t, Proto::Tcp),
        };
        let (address, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (addr, port) = inner.split_once("]:").ok_or_else(|| {
                format!("'{t}' is not [IPV6]:PORT: the port after the bracket is missing")
            })?;
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("'{addr}' in '{t}' is not an IPv6 address"))?;
            (addr, port)
        } else {
            match rest.rsplit_once(':') {
                Some((addr, _)) if addr.contains(':') => {
                    return Err(format!(
                        "'{t}': write an IPv6 address in brackets, e.g. [::1]:8080"
                    ));
                }
                Some((addr, port)) => {
                    let addr: IpAddr = if addr.eq_ignore_ascii_case("localhost") {
                        IpAddr::from([127, 0, 0, 1])
                    } else {
                        addr.parse().map_err(|_| {
                            format!("'{addr}' in '{t}' is not an IP address (names are not resolved, except localhost)")
                        })?
                    };
                    (addr, port)
                }
                None => (IpAddr::from([127, 0, 0, 1]), rest),
            }
        };
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        Ok(CheckTarget {
            address,
            port: parse_port(port)?,
            proto,
        })
    }
}

impl std::fmt::Display for CheckTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Endpoint(self.address, self.port), self.proto)
    }
}

/// What a connect attempt ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectOutcome {
    /// TCP: the handshake completed. UDP: an answer came back.
    Open,
    /// ECONNREFUSED: a TCP reset, or ICMP port unreachable for UDP: nothing accepts there, or a
    /// firewall rejects.
    Refused,
    /// No answer within the timeout: a firewall drops, or (UDP) the service ignored the probe.
    Timeout,
    /// EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL and the like: no route to the address.
    Unreachable,
    /// Another error (see `errno`).
    Error,
}

impl ConnectOutcome {
    /// snake_case name as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectOutcome::Open => "open",
            ConnectOutcome::Refused => "refused",
            ConnectOutcome::Timeout => "timeout",
            ConnectOutcome::Unreachable => "unreachable",
            ConnectOutcome::Error => "error",
        }
    }
}

/// One connect attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectResult {
    /// How it ended.
    pub outcome: ConnectOutcome,
    /// The OS error number (errno on Unix, the Winsock error on Windows), `null` when it
    /// succeeded or timed out.
    pub errno: Option<i32>,
    /// The OS error text, `null` when it succeeded.
    pub error: Option<String>,
}

/// A listener on the port in another network namespace than portscope's, seen through
/// `/proc/PID/net/{tcp,tcp6,udp,udp6}` of a process living there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignListener {
    /// The network namespace's inode (`net:[N]`).
    pub netns: u64,
    /// A process in that namespace (not necessarily the listener's owner).
    pub pid: u32,
    /// That process's name.
    pub process: Option<String>,
    /// Protocol.
    pub proto: Proto,
    /// Bound address.
    pub address: IpAddr,
    /// Port.
    pub port: u16,
}

/// A systemd unit file, as the platform read it (bounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// The unit name (`postgresql.service`).
    pub name: String,
    /// Where it was found.
    pub path: String,
    /// Its text (at most 64 KiB).
    pub text: String,
}

/// A unit that may be the missing service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitHint {
    /// The unit name.
    pub unit: String,
    /// The unit file.
    pub path: String,
    /// Why it matched: `name` (it is named after the port's service) or `port` (its
    /// `ExecStart=`, `ListenStream=` or `ListenDatagram=` mentions the port).
    pub matched: String,
    /// Whether it has processes now (its cgroup is not empty); `null` when that cannot be told.
    pub running: Option<bool>,
}

/// Why a connection fails (or would fail for others), in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseCode {
    /// Nothing listens on the port in this network namespace.
    NoListener,
    /// A listener exists, but in another network namespace.
    OtherNamespace,
    /// The listener is bound to loopback, the address used is not.
    LoopbackOnly,
    /// The listener is an IPv6 `[::]` v6-only socket; the address used is IPv4.
    V6Only,
    /// The listener is IPv4-only; the address used is IPv6.
    Ipv4Only,
    /// The listener is bound to another specific address.
    OtherAddress,
    /// The listener is bound to a device the address does not arrive on.
    DeviceBound,
    /// The firewall drops the packets (a timeout).
    FirewallDrop,
    /// The firewall rejects them ("refused" or unreachable).
    FirewallReject,
    /// The firewall could not be evaluated (not modelled, not readable).
    FirewallUnknown,
    /// The connect failed for a reason none of the above explains.
    ConnectFailed,
}

impl CauseCode {
    /// snake_case name as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CauseCode::NoListener => "no_listener",
            CauseCode::OtherNamespace => "other_namespace",
            CauseCode::LoopbackOnly => "loopback_only",
            CauseCode::V6Only => "v6_only",
            CauseCode::Ipv4Only => "ipv4_only",
            CauseCode::OtherAddress => "other_address",
            CauseCode::DeviceBound => "device_bound",
            CauseCode::FirewallDrop => "firewall_drop",
            CauseCode::FirewallReject => "firewall_reject",
            CauseCode::FirewallUnknown => "firewall_unknown",
            CauseCode::ConnectFailed => "connect_failed",
        }
    }
}

/// One cause with its explanation and fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// The cause.
    pub code: CauseCode,
    /// What it means here and what to do, one or two sentences.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let ok = |text: &str, addr: &str, port: u16, proto: Proto| {
            let got = CheckTarget::parse(text).unwrap();
            assert_eq!(
                got,
                CheckTarget {
                    address: addr.parse().unwrap(),
                    port,
                    proto
                },
                "{text}"
            );
        };
        ok("8080", "127.0.0.1", 8080, Proto::Tcp);
        ok("53/udp", "127.0.0.1", 53, Proto::Udp);
        ok("10.0.0.5:80", "10.0.0.5", 80, Proto::Tcp);
        ok("[::1]:80/TCP", "::1", 80, Proto::Tcp);
        ok("[::ffff:10.0.0.5]:80", "10.0.0.5", 80, Proto::Tcp);
        ok("localhost:22", "127.0.0.1", 22, Proto::Tcp);
        for (bad, says) in [
            ("0", "'0'"),
            ("80/sctp", "unknown protocol 'sctp'"),
            ("example.com:80", "'example.com' in"),
            ("::1:80", "in brackets"),
            ("[::1]80", "port after the bracket"),
            ("1.2.3.4:", "port is missing"),
        ] {
            let err = CheckTarget::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert_eq!(
            CheckTarget::parse("[::1]:80").unwrap().to_string(),
            "[::1]:80/tcp"
        );
    }
}
