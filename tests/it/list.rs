//! The listening inventory against sockets this test process opens itself.

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;

use portscope::model::{AddrClass, OwnerUnknown, Proto, SocketState};

use crate::common::*;

#[test]
fn v4_listener_found_with_own_pid_and_fd() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let doc = list_json(&["--port", &port.to_string()]);
    let rows = ours(&doc, &listener);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = rows[0];
    assert_eq!(row.proto, Proto::Tcp);
    assert_eq!(row.state, SocketState::Listen);
    assert_eq!(row.local_address, ip("127.0.0.1"));
    assert_eq!(row.remote_address, None);
    assert_eq!(row.exposure, Some(AddrClass::Loopback));
    assert!(!row.wildcard);
    assert_eq!(row.dual_stack, None);
    let me = row
        .processes
        .iter()
        .find(|p| p.pid == std::process::id())
        .expect("own pid");
    assert_eq!(
        me.fds,
        Some(vec![u32::try_from(listener.as_raw_fd()).unwrap()])
    );
    assert!(
        me.cmdline.first().is_some_and(|a| a.contains("it-")),
        "{:?}",
        me.cmdline
    );
    assert_eq!(row.owner_unknown_reason, None);
}

#[test]
fn dual_stack_and_v6_only_listeners_are_told_apart() {
    if !ipv6_loopback() && skip("no IPv6 on this machine") {
        return;
    }
    let dual = v6_wildcard_listener(false);
    let v6only = v6_wildcard_listener(true);
    let (pd, p6) = (port_of(dual.local_addr()), port_of(v6only.local_addr()));
    let doc = list_json(&["--port", &format!("{pd},{p6}")]);
    let d = ours(&doc, &dual);
    let s = ours(&doc, &v6only);
    assert_eq!((d.len(), s.len()), (1, 1));
    assert_eq!(d[0].dual_stack, Some(true));
    assert_eq!(s[0].dual_stack, Some(false));
    assert!(d[0].wildcard && s[0].wildcard);
    assert_eq!(d[0].local_address, ip("::"));
    // A dual-stack wildcard reaches at least as far as the v6-only one.
    assert!(d[0].exposure >= s[0].exposure || s[0].exposure.is_none());
    let table =
        String::from_utf8(portscope(&["--color", "never", "--port", &pd.to_string()]).stdout)
            .unwrap();
    assert!(table.contains("[::] v4+v6"), "{table}");
}

#[test]
fn unconnected_udp_listed_connected_udp_not() {
    let bound = udp_bound("127.0.0.1");
    let connected = UdpSocket::bind("127.0.0.1:0").unwrap();
    connected.connect("127.0.0.1:9").unwrap();
    let (pb, pc) = (port_of(bound.local_addr()), port_of(connected.local_addr()));
    let doc = list_json(&["-u", "--port", &format!("{pb},{pc}")]);
    let b = ours(&doc, &bound);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].state, SocketState::Unconnected);
    assert_eq!(b[0].proto, Proto::Udp);
    assert!(
        ours(&doc, &connected).is_empty(),
        "connected UDP must not look like a listener"
    );
    // With --all it appears, connected, with its remote end.
    let doc = list_json(&["--all", "-u", "--port", &pc.to_string()]);
    let c = ours(&doc, &connected);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].state, SocketState::Established);
    assert_eq!(
        (c[0].remote_address, c[0].remote_port),
        (Some(ip("127.0.0.1")), Some(9))
    );
}

#[test]
fn listener_shared_with_child_lists_both_pids() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let child = sleeper(&[listener.as_raw_fd()]);
    let doc = list_json(&["--port", &port.to_string()]);
    let rows = ours(&doc, &listener);
    assert_eq!(rows.len(), 1);
    let pids: Vec<u32> = rows[0].processes.iter().map(|p| p.pid).collect();
    // Both holders, in pid order. (Another test forking at this moment briefly holds our
    // descriptors too, until its child execs: such a pid is a child of this process.)
    assert!(
        pids.contains(&std::process::id()) && pids.contains(&child.pid()),
        "{pids:?}"
    );
    assert!(pids.windows(2).all(|w| w[0] < w[1]));
    for p in &rows[0].processes {
        assert!(
            p.pid == std::process::id() || p.ppid == Some(std::process::id()),
            "{p:?}"
        );
    }
    let sleeper = rows[0]
        .processes
        .iter()
        .find(|p| p.pid == child.pid())
        .unwrap();
    assert_eq!(sleeper.name.as_deref(), Some("sleep"));
    assert_eq!(sleeper.ppid, Some(std::process::id()));
    // --pid selects by either owner.
    let doc = list_json(&[
        "--pid",
        &child.pid().to_string(),
        "--port",
        &port.to_string(),
    ]);
    assert_eq!(ours(&doc, &listener).len(), 1);
}

#[test]
fn established_connection_only_with_all() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    let cport = port_of(client.local_addr());
    let mine = [inode_of(&listener), inode_of(&client), inode_of(&server)];
    let doc = list_json(&["--port", &format!("{port},{cport}")]);
    let seen: Vec<_> = doc
        .sockets
        .iter()
        .filter(|s| s.inode.is_some_and(|i| mine.contains(&i)))
        .collect();
    assert_eq!(seen.len(), 1, "only the listener: {seen:#?}");
    assert_eq!(seen[0].state, SocketState::Listen);
    let doc = list_json(&["--all", "--port", &format!("{port},{cport}")]);
    let est: Vec<_> = doc
        .sockets
        .iter()
        .filter(|s| {
            s.inode.is_some_and(|i| mine.contains(&i)) && s.state == SocketState::Established
        })
        .collect();
    assert_eq!(est.len(), 2, "{est:#?}");
    let c = est.iter().find(|s| s.local_port == cport).unwrap();
    assert_eq!(
        (c.remote_address, c.remote_port),
        (Some(ip("127.0.0.1")), Some(port))
    );
    assert!(c.processes.iter().any(|p| p.pid == std::process::id()));
    drop((server, client));
}

/// Issue 8: the kernel gives no uid for a TIME_WAIT socket (it writes 0), which was shown as
/// uid 0 / root. Unknown is null in JSON and blank in the table.
#[test]
fn time_wait_socket_has_no_uid() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    // The side that closes first gets TIME_WAIT: the server, on the listener's port.
    drop(server);
    let _ = std::io::Read::read(&mut client, &mut [0u8; 1]);
    drop(client);
    drop(listener);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let doc = list_json(&["--all", "-t", "--port", &port.to_string()]);
        if let Some(tw) = doc
            .sockets
            .iter()
            .find(|s| s.state == SocketState::TimeWait && s.local_port == port)
        {
            assert_eq!((tw.uid, tw.user.as_deref()), (None, None), "{tw:#?}");
            assert_eq!(tw.owner_unknown_reason, Some(OwnerUnknown::Kernel));
            let out = portscope(&[
                "--color",
                "never",
                "--state",
                "time_wait",
                "--port",
                &port.to_string(),
            ]);
            let table = String::from_utf8(out.stdout).unwrap();
            let row = table
                .lines()
                .find(|l| l.contains("time_wait"))
                .unwrap_or_else(|| panic!("{table}"));
            assert!(!row.contains("root"), "{table}");
            assert!(row.trim_end().ends_with("(kernel)"), "{table}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no TIME_WAIT socket on {port}: {:#?}",
            doc.sockets
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Issue 8: a socket held by processes of two users showed one user in the USER column.
#[test]
fn socket_shared_by_two_users_shows_both() {
    if !is_root() && skip("needs root to start a process as another user") {
        return;
    }
    if !have("setpriv") && skip("setpriv (util-linux) is not installed") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "sleep",
        "60",
    ]);
    let child = spawn_holding(cmd, &[listener.as_raw_fd()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let users = loop {
        let doc = list_json(&["--port", &port.to_string()]);
        let row = ours(&doc, &listener)[0].clone();
        let child_row = row.processes.iter().find(|p| p.pid == child.pid());
        if child_row.is_some_and(|p| p.uid == Some(65534)) {
            assert!(row.processes.iter().any(|p| p.uid == Some(0)), "{row:#?}");
            // The cell lists every user in pid order, each once.
            let mut users: Vec<String> = Vec::new();
            for p in &row.processes {
                let u = p.user.clone().unwrap_or_else(|| p.uid.unwrap().to_string());
                if !users.contains(&u) {
                    users.push(u);
                }
            }
            break users;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "setpriv never ran: {row:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(users.len(), 2, "{users:?}");
    let out = portscope(&["--color", "never", "--port", &port.to_string()]);
    let table = String::from_utf8(out.stdout).unwrap();
    let row = table
        .lines()
        .find(|l| l.contains(&child.pid().to_string()))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains(&format!("  {}  ", users.join(","))), "{table}");
    drop(child);
}

#[test]
fn no_owners_skips_the_scan_and_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let doc = list_json(&["--no-owners", "--port", &port.to_string()]);
    let row = ours(&doc, &listener)[0];
    assert!(row.processes.is_empty());
    assert_eq!(row.owner_unknown_reason, Some(OwnerUnknown::Skipped));
}

/// The same set of (proto, local port, owner pids) as `ss -tulpnH` on this machine. Sockets may
/// come and go while the tests run, so what is stable across two ss runs must be in portscope,
/// and what portscope shows must be in one of them.
#[test]
fn same_listening_set_as_ss() {
    if !have("ss") && skip("ss (iproute2) is not installed") {
        return;
    }
    let _l = TcpListener::bind("127.0.0.1:0").unwrap();
    let _u = udp_bound("127.0.0.1");
    // Other tests fork children (which hold every descriptor of this process until they exec)
    // and start daemons, so the machine's socket table moves while we look: a few attempts are
    // allowed, and every one compares a full portscope run against two ss runs around it.
    let mut last = String::new();
    for _ in 0..5 {
        match compare_with_ss() {
            Ok(()) => return,
            Err(why) => last = why,
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{last}");
}

fn compare_with_ss() -> Result<(), String> {
    let before = ss_set();
    let doc = list_json(&[]);
    let after = ss_set();
    let ours: std::collections::BTreeSet<(String, u16, Vec<u32>)> = doc
        .sockets
        .iter()
        .map(|s| {
            (
                s.proto.to_string(),
                s.local_port,
                s.processes.iter().map(|p| p.pid).collect(),
            )
        })
        .collect();
    let stable: Vec<_> = before.intersection(&after).collect();
    if stable.is_empty() {
        return Err("ss showed nothing stable".into());
    }
    for item in &stable {
        if !ours.contains(*item) {
            return Err(format!(
                "ss shows {item:?}, portscope does not; ours: {ours:?}"
            ));
        }
    }
    for item in &ours {
        if !before.contains(item) && !after.contains(item) {
            return Err(format!(
                "portscope shows {item:?}, ss does not; ss: {after:?}"
            ));
        }
    }
    Ok(())
}

fn ss_set() -> std::collections::BTreeSet<(String, u16, Vec<u32>)> {
    let out = Command::new("ss").args(["-tulpnH"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let proto = cols.first()?.to_string();
            let local = cols.get(4)?;
            let port: u16 = local.rsplit(':').next()?.parse().ok()?;
            let mut pids: Vec<u32> = line
                .split("pid=")
                .skip(1)
                .filter_map(|p| p.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                .collect();
            pids.sort_unstable();
            pids.dedup();
            Some((proto, port, pids))
        })
        .collect()
}

/// Without privileges every socket is still listed; owners are unknown with a reason and one
/// hint goes to stderr.
#[test]
fn unprivileged_run_lists_everything_and_hints_once() {
    if !is_root() && skip("needs root to drop to another user") {
        return;
    }
    if !have("setpriv") && skip("setpriv (util-linux) is not installed") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let out = as_nobody(&["--json"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: ListDoc = serde_json::from_slice(&out.stdout).unwrap();
    let row = ours(&doc, &listener);
    assert_eq!(row.len(), 1, "root's socket is listed for nobody too");
    assert!(row[0].processes.is_empty());
    assert_eq!(row[0].owner_unknown_reason, Some(OwnerUnknown::Permission));
    assert_eq!(row[0].uid, Some(0));
    assert_eq!(row[0].user.as_deref(), Some("root"));
    let hints: Vec<&str> = stderr.lines().filter(|l| l.contains("sudo")).collect();
    assert_eq!(hints.len(), 1, "{stderr}");
    assert!(hints[0].contains("CAP_SYS_PTRACE"), "{stderr}");
    assert!(doc.warnings.iter().any(|w| w.contains("sudo")));
    // An owner filter cannot match what it cannot see, and says so instead of going quiet.
    let out = as_nobody(&["--json", "--pid", &std::process::id().to_string()]);
    let doc: ListDoc = serde_json::from_slice(&out.stdout).unwrap();
    assert!(ours(&doc, &listener).is_empty());
    assert!(
        doc.warnings
            .iter()
            .any(|w| w.contains("could not be matched")),
        "{:?}",
        doc.warnings
    );
    // The table says why too.
    let out = as_nobody(&["--color", "never", "--port", &port.to_string()]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("(need root)"), "{table}");
}

/// Run portscope as user nobody (uid 65534) without supplementary groups.
fn as_nobody(args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn unreadable_proc_root_is_a_clear_error() {
    let out = portscope(&["--proc-root", "/nonexistent/proc"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("'/nonexistent/proc'") && err.contains("--proc-root"),
        "{err}"
    );
}

#[test]
fn proc_root_fixture_is_used_for_owners() {
    // A fixture proc tree where pid 4242 "holds" the inode of a real socket of ours.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let fd = listener.as_raw_fd();
    let inode = std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("4242");
    std::fs::create_dir_all(p.join("fd")).unwrap();
    std::os::unix::fs::symlink(format!("socket:[{inode}]"), p.join("fd/7")).unwrap();
    std::fs::write(
        p.join("stat"),
        "4242 (fixture-daemon) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0",
    )
    .unwrap();
    std::fs::write(p.join("cmdline"), b"fixture-daemon\0--flag\0").unwrap();
    std::fs::write(p.join("status"), "Uid:\t0\t0\t0\t0\n").unwrap();
    std::fs::write(dir.path().join("stat"), "btime 1700000000\n").unwrap();
    let doc = list_json(&[
        "--proc-root",
        dir.path().to_str().unwrap(),
        "--port",
        &port.to_string(),
    ]);
    let row = ours(&doc, &listener)[0];
    assert_eq!(row.processes.len(), 1);
    assert_eq!(row.processes[0].pid, 4242);
    assert_eq!(row.processes[0].name.as_deref(), Some("fixture-daemon"));
    assert_eq!(*row.processes[0].cmdline, ["fixture-daemon", "--flag"]);
    assert_eq!(row.processes[0].fds, Some(vec![7]));
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

/// Issue 8: a `<pid>/stat` that is a FIFO hung every command forever. Every file portscope reads
/// under the proc root is a FIFO here (or a link to /dev/zero); each such process is treated as
/// unreadable, and a normal process next to it is still described.
#[test]
fn fifos_and_devices_in_a_proc_root_do_not_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr()).to_string();
    let inode = inode_of(&listener);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for pid in ["4242", "4243"] {
        std::fs::create_dir_all(root.join(pid).join("fd")).unwrap();
        std::os::unix::fs::symlink(format!("socket:[{inode}]"), root.join(pid).join("fd/7"))
            .unwrap();
    }
    // 4242: every file a FIFO, except cmdline, a link to an endless device.
    for name in ["stat", "status", "cgroup"] {
        mkfifo(&root.join("4242").join(name));
    }
    std::os::unix::fs::symlink("/dev/zero", root.join("4242/cmdline")).unwrap();
    // 4243: an ordinary process.
    std::fs::write(
        root.join("4243/stat"),
        "4243 (fixture-ok) S 1 4243 4243 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0",
    )
    .unwrap();
    std::fs::write(root.join("4243/cmdline"), b"fixture-ok\0").unwrap();
    // The host files: boot time, own capabilities, port sysctls, route_localnet.
    mkfifo(&root.join("stat"));
    std::fs::create_dir_all(root.join("self")).unwrap();
    mkfifo(&root.join("self/status"));
    let net = root.join("sys/net/ipv4");
    std::fs::create_dir_all(net.join("conf/eth0")).unwrap();
    for name in [
        "ip_local_port_range",
        "ip_local_reserved_ports",
        "ip_unprivileged_port_start",
        "conf/eth0/route_localnet",
    ] {
        mkfifo(&net.join(name));
    }
    let root_s = root.to_str().unwrap();
    let limit = std::time::Duration::from_secs(60);

    let out = portscope_or_hang(&["--json", "--proc-root", root_s, "--port", &port], limit);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: ListDoc = serde_json::from_slice(&out.stdout).unwrap();
    let row = ours(&doc, &listener)[0];
    let pids: Vec<u32> = row.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, vec![4242, 4243]);
    assert_eq!(row.processes[0].name, None);
    assert_eq!(row.processes[1].name.as_deref(), Some("fixture-ok"));

    let out = portscope_or_hang(&["who", "--json", &port, "--proc-root", root_s], limit);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = portscope_or_hang(&["audit", "--json", "--proc-root", root_s], limit);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
