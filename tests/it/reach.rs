//! `portscope audit` reachability (issue 16): a real nftables ruleset loaded into a network
//! namespace the test creates (nft from Debian; required under CI=true), listeners opened there,
//! the audit run there. Each case asserts `reachable`, the deciding rule and the adjusted
//! severity. Nothing is ever sent.

use std::net::TcpListener;

use portscope::model::{Finding, FirewallPathKind, Proto, Reachable, Severity};
use serde::Deserialize;

use crate::common::*;

#[derive(Debug, Deserialize)]
struct AuditDoc {
    findings: Vec<Finding>,
    warnings: Vec<String>,
}

/// A namespace with a public-looking 11.22.33.44/24 on va (never contacted).
fn public_ns(tag: &str) -> Option<Netns> {
    if !have("nft") && skip("the reachability tests need nft (Debian package nftables)") {
        return None;
    }
    let ns = Netns::create(tag)?;
    ns.addr("va", "11.22.33.44/24");
    Some(ns)
}

fn nft(ns: &Netns, ruleset: &str) {
    let path = std::env::temp_dir().join(format!("{}.nft", ns.name));
    std::fs::write(&path, ruleset).unwrap();
    ns.exec(&["nft", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(path);
}

fn audit(ns: &Netns, args: &[&str]) -> (Option<i32>, AuditDoc) {
    let mut all = vec!["audit", "--json"];
    all.extend_from_slice(args);
    let out = ns.portscope(&all);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}

fn finding(doc: &AuditDoc, port: u16) -> &Finding {
    let found: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.socket.port == port && f.socket.proto == Proto::Tcp)
        .collect();
    assert_eq!(found.len(), 1, "{port}: {:#?}", doc.findings);
    found[0]
}

/// Assert the verdict, the deciding chain (and a rule handle, or the policy) and the severity:
/// the public severity, one step lower when filtered.
fn assert_reach(f: &Finding, want: Reachable, chain: &str, by_rule: bool) {
    assert_eq!(f.reachable, Some(want), "{f:#?}");
    let r = f.reachability.as_ref().expect("reachability");
    let by = r.decided_by.as_ref().unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(by.chain, chain, "{f:#?}");
    assert_eq!(by.handle.is_some(), by_rule, "{f:#?}");
    assert_eq!(r.severity_unfiltered, f.base_severity, "{f:#?}");
    let expected = match want {
        Reachable::Filtered => f.base_severity.lowered(1),
        _ => f.base_severity,
    };
    assert_eq!(f.severity, expected, "{f:#?}");
}

fn listen(ns: &Netns, ports: &[u16]) -> Vec<TcpListener> {
    ns.run(|| {
        ports
            .iter()
            .map(|p| TcpListener::bind(("0.0.0.0", *p)).unwrap())
            .collect()
    })
}

#[test]
fn reach_default_drop_policy_with_an_allowed_port() {
    let Some(ns) = public_ns("rdrop") else { return };
    let _l = listen(&ns, &[6379, 5432]);
    nft(
        &ns,
        "table inet f {\n chain input {\n  type filter hook input priority 0; policy drop;\n  ct state established,related accept\n  iif lo accept\n  tcp dport 6379 accept\n }\n}\n",
    );
    let (_, doc) = audit(&ns, &[]);
    assert_reach(finding(&doc, 6379), Reachable::Yes, "input", true);
    let pg = finding(&doc, 5432);
    assert_reach(pg, Reachable::Filtered, "input", false);
    assert_eq!(
        pg.reachability.as_ref().unwrap().path,
        FirewallPathKind::Input
    );
    // --fail-on judges the adjusted severity.
    let lowered = pg.severity;
    let (code, _) = audit(&ns, &["--fail-on", pg.base_severity.as_str()]);
    assert_eq!(code, Some(1), "redis is still at its base severity");
    assert!(lowered < pg.base_severity);
}

#[test]
fn reach_reject_rule() {
    let Some(ns) = public_ns("rrej") else { return };
    let _l = listen(&ns, &[6379]);
    nft(
        &ns,
        "table inet f {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 6379 reject with tcp reset\n }\n}\n",
    );
    let (code, doc) = audit(&ns, &["--fail-on", "critical"]);
    let f = finding(&doc, 6379);
    assert_reach(f, Reachable::Filtered, "input", true);
    assert_eq!(f.reachability.as_ref().unwrap().decision.as_str(), "reject");
    assert_eq!(code, Some(0));
}

/// A rule that accepts one source network is not modelled: unknown, naming the rule, and the
/// severity is left as the bind decides.
#[test]
fn reach_source_network_rule_is_unknown() {
    let Some(ns) = public_ns("rsrc") else { return };
    let _l = listen(&ns, &[6379]);
    nft(
        &ns,
        "table inet f {\n chain input {\n  type filter hook input priority 0; policy drop;\n  ip saddr 10.9.0.0/16 tcp dport 6379 accept\n }\n}\n",
    );
    let (_, doc) = audit(&ns, &[]);
    let f = finding(&doc, 6379);
    assert_reach(f, Reachable::Unknown, "input", true);
    assert!(
        f.reachability.as_ref().unwrap().reason.contains("ip saddr"),
        "{f:#?}"
    );
}

#[test]
fn reach_rule_on_one_interface() {
    let Some(ns) = public_ns("rif") else { return };
    let _l = listen(&ns, &[6379]);
    nft(
        &ns,
        "table inet f {\n chain input {\n  type filter hook input priority 0; policy accept;\n  iifname \"vb\" accept\n  iifname \"va\" tcp dport 6379 drop\n }\n}\n",
    );
    let (_, doc) = audit(&ns, &[]);
    let f = finding(&doc, 6379);
    assert_reach(f, Reachable::Filtered, "input", true);
    assert_eq!(
        f.reachability.as_ref().unwrap().interface.as_deref(),
        Some("va")
    );
}

#[test]
fn reach_port_in_a_named_set_and_a_user_chain() {
    let Some(ns) = public_ns("rset") else { return };
    let _l = listen(&ns, &[6379, 5432, 3306]);
    nft(
        &ns,
        "table inet f {\n set blocked {\n  type inet_service\n  elements = { 6379, 11211 }\n }\n chain services {\n  tcp dport 5432 drop\n  return\n }\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport @blocked drop\n  jump services\n }\n}\n",
    );
    let (_, doc) = audit(&ns, &[]);
    assert_reach(finding(&doc, 6379), Reachable::Filtered, "input", true);
    assert_reach(finding(&doc, 5432), Reachable::Filtered, "services", true);
    assert_reach(finding(&doc, 3306), Reachable::Yes, "input", false);
}

/// A "container": vb moved into a second namespace with 10.8.0.2, a listener there on 5432,
/// and the host publishing 15432 to it by DNAT while its input chain drops 15432.
fn published_setup(tag: &str, forward: &str) -> Option<(Netns, Netns, Vec<TcpListener>)> {
    let ns = public_ns(tag)?;
    let container = Netns::create(&format!("{tag}c"))?;
    // Replace the second namespace's own veth with the host's vb.
    container.exec(&["ip", "link", "del", "va"]);
    ns.exec(&["ip", "link", "set", "vb", "netns", &container.name]);
    container.exec(&["ip", "link", "set", "vb", "up"]);
    container.addr("vb", "10.8.0.2/24");
    ns.addr("va", "10.8.0.1/24");
    ns.sysctl("net.ipv4.ip_forward", "1");
    let listener = container.run(|| vec![TcpListener::bind("0.0.0.0:5432").unwrap()]);
    nft(
        &ns,
        &format!(
            "table ip nat {{\n chain prerouting {{\n  type nat hook prerouting priority dstnat; policy accept;\n  fib daddr type local tcp dport 15432 dnat to 10.8.0.2:5432\n }}\n}}\ntable inet f {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  tcp dport 15432 drop\n }}\n}}\n{forward}"
        ),
    );
    Some((ns, container, listener))
}

#[test]
fn reach_dnat_published_port_bypasses_the_input_chain() {
    let Some((ns, _c, _l)) = published_setup("rdnat", "") else {
        return;
    };
    let (_, doc) = audit(&ns, &[]);
    let f = finding(&doc, 15432);
    assert_eq!(f.rule, "exposed-postgresql");
    assert_eq!(f.reachable, Some(Reachable::Yes), "{f:#?}");
    let r = f.reachability.as_ref().unwrap();
    assert_eq!(r.path, FirewallPathKind::Forward);
    assert!(r.decided_by.is_none(), "no forward chain: {f:#?}");
    assert_eq!(f.severity, f.base_severity);
    let p = f.published.as_ref().expect("published");
    assert_eq!(p.target_address, Some(ip("10.8.0.2")));
    assert_eq!(p.target_port, 5432);
    assert!(!p.target_local && !p.target_visible, "{f:#?}");
    assert_eq!(p.nat_rule.chain, "prerouting");
    assert_eq!(p.bypasses.as_ref().map(|b| b.chain.as_str()), Some("input"));
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("bypasses the input chain")
                && n.contains("127.0.0.1")
                && n.contains("DOCKER-USER")),
        "{f:#?}"
    );
    assert!(f.notes.iter().any(|n| n.contains("target not visible")));
    assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
}

#[test]
fn reach_dnat_with_a_docker_user_forward_drop() {
    let forward = "table ip filter {\n chain DOCKER-USER {\n  tcp dport 5432 drop\n  return\n }\n chain FORWARD {\n  type filter hook forward priority 0; policy accept;\n  jump DOCKER-USER\n }\n}\n";
    let Some((ns, _c, _l)) = published_setup("rdu", forward) else {
        return;
    };
    let (_, doc) = audit(&ns, &[]);
    let f = finding(&doc, 15432);
    assert_reach(f, Reachable::Filtered, "DOCKER-USER", true);
    assert_eq!(
        f.reachability.as_ref().unwrap().path,
        FirewallPathKind::Forward
    );
    assert!(f.published.as_ref().unwrap().bypasses.is_none());
    assert!(f.severity < Severity::Critical);
}
