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
use crate::model::{AddrClass, Exposure, InterfaceAddr, NetnsFacts, RawSocket, SocketEntry};

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

/// True when `e`, a listening socket of a namespace other than the host's, receives packets to
/// `addr`: it is bound to it, or a wildcard of a namespace that carries `addr` (a dual-stack
/// `[::]` counts for IPv4).
#[must_use]
pub fn receives(e: &SocketEntry, addr: IpAddr, namespaces: &[NetnsFacts]) -> bool {
    let Some(ns) = e.netns.as_ref().filter(|n| !n.host) else {
        return false;
    };
    if !e.wildcard {
        return e.local_address == addr;
    }
    let family_ok = addr.is_ipv6() == e.local_address.is_ipv6()
        || (addr.is_ipv4() && e.dual_stack != Some(false));
    family_ok
        && namespaces
            .iter()
            .find(|n| n.inode == ns.inode)
            .is_some_and(|n| n.interfaces.iter().any(|i| i.addr == addr))
}

#[cfg(test)]
mod tests;
