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

/// `family_ingress.json` (nft 1.0.6, recorded in a namespace):
///
/// ```text
/// table inet fam {
///   chain input { type filter hook input priority 0; policy accept;
///     ip protocol tcp tcp dport 7000 drop            # handle 3
///     ip6 nexthdr udp udp dport 7001 reject          # handle 4
///     ip saddr 10.0.0.0/8 tcp dport 7002 drop }      # handle 5
///   chain ing { type filter hook ingress device "lo" priority 0; policy accept;
///     tcp dport 7100 drop }                          # handle 6
/// }
/// table netdev nd {
///   chain ing { type filter hook ingress device "lo" priority -10; policy accept;
///     ip daddr 127.0.0.2 tcp dport 7200 drop         # handle 2
///     iifname "lo" tcp dport 7201 drop }             # handle 3
/// }
/// ```
const FAMILY_INGRESS: &str = include_str!("family_ingress.json");

/// The recorded ruleset with the ingress chains' device filled in, as newer nft print it.
fn with_devices(mut rs: Ruleset, dev: &str) -> Ruleset {
    for c in &mut rs.chains {
        if let Some(base) = c.base.as_mut().filter(|b| b.hook == "ingress") {
            base.devices = vec![dev.to_owned()];
        }
    }
    rs
}

#[test]
fn ip_protocol_and_ip6_nexthdr_imply_their_ip_version() {
    let mut rs = load(FAMILY_INGRESS);
    rs.chains.retain(|c| c.name == "input");
    let cases: [(Packet, Decision, Option<u64>); 5] = [
        (
            packet(Tcp, "10.0.0.2", 7000, "eth0"),
            Decision::Drop,
            Some(3),
        ),
        // Before the fix `ip protocol tcp` matched IPv6 packets too.
        (
            packet(Tcp, "2001:db8::2", 7000, "eth0"),
            Decision::Accept,
            None,
        ),
        (
            packet(Udp, "2001:db8::2", 7001, "eth0"),
            Decision::Reject,
            Some(4),
        ),
        (
            packet(Udp, "10.0.0.2", 7001, "eth0"),
            Decision::Accept,
            None,
        ),
        // `ip saddr` is not modelled: no IPv6 packet reaches that question.
        (
            packet(Tcp, "2001:db8::2", 7002, "eth0"),
            Decision::Accept,
            None,
        ),
    ];
    for (p, want, handle) in cases {
        let got = evaluate(&rs, &p);
        assert_eq!(got.decision, want, "{p:?}: {got:?}");
        assert_eq!(got.decided_by.and_then(|b| b.handle), handle, "{p:?}");
    }
}

#[test]
fn unknown_matches_are_worded_as_nft_shows_them() {
    let mut rs = load(FAMILY_INGRESS);
    rs.chains.retain(|c| c.name == "input");
    let got = evaluate(&rs, &packet(Tcp, "10.0.0.2", 7002, "eth0"));
    assert_eq!(got.decision, Decision::Unknown);
    assert!(
        got.reason
            .ends_with("the match `ip saddr 10.0.0.0/8` is not modelled"),
        "{}",
        got.reason
    );
    // A long value is cut.
    let long: Vec<String> = (0..200).map(|i| format!("10.0.{i}.0/24")).collect();
    let json = format!(
        r#"{{"nftables": [{{"chain": {{"family": "ip", "table": "t", "name": "c", "hook": "input", "type": "filter", "prio": 0, "policy": "accept"}}}},
        {{"rule": {{"family": "ip", "table": "t", "chain": "c", "handle": 2, "expr": [{{"match": {{"op": "!=", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": {{"set": [{}]}}}}}}, {{"drop": null}}]}}}}]}}"#,
        long.iter()
            .map(|p| {
                let (a, l) = p.split_once('/').unwrap();
                format!(r#"{{"prefix": {{"addr": "{a}", "len": {l}}}}}"#)
            })
            .collect::<Vec<_>>()
            .join(",")
    );
    let got = evaluate(&load(&json), &packet(Tcp, "10.0.0.2", 1, "eth0"));
    assert!(
        got.reason
            .contains("the match `ip saddr != { 10.0.0.0/24, 10.0.1.0/24"),
        "{}",
        got.reason
    );
    assert!(got.reason.len() < 300, "{}", got.reason);
    assert!(got.reason.contains('…'), "{}", got.reason);
}

#[test]
fn ingress_chains_run_first_on_their_device() {
    // Before the fix, the inet ingress chain was skipped silently and the netdev one made
    // every answer unknown.
    let rs = with_devices(load(FAMILY_INGRESS), "lo");
    // (packet, decision, table, chain, handle)
    let cases: [(Packet, Decision, &str, &str, Option<u64>); 6] = [
        (
            packet(Tcp, "127.0.0.1", 7100, "lo"),
            Decision::Drop,
            "fam",
            "ing",
            Some(6),
        ),
        (
            packet(Tcp, "127.0.0.2", 7200, "lo"),
            Decision::Drop,
            "nd",
            "ing",
            Some(2),
        ),
        (
            packet(Tcp, "127.0.0.1", 7201, "lo"),
            Decision::Drop,
            "nd",
            "ing",
            Some(3),
        ),
        // `ip daddr 127.0.0.2` does not match an IPv6 packet.
        (
            packet(Tcp, "::1", 7200, "lo"),
            Decision::Accept,
            "fam",
            "input",
            None,
        ),
        // Another device: the ingress chains on lo do not see it; input drops 7000.
        (
            packet(Tcp, "10.0.0.2", 7100, "eth0"),
            Decision::Accept,
            "fam",
            "input",
            None,
        ),
        (
            packet(Tcp, "10.0.0.2", 7000, "eth0"),
            Decision::Drop,
            "fam",
            "input",
            Some(3),
        ),
    ];
    for (p, want, table, chain, handle) in cases {
        let got = evaluate(&rs, &p);
        assert_eq!(got.decision, want, "{p:?}: {got:?}");
        let by = got.decided_by.expect("decided by");
        assert_eq!(
            (by.table.as_str(), by.chain.as_str(), by.handle),
            (table, chain, handle),
            "{p:?}: {}",
            got.reason
        );
    }
    // As recorded (no device in nft 1.0.6's JSON): a chain that would stop the packet makes
    // the answer unknown; one that lets it pass does not matter.
    let recorded = load(FAMILY_INGRESS);
    let got = evaluate(&recorded, &packet(Tcp, "10.0.0.2", 7100, "eth0"));
    assert_eq!(got.decision, Decision::Unknown, "{got:?}");
    assert!(
        got.reason.contains("does not say which device"),
        "{}",
        got.reason
    );
    let got = evaluate(&recorded, &packet(Tcp, "10.0.0.2", 8080, "eth0"));
    assert_eq!(got.decision, Decision::Accept, "{got:?}");
    // ct state before connection tracking is not modelled.
    let mut ct = rs.clone();
    let ing = ct
        .chains
        .iter_mut()
        .find(|c| c.table == "fam" && c.name == "ing")
        .unwrap();
    ing.rules[0].exprs.insert(
        0,
        Expr::Match {
            left: Key::CtState,
            op: MatchOp::In,
            right: Value::Text("new".into()),
        },
    );
    let got = evaluate(&ct, &packet(Tcp, "127.0.0.1", 7100, "lo"));
    assert_eq!(got.decision, Decision::Unknown, "{got:?}");
}

#[test]
fn chain_devices_are_read() {
    let rs = load(
        r#"{"nftables": [{"chain": {"family": "netdev", "table": "n", "name": "a", "hook": "ingress", "dev": "eth0", "type": "filter", "prio": 0, "policy": "accept"}},
        {"chain": {"family": "netdev", "table": "n", "name": "b", "hook": "ingress", "dev": ["eth0", "eth1"], "type": "filter", "prio": 0, "policy": "drop"}}]}"#,
    );
    let devs: Vec<Vec<String>> = rs
        .chains
        .iter()
        .map(|c| c.base.as_ref().unwrap().devices.clone())
        .collect();
    assert_eq!(
        devs,
        [vec!["eth0".to_owned()], vec!["eth0".into(), "eth1".into()]]
    );
    // The drop policy on eth1 drops, and lo is not filtered.
    assert_eq!(
        evaluate(&rs, &packet(Tcp, "10.0.0.2", 80, "eth1")).decision,
        Decision::Drop
    );
    assert_eq!(
        evaluate(&rs, &packet(Tcp, "127.0.0.1", 80, "lo")).decision,
        Decision::Accept
    );
}

/// `iptables_save_v4.txt` / `iptables_save_v6.txt` (iptables 1.8.9, recorded in a namespace):
///
/// ```text
/// iptables -P INPUT DROP; iptables -N SVC
///  1 -A INPUT -i lo -j ACCEPT
///  2 -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
///  3 -A INPUT -p tcp --dport 22 -j ACCEPT
///  4 -A INPUT -p tcp -m multiport --dports 80,443,8000:8010 -j SVC
///  5 -A INPUT -d 10.9.0.0/16 -p udp --dport 53 -j ACCEPT
///  6 -A INPUT -p tcp --dport 9000 -j REJECT --reject-with tcp-reset
///  7 -A INPUT -s 192.168.0.0/16 -p tcp --dport 9001 -j ACCEPT
///  8 -A INPUT -i eth+ -p tcp -m state --state NEW --dport 9002 -m comment --comment … -j ACCEPT
///  9 -A INPUT -p tcp ! --dport 9003:9010 -j LOG --log-prefix "x: "
///  1 -A SVC -p tcp --dport 8005 -j RETURN
///  2 -A SVC -j ACCEPT
/// iptables -t nat -A PREROUTING -p tcp --dport 2222 -j DNAT --to-destination 10.9.0.5:22
/// ip6tables: 1 -A INPUT -p tcp --dport 7000 -j DROP
///            2 -A INPUT -d fd00::/8 -p udp --dport 53 -j REJECT
/// ```
const IPTABLES_V4: &str = include_str!("iptables_save_v4.txt");
const IPTABLES_V6: &str = include_str!("iptables_save_v6.txt");

#[test]
fn iptables_save_is_evaluated_like_nft() {
    let full = Ruleset::from_iptables_save(Some(IPTABLES_V4), Some(IPTABLES_V6)).unwrap();
    // The DNAT rule in nat PREROUTING: unknown, as for nft.
    let got = evaluate(&full, &packet(Tcp, "10.9.0.1", 22, "eth0"));
    assert_eq!(got.decision, Decision::Unknown, "{got:?}");
    assert!(got.reason.contains("nat chain"), "{}", got.reason);

    let mut rs = full.clone();
    rs.chains.retain(|c| c.table != "nat");
    // (packet, decision, chain, rule number or None for the policy, reason)
    let cases: [(Packet, Decision, &str, Option<u64>, &str); 11] = [
        (
            packet(Tcp, "127.0.0.1", 5000, "lo"),
            Decision::Accept,
            "INPUT",
            Some(1),
            "iptables filter INPUT rule 1 decides: accept",
        ),
        (
            packet(Tcp, "10.9.0.1", 22, "eth0"),
            Decision::Accept,
            "INPUT",
            Some(3),
            "iptables filter INPUT rule 3 decides: accept",
        ),
        (
            packet(Tcp, "10.9.0.1", 443, "eth0"),
            Decision::Accept,
            "SVC",
            Some(2),
            "iptables filter SVC rule 2 decides: accept",
        ),
        // SVC returns for 8005; nothing else matches: the policy drops.
        (
            packet(Tcp, "10.9.0.1", 8005, "eth0"),
            Decision::Drop,
            "INPUT",
            None,
            "the policy of iptables filter INPUT decides: drop",
        ),
        (
            packet(Udp, "10.9.0.1", 53, "eth0"),
            Decision::Accept,
            "INPUT",
            Some(5),
            "",
        ),
        (
            packet(Udp, "10.8.0.1", 53, "eth0"),
            Decision::Drop,
            "INPUT",
            None,
            "",
        ),
        (
            packet(Tcp, "10.9.0.1", 9000, "eth0"),
            Decision::Reject,
            "INPUT",
            Some(6),
            "iptables filter INPUT rule 6 decides: reject",
        ),
        // -s is not modelled and the rule accepts: unknown, named.
        (
            packet(Tcp, "10.9.0.1", 9001, "eth0"),
            Decision::Unknown,
            "INPUT",
            Some(7),
            "iptables filter INPUT rule 7: the match `-s 192.168.0.0/16` is not modelled",
        ),
        (
            packet(Tcp, "10.9.0.1", 9002, "eth1"),
            Decision::Accept,
            "INPUT",
            Some(8),
            "",
        ),
        (
            packet(Tcp, "10.9.0.1", 9002, "wlan0"),
            Decision::Drop,
            "INPUT",
            None,
            "",
        ),
        // IPv6: ip6tables only.
        (
            packet(Tcp, "2001:db8::1", 7000, "eth0"),
            Decision::Drop,
            "INPUT",
            Some(1),
            "ip6tables filter INPUT rule 1 decides: drop",
        ),
    ];
    for (p, want, chain, handle, reason) in cases {
        let got = evaluate(&rs, &p);
        assert_eq!(got.decision, want, "{p:?}: {got:?}");
        let by = got.decided_by.clone().expect("decided by");
        assert_eq!(
            (by.table.as_str(), by.chain.as_str(), by.handle),
            ("filter", chain, handle),
            "{p:?}: {}",
            got.reason
        );
        assert!(got.reason.ends_with(reason), "{p:?}: {}", got.reason);
    }
    assert_eq!(
        evaluate(&rs, &packet(Udp, "fd00::5", 53, "eth0")).decision,
        Decision::Reject
    );
    assert_eq!(
        evaluate(&rs, &packet(Udp, "2001:db8::1", 53, "eth0")).decision,
        Decision::Accept
    );
}
