//! Reachability on typed rulesets: the per-finding verdict and its severity, the firewall that
//! could not be read, and a published port with and without a forward-path drop.

use super::*;
use crate::analyze::audit::tests::entry;
use crate::model::{AddrClass, Proto};

fn ruleset(text: &str) -> Ruleset {
    Ruleset::from_nft_json(text).unwrap()
}

/// An nft -j document of one inet table `f` whose chains are given as (name, hook, policy,
/// rules as JSON expression lists).
/// (chain name, (hook, policy) of a base chain, rules).
type ChainSpec<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [&'a str]);

fn nft(chains: &[ChainSpec<'_>], table: &str, family: &str) -> String {
    let mut items = Vec::new();
    for (name, hook, rules) in chains {
        match hook {
            Some((hook, policy)) => items.push(format!(
                r#"{{"chain":{{"family":"{family}","table":"{table}","name":"{name}","type":"{}","hook":"{hook}","prio":0,"policy":"{policy}"}}}}"#,
                if *hook == "prerouting" { "nat" } else { "filter" }
            )),
            None => items.push(format!(
                r#"{{"chain":{{"family":"{family}","table":"{table}","name":"{name}"}}}}"#
            )),
        }
        for (i, rule) in rules.iter().enumerate() {
            items.push(format!(
                r#"{{"rule":{{"family":"{family}","table":"{table}","chain":"{name}","handle":{},"expr":[{rule}]}}}}"#,
                i + 10
            ));
        }
    }
    format!(r#"{{"nftables":[{}]}}"#, items.join(","))
}

const DPORT_6379_DROP: &str = r#"{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":6379}},{"drop":null}"#;
const DNAT_15432: &str = r#"{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":15432}},{"dnat":{"addr":"10.8.0.2","port":5432}}"#;
const DPORT_5432_DROP: &str = r#"{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":5432}},{"drop":null}"#;

fn addresses() -> Vec<InterfaceAddr> {
    vec![InterfaceAddr {
        name: "eth0".into(),
        index: Some(2),
        addr: "11.22.33.44".parse().unwrap(),
    }]
}

fn judge(
    rs: Result<&Ruleset, &str>,
    entries: &[SocketEntry],
    forwarding: bool,
) -> (Vec<Finding>, Vec<String>) {
    let rules = RuleSet::builtin();
    let mut findings = crate::analyze::audit::findings(entries, rules, &Default::default());
    let addrs = addresses();
    let cx = ReachContext {
        ruleset: rs,
        addresses: &addrs,
        forwarding: [Some(forwarding), None],
        namespaces: &[],
    };
    let warnings = apply(&mut findings, entries, rules, &cx);
    (findings, warnings)
}

#[test]
fn verdicts_and_severities() {
    let redis = entry(Proto::Tcp, "0.0.0.0", 6379, Some(AddrClass::Public));
    let pg = entry(Proto::Tcp, "0.0.0.0", 5432, Some(AddrClass::Public));
    let rs = ruleset(&nft(
        &[("input", Some(("input", "accept")), &[DPORT_6379_DROP])],
        "f",
        "inet",
    ));
    let (found, warnings) = judge(Ok(&rs), &[redis, pg], true);
    assert!(warnings.is_empty());
    let by_port = |p: u16| found.iter().find(|f| f.socket.port == p).unwrap();
    let r = by_port(6379);
    assert_eq!(r.reachable, Some(Reachable::Filtered));
    assert_eq!(r.severity, r.base_severity.lowered(1));
    assert_eq!(
        r.reachability
            .as_ref()
            .unwrap()
            .decided_by
            .as_ref()
            .unwrap()
            .handle,
        Some(10)
    );
    let p = by_port(5432);
    assert_eq!(p.reachable, Some(Reachable::Yes));
    assert_eq!(p.severity, p.base_severity);
    assert!(p.notes.iter().all(|n| !n.contains("reachab")), "{p:?}");
}

#[test]
fn unreadable_firewall_is_unknown_with_one_hint_and_severity_kept() {
    let entries = [
        entry(Proto::Tcp, "0.0.0.0", 6379, Some(AddrClass::Public)),
        entry(Proto::Tcp, "0.0.0.0", 5432, Some(AddrClass::Public)),
        entry(Proto::Tcp, "127.0.0.1", 3306, Some(AddrClass::Loopback)),
    ];
    let (found, warnings) = judge(Err("nft may not list the ruleset"), &entries, true);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for f in &found {
        assert_eq!(f.reachable, Some(Reachable::Unknown));
        assert_eq!(f.severity, f.base_severity);
    }
}

#[test]
fn published_port_forward_path() {
    let nat = nft(
        &[("prerouting", Some(("prerouting", "accept")), &[DNAT_15432])],
        "nat",
        "ip",
    );
    let drop_input = nft(
        &[(
            "input",
            Some(("input", "accept")),
            &[
                r#"{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":15432}},{"drop":null}"#,
            ],
        )],
        "f",
        "inet",
    );
    let docker_user = nft(
        &[
            (
                "FORWARD",
                Some(("forward", "accept")),
                &[r#"{"jump":{"target":"DOCKER-USER"}}"#],
            ),
            ("DOCKER-USER", None, &[DPORT_5432_DROP]),
        ],
        "filter",
        "ip",
    );
    let merge = |docs: &[&str]| {
        let items: Vec<String> = docs
            .iter()
            .map(|d| {
                d.trim_start_matches(r#"{"nftables":["#)
                    .trim_end_matches("]}")
                    .to_owned()
            })
            .collect();
        format!(r#"{{"nftables":[{}]}}"#, items.join(","))
    };
    type Case<'a> = (&'a [&'a str], bool, Reachable, Option<&'a str>, bool);
    let cases: &[Case] = &[
        // Published, input drops the outside port: reachable, and the bypass is called out.
        (&[&nat, &drop_input], true, Reachable::Yes, None, true),
        // DOCKER-USER drops the container port on the forward path.
        (
            &[&nat, &drop_input, &docker_user],
            true,
            Reachable::Filtered,
            Some("DOCKER-USER"),
            false,
        ),
        // Forwarding off: the DNATed packet goes nowhere.
        (&[&nat], false, Reachable::Filtered, None, false),
    ];
    for (docs, forwarding, want, chain, bypass) in cases {
        let rs = ruleset(&merge(docs));
        let (found, _) = judge(Ok(&rs), &[], *forwarding);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(
            (f.socket.port, f.rule.as_str()),
            (15432, "exposed-postgresql")
        );
        assert_eq!(f.reachable, Some(*want), "{f:#?}");
        let r = f.reachability.as_ref().unwrap();
        assert_eq!(r.path, FirewallPathKind::Forward);
        assert_eq!(
            r.decided_by.as_ref().map(|b| b.chain.as_str()),
            *chain,
            "{f:#?}"
        );
        let p = f.published.as_ref().unwrap();
        assert_eq!(
            (p.target_address, p.target_port),
            (Some("10.8.0.2".parse().unwrap()), 5432)
        );
        assert!(!p.target_visible);
        assert_eq!(p.bypasses.is_some(), *bypass, "{f:#?}");
    }
}

#[test]
fn published_port_links_a_visible_receiver() {
    let nat = nft(
        &[("prerouting", Some(("prerouting", "accept")), &[DNAT_15432])],
        "nat",
        "ip",
    );
    let rs = ruleset(&nat);
    let mut container = entry(Proto::Tcp, "10.8.0.2", 5432, Some(AddrClass::Private));
    container.processes[0].name = Some("postgres".into());
    let (found, _) = judge(Ok(&rs), &[container], true);
    let f = found.iter().find(|f| f.published.is_some()).unwrap();
    assert!(f.published.as_ref().unwrap().target_visible);
    assert_eq!(f.process_names(), ["postgres"]);
}
