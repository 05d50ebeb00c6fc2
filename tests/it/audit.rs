//! `portscope audit` inside network namespaces the tests create: a veth pair (both ends inside)
//! carrying a public-looking address (11.22.33.44, never contacted), a private one, an IPv6
//! unique-local one and a link-local one. Sockets are opened inside the namespace by a thread
//! that entered it with setns(2), so this test process owns them; the audit runs there through
//! `ip netns exec`. Nothing is ever sent.

use std::net::{TcpListener, UdpSocket};
use std::process::Output;

use portscope::model::Severity;
use portscope::model::{AddrClass, Proto};
use portscope::model::{Drift, Finding, Summary};
use serde::Deserialize;

use crate::common::*;

/// The parsed `portscope audit --json` document.
#[derive(Debug, Deserialize)]
struct AuditDoc {
    schema_version: u32,
    findings: Vec<Finding>,
    summary: Summary,
    warnings: Vec<String>,
}

/// The usual layout: public and private IPv4 plus ULA on va, IPv4 link-local on vb.
fn standard(ns: &Netns) {
    ns.addr("va", "11.22.33.44/24");
    ns.addr("va", "10.1.2.3/24");
    ns.addr("va", "fd00::1/64");
    ns.addr("vb", "169.254.7.7/16");
}

/// `ip netns exec NAME portscope audit args…`.
fn audit(ns: &Netns, args: &[&str]) -> Output {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    ns.portscope(&all)
}

/// `audit --json args…`, asserting exit 0 or 1, parsed.
fn audit_json(ns: &Netns, args: &[&str]) -> (AuditDoc, Output) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = audit(ns, &all);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: AuditDoc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(doc.schema_version, 1);
    (doc, out)
}

fn tcp(addr: &str) -> TcpListener {
    TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
}

fn udp(addr: &str) -> UdpSocket {
    UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
}

fn find(doc: &AuditDoc, port: u16, proto: Proto) -> Vec<&Finding> {
    doc.findings
        .iter()
        .filter(|f| f.socket.port == port && f.socket.proto == proto)
        .collect()
}

fn one(doc: &AuditDoc, port: u16, proto: Proto) -> &Finding {
    let found = find(doc, port, proto);
    assert_eq!(found.len(), 1, "{port}/{proto}: {:#?}", doc.findings);
    found[0]
}

#[test]
fn severity_follows_the_address_a_service_is_bound_to() {
    let Some(ns) = Netns::create("audit") else {
        return;
    };
    standard(&ns);
    let _sockets = ns.run(|| {
        (
            tcp("11.22.33.44:23"),
            tcp("10.1.2.3:6379"),
            tcp("169.254.7.7:5432"),
            tcp("127.0.0.1:11211"),
            udp("0.0.0.0:11211"),
            tcp("[fd00::1]:3306"),
            tcp("11.22.33.44:8123"),
        )
    });
    let (doc, out) = audit_json(&ns, &[]);
    assert_eq!(out.status.code(), Some(0), "no --fail-on: always 0");
    let me = std::process::id();

    let telnet = one(&doc, 23, Proto::Tcp);
    assert_eq!(telnet.rule, "exposed-telnet");
    assert_eq!(
        (telnet.severity, telnet.base_severity),
        (Severity::High, Severity::High)
    );
    assert_eq!(telnet.socket.exposure, Some(AddrClass::Public));
    assert_eq!(telnet.socket.exposure_address, Some(ip("11.22.33.44")));
    assert_eq!(telnet.socket.exposure_interface.as_deref(), Some("va"));
    assert!(
        telnet.socket.processes.iter().any(|p| p.pid == me),
        "{telnet:#?}"
    );
    assert!(!telnet.why.is_empty() && !telnet.fix.is_empty() && !telnet.why_codes.is_empty());

    let redis = one(&doc, 6379, Proto::Tcp);
    assert_eq!(
        (redis.rule.as_str(), redis.severity),
        ("exposed-redis", Severity::Medium)
    );
    assert_eq!(redis.socket.exposure, Some(AddrClass::Private));

    let pg = one(&doc, 5432, Proto::Tcp);
    assert_eq!(
        (pg.severity, pg.socket.exposure),
        (Severity::Low, Some(AddrClass::LinkLocal))
    );
    assert_eq!(pg.socket.exposure_interface.as_deref(), Some("vb"));

    assert!(
        find(&doc, 11211, Proto::Tcp).is_empty(),
        "loopback: no finding"
    );
    let memcached = one(&doc, 11211, Proto::Udp);
    assert_eq!(memcached.rule, "exposed-memcached-udp");
    assert_eq!(memcached.severity, Severity::High);
    assert!(memcached.socket.wildcard);
    assert_eq!(memcached.socket.exposure_address, Some(ip("11.22.33.44")));

    let mysql = one(&doc, 3306, Proto::Tcp);
    assert_eq!(
        (mysql.severity, mysql.socket.exposure),
        (Severity::Medium, Some(AddrClass::Private))
    );
    assert!(
        find(&doc, 8123, Proto::Tcp).is_empty(),
        "no rule, owner known: no finding"
    );

    assert_eq!(
        (
            doc.summary.high,
            doc.summary.medium,
            doc.summary.low,
            doc.summary.suppressed
        ),
        (2, 2, 1, 0)
    );
    // Most severe first.
    let levels: Vec<Severity> = doc.findings.iter().map(|f| f.severity).collect();
    let mut sorted = levels.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(levels, sorted);

    // --fail-on gates on the highest unsuppressed severity.
    assert_eq!(audit(&ns, &["--fail-on", "high"]).status.code(), Some(1));
    assert_eq!(
        audit(&ns, &["--fail-on", "critical"]).status.code(),
        Some(0)
    );
    // --min-severity drops the rest.
    let (doc, _) = audit_json(&ns, &["--min-severity", "high"]);
    assert!(doc.findings.iter().all(|f| f.severity >= Severity::High));
    assert_eq!(doc.findings.len(), 2);

    // The table: grouped, sanitized, one summary line.
    let out = audit(&ns, &["--color", "never"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("HIGH (2)") && text.contains("LOW (1)"),
        "{text}"
    );
    assert!(
        text.find("HIGH").unwrap() < text.find("MEDIUM").unwrap(),
        "{text}"
    );
    assert!(
        text.contains("tcp 11.22.33.44:23  Telnet  [exposed-telnet]"),
        "{text}"
    );
    assert_eq!(
        text.lines().last(),
        Some("2 high, 2 medium, 1 low"),
        "{text}"
    );
    assert!(!text.contains('\x1b'));

    // route_localnet=1 makes the loopback memcached reachable from the link: a low finding.
    ns.sysctl("net.ipv4.conf.va.route_localnet", "1");
    let (doc, _) = audit_json(&ns, &[]);
    let lo = one(&doc, 11211, Proto::Tcp);
    assert_eq!(
        (lo.severity, lo.base_severity),
        (Severity::Low, Severity::High)
    );
    assert_eq!(lo.socket.exposure, Some(AddrClass::Loopback));
    assert!(
        lo.notes
            .iter()
            .any(|n| n.contains("route_localnet=1") && n.contains("va")),
        "{:?}",
        lo.notes
    );
}

#[test]
fn dual_stack_counts_ipv4_and_baseline_reports_drift() {
    if !ipv6_loopback() && skip("no IPv6 on this machine") {
        return;
    }
    let Some(ns) = Netns::create("audit") else {
        return;
    };
    // The only public address is IPv4; IPv6 has only a unique-local address.
    ns.addr("va", "11.22.33.44/24");
    ns.addr("va", "fd00::1/64");
    let _sockets = ns.run(|| {
        (
            v6_wildcard_listener_on(6379, true),
            v6_wildcard_listener_on(5432, false),
        )
    });
    let (doc, _) = audit_json(&ns, &[]);
    let v6only = one(&doc, 6379, Proto::Tcp);
    assert_eq!(v6only.socket.dual_stack, Some(false));
    assert_eq!(v6only.socket.exposure, Some(AddrClass::Private));
    assert_eq!(v6only.socket.exposure_address, Some(ip("fd00::1")));
    assert_eq!(v6only.severity, Severity::Medium);
    let dual = one(&doc, 5432, Proto::Tcp);
    assert_eq!(dual.socket.dual_stack, Some(true));
    assert_eq!(dual.socket.exposure, Some(AddrClass::Public));
    assert_eq!(dual.socket.exposure_address, Some(ip("11.22.33.44")));
    assert_eq!(dual.severity, Severity::High);
    assert!(v6only.severity < dual.severity);

    // Baseline: save, then drift.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baseline.json");
    let path_s = path.to_str().unwrap();
    let out = audit(&ns, &["--save-baseline", path_s]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["schema_version"], 1);
    assert!(saved["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(saved["listeners"].as_array().unwrap().len(), 2, "{saved}");

    // Unchanged: nothing to report.
    let (doc, out) = audit_json(&ns, &["--baseline", path_s, "--fail-on", "low"]);
    assert!(doc.findings.is_empty(), "{:#?}", doc.findings);
    assert_eq!(out.status.code(), Some(0));

    // A public IPv6 address appears (6379 becomes more exposed) and a new listener opens.
    ns.addr("va", "2a01:4f8::1/64");
    let _telnet = ns.run(|| tcp("11.22.33.44:23"));
    let (doc, out) = audit_json(&ns, &["--baseline", path_s, "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(1));
    let mut got: Vec<(u16, Option<&str>, Severity)> = doc
        .findings
        .iter()
        .map(|f| (f.socket.port, f.baseline.and_then(Drift::label), f.severity))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (23, Some("new"), Severity::High),
            (6379, Some("more_exposed"), Severity::High),
        ]
    );

    // A malformed baseline is an error naming the file.
    std::fs::write(&path, "{\"schema_version\": 1,\n\"created\": }").unwrap();
    let out = audit(&ns, &["--baseline", path_s]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(path_s) && err.contains("line 2"), "{err}");
}

#[test]
fn allowlist_suppresses_expires_and_rejects_malformed_files() {
    let Some(ns) = Netns::create("audit") else {
        return;
    };
    standard(&ns);
    let _sockets = ns.run(|| (tcp("11.22.33.44:23"), tcp("10.1.2.3:6379")));
    let dir = tempfile::tempdir().unwrap();
    let allow = dir.path().join("allow.toml");
    let allow_s = allow.to_str().unwrap();

    std::fs::write(
        &allow,
        "# accepted\n[[allow]]\nport = 23\nproto = \"tcp\"\naddress = \"11.22.33.0/24\"\n\
         reason = \"lab telnet, isolated\"\nexpires = \"2999-12-31\"\n",
    )
    .unwrap();
    let (doc, out) = audit_json(&ns, &["--allow", allow_s, "--fail-on", "high"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the only high finding is suppressed"
    );
    let telnet = one(&doc, 23, Proto::Tcp);
    assert!(telnet.suppressed);
    assert_eq!(
        telnet.suppressed_reason.as_deref(),
        Some("lab telnet, isolated")
    );
    assert!(!one(&doc, 6379, Proto::Tcp).suppressed);
    assert_eq!(
        (doc.summary.high, doc.summary.medium, doc.summary.suppressed),
        (0, 1, 1)
    );
    assert_eq!(
        audit(&ns, &["--allow", allow_s, "--fail-on", "medium"])
            .status
            .code(),
        Some(1)
    );
    // The table hides suppressed findings unless asked, but counts them.
    let text = String::from_utf8(audit(&ns, &["--allow", allow_s]).stdout).unwrap();
    assert!(!text.contains("exposed-telnet"), "{text}");
    assert_eq!(
        text.lines().last(),
        Some("1 medium, 1 suppressed"),
        "{text}"
    );
    let text =
        String::from_utf8(audit(&ns, &["--allow", allow_s, "--show-suppressed"]).stdout).unwrap();
    assert!(text.contains("suppressed: lab telnet, isolated"), "{text}");

    // Expired: no longer suppresses, and says so on stderr and in JSON.
    std::fs::write(
        &allow,
        "[[allow]]\nport = 23\nreason = \"until the migration\"\nexpires = \"2020-01-31\"\n",
    )
    .unwrap();
    let (doc, out) = audit_json(&ns, &["--allow", allow_s, "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!one(&doc, 23, Proto::Tcp).suppressed);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("expired on 2020-01-31"), "{stderr}");
    assert!(
        doc.warnings
            .iter()
            .any(|w| w.contains("expired") && w.contains(allow_s))
    );

    // Malformed: exit 2, one line naming the file and the line.
    for (text, needle) in [
        (
            "[[allow]]\nport = 23\nreason = \"x\"\ncolour = \"red\"\n",
            "line 4",
        ),
        (
            "[[allow]]\nport = 23\nreason = \"x\"\naddress = \"10.0.0.0/99\"\n",
            "line 4",
        ),
        ("[[allow]]\nport = 23\n", "reason"),
    ] {
        std::fs::write(&allow, text).unwrap();
        let out = audit(&ns, &["--allow", allow_s]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(allow_s) && err.contains(needle), "{err}");
        assert!(out.stdout.is_empty());
    }
    let missing = dir.path().join("missing.toml");
    let out = audit(&ns, &["--allow", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("missing.toml")
    );
}

/// `portscope audit ARGS` with its address space capped at 1 GiB and a 60 s watchdog, so an
/// unbounded read fails fast instead of eating the machine, and a blocked one fails instead of
/// hanging the suite.
fn audit_bounded(args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("audit").args(args);
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let cap = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &cap) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    output_or_hang(cmd, std::time::Duration::from_secs(60))
}

fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a NUL-terminated path that lives for the call.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {path:?}"
    );
}

/// Issue 8: `--allow F` and `--baseline F` read without limit (a link to /dev/zero grew to
/// gigabytes) and blocked forever on a FIFO. Only regular files up to 16 MiB are read; anything
/// else is one line naming the file and what it is, exit 2. These fail before anything is
/// collected, so no namespace is needed.
#[test]
fn allowlist_and_baseline_must_be_bounded_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    mkfifo(&p("fifo"));
    std::os::unix::fs::symlink("/dev/zero", p("zero")).unwrap();
    std::os::unix::fs::symlink(p("fifo"), p("fifo-link")).unwrap();
    let big = std::fs::File::create(p("big")).unwrap();
    big.set_len((16 << 20) + 1).unwrap();
    let cases = [
        ("fifo", "a FIFO (named pipe), not a regular file"),
        ("fifo-link", "a FIFO (named pipe), not a regular file"),
        ("zero", "a character device, not a regular file"),
        ("", "a directory, not a regular file"),
        ("big", "larger than 16 MiB"),
    ];
    for flag in ["--allow", "--baseline"] {
        for (name, want) in cases {
            let path = p(name);
            let path_s = path.to_str().unwrap();
            let out = audit_bounded(&[flag, path_s]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {name}: {err}");
            assert_eq!(err.lines().count(), 1, "{flag} {name}: {err}");
            assert!(
                err.contains(path_s) && err.contains(want),
                "{flag} {name}: {err}"
            );
            assert!(out.stdout.is_empty());
        }
    }
}

fn assert_no_control_bytes(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what}: raw control characters reach the terminal: {text:?}"
    );
}

/// Issue 8: error messages echoed allowlist and baseline content raw, so a repository's
/// allowlist could drive the terminal of whoever reads the CI log. Every value is shown
/// escaped, as is a file name that holds escape sequences, and warnings too.
#[test]
fn escape_sequences_in_input_files_never_reach_stderr() {
    const ESC: &str = r"\u001b]0;PWNED\u0007\u001b[2J\u009b31m";
    let dir = tempfile::tempdir().unwrap();
    // The directory name itself carries an escape sequence.
    let sub = dir.path().join("ci\x1b[31m\x07");
    std::fs::create_dir(&sub).unwrap();
    let allow = sub.join("allow.toml");
    let allow_s = allow.to_str().unwrap();
    let entry = |keys: &str| format!("[[allow]]\nreason = \"r\"\n{keys}\n");
    let cases = [
        entry(&format!("port = 1\naddress = \"{ESC}\"")),
        entry(&format!("port = \"{ESC}\"")),
        entry(&format!("port = 1\nexpires = \"{ESC}\"")),
        entry(&format!("port = 1\nproto = \"{ESC}\"")),
        entry(&format!("port = 1\n\"{ESC}\" = 1")),
        format!("\"{ESC}\" = 1\n"),
        entry(&format!("port = 1\nprocess = \"{ESC}\"\nprocess = 2")),
    ];
    for text in &cases {
        std::fs::write(&allow, text).unwrap();
        let out = portscope(&["audit", "--allow", allow_s]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert_no_control_bytes(text, &out.stderr);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(r"ci\x1b[31m\x07/allow.toml"), "{err}");
    }
    let baseline = sub.join("baseline.json");
    std::fs::write(
        &baseline,
        format!(
            "{{\"schema_version\":1,\"created\":0,\"listeners\":[{{\"proto\":\"{ESC}\",\
             \"local_address\":\"::\",\"port\":1,\"exposure\":null,\"wildcard\":true}}]}}"
        ),
    )
    .unwrap();
    let out = portscope(&["audit", "--baseline", baseline.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_no_control_bytes("baseline", &out.stderr);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(r#"found "\x1b]0;PWNED\x07\x1b[2J\x9b31m""#),
        "{err}"
    );
    // A valid allowlist whose entry expired: the warning names the file, escaped.
    std::fs::write(&allow, entry("port = 1\nexpires = \"2020-01-01\"")).unwrap();
    let out = portscope(&["audit", "--allow", allow_s]);
    assert_no_control_bytes("warning", &out.stderr);
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired on 2020-01-01"));
}

/// `--min-severity` filters the report, never the gate: a high finding fails
/// `--fail-on high` even when `--min-severity critical` hides it, and the run says so.
#[test]
fn min_severity_does_not_weaken_fail_on() {
    let Some(ns) = Netns::create("audit") else {
        return;
    };
    standard(&ns);
    // Telnet on the public address: one high finding, nothing critical.
    let _sockets = ns.run(|| tcp("11.22.33.44:23"));
    let (doc, out) = audit_json(&ns, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(one(&doc, 23, Proto::Tcp).severity, Severity::High);
    assert_eq!(doc.summary.critical, 0);

    let hiding = ["--min-severity", "critical", "--fail-on", "high"];
    let out = audit(&ns, &hiding);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Review of issue 8: stdout read "no findings" for an audit that exits 1.
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        stdout.contains("1 finding(s) below --min-severity are not shown but fail --fail-on"),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("below --min-severity critical") && stderr.contains("still fail"),
        "{stderr}"
    );
    let (doc, out) = audit_json(&ns, &hiding);
    assert_eq!(out.status.code(), Some(1));
    assert!(doc.findings.is_empty(), "{:#?}", doc.findings);
    assert!(
        doc.warnings.iter().any(|w| w.contains("still fail")),
        "{:?}",
        doc.warnings
    );
    // A floor that shows what the gate judges: same verdict, no warning.
    let out = audit(&ns, &["--min-severity", "high", "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !String::from_utf8(out.stderr)
            .unwrap()
            .contains("still fail")
    );
    // Nothing at or above critical: passes, whatever is hidden.
    let out = audit(
        &ns,
        &["--min-severity", "critical", "--fail-on", "critical"],
    );
    assert_eq!(out.status.code(), Some(0));
}
