//! `portscope audit --from FILE...`: snapshots of several "hosts" — network namespaces the tests
//! create, each with its own host name (a new UTS namespace from `unshare --uts`) and its own
//! risky listener on a public-looking address (never contacted) — saved with `portscope --json`
//! run there, then audited together on the test machine. Nothing is ever sent.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portscope::model::{AddrClass, Finding, Severity};
use serde::Deserialize;

use crate::common::*;

/// The parsed `portscope audit --from … --json` document.
#[derive(Debug, Deserialize)]
struct FleetDoc {
    schema_version: u32,
    findings: Vec<Finding>,
    warnings: Vec<String>,
    hosts: Vec<serde_json::Value>,
}

/// `portscope ARGS` run inside `ns` with the host name `host` (its own UTS namespace), its
/// stdout saved to `dir/FILE`; returns the path.
fn snapshot(ns: &Netns, host: &str, args: &[&str], dir: &Path, file: &str) -> PathBuf {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "unshare", "--uts", "sh", "-c"])
        .arg("hostname \"$1\" && shift && exec \"$@\"")
        .args(["sh", host, bin()])
        .args(args)
        .output()
        .expect("run portscope in netns");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join(file);
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn tcp(addr: &str) -> TcpListener {
    TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
}

fn audit_from(files: &[&Path], args: &[&str]) -> Output {
    let mut all: Vec<String> = vec!["audit".into()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    all.push("--from".into());
    all.extend(files.iter().map(|f| f.display().to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    portscope(&all)
}

fn parsed(out: &Output) -> FleetDoc {
    let doc: FleetDoc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(doc.schema_version, 1);
    doc
}

/// The findings of `host` on `port`.
fn on<'a>(doc: &'a FleetDoc, host: &str, port: u16) -> Vec<&'a Finding> {
    doc.findings
        .iter()
        .filter(|f| f.host.as_deref() == Some(host) && f.socket.port == port)
        .collect()
}

#[test]
fn snapshots_of_several_hosts_are_audited_together() {
    if !have("unshare") && skip("the fleet test needs unshare (util-linux)") {
        return;
    }
    let (Some(a), Some(b)) = (Netns::create("fleet"), Netns::create("fleet")) else {
        return;
    };
    a.addr("va", "11.22.33.44/24");
    b.addr("va", "11.22.33.55/24");
    // host-a: Redis on its public address; host-b: telnet on its own, and Redis too.
    let _a = a.run(|| tcp("11.22.33.44:6379"));
    let _b = b.run(|| (tcp("11.22.33.55:23"), tcp("11.22.33.55:6379")));
    let dir = tempfile::tempdir().unwrap();
    let snap_a = snapshot(&a, "host-a", &["--json"], dir.path(), "a.json");
    // A streamed `--all --json` snapshot is read as well.
    let snap_b = snapshot(&b, "host-b", &["--all", "--json"], dir.path(), "b.json");
    let me = std::process::id();

    let out = audit_from(&[&snap_a, &snap_b], &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = parsed(&out);
    let hosts: Vec<&str> = doc
        .hosts
        .iter()
        .filter_map(|h| h["host"].as_str())
        .collect();
    assert_eq!(hosts, ["host-a", "host-b"]);
    assert!(
        doc.hosts
            .iter()
            .all(|h| h["taken_at"].as_str().is_some_and(|t| t.ends_with('Z'))),
        "{:?}",
        doc.hosts
    );
    // Each host's finding is attributed to it, with that host's address and exposure.
    let redis_a = on(&doc, "host-a", 6379);
    assert_eq!(redis_a.len(), 1, "{:#?}", doc.findings);
    assert_eq!(redis_a[0].rule, "exposed-redis");
    assert_eq!(redis_a[0].socket.local_address, ip("11.22.33.44"));
    assert_eq!(redis_a[0].socket.exposure, Some(AddrClass::Public));
    assert!(redis_a[0].socket.processes.iter().any(|p| p.pid == me));
    assert!(on(&doc, "host-a", 23).is_empty(), "{:#?}", doc.findings);
    let telnet_b = on(&doc, "host-b", 23);
    assert_eq!(telnet_b.len(), 1, "{:#?}", doc.findings);
    assert_eq!(
        (telnet_b[0].rule.as_str(), telnet_b[0].severity),
        ("exposed-telnet", Severity::High)
    );
    assert_eq!(telnet_b[0].socket.local_address, ip("11.22.33.55"));
    let redis_b = on(&doc, "host-b", 6379);
    assert_eq!(redis_b.len(), 1, "{:#?}", doc.findings);
    assert_eq!(redis_b[0].socket.local_address, ip("11.22.33.55"));
    // No finding without its host, nothing from this machine's own listeners.
    assert!(doc.findings.iter().all(|f| f.host.is_some()));
    assert_eq!(doc.findings.len(), 3, "{:#?}", doc.findings);
    assert!(
        doc.warnings.iter().all(|w| w.starts_with("host ")),
        "{:?}",
        doc.warnings
    );

    // The table names the host at the head of each finding.
    let out = audit_from(&[&snap_a, &snap_b], &["--color", "never"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("  host-a  tcp 11.22.33.44:6379  Redis  [exposed-redis]"),
        "{table}"
    );
    assert!(
        table.contains("  host-b  tcp 11.22.33.55:23  Telnet  [exposed-telnet]"),
        "{table}"
    );

    // The gate judges every host: telnet on host-b fails --fail-on high.
    let out = audit_from(&[&snap_a, &snap_b], &["--json", "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(1));

    // One allowlist entry applies on every host.
    let allow = dir.path().join("allow.toml");
    std::fs::write(
        &allow,
        "[[allow]]\nport = 6379\nreason = \"cache tier, edge firewall drops it\"\n",
    )
    .unwrap();
    let out = audit_from(
        &[&snap_a, &snap_b],
        &["--json", "--allow", allow.to_str().unwrap()],
    );
    let doc = parsed(&out);
    let redis: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.socket.port == 6379)
        .collect();
    assert_eq!(redis.len(), 2);
    assert!(redis.iter().all(|f| f.suppressed), "{redis:#?}");
    assert!(!on(&doc, "host-b", 23)[0].suppressed);

    // A malformed third snapshot: exit 2, one line naming it, nothing reported.
    let bad = dir.path().join("c.json");
    std::fs::write(
        &bad,
        "{\"schema_version\": 1, \"sockets\": [{\"proto\": \"sctp\"}]}",
    )
    .unwrap();
    for format in ["--json", "--color=never"] {
        let out = audit_from(&[&snap_a, &snap_b, &bad], &[format]);
        assert_eq!(out.status.code(), Some(2), "{format}");
        assert!(out.stdout.is_empty(), "{format}: half-reported");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&bad.display().to_string()), "{err}");
        assert!(err.contains("sockets[0]"), "{err}");
    }
    // A snapshot of a newer portscope is refused in words.
    std::fs::write(
        &bad,
        "{\"schema_version\": 2, \"host\": \"h\", \"sockets\": []}",
    )
    .unwrap();
    let out = audit_from(&[&bad, &snap_a], &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("made by a newer portscope"), "{err}");
}
