//! `portscope who` and `portscope kill` against sockets and children this test process creates.
//! Only children spawned here are ever signalled, by pid; every kill test closes the test's own
//! copy of the socket first so that only the child holds the port.

use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use portscope::model::PortVerdict as Verdict;
use portscope::model::ProbeOutcome;
use portscope::model::{OwnerUnknown, Proto, SocketEntry, SocketState};

use crate::common::*;

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
        .filter(|s| s.inode == Some(inode_of(&sock)))
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
            .filter(|s| s.inode == Some(inode_of(&sock)))
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
