//! Address classification and the exposure of a socket.
//!
//! [`classify`] puts one IP address into an [`AddrClass`] using the IANA IPv4 and IPv6
//! Special-Purpose Address Registries (RFC 6890), written below as data tables with the RFC of
//! every row. [`exposure`] decides how far a socket is reachable: a specific bind is as exposed as
//! its own address; a wildcard bind (`0.0.0.0`, `::`) is as exposed as the most exposed address it
//! currently covers on this host (see [`rank`]).
//!
//! This module is pure: it must not read the system, list interfaces, resolve names or send
//! traffic. The interface addresses come in as data from `collect::Platform::interfaces`. It also
//! does not judge the firewall: "public" means "bound to, or covering, a globally routable
//! address", not "reachable from the internet".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::AddrClass::{
    Documentation, LinkLocal, Loopback, Multicast, Private, Public, Reserved,
};
use crate::model::{AddrClass, Exposure, InterfaceAddr, RawSocket};

/// What one row of a special-purpose table says about the addresses under its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Every address under the prefix has this class.
    Class(AddrClass),
    /// The low 32 bits carry an IPv4 address: classify that one instead (IPv6 tables only).
    EmbeddedV4,
}

/// One row of the IPv4 table: `net/len → verdict`.
#[derive(Debug, Clone, Copy)]
struct V4Row {
    net: u32,
    len: u8,
    verdict: Verdict,
}

/// One row of the IPv6 table: `net/len → verdict`.
#[derive(Debug, Clone, Copy)]
struct V6Row {
    net: u128,
    len: u8,
    verdict: Verdict,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, class: AddrClass) -> V4Row {
    V4Row {
        net: Ipv4Addr::new(a, b, c, d).to_bits(),
        len,
        verdict: Verdict::Class(class),
    }
}

const fn v6(segments: [u16; 8], len: u8, class: AddrClass) -> V6Row {
    v6_row(segments, len, Verdict::Class(class))
}

const fn v6_embedded(segments: [u16; 8], len: u8) -> V6Row {
    v6_row(segments, len, Verdict::EmbeddedV4)
}

const fn v6_row(segments: [u16; 8], len: u8, verdict: Verdict) -> V6Row {
    let [a, b, c, d, e, f, g, h] = segments;
    V6Row {
        net: Ipv6Addr::new(a, b, c, d, e, f, g, h).to_bits(),
        len,
        verdict,
    }
}

/// IPv4 special-purpose prefixes. Lookup is longest-prefix match, so row order does not matter;
/// an address no row covers is [`AddrClass::Public`].
const V4_TABLE: &[V4Row] = &[
    // "This network", RFC 791 §3.2 / RFC 1122 §3.2.1.3: never a valid destination.
    v4(0, 0, 0, 0, 8, Reserved),
    // "This host on this network", RFC 1122 §3.2.1.3: the unspecified address. Bound, it is a
    // wildcard, which `exposure` handles before classifying; as an address it reaches nothing.
    v4(0, 0, 0, 0, 32, Reserved),
    // Private-Use, RFC 1918.
    v4(10, 0, 0, 0, 8, Private),
    // Shared Address Space (CGNAT; Tailscale and other overlays), RFC 6598.
    v4(100, 64, 0, 0, 10, Private),
    // Loopback, RFC 1122 §3.2.1.3.
    v4(127, 0, 0, 0, 8, Loopback),
    // Link Local, RFC 3927.
    v4(169, 254, 0, 0, 16, LinkLocal),
    // Private-Use, RFC 1918.
    v4(172, 16, 0, 0, 12, Private),
    // IETF Protocol Assignments (DS-Lite, NAT64 discovery, …), RFC 6890 §2.2.2.
    v4(192, 0, 0, 0, 24, Private),
    // Documentation TEST-NET-1, RFC 5737.
    v4(192, 0, 2, 0, 24, Documentation),
    // Private-Use, RFC 1918.
    v4(192, 168, 0, 0, 16, Private),
    // Benchmarking, RFC 2544: lab networks, treated as private.
    v4(198, 18, 0, 0, 15, Private),
    // Documentation TEST-NET-2, RFC 5737.
    v4(198, 51, 100, 0, 24, Documentation),
    // Documentation TEST-NET-3, RFC 5737.
    v4(203, 0, 113, 0, 24, Documentation),
    // Multicast, RFC 5771.
    v4(224, 0, 0, 0, 4, Multicast),
    // Reserved for future use, RFC 1112 §4.
    v4(240, 0, 0, 0, 4, Reserved),
    // Limited broadcast, RFC 919 §7 / RFC 8190.
    v4(255, 255, 255, 255, 32, Reserved),
];

/// IPv6 special-purpose prefixes. Lookup is longest-prefix match, so row order does not matter;
/// an address no row covers is [`AddrClass::Reserved`] (only 2000::/3 is allocated global
/// unicast).
const V6_TABLE: &[V6Row] = &[
    // Unspecified address, RFC 4291 §2.5.2: a wildcard when bound (handled by `exposure`); as an
    // address it reaches nothing.
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, Reserved),
    // Loopback address, RFC 4291 §2.5.3.
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, Loopback),
    // IPv4-mapped addresses, RFC 4291 §2.5.5.2: the embedded IPv4 address decides.
    v6_embedded([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
    // IPv4/IPv6 translation well-known prefix (NAT64), RFC 6052 §2.1: the embedded IPv4 decides.
    v6_embedded([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
    // Local-use IPv4/IPv6 translation prefix, RFC 8215: operator-local, not global.
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Private),
    // Discard-only address block, RFC 6666.
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
    // Global unicast, RFC 4291 §2.4 / RFC 3587.
    v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, Public),
    // Benchmarking, RFC 5180: lab networks, treated as private like 198.18.0.0/15.
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, Private),
    // Documentation, RFC 3849.
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Documentation),
    // Documentation, RFC 9637.
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
    // Unique-Local, RFC 4193.
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private),
    // Link-Local Unicast, RFC 4291 §2.5.6.
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
    // Multicast, RFC 4291 §2.7.
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
];

/// Network mask of a prefix length for 32-bit addresses (0 for /0, all ones for /32).
fn mask_u32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

/// Network mask of a prefix length for 128-bit addresses (0 for /0, all ones for /128).
fn mask_u128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// Classify an IPv4 address: the longest matching row of the IPv4 table, else public.
fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let bits = ip.to_bits();
    let best = V4_TABLE
        .iter()
        .filter(|row| bits & mask_u32(row.len) == row.net)
        .max_by_key(|row| row.len);
    match best.map(|row| row.verdict) {
        Some(Verdict::Class(class)) => class,
        // The IPv4 table has no embedded rows; an IPv4 address is what it is.
        Some(Verdict::EmbeddedV4) | None => Public,
    }
}

/// Classify an IPv6 address: the longest matching row of the IPv6 table, else reserved.
fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let bits = ip.to_bits();
    let best = V6_TABLE
        .iter()
        .filter(|row| bits & mask_u128(row.len) == row.net)
        .max_by_key(|row| row.len);
    match best.map(|row| row.verdict) {
        Some(Verdict::Class(class)) => class,
        Some(Verdict::EmbeddedV4) => {
            let [.., a, b, c, d] = ip.octets();
            classify_v4(Ipv4Addr::new(a, b, c, d))
        }
        None => Reserved,
    }
}

/// Classify one address by the IANA special-purpose registries.
///
/// IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) addresses are classified by
/// their embedded IPv4 address. IPv4 addresses no row covers are [`AddrClass::Public`]; IPv6
/// addresses outside 2000::/3 that no row covers are [`AddrClass::Reserved`].
///
/// The unspecified addresses `0.0.0.0` and `::` are [`AddrClass::Reserved`]: as addresses they
/// reach nothing. Bound by a socket they mean "every local address", which this function cannot
/// know; check [`is_wildcard`] first, or call [`exposure`], which does.
#[must_use]
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

/// True for a wildcard bind address: `0.0.0.0`, `::`, or the IPv4-mapped `::ffff:0.0.0.0`.
#[must_use]
pub fn is_wildcard(ip: IpAddr) -> bool {
    ip.to_canonical().is_unspecified()
}

/// How exposed an address class is, for comparisons (a wildcard's class, the `--exposure`
/// filter): higher is more exposed. Never 0, so callers may use 0 for "no class"
/// (`class.map_or(0, rank)`).
///
/// | rank | classes | why |
/// |---|---|---|
/// | 4 | public | globally routable |
/// | 3 | private, documentation, reserved | reachable from every network that routes to it; a documentation or reserved address configured on an interface is as reachable as a private one |
/// | 2 | link-local, multicast | one link only; multicast group traffic is rarely routed beyond the link |
/// | 1 | loopback | this host only |
#[must_use]
pub fn rank(class: AddrClass) -> u8 {
    match class {
        Loopback => 1,
        LinkLocal | Multicast => 2,
        Private | Documentation | Reserved => 3,
        Public => 4,
    }
}

/// How far a socket is reachable, given every address configured on the host's interfaces.
///
/// - **Specific bind**: the class of the bound address itself ([`classify`]), also for
///   multicast group listeners ([`AddrClass::Multicast`]). `via_address` is that address;
///   `via_interface` is the interface carrying it (preferring the bound device when the same
///   address sits on several, as link-local ones do), else the bound device, else for a loopback
///   address the interface carrying the host's loopback address of that family.
/// - **Wildcard bind** (`wildcard: true`): the candidates are the interface addresses the socket
///   accepts: every IPv4 address for `0.0.0.0` and for the IPv4-mapped wildcard
///   `::ffff:0.0.0.0` (shown as `0.0.0.0` on an IPv6 socket); every IPv6 address for `::`, plus
///   every IPv4 address unless the socket is v6-only (`v6only == None` counts as dual-stack,
///   Linux's default `net.ipv6.bindv6only=0`). A device-bound socket (`bound_ifindex`) only
///   counts the addresses of that interface. Multicast and unspecified addresses on interfaces
///   are not candidates. The class is the highest [`rank`] among the candidates, and
///   `via_address`/`via_interface` name the first candidate, in the order of `interfaces`, that
///   reaches it.
/// - A wildcard bind with no candidate at all has `class: None` (e.g. `[::]` v6-only on an
///   IPv4-only host, or a wildcard bound to a device without addresses).
///
/// A wildcard also covers addresses added later (DHCP, a VPN coming up): the result describes
/// the host as it is now.
#[must_use]
pub fn exposure(sock: &RawSocket, interfaces: &[InterfaceAddr]) -> Exposure {
    // The collector canonicalises mapped addresses already; doing it again keeps this function
    // correct for callers that did not.
    let local = sock.local_addr.to_canonical();
    if !is_wildcard(local) {
        return specific(local, sock.bound_ifindex, interfaces);
    }

    let (want_v4, want_v6) = match local {
        // 0.0.0.0 on an IPv4 socket, or ::ffff:0.0.0.0 on an IPv6 one: IPv4 only.
        IpAddr::V4(_) => (true, false),
        // `::`: IPv6, and IPv4 too unless IPV6_V6ONLY is known to be set.
        IpAddr::V6(_) => (sock.v6only != Some(true), true),
    };

    let mut best: Option<(u8, AddrClass, &InterfaceAddr)> = None;
    for ifa in interfaces {
        if sock
            .bound_ifindex
            .is_some_and(|bound| ifa.index != Some(bound))
        {
            continue;
        }
        let family_wanted = match ifa.addr {
            IpAddr::V4(_) => want_v4,
            IpAddr::V6(_) => want_v6,
        };
        if !family_wanted || ifa.addr.is_unspecified() {
            continue;
        }
        let class = classify(ifa.addr);
        if class == Multicast {
            continue;
        }
        let r = rank(class);
        // Strictly greater: on a tie the earlier interface address wins.
        if best.is_none_or(|(best_rank, _, _)| r > best_rank) {
            best = Some((r, class, ifa));
        }
    }

    Exposure {
        class: best.map(|(_, class, _)| class),
        via_address: best.map(|(_, _, ifa)| ifa.addr),
        via_interface: best.map(|(_, _, ifa)| ifa.name.clone()),
        wildcard: true,
    }
}

/// Exposure of a socket bound to one specific (already canonical) address.
fn specific(addr: IpAddr, bound: Option<u32>, interfaces: &[InterfaceAddr]) -> Exposure {
    let class = classify(addr);
    let carrying = |ifa: &&InterfaceAddr| ifa.addr == addr;
    let carrier = interfaces
        .iter()
        .filter(carrying)
        .find(|ifa| bound.is_some_and(|b| ifa.index == Some(b)))
        .or_else(|| interfaces.iter().find(carrying));
    let bound_device = || bound.and_then(|b| interfaces.iter().find(|ifa| ifa.index == Some(b)));
    // 127.0.0.2 is local although only 127.0.0.1/8 is configured: name the loopback interface.
    let loopback_device = || {
        interfaces
            .iter()
            .filter(|_| class == Loopback)
            .find(|ifa| ifa.addr.is_ipv4() == addr.is_ipv4() && classify(ifa.addr) == Loopback)
    };
    let via_interface = carrier
        .or_else(bound_device)
        .or_else(loopback_device)
        .map(|ifa| ifa.name.clone());
    Exposure {
        class: Some(class),
        via_address: Some(addr),
        via_interface,
        wildcard: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, Proto, SocketState};

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or_else(|e| panic!("bad test address {s:?}: {e}"))
    }

    fn ifa(name: &str, index: u32, addr: &str) -> InterfaceAddr {
        InterfaceAddr {
            name: name.to_owned(),
            index: Some(index),
            addr: ip(addr),
        }
    }

    fn sock(family: Family, addr: &str, v6only: Option<bool>, bound: Option<u32>) -> RawSocket {
        RawSocket {
            proto: Proto::Tcp,
            family,
            state: SocketState::Listen,
            local_addr: ip(addr),
            local_port: 8080,
            remote_addr: None,
            remote_port: None,
            uid: Some(1000),
            inode: 4242,
            bound_ifindex: bound,
            v6only,
        }
    }

    fn exp(class: Option<AddrClass>, via: Option<(&str, &str)>, wildcard: bool) -> Exposure {
        Exposure {
            class,
            via_address: via.map(|(_, a)| ip(a)),
            via_interface: via.map(|(n, _)| n.to_owned()),
            wildcard,
        }
    }

    /// lo with both loopback addresses.
    fn lo() -> Vec<InterfaceAddr> {
        vec![ifa("lo", 1, "127.0.0.1"), ifa("lo", 1, "::1")]
    }

    #[test]
    fn classify_ipv4_rows_and_boundaries() {
        let cases: &[(&str, AddrClass)] = &[
            // 0.0.0.0/8 and the unspecified address itself.
            ("0.0.0.0", Reserved),
            ("0.0.0.1", Reserved),
            ("0.255.255.255", Reserved),
            ("1.0.0.0", Public),
            // 10/8.
            ("9.255.255.255", Public),
            ("10.0.0.0", Private),
            ("10.255.255.255", Private),
            ("11.0.0.0", Public),
            // 100.64/10.
            ("100.63.255.255", Public),
            ("100.64.0.0", Private),
            ("100.127.255.255", Private),
            ("100.128.0.0", Public),
            // 127/8.
            ("126.255.255.255", Public),
            ("127.0.0.0", Loopback),
            ("127.0.0.1", Loopback),
            ("127.255.255.255", Loopback),
            ("128.0.0.0", Public),
            // 169.254/16.
            ("169.253.255.255", Public),
            ("169.254.0.0", LinkLocal),
            ("169.254.255.255", LinkLocal),
            ("169.255.0.0", Public),
            // 172.16/12.
            ("172.15.255.255", Public),
            ("172.16.0.0", Private),
            ("172.31.255.255", Private),
            ("172.32.0.0", Public),
            // 192.0.0/24 and 192.0.2/24.
            ("191.255.255.255", Public),
            ("192.0.0.0", Private),
            ("192.0.0.255", Private),
            ("192.0.1.0", Public),
            ("192.0.2.0", Documentation),
            ("192.0.2.255", Documentation),
            ("192.0.3.0", Public),
            // 192.168/16.
            ("192.167.255.255", Public),
            ("192.168.0.0", Private),
            ("192.168.255.255", Private),
            ("192.169.0.0", Public),
            // 198.18/15.
            ("198.17.255.255", Public),
            ("198.18.0.0", Private),
            ("198.19.255.255", Private),
            ("198.20.0.0", Public),
            // 198.51.100/24.
            ("198.51.99.255", Public),
            ("198.51.100.0", Documentation),
            ("198.51.100.255", Documentation),
            ("198.51.101.0", Public),
            // 203.0.113/24.
            ("203.0.112.255", Public),
            ("203.0.113.0", Documentation),
            ("203.0.113.255", Documentation),
            ("203.0.114.0", Public),
            // 224/4.
            ("223.255.255.255", Public),
            ("224.0.0.0", Multicast),
            ("224.0.0.251", Multicast),
            ("239.255.255.255", Multicast),
            // 240/4 and limited broadcast.
            ("240.0.0.0", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Reserved),
            // Ordinary global addresses.
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
        ];
        for &(addr, want) in cases {
            assert_eq!(classify(ip(addr)), want, "{addr}");
        }
    }

    #[test]
    fn classify_ipv6_rows_and_boundaries() {
        let cases: &[(&str, AddrClass)] = &[
            // Unspecified, loopback and the rest of ::/8.
            ("::", Reserved),
            ("::1", Loopback),
            ("::2", Reserved),
            ("::10.0.0.1", Reserved), // deprecated IPv4-compatible
            ("ff::", Reserved),
            // IPv4-mapped: the embedded address decides.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:100.64.0.1", Private),
            ("::ffff:169.254.1.1", LinkLocal),
            ("::ffff:192.0.2.1", Documentation),
            ("::ffff:224.0.0.251", Multicast),
            ("::ffff:8.8.8.8", Public),
            ("::ffff:0.0.0.0", Reserved),
            ("::ffff:255.255.255.255", Reserved),
            ("::fffe:ffff:ffff", Reserved), // just below ::ffff:0:0/96
            ("::1:0:0:0", Reserved),        // just above it
            // NAT64 well-known prefix: the embedded address decides.
            ("64:ff9b::8.8.8.8", Public),
            ("64:ff9b::10.0.0.1", Private),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::1:0:0", Reserved), // outside the /96 (and the /48)
            ("64:ff9b:1::1", Private),
            ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", Private),
            ("64:ff9b:2::", Reserved),
            // Discard-only.
            ("100::", Reserved),
            ("100::ffff:ffff:ffff:ffff", Reserved),
            // Global unicast 2000::/3 and what lies inside it.
            ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Reserved),
            ("2000::", Public),
            ("2001::1", Public), // Teredo
            ("2001:1::1", Public),
            ("2001:2::", Private),
            ("2001:2:0:ffff:ffff:ffff:ffff:ffff", Private),
            ("2001:2:1::", Public),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", Public),
            ("2001:db8::", Documentation),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Documentation),
            ("2001:db9::", Public),
            ("2606:4700:4700::1111", Public),
            ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
            ("3fff::", Documentation),
            ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", Documentation),
            ("3fff:1000::", Public),
            ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
            ("4000::", Reserved),
            ("5f00::1", Reserved), // SRv6 SIDs, not global unicast
            // Unique local fc00::/7.
            ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Reserved),
            ("fc00::", Private),
            ("fd00::2", Private),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Private),
            ("fe00::", Reserved),
            // Link-local fe80::/10.
            ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Reserved),
            ("fe80::", LinkLocal),
            ("fe80::fc:ff:fe00:1", LinkLocal),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", LinkLocal),
            ("fec0::1", Reserved), // deprecated site-local
            // Multicast ff00::/8.
            ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Reserved),
            ("ff00::", Multicast),
            ("ff02::fb", Multicast),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Multicast),
        ];
        for &(addr, want) in cases {
            assert_eq!(classify(ip(addr)), want, "{addr}");
        }
    }

    #[test]
    fn tables_are_well_formed() {
        for (i, row) in V4_TABLE.iter().enumerate() {
            assert!(row.len <= 32, "v4 row {i}");
            assert_eq!(row.net & !mask_u32(row.len), 0, "v4 row {i} has host bits");
            assert!(matches!(row.verdict, Verdict::Class(_)), "v4 row {i}");
            assert!(
                V4_TABLE[..i]
                    .iter()
                    .all(|o| (o.net, o.len) != (row.net, row.len)),
                "v4 row {i} duplicated"
            );
        }
        for (i, row) in V6_TABLE.iter().enumerate() {
            assert!(row.len <= 128, "v6 row {i}");
            assert_eq!(row.net & !mask_u128(row.len), 0, "v6 row {i} has host bits");
            assert!(
                V6_TABLE[..i]
                    .iter()
                    .all(|o| (o.net, o.len) != (row.net, row.len)),
                "v6 row {i} duplicated"
            );
        }
    }

    #[test]
    fn masks() {
        assert_eq!(mask_u32(0), 0);
        assert_eq!(mask_u32(8), 0xff00_0000);
        assert_eq!(mask_u32(32), u32::MAX);
        assert_eq!(mask_u128(0), 0);
        assert_eq!(mask_u128(3), 0xe000 << 112);
        assert_eq!(mask_u128(128), u128::MAX);
    }

    #[test]
    fn wildcards() {
        for addr in ["0.0.0.0", "::", "::ffff:0.0.0.0"] {
            assert!(is_wildcard(ip(addr)), "{addr}");
        }
        for addr in ["0.0.0.1", "::1", "127.0.0.1", "::ffff:127.0.0.1"] {
            assert!(!is_wildcard(ip(addr)), "{addr}");
        }
    }

    #[test]
    fn ranking() {
        assert!(rank(Public) > rank(Private));
        assert_eq!(rank(Private), rank(Documentation));
        assert_eq!(rank(Private), rank(Reserved));
        assert!(rank(Private) > rank(LinkLocal));
        assert_eq!(rank(LinkLocal), rank(Multicast));
        assert!(rank(LinkLocal) > rank(Loopback));
        assert!(rank(Loopback) > 0);
    }

    #[test]
    fn v4_wildcard_on_private_host_is_private() {
        let mut ifs = lo();
        ifs.push(ifa("eth0", 2, "192.168.1.10"));
        ifs.push(ifa("eth0", 2, "fe80::1"));
        let got = exposure(&sock(Family::Ipv4, "0.0.0.0", None, None), &ifs);
        assert_eq!(
            got,
            exp(Some(Private), Some(("eth0", "192.168.1.10")), true)
        );
    }

    #[test]
    fn v4_wildcard_with_public_address_names_it() {
        let mut ifs = lo();
        ifs.push(ifa("eth0", 2, "192.168.1.10"));
        ifs.push(ifa("wg0", 3, "10.8.0.1"));
        ifs.push(ifa("eth1", 4, "8.8.4.4"));
        ifs.push(ifa("eth1", 4, "2606:4700::1")); // IPv6 does not count for 0.0.0.0
        let got = exposure(&sock(Family::Ipv4, "0.0.0.0", None, None), &ifs);
        assert_eq!(got, exp(Some(Public), Some(("eth1", "8.8.4.4")), true));
    }

    /// A host with a public IPv4 address and only link-local IPv6.
    fn public_v4_linklocal_v6() -> Vec<InterfaceAddr> {
        let mut ifs = lo();
        ifs.push(ifa("eth0", 2, "93.184.216.34"));
        ifs.push(ifa("eth0", 2, "fe80::1"));
        ifs
    }

    #[test]
    fn v6_wildcard_dual_stack_counts_ipv4() {
        let ifs = public_v4_linklocal_v6();
        let want = exp(Some(Public), Some(("eth0", "93.184.216.34")), true);
        assert_eq!(
            exposure(&sock(Family::Ipv6, "::", Some(false), None), &ifs),
            want
        );
        // Unknown v6only: assume Linux's default bindv6only=0, dual-stack.
        assert_eq!(exposure(&sock(Family::Ipv6, "::", None, None), &ifs), want);
    }

    #[test]
    fn v6_wildcard_v6only_ignores_ipv4() {
        let ifs = public_v4_linklocal_v6();
        let got = exposure(&sock(Family::Ipv6, "::", Some(true), None), &ifs);
        assert_eq!(got, exp(Some(LinkLocal), Some(("eth0", "fe80::1")), true));
    }

    #[test]
    fn v6only_wildcard_with_only_ipv6_loopback_is_loopback() {
        let ifs = vec![
            ifa("lo", 1, "127.0.0.1"),
            ifa("lo", 1, "::1"),
            ifa("eth0", 2, "10.0.0.5"),
        ];
        let got = exposure(&sock(Family::Ipv6, "::", Some(true), None), &ifs);
        assert_eq!(got, exp(Some(Loopback), Some(("lo", "::1")), true));
    }

    #[test]
    fn mapped_wildcard_is_ipv4_only() {
        // `::ffff:0.0.0.0` on an IPv6 socket, as the collector reports it and as it is raw.
        let mut ifs = lo();
        ifs.push(ifa("eth0", 2, "10.0.0.5"));
        ifs.push(ifa("eth0", 2, "2a00:1450::1"));
        let want = exp(Some(Private), Some(("eth0", "10.0.0.5")), true);
        for addr in ["0.0.0.0", "::ffff:0.0.0.0"] {
            let got = exposure(&sock(Family::Ipv6, addr, Some(false), None), &ifs);
            assert_eq!(got, want, "{addr}");
        }
    }

    #[test]
    fn device_bound_wildcard_counts_only_that_interface() {
        let mut ifs = lo();
        ifs.push(ifa("eth0", 2, "93.184.216.34"));
        ifs.push(ifa("eth1", 3, "192.168.7.1"));
        ifs.push(ifa("eth1", 3, "fe80::7"));
        let got = exposure(&sock(Family::Ipv4, "0.0.0.0", None, Some(3)), &ifs);
        assert_eq!(got, exp(Some(Private), Some(("eth1", "192.168.7.1")), true));
        let got = exposure(&sock(Family::Ipv4, "0.0.0.0", None, Some(1)), &ifs);
        assert_eq!(got, exp(Some(Loopback), Some(("lo", "127.0.0.1")), true));
        let got = exposure(&sock(Family::Ipv6, "::", Some(true), Some(3)), &ifs);
        assert_eq!(got, exp(Some(LinkLocal), Some(("eth1", "fe80::7")), true));
        // Bound to a device that has no address: nothing covered.
        let got = exposure(&sock(Family::Ipv4, "0.0.0.0", None, Some(9)), &ifs);
        assert_eq!(got, exp(None, None, true));
    }

    #[test]
    fn specific_loopback_bind_on_public_host_is_loopback() {
        let ifs = public_v4_linklocal_v6();
        let got = exposure(&sock(Family::Ipv4, "127.0.0.1", None, None), &ifs);
        assert_eq!(got, exp(Some(Loopback), Some(("lo", "127.0.0.1")), false));
        let got = exposure(&sock(Family::Ipv6, "::1", Some(true), None), &ifs);
        assert_eq!(got, exp(Some(Loopback), Some(("lo", "::1")), false));
        // 127.0.0.53 is local without being configured: still the loopback interface.
        let got = exposure(&sock(Family::Ipv4, "127.0.0.53", None, None), &ifs);
        assert_eq!(got, exp(Some(Loopback), Some(("lo", "127.0.0.53")), false));
        // ::ffff:127.0.0.1 on an IPv6 socket, canonicalised or not.
        for addr in ["127.0.0.1", "::ffff:127.0.0.1"] {
            let got = exposure(&sock(Family::Ipv6, addr, Some(false), None), &ifs);
            assert_eq!(
                got,
                exp(Some(Loopback), Some(("lo", "127.0.0.1")), false),
                "{addr}"
            );
        }
    }

    #[test]
    fn specific_bind_names_its_interface() {
        let mut ifs = lo();
        ifs.push(ifa("eth0", 2, "192.0.2.2"));
        ifs.push(ifa("eth0", 2, "fe80::1"));
        ifs.push(ifa("eth1", 3, "fe80::1"));
        let got = exposure(&sock(Family::Ipv4, "192.0.2.2", None, None), &ifs);
        assert_eq!(
            got,
            exp(Some(Documentation), Some(("eth0", "192.0.2.2")), false)
        );
        // The same link-local address on two links: the bound device decides.
        let got = exposure(&sock(Family::Ipv6, "fe80::1", Some(true), Some(3)), &ifs);
        assert_eq!(got, exp(Some(LinkLocal), Some(("eth1", "fe80::1")), false));
        // An address that is not (or no longer) configured: no interface unless device-bound.
        let got = exposure(&sock(Family::Ipv4, "10.9.9.9", None, None), &ifs);
        assert_eq!(
            got,
            exp(Some(Private), None, false).with_address("10.9.9.9")
        );
        let got = exposure(&sock(Family::Ipv4, "10.9.9.9", None, Some(2)), &ifs);
        assert_eq!(got, exp(Some(Private), Some(("eth0", "10.9.9.9")), false));
    }

    #[test]
    fn multicast_bind_is_multicast() {
        let mut ifs = lo();
        ifs.push(ifa("eth0", 2, "93.184.216.34"));
        let mut s = sock(Family::Ipv4, "224.0.0.251", None, None);
        s.proto = Proto::Udp;
        s.state = SocketState::Unconnected;
        let got = exposure(&s, &ifs);
        assert_eq!(
            got,
            exp(Some(Multicast), None, false).with_address("224.0.0.251")
        );
        s.family = Family::Ipv6;
        s.local_addr = ip("ff02::fb");
        s.bound_ifindex = Some(2);
        let got = exposure(&s, &ifs);
        assert_eq!(got, exp(Some(Multicast), Some(("eth0", "ff02::fb")), false));
    }

    #[test]
    fn wildcard_without_candidates_is_none() {
        // `[::]` v6-only on an IPv4-only host.
        let ifs = vec![ifa("lo", 1, "127.0.0.1"), ifa("eth0", 2, "10.0.0.5")];
        let got = exposure(&sock(Family::Ipv6, "::", Some(true), None), &ifs);
        assert_eq!(got, exp(None, None, true));
        // No interfaces at all.
        assert_eq!(
            exposure(&sock(Family::Ipv4, "0.0.0.0", None, None), &[]),
            exp(None, None, true)
        );
        // Multicast and unspecified interface addresses are not candidates.
        let ifs = vec![ifa("odd0", 5, "224.0.0.1"), ifa("odd0", 5, "0.0.0.0")];
        let got = exposure(&sock(Family::Ipv4, "0.0.0.0", None, None), &ifs);
        assert_eq!(got, exp(None, None, true));
    }

    #[test]
    fn wildcard_ties_go_to_the_first_interface_address() {
        let a = ifa("eth0", 2, "93.184.216.34");
        let b = ifa("eth1", 3, "8.8.4.4");
        let s = sock(Family::Ipv4, "0.0.0.0", None, None);
        let got = exposure(&s, &[a.clone(), b.clone()]);
        assert_eq!(
            got,
            exp(Some(Public), Some(("eth0", "93.184.216.34")), true)
        );
        let got = exposure(&s, &[b.clone(), a.clone()]);
        assert_eq!(got, exp(Some(Public), Some(("eth1", "8.8.4.4")), true));
        // Equal rank, different classes: the first one's class is reported.
        let doc = ifa("eth0", 2, "192.0.2.2");
        let private = ifa("eth1", 3, "10.0.0.1");
        let got = exposure(&s, &[doc.clone(), private.clone()]);
        assert_eq!(
            got,
            exp(Some(Documentation), Some(("eth0", "192.0.2.2")), true)
        );
        let got = exposure(&s, &[private, doc]);
        assert_eq!(got, exp(Some(Private), Some(("eth1", "10.0.0.1")), true));
        // A later, higher rank still wins over an earlier, lower one.
        let got = exposure(&s, &[ifa("lo", 1, "127.0.0.1"), b]);
        assert_eq!(got, exp(Some(Public), Some(("eth1", "8.8.4.4")), true));
    }

    impl Exposure {
        /// Test helper: set `via_address` without an interface.
        fn with_address(mut self, addr: &str) -> Exposure {
            self.via_address = Some(ip(addr));
            self
        }
    }
}
