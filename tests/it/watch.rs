//! `portscope watch`: listeners the tests open and close while a watch runs, filtered on the
//! test's own ports so other listeners of the machine never matter; an owner exiting
//! mid-watch; a closed stdout; SIGTERM and SIGINT; `--audit` findings in a network namespace
//! with a public-looking address (11.22.33.44, never contacted).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use portscope::model::{Finding, Severity, SocketEntry};
use serde::Deserialize;

use crate::common::*;

/// The polling interval of these tests.
const INTERVAL: Duration = Duration::from_millis(200);
/// How long an event may take: two intervals, plus what a loaded, shared CI machine adds to
/// scheduling a process (not a timing claim about portscope).
const TWO_INTERVALS: Duration = Duration::from_millis(2 * 200 + 400);
/// How long the first poll may take (readiness, not a timing claim).
const READY: Duration = Duration::from_secs(20);

/// One line of `watch --json`.
#[derive(Debug, Deserialize)]
struct Event {
    schema_version: u32,
    event: String,
    time: String,
    socket: Option<SocketEntry>,
    previous: Option<SocketEntry>,
    finding: Option<Finding>,
    sockets: Option<usize>,
}

/// A running `portscope watch`, its stdout read line by line on a thread.
struct Watch {
    child: std::process::Child,
    lines: Receiver<String>,
    /// The header line or the `started` object.
    first: String,
}

impl Watch {
    /// Start `cmd` (a `portscope watch …` command line) and wait until its first poll is done
    /// (the header line, or the `started` object).
    fn start(mut cmd: Command) -> Watch {
        let mut child = cmd
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn watch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut watch = Watch {
            child,
            lines,
            first: String::new(),
        };
        watch.first = watch
            .next(READY)
            .unwrap_or_else(|| panic!("no first line: {}", watch.stop_stderr()));
        assert!(
            watch.first.starts_with("TIME ") || watch.first.contains("\"event\":\"started\""),
            "{}",
            watch.first
        );
        watch
    }

    /// `portscope watch --interval 200ms ARGS`.
    fn run(args: &[&str]) -> Watch {
        let mut cmd = Command::new(bin());
        cmd.args(["watch", "--interval", "200ms"]).args(args);
        Watch::start(cmd)
    }

    /// The next line within `limit`.
    fn next(&self, limit: Duration) -> Option<String> {
        self.lines.recv_timeout(limit).ok()
    }

    /// The next line as a JSON event, within `limit`; fails without one.
    fn event(&self, limit: Duration, what: &str) -> Event {
        let line = self
            .next(limit)
            .unwrap_or_else(|| panic!("no event within {limit:?}: {what}"));
        let event: Event =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON ({e}): {line}"));
        assert_eq!(event.schema_version, 1);
        assert!(
            event.time.ends_with('Z') && event.time.len() == 20,
            "{line}"
        );
        event
    }

    /// Send `signal` to the watch and return its exit code and stderr.
    fn signal(mut self, signal: i32) -> (Option<i32>, String) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let status = wait_or_kill(&mut self.child, Duration::from_secs(10));
        let stderr = read_all(self.child.stderr.take().expect("stderr"));
        (status, stderr)
    }

    fn stop_stderr(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child.stderr.take().map(read_all).unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait for `child` to exit within `limit`; killed and failed if it has not.
fn wait_or_kill(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("watch still running {limit:?} after it should have stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn opened_and_closed_listeners_are_reported_as_table_lines() {
    let port = free_port();
    let watch = Watch::run(&["--port", &port.to_string()]);
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let line = watch.next(TWO_INTERVALS).expect("an opened line");
    let me = std::process::id().to_string();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[1], "opened", "{line}");
    assert_eq!(cells[2], "tcp", "{line}");
    assert_eq!(cells[3], format!("127.0.0.1:{port}"), "{line}");
    assert_eq!(cells[4], "loopback", "{line}");
    assert!(cells[5].starts_with(&format!("{me}/")), "{line}");
    drop(listener);
    let line = watch.next(TWO_INTERVALS).expect("a closed line");
    assert!(
        line.contains(" closed ") && line.contains(&format!(":{port} ")),
        "{line}"
    );
    // Nothing else happened on the port.
    assert_eq!(watch.next(INTERVAL * 3), None);
}

#[test]
fn opened_and_closed_listeners_are_reported_as_json_lines() {
    let port = free_port();
    let watch = Watch::run(&["--json", "--port", &port.to_string()]);
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let inode = inode_of(&listener);
    let opened = watch.event(TWO_INTERVALS, "opened");
    assert_eq!(opened.event, "opened");
    let socket = opened.socket.expect("socket");
    assert_eq!((socket.local_port, socket.inode), (port, Some(inode)));
    assert!(
        socket.processes.iter().any(|p| p.pid == std::process::id()),
        "{socket:?}"
    );
    assert!(opened.previous.is_none() && opened.finding.is_none());
    // UDP too, on the same port: its own event.
    let udp = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let bound = watch.event(TWO_INTERVALS, "udp opened");
    let udp_socket = bound.socket.expect("socket");
    assert_eq!(
        (bound.event.as_str(), udp_socket.inode),
        ("opened", Some(inode_of(&udp)))
    );
    drop(listener);
    let closed = watch.event(TWO_INTERVALS, "closed");
    assert_eq!(closed.event, "closed");
    assert_eq!(closed.socket.expect("socket").inode, Some(inode));
}

#[test]
fn the_sockets_of_the_first_poll_are_the_baseline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr()).to_string();
    let watch = Watch::run(&["--json", "--port", &port]);
    let started: Event = serde_json::from_str(&watch.first).unwrap();
    assert_eq!(
        (started.event.as_str(), started.sockets),
        ("started", Some(1))
    );
    assert!(started.socket.is_none());
    // Nothing is reported about it while it stays.
    assert_eq!(watch.next(INTERVAL * 3), None);
    drop(listener);
    assert_eq!(watch.event(TWO_INTERVALS, "closed").event, "closed");
}

#[test]
fn an_owner_exiting_mid_watch() {
    // One listener shared by this test and a child: the child's exit changes its owners. One
    // held by a child alone: the child's exit closes it.
    let shared = TcpListener::bind("127.0.0.1:0").unwrap();
    let shared_port = port_of(shared.local_addr());
    let mut sharer = sleeper(&[shared.as_raw_fd()]);
    let (mut holder, alone_port) = child_listener(sleep_cmd());
    let ports = format!("{shared_port},{alone_port}");
    let watch = Watch::run(&["--json", "--port", &ports]);
    let (sharer_pid, holder_pid) = (sharer.pid(), holder.pid());

    let _ = sharer.0.kill();
    let _ = sharer.0.wait();
    let changed = watch.event(TWO_INTERVALS, "owner_changed");
    assert_eq!(changed.event, "owner_changed");
    let pids = |s: &SocketEntry| s.processes.iter().map(|p| p.pid).collect::<Vec<_>>();
    let now = changed.socket.expect("socket");
    let before = changed.previous.expect("previous");
    assert_eq!(now.local_port, shared_port);
    assert!(pids(&before).contains(&sharer_pid), "{before:?}");
    assert_eq!(pids(&now), vec![std::process::id()]);

    let _ = holder.0.kill();
    let _ = holder.0.wait();
    let closed = watch.event(TWO_INTERVALS, "closed");
    assert_eq!(closed.event, "closed");
    let last = closed.socket.expect("socket");
    assert_eq!(last.local_port, alone_port);
    assert_eq!(pids(&last), vec![holder_pid], "as last seen");
    // The watch lives on and still reports.
    drop(shared);
    assert_eq!(watch.event(TWO_INTERVALS, "closed").event, "closed");
}

#[test]
fn a_closed_stdout_ends_the_watch_with_exit_0() {
    // As `portscope watch | head -1`: the reader takes one line and exits. The watch notices
    // while nothing else is written, and exits 0 without a word.
    let mut child = Command::new(bin())
        .args(["watch", "--json", "--interval", "200ms", "--port", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    assert!(first.contains("\"started\""), "{first}");
    drop(stdout);
    let code = wait_or_kill(&mut child, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    assert_eq!(stderr, "");

    // Through a real shell pipe, as users write it.
    let mut sh = Command::new("sh");
    sh.args(["-c", &format!("{} watch --interval 200ms | head -1", bin())]);
    let out = output_or_hang(sh, Duration::from_secs(20));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("TIME "));
}

#[test]
fn sigterm_and_sigint_end_the_watch_with_exit_0() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let watch = Watch::run(&["--port", "1"]);
        let (code, stderr) = watch.signal(signal);
        assert_eq!(code, Some(0), "signal {signal}: {stderr}");
        // stderr is not a terminal here: no summary.
        assert_eq!(stderr, "", "signal {signal}");
    }
}

#[test]
fn audit_reports_a_finding_when_a_risky_listener_opens_or_becomes_public() {
    let Some(ns) = Netns::create("watch") else {
        return;
    };
    ns.addr("va", "10.1.2.3/24");
    let allow = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        allow.path(),
        "[[allow]]\nport = 23\nreason = \"the lab's telnet\"\n",
    )
    .unwrap();
    let watch_in_ns = |extra: &[&str]| {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &ns.name,
            bin(),
            "watch",
            "--interval",
            "200ms",
        ])
        .args(["--json", "--audit", "--port", "23,6379"])
        .args(extra);
        Watch::start(cmd)
    };
    // A Redis on the wildcard while the namespace has a private address only.
    let redis = ns.run(|| TcpListener::bind("0.0.0.0:6379").unwrap());
    let watch = watch_in_ns(&[]);
    let allowed = watch_in_ns(&["--allow", allow.path().to_str().unwrap()]);

    // Telnet opens on a public address: opened, then its finding.
    ns.addr("va", "11.22.33.44/24");
    let telnet = ns.run(|| TcpListener::bind("11.22.33.44:23").unwrap());
    let mut seen: Vec<Event> = Vec::new();
    let deadline = Instant::now() + TWO_INTERVALS * 2;
    while seen.len() < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.push(watch.event(left, "events of the public address and telnet"));
    }
    let summary: Vec<(String, u16)> = seen
        .iter()
        .map(|e| {
            (
                e.event.clone(),
                e.socket.as_ref().map_or(0, |s| s.local_port),
            )
        })
        .collect();
    // Redis became public (an address came): exposure_changed and its finding; telnet opened
    // with its finding. The address and the listener may land in one poll or two.
    for want in [
        ("exposure_changed", 6379),
        ("finding", 6379),
        ("opened", 23),
        ("finding", 23),
    ] {
        assert!(
            summary.contains(&(want.0.to_string(), want.1)),
            "{want:?} in {summary:?}"
        );
    }
    let finding = |port: u16| {
        seen.iter()
            .filter_map(|e| e.finding.as_ref())
            .find(|f| f.socket.port == port)
            .expect("finding")
    };
    let telnet_finding = finding(23);
    assert_eq!(telnet_finding.rule, "exposed-telnet");
    assert_eq!(telnet_finding.severity, Severity::High);
    assert!(!telnet_finding.suppressed);
    assert!(
        telnet_finding
            .socket
            .processes
            .iter()
            .any(|p| p.pid == std::process::id())
    );
    let redis_finding = finding(6379);
    assert_eq!(
        (redis_finding.rule.as_str(), redis_finding.severity),
        ("exposed-redis", Severity::High)
    );
    let changed = seen.iter().find(|e| e.event == "exposure_changed").unwrap();
    let before = changed.previous.as_ref().unwrap();
    assert_eq!(before.exposure, Some(portscope::model::AddrClass::Private));

    // With the allowlist covering telnet: the events, Redis's finding, no telnet finding.
    let mut events: Vec<(String, u16)> = Vec::new();
    while let Some(line) = allowed.next(TWO_INTERVALS) {
        let e: Event = serde_json::from_str(&line).unwrap();
        events.push((e.event, e.socket.map_or(0, |s| s.local_port)));
    }
    assert!(events.contains(&("opened".into(), 23)), "{events:?}");
    assert!(events.contains(&("finding".into(), 6379)), "{events:?}");
    assert!(!events.contains(&("finding".into(), 23)), "{events:?}");
    drop((telnet, redis));
}

/// `watch --netns NAME` (run from the host namespace) sees a listener opened inside the
/// namespace, labelled with it, and the host's own listeners not at all.
#[test]
fn watch_with_netns_sees_a_listener_opened_inside() {
    let Some(ns) = Netns::create("wns") else {
        return;
    };
    ns.addr("va", "10.64.0.2/24");
    let watch = Watch::run(&["--json", "--netns", &ns.name]);
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let inside = ns.run(|| TcpListener::bind("10.64.0.2:0").unwrap());
    let port = port_of(inside.local_addr());
    let event = watch.event(TWO_INTERVALS, "opened inside the namespace");
    assert_eq!(event.event, "opened");
    let socket = event.socket.unwrap();
    assert_eq!(
        socket.local_port, port,
        "only the namespace's sockets: {socket:#?}"
    );
    let netns = socket.netns.unwrap();
    assert_eq!(netns.name.as_deref(), Some(ns.name.as_str()));
    assert!(!netns.host);
    assert!(socket.processes.iter().any(|p| p.pid == std::process::id()));
    drop((host, inside));
}
