//! `--format prometheus`, `--format csv` and `--output` against the real engines: Debian's
//! `prometheus-node-exporter`, started by the test on a free loopback port with its textfile
//! collector pointed at a test directory (and stopped again; the package's own service, if
//! any, is never used), scraped over plain HTTP; `promtool check metrics` on what portscope
//! writes; `promtool test rules` on the alerting rules shipped in contrib/prometheus/.
//!
//! The audit runs in a network namespace of the test's (tests/it/audit.rs) where a listener of
//! this process sits on a public-looking address (11.22.33.44, never contacted).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const NODE_EXPORTER: &str = "prometheus-node-exporter";
const PROMTOOL: &str = "promtool";

/// True when `cmd` is on PATH; otherwise skip (fail under `CI=true`).
fn need(cmd: &str) -> bool {
    have(cmd)
        || !skip(&format!(
            "{cmd} is not installed (apt install prometheus-node-exporter prometheus)"
        ))
}

/// A node_exporter the test started, stopped (by its own pid) when dropped.
struct NodeExporter {
    child: Child,
    port: u16,
}

impl NodeExporter {
    /// Only the textfile collector, reading `dir`, on 127.0.0.1 at a free port; waits until it
    /// accepts connections.
    fn start(dir: &Path) -> NodeExporter {
        let port = free_port();
        let mut cmd = Command::new(NODE_EXPORTER);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--collector.disable-defaults")
            .arg("--collector.textfile")
            .arg(format!("--collector.textfile.directory={}", dir.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut exporter = NodeExporter {
            child: spawn_holding(cmd, &[]),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                alive(&mut exporter.child),
                "{NODE_EXPORTER} exited at start"
            );
            assert!(Instant::now() < deadline, "{NODE_EXPORTER} never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        exporter
    }

    /// `GET /metrics` over HTTP/1.0 (no chunked encoding, the server closes): the body.
    fn scrape(&self) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        body.to_owned()
    }
}

/// One sample line of the text format: name, labels, value.
fn sample(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series.to_owned(), BTreeMap::new(), value));
    };
    let mut labels = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if key.is_empty() || key == "}" {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "{line}");
        let mut text = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => text.push('\n'),
                    Some(other) => text.push(other),
                    None => break,
                },
                '"' => break,
                c => text.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), text);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Some((name.to_owned(), labels, value))
}

/// Samples of `name` whose labels include every pair of `want`.
fn find(text: &str, name: &str, want: &[(&str, &str)]) -> Vec<(BTreeMap<String, String>, f64)> {
    text.lines()
        .filter_map(sample)
        .filter(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, labels, value)| (labels, value))
        .collect()
}

/// `promtool check metrics` on `text` (stdin): passes, with no lint problem.
fn promtool_check_metrics(text: &[u8]) {
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(text)
    );
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The whole recipe: a risky public listener and an allowlisted one in a namespace, the audit
/// written into a textfile directory, node_exporter scraped, the metrics found with their
/// labels; the same file passes `promtool check metrics`.
#[test]
fn audit_metrics_reach_node_exporter() {
    if !need(NODE_EXPORTER) || !need(PROMTOOL) {
        return;
    }
    let Some(ns) = Netns::create("prom") else {
        return;
    };
    ns.addr("va", "11.22.33.44/24");
    let _sockets = ns.run(|| {
        (
            TcpListener::bind("11.22.33.44:23").unwrap(),
            TcpListener::bind("11.22.33.44:6379").unwrap(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let allow = dir.path().join("allow.toml");
    std::fs::write(
        &allow,
        "[[allow]]\nport = 6379\nproto = \"tcp\"\nreason = \"lab cache\"\n",
    )
    .unwrap();
    let textfiles = dir.path().join("textfile");
    std::fs::create_dir(&textfiles).unwrap();
    let prom = textfiles.join("portscope.prom");
    let out = ns.portscope(&[
        "audit",
        "--format",
        "prometheus",
        "--allow",
        allow.to_str().unwrap(),
        "--output",
        prom.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "--output: nothing on stdout");
    assert_eq!(mode(&prom), 0o644, "node_exporter's user must read it");
    let names: Vec<_> = std::fs::read_dir(&textfiles)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["portscope.prom"], "no temporary file left");
    let written = std::fs::read(&prom).unwrap();
    promtool_check_metrics(&written);

    let exporter = NodeExporter::start(&textfiles);
    let body = exporter.scrape();
    assert_eq!(
        find(&body, "node_textfile_scrape_error", &[]),
        [(BTreeMap::new(), 0.0)],
        "node_exporter read the file"
    );
    let telnet = [
        ("rule", "exposed-telnet"),
        ("severity", "high"),
        ("port", "23"),
        ("proto", "tcp"),
        ("exposure", "public"),
        ("suppressed", "false"),
    ];
    let found = find(&body, "portscope_findings", &telnet);
    assert_eq!(found.len(), 1, "{body}");
    assert_eq!(found[0].1, 1.0);
    let redis = find(
        &body,
        "portscope_findings",
        &[
            ("rule", "exposed-redis"),
            ("port", "6379"),
            ("suppressed", "true"),
        ],
    );
    assert_eq!(redis.len(), 1, "the allowlisted finding, labelled: {body}");
    assert!(
        find(
            &body,
            "portscope_findings",
            &[("suppressed", "false"), ("port", "6379")]
        )
        .is_empty()
    );
    let public = find(
        &body,
        "portscope_listeners",
        &[
            ("proto", "tcp"),
            ("exposure", "public"),
            ("service", "telnet"),
        ],
    );
    assert_eq!(public.len(), 1, "{body}");
    assert_eq!(
        find(&body, "portscope_run_success", &[("command", "audit")])
            .first()
            .map(|s| s.1),
        Some(1.0)
    );
    let stamp = find(
        &body,
        "portscope_last_run_timestamp_seconds",
        &[("command", "audit")],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert_eq!(stamp.len(), 1, "{body}");
    assert!((now - stamp[0].1).abs() < 600.0, "{stamp:?} against {now}");
    // The HELP and TYPE lines came through.
    assert!(body.contains("# TYPE portscope_findings gauge"), "{body}");
}

/// A failed audit leaves `portscope_run_success 0` in the file (the alert's input) and exits
/// 2 with one line; an output file that cannot be written is one line naming it, exit 2.
#[test]
fn failures_are_metrics_and_one_line() {
    if !need(PROMTOOL) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("portscope.prom");
    let missing = dir.path().join("missing.toml");
    let out = portscope(&[
        "audit",
        "--format",
        "prometheus",
        "--allow",
        missing.to_str().unwrap(),
        "-o",
        prom.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("missing.toml"), "{stderr}");
    let written = std::fs::read(&prom).unwrap();
    let text = String::from_utf8_lossy(&written);
    assert_eq!(
        find(&text, "portscope_run_success", &[("command", "audit")])
            .first()
            .map(|s| s.1),
        Some(0.0),
        "{text}"
    );
    assert!(!text.contains("portscope_findings"), "{text}");
    promtool_check_metrics(&written);

    let nowhere = dir.path().join("no/such/dir/portscope.prom");
    for args in [
        &["audit", "--format", "prometheus"][..],
        &["--format", "csv"],
        &[],
    ] {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--output", nowhere.to_str().unwrap()]);
        let out = portscope(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains("cannot write output file") && errors[0].contains("no/such/dir"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// The listing as metrics and as CSV, on a listener of a child whose name is a spreadsheet
/// formula: the metrics pass promtool, the CSV cell is defused.
#[test]
fn listing_metrics_and_csv() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("=1+2");
    std::fs::copy(
        Command::new("sh")
            .args(["-c", "command -v sleep"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap(),
        &evil,
    )
    .unwrap();
    let mut cmd = Command::new(&evil);
    cmd.arg("60");
    let child = spawn_holding(cmd, &[std::os::fd::AsRawFd::as_raw_fd(&listener)]);
    // The child alone holds it: its name is the whole PROCESS cell.
    drop(listener);
    let port_s = port.to_string();

    let out = portscope(&["--format", "prometheus", "--port", &port_s]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let listeners = find(
        &text,
        "portscope_listeners",
        &[("proto", "tcp"), ("exposure", "loopback")],
    );
    assert_eq!(listeners.iter().map(|s| s.1).sum::<f64>(), 1.0, "{text}");
    assert_eq!(
        find(
            &text,
            "portscope_sockets",
            &[("proto", "tcp"), ("state", "listen")]
        )
        .first()
        .map(|s| s.1),
        Some(1.0),
        "{text}"
    );
    if have(PROMTOOL) {
        promtool_check_metrics(&out.stdout);
    } else {
        skip("promtool is not installed");
    }

    let csv = dir.path().join("sockets.csv");
    let out = portscope(&[
        "--format",
        "csv",
        "--port",
        &port_s,
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert!(
        lines[0].starts_with("proto,state,local_address,local_port,"),
        "{text}"
    );
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells.len(), lines[0].split(',').count(), "{text}");
    assert_eq!(&cells[..4], ["tcp", "listen", "127.0.0.1", port_s.as_str()]);
    if is_root() {
        assert_eq!(cells[13], child.pid().to_string(), "{text}");
        // The name is a formula: shown as text, never evaluated.
        assert_eq!(cells[14], "'=1+2", "{text}");
    }
}

/// The alerting rules shipped in contrib/prometheus/ load, and their unit tests pass.
#[test]
fn shipped_alerting_rules_pass_promtool() {
    if !need(PROMTOOL) {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus");
    for args in [
        &["check", "rules", "portscope.rules.yml"][..],
        &["test", "rules", "portscope.rules.test.yml"],
    ] {
        let out = Command::new(PROMTOOL)
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
