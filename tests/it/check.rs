//! `portscope check` and `portscope explain` on the real binary. Every cause of `check` is
//! produced inside a network namespace the test creates (a veth pair with both ends inside),
//! with portscope run there through `ip netns exec`; the firewall cases load a real nftables
//! ruleset into that namespace (nft from Debian; required under CI=true).

use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Output};

use portscope::model::{CauseCode, ConnectOutcome, Decision, PortExplanation};
use serde::Deserialize;

use crate::common::*;

#[derive(Debug, Deserialize)]
struct CheckDoc {
    schema_version: u32,
    works: bool,
    verdict: String,
    connect: portscope::model::ConnectResult,
    causes: Vec<portscope::model::Cause>,
    other_namespaces: Vec<portscope::model::ForeignListener>,
    firewall: FirewallDoc,
    firewall_local: FirewallDoc,
}

#[derive(Debug, Deserialize)]
struct FirewallDoc {
    path: String,
    interface: Option<String>,
    status: String,
    decision: Decision,
    decided_by: Option<portscope::model::DecidedBy>,
    heuristic: bool,
}

fn check_in(ns: &Netns, target: &str) -> (Option<i32>, CheckDoc) {
    let out = ns.portscope(&["check", target, "--json", "--timeout", "500ms"]);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}

fn codes(doc: &CheckDoc) -> Vec<CauseCode> {
    doc.causes.iter().map(|c| c.code).collect()
}

/// A namespace with 10.7.0.1/24 on va.
fn lan_ns(tag: &str) -> Option<Netns> {
    let ns = Netns::create(tag)?;
    ns.addr("va", "10.7.0.1/24");
    Some(ns)
}

fn have_nft() -> bool {
    have("nft") || !skip("the firewall tests need nft (Debian package nftables)")
}

fn nft(ns: &Netns, ruleset: &str) {
    let path = std::env::temp_dir().join(format!("{}.nft", ns.name));
    std::fs::write(&path, ruleset).unwrap();
    ns.exec(&["nft", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(path);
}

#[test]
fn check_working_connection() {
    let Some(ns) = lan_ns("ckok") else { return };
    let l = ns.run(|| TcpListener::bind("10.7.0.1:0").unwrap());
    let port = port_of(l.local_addr());
    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{port}"));
    assert_eq!(code, Some(0), "{doc:?}");
    assert!(doc.works && doc.causes.is_empty(), "{doc:?}");
    assert_eq!(doc.schema_version, 1);
    assert_eq!(doc.connect.outcome, ConnectOutcome::Open);
    assert!(
        doc.verdict.contains("the connection works"),
        "{}",
        doc.verdict
    );
    // The human report starts with the verdict line.
    let out = ns.portscope(&["check", &format!("10.7.0.1:{port}")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("10.7.0.1:{port}/tcp: open: the connection works")),
        "{text}"
    );
}

#[test]
fn check_no_listener() {
    let Some(ns) = lan_ns("ckno") else { return };
    let port = ns.run(|| port_of(TcpListener::bind("10.7.0.1:0").unwrap().local_addr()));
    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{port}"));
    assert_eq!(code, Some(1));
    assert_eq!(codes(&doc), [CauseCode::NoListener], "{doc:?}");
    assert_eq!(doc.connect.outcome, ConnectOutcome::Refused);
    assert_eq!(doc.connect.errno, Some(libc::ECONNREFUSED));
}

#[test]
fn check_loopback_only_bind_via_lan_address() {
    let Some(ns) = lan_ns("cklo") else { return };
    let l = ns.run(|| TcpListener::bind("127.0.0.1:0").unwrap());
    let port = port_of(l.local_addr());
    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{port}"));
    assert_eq!(code, Some(1));
    assert_eq!(codes(&doc), [CauseCode::LoopbackOnly], "{doc:?}");
    assert!(
        doc.causes[0]
            .text
            .contains("change its bind address from 127.0.0.1 to 10.7.0.1"),
        "{}",
        doc.causes[0].text
    );
    assert_eq!(doc.connect.outcome, ConnectOutcome::Refused);
}

#[test]
fn check_v6_only_listener_over_ipv4() {
    let Some(ns) = lan_ns("ckv6") else { return };
    let l = ns.run(|| v6_wildcard_listener(true));
    let port = port_of(l.local_addr());
    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{port}"));
    assert_eq!(code, Some(1));
    assert_eq!(codes(&doc), [CauseCode::V6Only], "{doc:?}");
    assert!(doc.causes[0].text.contains(&format!("0.0.0.0:{port}")));
}

#[test]
fn check_listener_in_another_namespace() {
    let Some(ns) = lan_ns("ckhere") else { return };
    let Some(other) = Netns::create("ckthere") else {
        return;
    };
    let l = other.run(|| TcpListener::bind("0.0.0.0:0").unwrap());
    let port = port_of(l.local_addr());
    // A process living in the other namespace, through which its socket table is visible.
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &other.name, "sleep", "30"]);
    let _resident = Child(cmd.spawn().expect("sleep in netns"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{port}"));
    assert_eq!(code, Some(1));
    assert_eq!(
        codes(&doc),
        [CauseCode::NoListener, CauseCode::OtherNamespace],
        "{doc:?}"
    );
    assert!(doc.other_namespaces.iter().any(|f| f.port == port));
}

#[test]
fn check_firewall_drop_and_reject() {
    let Some(ns) = lan_ns("ckfw") else { return };
    if !have_nft() {
        return;
    }
    let (a, b) = ns.run(|| {
        (
            TcpListener::bind("0.0.0.0:0").unwrap(),
            TcpListener::bind("0.0.0.0:0").unwrap(),
        )
    });
    let (drop_port, reject_port) = (port_of(a.local_addr()), port_of(b.local_addr()));
    nft(
        &ns,
        &format!(
            "table inet t {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  tcp dport {drop_port} drop\n  tcp dport {reject_port} reject with tcp reset\n }}\n}}\n"
        ),
    );
    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{drop_port}"));
    assert_eq!(code, Some(1));
    assert_eq!(codes(&doc), [CauseCode::FirewallDrop], "{doc:?}");
    assert_eq!(doc.connect.outcome, ConnectOutcome::Timeout);
    assert_eq!(doc.firewall.status, "evaluated");
    assert!(doc.firewall.heuristic);
    assert_eq!(doc.firewall.decision, Decision::Drop);
    let by = doc.firewall.decided_by.expect("decided by");
    assert_eq!((by.table.as_str(), by.chain.as_str()), ("t", "input"));
    assert!(by.handle.is_some());

    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{reject_port}"));
    assert_eq!(code, Some(1));
    assert_eq!(codes(&doc), [CauseCode::FirewallReject], "{doc:?}");
    assert_eq!(doc.connect.outcome, ConnectOutcome::Refused);
    assert_eq!(doc.firewall.decision, Decision::Reject);
}

#[test]
fn check_refuses_foreign_addresses_and_bad_input() {
    let out = portscope(&["check", "192.0.2.77:80"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("192.0.2.77 is not an address of this machine"),
        "{err}"
    );
    assert!(err.contains("not a network scanner"), "{err}");
    for bad in ["host.example:80", "80/sctp", "0"] {
        let out = portscope(&["check", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
        assert!(err.contains(bad), "{bad}: {err}");
    }
}

#[derive(Debug, Deserialize)]
struct ExplainDoc {
    schema_version: u32,
    query: String,
    ports: Vec<PortExplanation>,
}

fn explain(args: &[&str]) -> (Option<i32>, ExplainDoc, Output) {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = portscope(&all);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc, out)
}

#[test]
fn explain_curated_name_and_number() {
    let (code, doc, _) = explain(&["postgres"]);
    assert_eq!((code, doc.schema_version), (Some(0), 1));
    assert_eq!(doc.query, "postgres");
    let ports: Vec<u16> = doc.ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, [5432]);
    let p = &doc.ports[0];
    assert_eq!(p.curated[0].name, "postgresql");
    assert_eq!(p.risks[0].rule.as_deref(), Some("exposed-postgresql"));

    let (code, doc, _) = explain(&["23"]);
    assert_eq!(code, Some(0));
    let telnet = &doc.ports[0];
    assert!(
        telnet.risks[0]
            .alternative
            .as_deref()
            .unwrap_or("")
            .contains("SSH")
    );
    let out = portscope(&["explain", "23"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("port 23: telnet\n"), "{text}");
    assert!(text.contains("instead"), "{text}");
}

#[test]
fn explain_iana_only_dynamic_and_several() {
    // gopher (70) is in the IANA registry only.
    let (code, doc, _) = explain(&["70"]);
    assert_eq!(code, Some(0));
    assert!(doc.ports[0].curated.is_empty());
    assert_eq!(doc.ports[0].iana[0].name, "gopher");
    // A dynamic-range port this test holds.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let (code, doc, _) = explain(&[&port.to_string()]);
    assert_eq!(code, Some(0));
    let p = &doc.ports[0];
    assert!(
        p.here
            .iter()
            .any(|e| e.processes.iter().any(|pr| pr.pid == std::process::id()))
    );
    let settings = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let bounds: Vec<u16> = settings
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(p.ephemeral, Some(bounds[0] <= port && port <= bounds[1]));
    // Nothing at all on a dynamic port: its range is still explained, exit 1.
    let free = UdpSocket::bind("127.0.0.1:0")
        .map(|s| port_of(s.local_addr()))
        .unwrap();
    let probe = (49152..=65535u16)
        .rev()
        .find(|&q| {
            q != free && TcpListener::bind(("0.0.0.0", q)).is_ok() && !portscope_json_known(q)
        })
        .expect("an unknown dynamic port");
    let (code, doc, _) = explain(&[&probe.to_string()]);
    assert_eq!(code, Some(1));
    assert_eq!(doc.ports[0].range, portscope::model::IanaRange::Dynamic);
    // A name matching several ports.
    let (code, doc, _) = explain(&["dev-server"]);
    assert_eq!(code, Some(0));
    let ports: Vec<u16> = doc.ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, [3000, 4000, 5000, 8000, 9000]);
}

fn portscope_json_known(port: u16) -> bool {
    let out = portscope(&["explain", &port.to_string(), "--json"]);
    out.status.code() == Some(0)
}

#[test]
fn explain_unknown_and_malformed() {
    let out = portscope(&["explain", "no-such-service-zz"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "no port is known as 'no-such-service-zz' (IANA registry, curated services, audit rules)\n"
    );
    for bad in ["70000", "a b", "-3"] {
        let out = portscope(&["explain", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
    }
}

#[test]
fn check_zero_timeout_is_a_usage_error() {
    for zero in ["0", "0ms", "0s"] {
        let out = portscope(&["check", "80", "--timeout", zero]);
        assert_eq!(out.status.code(), Some(2), "{zero}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("above zero"), "{zero}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// The connect from this machine arrives on `lo`, other machines' packets on `va`: both paths
/// are evaluated, the local one explains the connect, the remote one what others see.
#[test]
fn check_firewall_local_and_remote_paths() {
    let Some(ns) = lan_ns("ckpath") else { return };
    if !have_nft() {
        return;
    }
    let (a, b) = ns.run(|| {
        (
            TcpListener::bind("0.0.0.0:0").unwrap(),
            TcpListener::bind("0.0.0.0:0").unwrap(),
        )
    });
    let (remote_port, local_port) = (port_of(a.local_addr()), port_of(b.local_addr()));
    nft(
        &ns,
        &format!(
            "table inet t {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  iifname \"va\" tcp dport {remote_port} drop\n  iifname \"lo\" tcp dport {local_port} drop\n }}\n}}\n"
        ),
    );
    // Dropped from elsewhere only: the connect from here works, with the caveat.
    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{remote_port}"));
    assert_eq!(code, Some(0), "{doc:?}");
    assert!(doc.works);
    assert_eq!(doc.connect.outcome, ConnectOutcome::Open);
    assert_eq!(codes(&doc), [CauseCode::RemoteFirewallDrop], "{doc:?}");
    assert_eq!(
        (
            doc.firewall.path.as_str(),
            doc.firewall.interface.as_deref()
        ),
        ("remote", Some("va"))
    );
    assert_eq!(doc.firewall.decision, Decision::Drop);
    assert_eq!(
        (
            doc.firewall_local.path.as_str(),
            doc.firewall_local.interface.as_deref()
        ),
        ("local", Some("lo"))
    );
    assert_eq!(doc.firewall_local.decision, Decision::Accept);
    assert!(
        doc.verdict.contains("but from other machines"),
        "{}",
        doc.verdict
    );
    // Dropped on lo only: the connect from here times out, and the local verdict says why.
    let (code, doc) = check_in(&ns, &format!("10.7.0.1:{local_port}"));
    assert_eq!(code, Some(1), "{doc:?}");
    assert_eq!(doc.connect.outcome, ConnectOutcome::Timeout);
    assert_eq!(codes(&doc), [CauseCode::FirewallDrop], "{doc:?}");
    assert_eq!(doc.firewall_local.decision, Decision::Drop);
    assert_eq!(doc.firewall.decision, Decision::Accept);
    // The human report shows both paths.
    let out = ns.portscope(&["check", &format!("10.7.0.1:{remote_port}")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("firewall:  accept (this machine, input on lo): "),
        "{text}"
    );
    assert!(
        text.contains("           drop (other machines, input on va): "),
        "{text}"
    );
    // A loopback address has only the local path.
    let (_, doc) = check_in(&ns, &format!("127.0.0.1:{local_port}"));
    assert_eq!(
        (doc.firewall.path.as_str(), doc.firewall.decision),
        ("local", Decision::Drop)
    );
    let out = ns.portscope(&[
        "check",
        &format!("127.0.0.1:{local_port}"),
        "--timeout",
        "200ms",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("firewall:  drop (input on lo): "), "{text}");
}

/// clap's plain rendering deleted the escape sequence with its own styling, so the value was
/// shown as '80'; it is shown escaped instead, for every subcommand.
#[test]
fn usage_errors_show_control_characters_escaped() {
    for args in [
        &["check", "\x1b[31m80"][..],
        &["who", "\x1b[31m80"],
        &["list", "--port", "\x1b[31m80"],
    ] {
        let out = portscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains('\x1b'), "{args:?}: {err:?}");
        assert!(
            err.contains("'\\x1b[31m80' is not a port number"),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// `[fe80::…%va]:PORT` parses and connects with the scope set; without a scope the one
/// interface that carries the address is used, and an address on two interfaces asks for one.
#[test]
fn check_link_local_targets() {
    let Some(ns) = lan_ns("ckll") else { return };
    ns.addr("va", "fe80::7/64");
    ns.addr("va", "fe80::8/64");
    ns.addr("vb", "fe80::8/64");
    let l = ns.run(|| v6_wildcard_listener(false));
    let port = port_of(l.local_addr());
    let index = ns.ifindex("va");
    for target in [
        format!("[fe80::7%va]:{port}"),
        format!("[fe80::7%{index}]:{port}"),
        format!("[fe80::7]:{port}"),
        format!("[fe80::8%va]:{port}"),
    ] {
        let (code, doc) = check_in(&ns, &target);
        assert_eq!(code, Some(0), "{target}: {doc:?}");
        assert_eq!(doc.connect.outcome, ConnectOutcome::Open, "{target}");
        assert_eq!(doc.firewall.interface.as_deref(), Some("va"), "{target}");
    }
    let out = ns.portscope(&["check", &format!("[fe80::8]:{port}")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // Named in interface index order.
    let (first, second) = if ns.ifindex("va") < ns.ifindex("vb") {
        ("va", "vb")
    } else {
        ("vb", "va")
    };
    assert!(
        err.contains(&format!("on several interfaces ({first}, {second})")),
        "{err}"
    );
    assert!(err.contains(&format!("[fe80::8%{first}]:{port}")), "{err}");
    let out = ns.portscope(&["check", &format!("[fe80::7%vb]:{port}")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not an address of interface vb: it is on va"),
        "{err}"
    );
}

/// Where nft is missing, iptables-save is read and translated into the same model: the
/// verdict names "iptables filter INPUT rule N". nft stays first when both exist.
#[test]
fn check_firewall_from_iptables_save_without_nft() {
    let Some(ns) = lan_ns("ckipt") else { return };
    if !(have("iptables") && have("iptables-save"))
        && skip("the iptables fallback test needs iptables (Debian package iptables)")
    {
        return;
    }
    let l = ns.run(|| TcpListener::bind("0.0.0.0:0").unwrap());
    let port = port_of(l.local_addr());
    ns.exec(&[
        "iptables", "-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "ACCEPT",
    ]);
    ns.exec(&[
        "iptables",
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        &port.to_string(),
        "-j",
        "DROP",
    ]);
    // A PATH with iptables-save and ip6tables-save but no nft.
    let dir = std::env::temp_dir().join(format!("{}-bin", ns.name));
    std::fs::create_dir_all(&dir).unwrap();
    for tool in ["iptables-save", "ip6tables-save"] {
        let real = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let real = String::from_utf8_lossy(&real.stdout).trim().to_owned();
        let _ = std::fs::remove_file(dir.join(tool));
        std::os::unix::fs::symlink(real, dir.join(tool)).unwrap();
    }
    let target = format!("10.7.0.1:{port}");
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "env"])
        .arg(format!("PATH={}", dir.display()))
        .args([bin(), "check", &target, "--json", "--timeout", "300ms"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let doc: CheckDoc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "{doc:?}");
    assert_eq!(codes(&doc), [CauseCode::FirewallDrop], "{doc:?}");
    assert_eq!(doc.firewall.status, "evaluated");
    let by = doc.firewall.decided_by.as_ref().expect("decided by");
    assert_eq!(
        (by.table.as_str(), by.chain.as_str(), by.handle),
        ("filter", "INPUT", Some(2))
    );
    assert!(
        doc.causes[0]
            .text
            .contains("iptables filter INPUT rule 2 decides: drop"),
        "{}",
        doc.causes[0].text
    );
    // With nft on the PATH, nft is read (iptables-nft rules are nft rules).
    if have("nft") {
        let (_, doc) = check_in(&ns, &target);
        assert!(
            doc.causes[0].text.contains("rule handle"),
            "{}",
            doc.causes[0].text
        );
    }
}
