//! IP networks written `addr/len` (`10.0.0.0/8`, `fd00::/8`), as the audit allowlist's
//! `address` key names them: parsing and the membership test.
//!
//! Plain data: nothing here touches the operating system.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
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
}
