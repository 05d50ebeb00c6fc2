//! Table tests of `analyze::exposure`.
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
        inode: Some(4242),
        bound_ifindex: bound,
        v6only,
        netns: None,
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
