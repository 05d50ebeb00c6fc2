//! How far a socket reaches: local interface addresses, the class of an address, and the
//! exposure of a socket derived from both.
//!
//! Plain data: the classification itself is `analyze::exposure`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// One address configured on a local interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceAddr {
    /// Interface name, e.g. `eth0`.
    pub name: String,
    /// Interface index.
    pub index: Option<u32>,
    /// The address.
    pub addr: IpAddr,
}

/// The class of an IP address, from the IANA special-purpose address registries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddrClass {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// RFC 1918, ULA fc00::/7, CGNAT 100.64.0.0/10 and other non-global unicast ranges.
    Private,
    /// Documentation ranges (TEST-NET-1/2/3, 2001:db8::/32): should never be configured.
    Documentation,
    /// Multicast groups (224.0.0.0/4, ff00::/8).
    Multicast,
    /// Reserved or otherwise invalid as a local address (240.0.0.0/4, broadcast, 0.0.0.0/8 but
    /// 0.0.0.0 itself).
    Reserved,
    /// Globally routable unicast.
    Public,
}

impl AddrClass {
    /// snake_case name as used in JSON and `--exposure`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AddrClass::Loopback => "loopback",
            AddrClass::LinkLocal => "link_local",
            AddrClass::Private => "private",
            AddrClass::Documentation => "documentation",
            AddrClass::Multicast => "multicast",
            AddrClass::Reserved => "reserved",
            AddrClass::Public => "public",
        }
    }
}

/// How far a socket is reachable, and through which local address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// The most exposed class among the addresses the socket accepts traffic on; `None` when a
    /// wildcard bind currently covers no address at all (e.g. `[::]` v6-only on an IPv4-only host).
    pub class: Option<AddrClass>,
    /// The local address that makes it so (for a specific bind, the bound address itself).
    pub via_address: Option<IpAddr>,
    /// The interface carrying `via_address`, when known.
    pub via_interface: Option<String>,
    /// True for a wildcard bind (`0.0.0.0`, `::`): it also covers addresses added later.
    pub wildcard: bool,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SocketState, parse_state};

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
}
