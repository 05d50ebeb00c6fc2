//! Real daemons from Debian: they fork worker pools, drop privileges and set socket options as
//! real services do. Each test starts its own instance on a free loopback port and stops it by
//! the pids it started.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portscope::model::{AddrClass, SocketEntry, SocketState};

use crate::common::*;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    port_of(l.local_addr())
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started.
    unsafe { libc::kill(i32::try_from(pid).unwrap(), sig) };
}

/// Start a daemon on a free port and wait until `ready` accepts the TCP rows it holds (rows
/// whose owners include the daemon's pid). Another test may take the port between our probe
/// and the daemon's bind, in which case the daemon exits: then a new port is tried.
fn start_on_free_port(
    mut make: impl FnMut(u16) -> Command,
    ready: impl Fn(&[SocketEntry]) -> bool,
) -> (Child, u16, Vec<SocketEntry>) {
    let mut last = Vec::new();
    for _attempt in 0..3 {
        let port = free_port();
        let mut daemon = Child(
            make(port)
                .stdin(Stdio::null())
                .spawn()
                .expect("start daemon"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(daemon.0.try_wait(), Ok(Some(_))) {
                break; // exited: most likely the port was taken meanwhile
            }
            let doc = list_json(&["-t", "--port", &port.to_string()]);
            last = doc
                .sockets
                .into_iter()
                .filter(|s| s.processes.iter().any(|p| p.pid == daemon.pid()))
                .collect();
            if ready(&last) {
                return (daemon, port, last);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("the daemon never became ready; last rows: {last:#?}");
}

#[test]
fn nginx_master_and_workers_share_the_listener() {
    if !Path::new("/usr/sbin/nginx").exists()
        && skip("nginx is not installed (apt-get install nginx-light)")
    {
        return;
    }
    if !is_root() && skip("nginx drops privileges only when started as root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (master, _port, rows) = start_on_free_port(
        |port| {
            let conf = format!(
                "daemon off; master_process on; worker_processes 2; user www-data;\n\
                 pid {d}/nginx.pid; error_log {d}/error.log;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p;\n\
                   fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
                   server {{ listen 127.0.0.1:{port}; return 204; }} }}\n"
            );
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).unwrap();
            let mut cmd = Command::new("/usr/sbin/nginx");
            cmd.arg("-c")
                .arg(&conf_path)
                .arg("-p")
                .arg(dir.path())
                .stderr(Stdio::null());
            cmd
        },
        // Ready once both workers exist and have dropped privileges: a worker is forked as
        // root and calls setuid(www-data) a moment later.
        |rows| {
            rows.iter().any(|r| {
                r.processes.len() >= 3
                    && r.processes
                        .iter()
                        .filter(|p| p.user.as_deref() == Some("www-data"))
                        .count()
                        >= 2
            })
        },
    );
    // Stop the master gracefully so it takes its workers with it, then check.
    let workers: Vec<u32> = rows
        .iter()
        .flat_map(|r| r.processes.iter().map(|p| p.pid))
        .filter(|&p| p != master.pid())
        .collect();
    signal(master.pid(), libc::SIGQUIT);
    let master_pid = master.pid();
    drop(master);
    for w in &workers {
        signal(*w, libc::SIGKILL); // only if one outlived its master
    }
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r.state, SocketState::Listen);
    assert_eq!(r.local_address, ip("127.0.0.1"));
    assert_eq!(
        r.processes.len(),
        3,
        "master + 2 workers: {:#?}",
        r.processes
    );
    let m = r
        .processes
        .iter()
        .find(|p| p.pid == master_pid)
        .expect("master listed");
    assert_eq!(m.user.as_deref(), Some("root"));
    let w: Vec<_> = r.processes.iter().filter(|p| p.pid != master_pid).collect();
    assert!(
        w.iter().all(|p| p.user.as_deref() == Some("www-data")),
        "{w:#?}"
    );
    assert!(w.iter().all(|p| p.ppid == Some(master_pid)));
    assert!(
        r.processes
            .iter()
            .all(|p| p.name.as_deref() == Some("nginx"))
    );
    assert!(
        m.cmdline.join(" ").starts_with("nginx: master process"),
        "{:?}",
        m.cmdline
    );
}

#[test]
fn redis_listens_on_v4_and_v6_loopback() {
    if !Path::new("/usr/bin/redis-server").exists()
        && skip("redis-server is not installed (apt-get install redis-server)")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v6 = ipv6_loopback();
    let want = if v6 { 2 } else { 1 };
    let (server, _port, rows) = start_on_free_port(
        |port| {
            let mut cmd = Command::new("/usr/bin/redis-server");
            cmd.args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--bind", "127.0.0.1"])
            .args(if v6 { &["::1"][..] } else { &[][..] })
            .current_dir(dir.path())
            .stdout(Stdio::null());
            cmd
        },
        |rows| rows.len() >= want,
    );
    assert_eq!(rows.len(), want, "{rows:#?}");
    for r in &rows {
        assert_eq!(r.processes.len(), 1);
        assert_eq!(r.processes[0].pid, server.pid());
        assert_eq!(r.processes[0].name.as_deref(), Some("redis-server"));
        assert_eq!(r.exposure, Some(AddrClass::Loopback));
    }
    drop(server);
}
