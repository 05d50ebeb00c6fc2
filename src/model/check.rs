//! `portscope check [ADDRESS:]PORT[/tcp|/udp]`: the target ([`CheckTarget`], parsed here as a
//! constructor), the raw facts the platform reports about it (a connect attempt, listeners in
//! other network namespaces, systemd units) and the diagnosis (`Cause`s, a verdict).
//!
//! Plain data: the decisions are `analyze::check`, the wording of the report `render::check`.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Endpoint, Proto, parse_port, parse_timeout};

/// Parse `check --timeout`: a duration as `kill --timeout` takes it (5, 1.5s, 500ms, 1m), but
/// not zero: a connect cannot be tried in no time (`kill --timeout 0` means "do not wait").
///
/// # Errors
/// A message naming the input.
pub fn parse_connect_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_timeout(text)?;
    if timeout.is_zero() {
        return Err(format!(
            "'{}' is no time to connect in: give a timeout above zero, e.g. 2 or 500ms",
            text.trim()
        ));
    }
    Ok(timeout)
}

/// What `check` is asked about: an address of this machine, a port and a protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckTarget {
    /// The address connected to (127.0.0.1 when none was given).
    pub address: IpAddr,
    /// The port.
    pub port: u16,
    /// The protocol (tcp when none was given).
    pub proto: Proto,
    /// The scope of a link-local IPv6 address (`[fe80::1%eth0]:80`); absent when none was
    /// given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<Zone>,
}

/// The scope of a link-local IPv6 address: an interface name or index (`%eth0`, `%2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Zone {
    /// By interface index.
    Index(u32),
    /// By interface name.
    Name(String),
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Index(i) => write!(f, "{i}"),
            Zone::Name(n) => f.write_str(n),
        }
    }
}

/// Whether `addr` is an IPv6 link-local unicast address (fe80::/10), which needs a scope.
#[must_use]
pub fn is_link_local_v6(addr: IpAddr) -> bool {
    matches!(addr, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

impl CheckTarget {
    /// Parse `[ADDRESS:]PORT[/tcp|/udp]`: `8080`, `8080/udp`, `10.0.0.5:8080`,
    /// `[::1]:8080/tcp`, `[fe80::1%eth0]:80`, `localhost:80`. IPv6 addresses go in brackets;
    /// a link-local one may carry its scope (an interface name or index) after `%`;
    /// IPv4-mapped IPv6 is taken as IPv4. No name resolution besides `localhost` (127.0.0.1).
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
        let mut zone = None;
        let (address, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (addr, port) = inner.split_once("]:").ok_or_else(|| {
                format!("'{t}' is not [IPV6]:PORT: the port after the bracket is missing")
            })?;
            let addr = match addr.split_once('%') {
                Some((addr, scope)) => {
                    zone = Some(Zone::parse(scope, t)?);
                    addr
                }
                None => addr,
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("'{addr}' in '{t}' is not an IPv6 address"))?;
            if zone.is_some() && !is_link_local_v6(addr) {
                return Err(format!(
                    "'{t}': a scope (%interface) goes only with a link-local address (fe80::/10)"
                ));
            }
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
            zone,
        })
    }
}

impl Zone {
    /// An interface index (digits) or name (at most 15 bytes, as the kernel's `IFNAMSIZ`).
    fn parse(scope: &str, whole: &str) -> Result<Zone, String> {
        if scope.is_empty() {
            return Err(format!(
                "'{whole}': the scope after % is empty: write an interface, e.g. %eth0"
            ));
        }
        if scope.bytes().all(|b| b.is_ascii_digit()) {
            return match scope.parse::<u32>() {
                Ok(index) if index > 0 => Ok(Zone::Index(index)),
                _ => Err(format!("'{whole}': '{scope}' is not an interface index")),
            };
        }
        let valid = scope.len() < 16
            && scope
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'%');
        if !valid {
            return Err(format!("'{whole}': '{scope}' is not an interface name"));
        }
        Ok(Zone::Name(scope.to_owned()))
    }
}

impl std::fmt::Display for CheckTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.zone {
            Some(zone) => write!(f, "[{}%{zone}]:{}/{}", self.address, self.port, self.proto),
            None => write!(f, "{}/{}", Endpoint(self.address, self.port), self.proto),
        }
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
    /// The listener is bound to an IPv6 address; the address used is IPv4.
    Ipv6Only,
    /// The listener is bound to another specific address.
    OtherAddress,
    /// The listener is bound to a device the address does not arrive on.
    DeviceBound,
    /// The firewall drops the packets (a timeout).
    FirewallDrop,
    /// The firewall rejects them ("refused" or unreachable).
    FirewallReject,
    /// The firewall drops packets from other machines (arriving on the interface that carries
    /// the address), though it lets this machine's own connect through.
    RemoteFirewallDrop,
    /// The firewall rejects packets from other machines, though not this machine's own.
    RemoteFirewallReject,
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
            CauseCode::Ipv6Only => "ipv6_only",
            CauseCode::OtherAddress => "other_address",
            CauseCode::DeviceBound => "device_bound",
            CauseCode::FirewallDrop => "firewall_drop",
            CauseCode::FirewallReject => "firewall_reject",
            CauseCode::RemoteFirewallDrop => "remote_firewall_drop",
            CauseCode::RemoteFirewallReject => "remote_firewall_reject",
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
    fn connect_timeouts_are_above_zero() {
        assert_eq!(
            parse_connect_timeout("500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(parse_connect_timeout("2"), Ok(Duration::from_secs(2)));
        for zero in ["0", "0ms", "0.0s", " 0 "] {
            let err = parse_connect_timeout(zero).unwrap_err();
            assert!(err.contains("above zero"), "{zero}: {err}");
        }
        assert!(parse_connect_timeout("x").unwrap_err().contains("'x'"));
    }

    #[test]
    fn targets_parse() {
        let ok = |text: &str, addr: &str, port: u16, proto: Proto| {
            let got = CheckTarget::parse(text).unwrap();
            assert_eq!(
                got,
                CheckTarget {
                    address: addr.parse().unwrap(),
                    port,
                    proto,
                    zone: None,
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
            ("[fe80::1%]:80", "scope after % is empty"),
            ("[2001:db8::1%eth0]:80", "only with a link-local"),
            ("[fe80::1%0]:80", "not an interface index"),
            ("[fe80::1%a b]:80", "not an interface name"),
            (
                "[fe80::1%averyveryverylongname]:80",
                "not an interface name",
            ),
        ] {
            let err = CheckTarget::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert_eq!(
            CheckTarget::parse("[::1]:80").unwrap().to_string(),
            "[::1]:80/tcp"
        );
        // Link-local with a scope by name or index (it was "not an IPv6 address").
        let named = CheckTarget::parse("[fe80::1%eth0]:80/udp").unwrap();
        assert_eq!(named.zone, Some(Zone::Name("eth0".into())));
        assert_eq!(named.address, "fe80::1".parse::<IpAddr>().unwrap());
        assert_eq!(named.to_string(), "[fe80::1%eth0]:80/udp");
        let indexed = CheckTarget::parse("[fe80::1%2]:80").unwrap();
        assert_eq!(indexed.zone, Some(Zone::Index(2)));
        assert_eq!(
            serde_json::to_string(&indexed).unwrap(),
            r#"{"address":"fe80::1","port":80,"proto":"tcp","zone":2}"#
        );
        assert_eq!(
            serde_json::to_string(&CheckTarget::parse("80").unwrap()).unwrap(),
            r#"{"address":"127.0.0.1","port":80,"proto":"tcp"}"#
        );
        assert!(is_link_local_v6("fe80::1".parse().unwrap()));
        assert!(is_link_local_v6("febf::1".parse().unwrap()));
        assert!(!is_link_local_v6("fec0::1".parse().unwrap()));
        assert!(!is_link_local_v6("169.254.1.1".parse().unwrap()));
    }
}
