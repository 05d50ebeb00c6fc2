//! `portscope who` and `portscope kill` against sockets and children this test process creates.
//! Only children spawned here are ever signalled, by pid; every kill test closes the test's own
//! copy of the socket first so that only the child holds the port.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use portscope::analyze::who::OwnerDetails;
use portscope::collect::probe::{ProbeOutcome, ProbeResult};
use portscope::model::{OwnerUnknown, Proto, SocketEntry, SocketState};
use serde::Deserialize;

use crate::common::*;

#[derive(Debug, Deserialize)]
struct WhoDoc {
    schema_version: u32,
    port: u16,
    proto: Option<Proto>,
    in_use: bool,
    sockets: Vec<SocketEntry>,
    owners: Vec<OwnerDetails>,
    bind_probe: Vec<ProbeResult>,
    advice: Vec<String>,
}

fn who_json(args: &[&str]) -> (Option<i32>, WhoDoc) {
    let mut all = vec!["who", "--json"];
    all.extend_from_slice(args);
    let out = portscope(&all);
    let doc: WhoDoc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(doc.schema_version, 1);
    (out.status.code(), doc)
}

fn probe_on(doc: &WhoDoc, proto: Proto, address: &str) -> ProbeOutcome {
    let address: IpAddr = address.parse().unwrap();
    doc.bind_probe
        .iter()
        .find(|p| p.proto == proto && p.address == address)
        .unwrap_or_else(|| panic!("no probe for {proto} {address}: {:?}", doc.bind_probe))
        .result
}

/// A port nothing uses right now: bind :0, read the port, close.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    port_of(l.local_addr())
}

/// A child holding a fresh 127.0.0.1 TCP listener, the test's own copy closed. The listener is
/// made with libc (no SO_REUSEADDR, like the probe) so the port is truly the child's.
fn child_listener(cmd: Command) -> (Child, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let child = spawn_holding(cmd, &[listener.as_raw_fd()]);
    drop(listener);
    (child, port)
}

fn sleep_cmd() -> Command {
    let mut c = Command::new("sleep");
    c.arg("60");
    c
}

fn alive(child: &mut Child) -> bool {
    child.0.try_wait().unwrap().is_none()
}

fn exited_within(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(child) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn tcp_port_held_by_child_is_found_with_owner_details() {
    let (child, port) = child_listener(sleep_cmd());
    let (code, doc) = who_json(&[&port.to_string()]);
    assert_eq!(code, Some(0));
    assert!(doc.in_use);
    assert_eq!((doc.port, doc.proto), (port, None));
    let listen: Vec<&SocketEntry> = doc
        .sockets
        .iter()
        .filter(|s| s.state == SocketState::Listen && s.local_address == ip("127.0.0.1"))
        .collect();
    assert_eq!(listen.len(), 1, "{:#?}", doc.sockets);
    assert!(listen[0].processes.iter().any(|p| p.pid == child.pid()));
    let owner = doc
        .owners
        .iter()
        .find(|o| o.pid == child.pid())
        .expect("child among owners");
    assert_eq!(owner.name.as_deref(), Some("sleep"));
    assert_eq!(owner.cmdline, vec!["sleep", "60"]);
    assert!(owner.exe.as_deref().is_some_and(|e| e.ends_with("sleep")));
    assert!(owner.start_time.is_some() && owner.age_seconds.is_some());
    // The parent chain starts at this test process.
    assert_eq!(
        owner.parents.first().map(|a| a.pid),
        Some(std::process::id())
    );
    assert!(owner.forwarder.is_none() && !owner.kernel_thread);
    assert_eq!(probe_on(&doc, Proto::Tcp, "127.0.0.1"), ProbeOutcome::InUse);
    assert!(
        doc.advice
            .iter()
            .any(|a| a.contains(&format!("portscope kill {port}")))
    );
    // The human report names the owner and the probe.
    let out = portscope(&["who", &port.to_string(), "--color", "never"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("pid {} sleep", child.pid())),
        "{text}"
    );
    assert!(text.contains("Bind probe"), "{text}");
    assert!(text.contains("in_use"), "{text}");
}

#[test]
fn udp_port_held_by_this_process() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = port_of(sock.local_addr());
    let (code, doc) = who_json(&[&format!("{port}/udp")]);
    assert_eq!(code, Some(0));
    assert_eq!(doc.proto, Some(Proto::Udp));
    let mine: Vec<&SocketEntry> = doc
        .sockets
        .iter()
        .filter(|s| s.inode == inode_of(&sock))
        .collect();
    assert_eq!(mine.len(), 1, "{:#?}", doc.sockets);
    assert_eq!(mine[0].state, SocketState::Unconnected);
    assert!(doc.owners.iter().any(|o| o.pid == std::process::id()));
    // Only the protocol asked for is probed.
    assert!(doc.bind_probe.iter().all(|p| p.proto == Proto::Udp));
    assert_eq!(probe_on(&doc, Proto::Udp, "127.0.0.1"), ProbeOutcome::InUse);
    drop(sock);
}

#[test]
fn free_port_exits_1_and_probes_free() {
    let port = free_port();
    let (code, doc) = who_json(&[&format!("{port}/tcp")]);
    assert_eq!(code, Some(1));
    assert!(!doc.in_use && doc.sockets.is_empty() && doc.owners.is_empty());
    assert_eq!(probe_on(&doc, Proto::Tcp, "127.0.0.1"), ProbeOutcome::Free);
    assert_eq!(probe_on(&doc, Proto::Tcp, "0.0.0.0"), ProbeOutcome::Free);
    assert!(
        doc.advice[0].contains("Nothing uses port"),
        "{:?}",
        doc.advice
    );
}

#[test]
fn time_wait_socket_is_shown_without_owner() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    // TIME_WAIT lands on the side that closes first: the server side, whose local port is the
    // listener's port.
    drop(server);
    let mut buf = [0u8; 1];
    let _ = client.read(&mut buf);
    drop(client);
    drop(listener);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, doc) = who_json(&[&format!("{port}/tcp")]);
        if let Some(tw) = doc
            .sockets
            .iter()
            .find(|s| s.state == SocketState::TimeWait)
        {
            assert_eq!(code, Some(0));
            assert_eq!(tw.owner_unknown_reason, Some(OwnerUnknown::Kernel));
            assert!(tw.processes.is_empty());
            assert!(
                doc.advice.iter().any(|a| a.contains("TIME_WAIT")),
                "{:?}",
                doc.advice
            );
            // TIME_WAIT blocks a bind without SO_REUSEADDR.
            assert_eq!(probe_on(&doc, Proto::Tcp, "127.0.0.1"), ProbeOutcome::InUse);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no time_wait: {:#?}",
            doc.sockets
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_port_arguments_exit_2_naming_the_input() {
    for bad in ["0", "65536", "abc", "80/sctp", "/tcp"] {
        let out = portscope(&["who", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(bad) && err.lines().count() == 1,
            "{bad}: {err}"
        );
    }
    let out = portscope(&["who"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORT"));
}

#[test]
fn kill_dry_run_changes_nothing() {
    let (mut child, port) = child_listener(sleep_cmd());
    let out = portscope(&[
        "kill",
        &format!("{port}/tcp"),
        "--dry-run",
        "--color",
        "never",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Would send SIGTERM to pid {}", child.pid())),
        "{text}"
    );
    assert!(alive(&mut child));
    let out = portscope(&["kill", &free_port().to_string(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn kill_without_terminal_needs_yes() {
    let (mut child, port) = child_listener(sleep_cmd());
    // stdin is not a terminal under Command::output; --json is not consent.
    for extra in [None, Some("--json")] {
        let mut args = vec!["kill", "--timeout", "1s"];
        let p = format!("{port}/tcp");
        args.push(&p);
        args.extend(extra);
        let out = portscope(&args);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--yes"), "{err}");
        assert!(alive(&mut child));
    }
}

/// stdout is buffered: on a terminal the report must still be on screen before the prompt
/// (stderr) waits for an answer. A pseudo-terminal from `script` stands in for the user, who
/// answers "n".
#[test]
fn kill_prompt_comes_after_the_report_on_a_terminal() {
    if !have("script") && skip("needs script(1) (bsdutils) for a pseudo-terminal") {
        return;
    }
    let (mut child, port) = child_listener(sleep_cmd());
    let cmd = format!("{} kill {port}/tcp --color never", bin());
    let mut script = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    script.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = script.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    // The end of the report (the table alone may already have been flushed).
    let report = text
        .find("Advice:")
        .unwrap_or_else(|| panic!("no report: {text}"));
    let prompt = text
        .find(&format!("Send SIGTERM to pid {} (", child.pid()))
        .unwrap_or_else(|| panic!("no prompt: {text}"));
    assert!(report < prompt, "prompt before the report:\n{text}");
    assert!(text.contains("Not confirmed"), "{text}");
    assert!(alive(&mut child));
}

#[test]
fn kill_yes_frees_the_port() {
    let (mut child, port) = child_listener(sleep_cmd());
    let out = portscope(&["kill", &format!("{port}/tcp"), "--yes", "--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("Sent SIGTERM to pid {}", child.pid())),
        "{text}"
    );
    assert!(text.contains("is free"), "{text}");
    assert!(exited_within(&mut child, Duration::from_secs(5)));
    let (code, _) = who_json(&[&format!("{port}/tcp")]);
    assert_eq!(code, Some(1));
}

#[test]
fn sigterm_ignoring_child_needs_force() {
    // `exec` replaces the shell by sleep in the same pid, so exactly one process holds the
    // socket; an ignored SIGTERM stays ignored across exec.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' TERM; exec sleep 60"]);
    let (mut child, port) = child_listener(cmd);
    let comm = format!("/proc/{}/comm", child.pid());
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&comm).unwrap_or_default().trim() != "sleep" {
        assert!(Instant::now() < deadline, "child never exec'd sleep");
        std::thread::sleep(Duration::from_millis(20));
    }
    let p = format!("{port}/tcp");
    let out = portscope(&["kill", &p, "--yes", "--timeout", "500ms"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("--force"));
    assert!(alive(&mut child));
    let out = portscope(&[
        "kill",
        &p,
        "--yes",
        "--timeout",
        "500ms",
        "--force",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["freed"], true);
    assert_eq!(doc["killed"][0], child.pid());
    assert!(exited_within(&mut child, Duration::from_secs(5)));
}

/// Machine-specific: where port 2024 is held by pid 1 (this project's build machines), `kill`
/// must refuse. Elsewhere there is nothing to check.
#[test]
fn kill_refuses_pid_1_holder_of_2024() {
    let (code, doc) = who_json(&["2024/tcp"]);
    let by_pid1 = doc.owners.iter().any(|o| o.pid == 1);
    let out = portscope(&["--json", "--port", "2024"]);
    let hidden_pid1 = String::from_utf8_lossy(&out.stdout).contains("(pid 1)")
        && doc
            .sockets
            .iter()
            .any(|s| s.owner_unknown_reason == Some(OwnerUnknown::Hidden));
    if code != Some(0) || !(by_pid1 || hidden_pid1) {
        eprintln!("port 2024 is not held by pid 1 here: nothing to check");
        return;
    }
    let out = portscope(&["kill", "2024", "--yes", "--timeout", "100ms"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Nothing was signalled"), "{err}");
    let _ = std::io::stderr().flush();
}
