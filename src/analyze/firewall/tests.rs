//! Table tests of the evaluator on recorded `nft -j list ruleset` output (nft 1.0.6, Debian
//! 12): `inet_filter.json` (accept policy, sets, ranges, jump) and `policy_drop.json` (ip
//! table with a drop policy, an ip6 table, an empty nat chain, a prerouting chain matching a
//! mark, which is not modelled).

use super::*;
use crate::model::Ruleset;

const INET_FILTER: &str = include_str!("inet_filter.json");
const POLICY_DROP: &str = include_str!("policy_drop.json");

fn load(text: &str) -> Ruleset {
    Ruleset::from_nft_json(text).expect("recorded ruleset parses")
}

fn packet(proto: Proto, daddr: &str, dport: u16, iif: &str) -> Packet {
    Packet {
        proto,
        daddr: daddr.parse().unwrap(),
        dport,
        iifname: Some(iif.to_owned()),
    }
}

use Proto::{Tcp, Udp};

#[test]
fn inet_filter_decisions() {
    let rs = load(INET_FILTER);
    // (packet, decision, deciding chain, rule handle; None = policy)
    let cases: [(Packet, Decision, &str, Option<u64>); 13] = [
        // iifname "lo" accept (ct state established,related does not match a new packet).
        (
            packet(Tcp, "127.0.0.1", 8080, "lo"),
            Decision::Accept,
            "input",
            Some(5),
        ),
        (
            packet(Tcp, "10.0.0.2", 8080, "eth0"),
            Decision::Drop,
            "input",
            Some(6),
        ),
        // Another protocol: tcp dport does not match.
        (
            packet(Udp, "10.0.0.2", 8080, "eth0"),
            Decision::Accept,
            "input",
            None,
        ),
        (
            packet(Tcp, "10.0.0.2", 9005, "eth0"),
            Decision::Reject,
            "input",
            Some(8),
        ),
        (
            packet(Tcp, "10.0.0.2", 9100, "eth0"),
            Decision::Reject,
            "input",
            Some(8),
        ),
        (
            packet(Tcp, "10.0.0.2", 9011, "eth0"),
            Decision::Accept,
            "input",
            None,
        ),
        (
            packet(Udp, "10.0.0.2", 53, "eth0"),
            Decision::Reject,
            "input",
            Some(9),
        ),
        (
            packet(Tcp, "10.0.0.1", 80, "eth0"),
            Decision::Accept,
            "input",
            Some(10),
        ),
        // Named set @allowed { 22, 443 }.
        (
            packet(Tcp, "10.0.0.2", 443, "eth0"),
            Decision::Accept,
            "input",
            Some(12),
        ),
        // jump sub: tcp dport 7000 drop.
        (
            packet(Tcp, "10.0.0.2", 7000, "eth0"),
            Decision::Drop,
            "sub",
            Some(16),
        ),
        // ip daddr 10.1.0.0/16 tcp dport != 22 drop.
        (
            packet(Tcp, "10.1.2.3", 8081, "eth0"),
            Decision::Drop,
            "input",
            Some(14),
        ),
        (
            packet(Tcp, "10.1.2.3", 22, "eth0"),
            Decision::Accept,
            "input",
            Some(12),
        ),
        // ip6 daddr ::1 accept; an IPv6 packet never matches ip daddr.
        (
            packet(Tcp, "::1", 8080, "eth0"),
            Decision::Drop,
            "input",
            Some(6),
        ),
    ];
    for (p, want, chain, handle) in cases {
        let got = evaluate(&rs, &p);
        assert_eq!(got.decision, want, "{p:?}: {got:?}");
        let by = got.decided_by.expect("decided by");
        assert_eq!(
            (by.chain.as_str(), by.handle),
            (chain, handle),
            "{p:?}: {}",
            got.reason
        );
        assert_eq!((by.family, by.table.as_str()), (NftFamily::Inet, "filter"));
    }
}

#[test]
fn policy_drop_and_unknowns() {
    let full = load(POLICY_DROP);
    // The prerouting chain matches `meta mark`, which is not modelled: never a guess.
    let got = evaluate(&full, &packet(Tcp, "192.168.1.5", 22, "eth0"));
    assert_eq!(got.decision, Decision::Unknown, "{got:?}");
    assert!(
        got.reason.contains("rule handle 2 of chain pre"),
        "{}",
        got.reason
    );

    let mut rs = full.clone();
    rs.chains.retain(|c| c.table != "early");
    let cases: [(Packet, Decision, &str, Option<u64>); 7] = [
        (
            packet(Tcp, "192.168.1.5", 22, "eth0"),
            Decision::Accept,
            "INPUT",
            Some(5),
        ),
        (
            packet(Tcp, "192.168.2.5", 22, "eth0"),
            Decision::Drop,
            "INPUT",
            None,
        ),
        (
            packet(Tcp, "127.0.0.1", 3306, "lo"),
            Decision::Accept,
            "INPUT",
            Some(2),
        ),
        (
            packet(Udp, "192.168.2.5", 5005, "eth1"),
            Decision::Accept,
            "INPUT",
            Some(6),
        ),
        (
            packet(Udp, "192.168.2.5", 5005, "wlan0"),
            Decision::Drop,
            "INPUT",
            None,
        ),
        // IPv6: only the ip6 table applies, and it rejects 9999.
        (
            packet(Tcp, "2001:db8::1", 9999, "eth0"),
            Decision::Reject,
            "in6",
            Some(2),
        ),
        (
            packet(Tcp, "2001:db8::1", 22, "eth0"),
            Decision::Accept,
            "in6",
            None,
        ),
    ];
    for (p, want, chain, handle) in cases {
        let got = evaluate(&rs, &p);
        assert_eq!(got.decision, want, "{p:?}: {got:?}");
        let by = got.decided_by.expect("decided by");
        assert_eq!(
            (by.chain.as_str(), by.handle),
            (chain, handle),
            "{p:?}: {}",
            got.reason
        );
    }
    // An unknown input interface makes interface matches unknown when they decide.
    let mut p = packet(Udp, "192.168.2.5", 5005, "x");
    p.iifname = None;
    assert_eq!(evaluate(&rs, &p).decision, Decision::Unknown);
    // A nat chain with rules is not modelled.
    let mut nat = rs.clone();
    if let Some(c) = nat.chains.iter_mut().find(|c| c.table == "nat") {
        c.rules.push(crate::model::Rule {
            handle: 9,
            exprs: vec![Expr::Other("{\"dnat\":{}}".into())],
        });
    }
    let got = evaluate(&nat, &packet(Tcp, "192.168.1.5", 22, "eth0"));
    assert_eq!(got.decision, Decision::Unknown);
    assert!(got.reason.contains("nat chain"), "{}", got.reason);
}

#[test]
fn empty_ruleset_accepts_and_bad_json_is_an_error() {
    let rs = load(r#"{"nftables": [{"metainfo": {"json_schema_version": 1}}]}"#);
    let got = evaluate(&rs, &packet(Tcp, "10.0.0.1", 80, "eth0"));
    assert_eq!((got.decision, got.decided_by), (Decision::Accept, None));
    assert!(Ruleset::from_nft_json("not json").is_err());
    assert!(Ruleset::from_nft_json("{}").is_err());
}

#[test]
fn prefixes() {
    assert!(in_prefix(
        "10.1.0.0".parse().unwrap(),
        16,
        "10.1.255.1".parse().unwrap()
    ));
    assert!(!in_prefix(
        "10.1.0.0".parse().unwrap(),
        16,
        "10.2.0.1".parse().unwrap()
    ));
    assert!(in_prefix(
        "0.0.0.0".parse().unwrap(),
        0,
        "1.2.3.4".parse().unwrap()
    ));
    assert!(in_prefix(
        "fd00::".parse().unwrap(),
        8,
        "fd12::1".parse().unwrap()
    ));
    assert!(!in_prefix(
        "fd00::".parse().unwrap(),
        8,
        "10.0.0.1".parse().unwrap()
    ));
}
