//! `portscope who` and `portscope kill` against sockets and children this test process creates.
//! Only children spawned here are ever signalled, by pid; every kill test closes the test's own
//! copy of the socket first so that only the child holds the port.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use portscope::model::{OwnerDetails, PortVerdict as Verdict};
use portscope::model::{OwnerUnknown, Proto, SocketEntry, SocketState};
use portscope::model::{ProbeOutcome, ProbeResult};
use serde::Deserialize;

use crate::common::*;

#[derive(Debug, Deserialize)]
struct WhoDoc {
    schema_version: u32,
    port: u16,
    proto: Option<Proto>,
    in_use: bool,
    verdict: Verdict,
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

/// A port nothing uses right now, below the ephemeral range: a port from `bind(:0)` lies in
/// that range, where the connections other tests open at the same time pick their local
/// ports, and their TIME_WAIT sockets made such a "free" port look used.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
        .max(12_000);
    let span = low - 10_000;
    let seed = u16::try_from(std::process::id() % u32::from(span)).unwrap();
    for _ in 0..span {
        let port = 10_000 + (seed + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let tcp = TcpListener::bind(("0.0.0.0", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok();
        if tcp && UdpSocket::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below {low}");
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
    // The listener explains the port: only UDP, which the table shows nothing for, is probed.
    assert!(
        doc.bind_probe.iter().all(|p| p.proto == Proto::Udp),
        "{:?}",
        doc.bind_probe
    );
    assert_eq!(doc.verdict, Verdict::InUse);
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
    // The table explains the port, and only UDP was asked about: nothing is probed.
    assert!(doc.bind_probe.is_empty(), "{:?}", doc.bind_probe);
    drop(sock);
}

#[test]
fn free_port_exits_1_and_probes_free() {
    let port = free_port();
    let (code, doc) = who_json(&[&format!("{port}/tcp")]);
    assert_eq!(code, Some(1), "{doc:#?}");
    assert!(!doc.in_use && doc.sockets.is_empty() && doc.owners.is_empty());
    assert_eq!(doc.verdict, Verdict::Free);
    assert!(doc.bind_probe.iter().all(|p| p.proto == Proto::Tcp));
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
            // The kernel gives no uid for a TIME_WAIT socket: unknown, not root.
            assert_eq!((tw.uid, tw.user.as_deref()), (None, None));
            // TIME_WAIT explains why a bind without SO_REUSEADDR fails: no probe.
            assert!(doc.bind_probe.is_empty(), "{:?}", doc.bind_probe);
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

/// Issue 8: a TCP socket bound but not listening made `who` say "free" (exit 1) while its own
/// probe found the port in use.
#[test]
fn bound_but_not_listening_socket_is_never_free() {
    let (sock, port) = tcp_bound_only();
    let (code, doc) = who_json(&[&format!("{port}/tcp")]);
    assert_eq!(code, Some(0), "{doc:#?}");
    assert!(doc.in_use);
    if kernel_at_least(6, 5) {
        // Listed by the kernel (TCP_BOUND_INACTIVE), with this process as its holder.
        let mine: Vec<&SocketEntry> = doc
            .sockets
            .iter()
            .filter(|s| s.inode == inode_of(&sock))
            .collect();
        assert_eq!(mine.len(), 1, "{:#?}", doc.sockets);
        assert_eq!(mine[0].state, SocketState::Bound);
        assert_eq!(mine[0].local_address, ip("127.0.0.1"));
        assert!(
            mine[0]
                .processes
                .iter()
                .any(|p| p.pid == std::process::id())
        );
        assert_eq!(doc.verdict, Verdict::InUse);
        assert!(doc.owners.iter().any(|o| o.pid == std::process::id()));
        assert!(
            doc.advice.iter().any(|a| a.contains("bound but neither")),
            "{:?}",
            doc.advice
        );
        // `--all` lists it too, with its state in the table; the listening view does not.
        let all = list_json(&["--all", "--port", &port.to_string()]);
        let rows = ours(&all, &sock);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, SocketState::Bound);
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(rows[0].uid, Some(euid));
        let listening = list_json(&["--port", &port.to_string()]);
        assert!(ours(&listening, &sock).is_empty());
        let table = portscope(&["--all", "--color", "never", "--port", &port.to_string()]);
        let table = String::from_utf8(table.stdout).unwrap();
        assert!(
            table
                .lines()
                .any(|l| l.contains(" bound ") && l.contains(&std::process::id().to_string())),
            "{table}"
        );
    } else {
        // The kernel cannot list it: the probe finds it, and `who` says so instead of "free".
        assert_eq!(doc.verdict, Verdict::InUseUnlisted);
        assert_eq!(probe_on(&doc, Proto::Tcp, "127.0.0.1"), ProbeOutcome::InUse);
        assert!(
            doc.advice.iter().any(|a| a.contains("No listed socket")),
            "{:?}",
            doc.advice
        );
    }
    drop(sock);
}

/// Issue 8: the bind probe briefly took free ports a concurrent service wanted. It now runs
/// only for a protocol the table shows nothing for, and never with `--no-probe`.
#[test]
fn probe_only_where_the_table_cannot_explain_and_no_probe() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let (code, doc) = who_json(&[&format!("{port}/tcp")]);
    assert_eq!(code, Some(0));
    assert!(doc.bind_probe.is_empty(), "{:?}", doc.bind_probe);
    let text = portscope(&["who", &format!("{port}/tcp"), "--color", "never"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(!text.contains("Bind probe"), "{text}");
    // Both protocols asked: the TCP side is explained, the UDP side is probed.
    let (_, doc) = who_json(&[&port.to_string()]);
    let protos: Vec<Proto> = doc.bind_probe.iter().map(|p| p.proto).collect();
    assert_eq!(protos, vec![Proto::Udp; 4]);
    let (_, doc) = who_json(&[&port.to_string(), "--no-probe"]);
    assert!(doc.bind_probe.is_empty());
    // A free port with --no-probe: free, exit 1, nothing probed.
    let free = free_port();
    let (code, doc) = who_json(&[&format!("{free}/tcp"), "--no-probe"]);
    assert_eq!(code, Some(1));
    assert_eq!(doc.verdict, Verdict::Free);
    assert!(doc.bind_probe.is_empty() && !doc.in_use);
    drop(listener);
}

/// Issue 8: a process whose main thread has exited keeps its sockets in its other threads;
/// it was reported `hidden`, with pid 1 blamed and "cannot be stopped from here" as advice.
#[test]
fn process_whose_main_thread_exited_is_found() {
    if !have("python3") && skip("python3 is not installed") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import ctypes, threading, time\n\
         threading.Thread(target=time.sleep, args=(60,)).start()\n\
         ctypes.CDLL(None).pthread_exit(None)\n",
    ]);
    let child = spawn_holding(cmd, &[listener.as_raw_fd()]);
    drop(listener);
    // Wait until the main thread is gone: the process is a zombie leader with a live thread.
    let status = format!("/proc/{}/status", child.pid());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        if text.contains("State:\tZ") && !text.contains("Threads:\t1\n") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "main thread never exited: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let doc = list_json(&["--port", &port.to_string()]);
    let row = doc
        .sockets
        .iter()
        .find(|s| s.local_port == port && s.state == SocketState::Listen)
        .unwrap_or_else(|| panic!("listener missing: {:#?}", doc.sockets));
    let p = row
        .processes
        .iter()
        .find(|p| p.pid == child.pid())
        .unwrap_or_else(|| panic!("holder not found: {row:#?}"));
    assert_eq!(row.owner_unknown_reason, None);
    assert_eq!(p.uid, row.uid, "{p:?}");
    assert!(p.user.is_some(), "{p:?}");
    // Its command line comes from a live thread.
    assert!(
        p.cmdline.first().is_some_and(|a| a.contains("python3")),
        "{p:?}"
    );
    assert!(
        !doc.warnings.iter().any(|w| w.contains("hidden")),
        "{:?}",
        doc.warnings
    );
    let (code, who) = who_json(&[&format!("{port}/tcp")]);
    assert_eq!(code, Some(0));
    assert!(who.owners.iter().any(|o| o.pid == child.pid()));
    assert!(
        !who.advice.iter().any(|a| a.contains("cannot be stopped")),
        "{:?}",
        who.advice
    );
    drop(child);
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

/// A python3 listener on 127.0.0.1 inside a child PID namespace (`unshare --pid --fork
/// --mount-proc`, so its own proc filesystem), whose pid there is made equal to the host pid of
/// a bystander `sleep` this test started (through the namespace's `ns_last_pid`): portscope on
/// the host, given the namespace's proc filesystem, reads the holder's pid as the bystander's
/// number.
struct NsHolder {
    /// `unshare --kill-child`: when it is killed (on drop) the namespace goes with it.
    unshare: Child,
    bystander: Child,
    /// Host pid of the namespace's init (`sh`).
    init: u32,
    /// Host pid of the python3 holder.
    holder: u32,
    /// The holder's pid inside the namespace (= the bystander's host pid).
    ns_pid: u32,
    port: u16,
}

impl NsHolder {
    fn start() -> Option<NsHolder> {
        if !is_root() {
            skip("PID namespace tests need root");
            return None;
        }
        if !have("unshare") || !have("python3") {
            skip("PID namespace tests need unshare (util-linux) and python3");
            return None;
        }
        // The interpreter itself: a wrapper script (pyenv) would fork inside the namespace and
        // take the arranged pid.
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap();
        let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let bystander = sleeper(&[]);
        let wanted = bystander.pid();
        let code = "import os, socket, time\n\
                    s = socket.socket()\n\
                    s.bind(('127.0.0.1', 0))\n\
                    s.listen()\n\
                    print(os.getpid(), s.getsockname()[1], flush=True)\n\
                    time.sleep(120)\n";
        let mut unshare = Child(
            Command::new("unshare")
                .args([
                    "--pid",
                    "--fork",
                    "--mount-proc",
                    "--kill-child",
                    "sh",
                    "-c",
                ])
                // Only builtins run before the one fork that must get the arranged pid.
                .arg(r#"echo "$2" > /proc/sys/kernel/ns_last_pid; "$0" -c "$1" & wait"#)
                .args([python.as_str(), code, &(wanted - 1).to_string()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut line = String::new();
        let stdout = unshare.0.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        let mut fields = line.split_whitespace().map(|f| f.parse::<u32>().unwrap());
        let (ns_pid, port) = (fields.next().unwrap(), fields.next().unwrap());
        assert_eq!(ns_pid, wanted, "ns_last_pid did not arrange the pid");
        let child_of = |pid: u32| -> u32 {
            let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            text.split_whitespace().next().unwrap().parse().unwrap()
        };
        let init = child_of(unshare.pid());
        let holder = child_of(init);
        Some(NsHolder {
            unshare,
            bystander,
            init,
            holder,
            ns_pid,
            port: u16::try_from(port).unwrap(),
        })
    }

    fn proc_root(&self) -> String {
        format!("/proc/{}/root/proc", self.init)
    }
}

fn json_value(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Issue 8: `kill --proc-root` of a container's proc filesystem signalled the host process with
/// the holder's in-container pid number. The listing and `who` must say whose pids they show,
/// `--dry-run` must name the holder's host pid, and the kill must reach the holder and never
/// the bystander that has the holder's in-container number on the host.
#[test]
fn kill_through_a_child_pid_namespace_signals_the_holder_not_the_bystander() {
    let Some(mut ns) = NsHolder::start() else {
        return;
    };
    let port = ns.port.to_string();
    let root = ns.proc_root();
    assert_eq!(ns.ns_pid, ns.bystander.pid());

    // The listing through the namespace's proc root shows its pids, and says so.
    let out = portscope(&["--json", "--proc-root", &root, "--port", &port]);
    let doc = json_value(&out);
    assert_eq!(doc["sockets"][0]["processes"][0]["pid"], ns.ns_pid);
    assert_eq!(doc["pid_namespace"]["proc_root"], root.as_str());
    assert!(doc["pid_namespace"]["inode"].is_u64(), "{doc}");
    assert_eq!(doc["pid_namespace"]["ancestor"], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: pids are those of the PID namespace"),
        "{err}"
    );
    // Through portscope's own /proc: host pids, and no namespace note.
    let out = portscope(&["--json", "--port", &port]);
    let doc = json_value(&out);
    assert_eq!(doc["sockets"][0]["processes"][0]["pid"], ns.holder);
    assert!(doc["pid_namespace"].is_null(), "{doc}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("note:"));

    // who says it under its heading; JSON carries the field.
    let out = portscope(&["who", &port, "--proc-root", &root, "--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Note: pids are those of the PID namespace of --proc-root"),
        "{text}"
    );
    let out = portscope(&["who", &port, "--color", "never"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Note:"));
    let out = portscope(&["who", "--json", &port, "--proc-root", &root]);
    assert_eq!(
        json_value(&out)["pid_namespace"]["proc_root"],
        root.as_str()
    );

    // --dry-run names the holder's pid here.
    let out = portscope(&[
        "kill",
        &port,
        "--dry-run",
        "--proc-root",
        &root,
        "--color",
        "never",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("Would send SIGTERM to pid {} (python3", ns.holder)),
        "{text}"
    );
    assert!(!text.contains(&format!("to pid {} (", ns.ns_pid)), "{text}");

    // The real kill reaches the holder (the namespace ends with it); the bystander lives.
    let out = portscope(&["kill", &port, "--yes", "--proc-root", &root, "--json"]);
    let doc = json_value(&out);
    assert_eq!(out.status.code(), Some(0), "{doc}");
    assert_eq!(doc["targets"][0]["pid"], ns.ns_pid);
    assert_eq!(doc["targets"][0]["signal_pid"], ns.holder);
    assert_eq!(doc["freed"], true, "{doc}");
    assert!(exited_within(&mut ns.unshare, Duration::from_secs(10)));
    assert!(alive(&mut ns.bystander), "the bystander was signalled");
}

/// The reverse: portscope inside a child PID namespace, given the host's proc filesystem
/// (`--proc-root /host/proc` in a container). The holder, a host process, has no pid in
/// portscope's namespace: kill refuses with one line instead of signalling the number.
#[test]
fn kill_refuses_a_holder_outside_its_pid_namespace() {
    if !is_root() {
        skip("PID namespace tests need root");
        return;
    }
    if !have("unshare") {
        skip("PID namespace tests need unshare (util-linux)");
        return;
    }
    let (mut child, port) = child_listener(sleep_cmd());
    let host_proc = tempfile::tempdir().unwrap();
    let dir = host_proc.path().to_str().unwrap();
    // A new mount namespace keeps the host's /proc at `dir`, then mounts the child
    // namespace's own /proc.
    let script = r#"mount --bind /proc "$1" && mount -t proc proc /proc && exec "$0" kill "$2" --yes --timeout 2s --proc-root "$1""#;
    let out = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount",
            "--kill-child",
            "sh",
            "-c",
            script,
        ])
        .args([bin(), dir, &format!("{port}/tcp")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let refusal: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with(&format!("Refusing to signal pid {}", child.pid())))
        .collect();
    assert_eq!(refusal.len(), 1, "{err}");
    assert!(
        refusal[0].contains("outside portscope's namespace"),
        "{err}"
    );
    assert!(err.contains("Nothing was signalled"), "{err}");
    assert!(alive(&mut child));
}
