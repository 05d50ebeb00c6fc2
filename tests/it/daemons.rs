//! Real daemons from Debian: they fork worker pools, drop privileges and set socket options as
//! real services do. Each test starts its own instance on a free loopback port and stops it by
//! the pids it started.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portscope::model::{SocketEntry, SocketState};

use crate::common::*;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    port_of(l.local_addr())
}

/// Poll until a listener on `port` has at least `owners` owners.
fn wait_for(port: u16, owners: usize) -> Vec<SocketEntry> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let doc = list_json(&["-t", "--port", &port.to_string()]);
        let rows: Vec<SocketEntry> = doc
            .sockets
            .into_iter()
            .filter(|s| s.local_port == port)
            .collect();
        if rows.iter().any(|r| r.processes.len() >= owners) || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started.
    unsafe { libc::kill(i32::try_from(pid).unwrap(), sig) };
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
    let port = free_port();
    let d = dir.path().display();
    let conf = format!(
        "daemon off; master_process on; worker_processes 2; user www-data;\n\
         pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p;\n\
           fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
           server {{ listen 127.0.0.1:{port}; return 204; }} }}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let conf_path = dir.path().join("nginx.conf");
    let mut master = Command::new("/usr/sbin/nginx")
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rows: Vec<SocketEntry> = wait_for(port, 3)
        .into_iter()
        .filter(|r| r.local_address == ip("127.0.0.1"))
        .collect();
    // Stop the master gracefully so it takes its workers with it, then check.
    let workers: Vec<u32> = rows
        .iter()
        .flat_map(|r| r.processes.iter().map(|p| p.pid))
        .filter(|&p| p != master.id())
        .collect();
    signal(master.id(), libc::SIGQUIT);
    let _ = master.wait();
    for w in &workers {
        signal(*w, libc::SIGKILL); // only if one outlived its master
    }
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r.state, SocketState::Listen);
    assert_eq!(
        r.processes.len(),
        3,
        "master + 2 workers: {:#?}",
        r.processes
    );
    let m = r
        .processes
        .iter()
        .find(|p| p.pid == master.id())
        .expect("master listed");
    assert_eq!(m.user.as_deref(), Some("root"));
    let w: Vec<_> = r
        .processes
        .iter()
        .filter(|p| p.pid != master.id())
        .collect();
    assert!(
        w.iter().all(|p| p.user.as_deref() == Some("www-data")),
        "{w:#?}"
    );
    assert!(w.iter().all(|p| p.ppid == Some(master.id())));
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
    let port = free_port();
    let mut args = vec![
        "--port".to_string(),
        port.to_string(),
        "--save".into(),
        String::new(),
    ];
    args.extend(["--appendonly", "no", "--daemonize", "no", "--bind"].map(String::from));
    args.push("127.0.0.1".into());
    if ipv6_loopback() {
        args.push("::1".into());
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("/usr/bin/redis-server");
    cmd.args(&args)
        .current_dir(dir.path())
        .stdout(Stdio::null());
    let server = spawn_holding(cmd, &[]);
    let rows = wait_for(port, 1);
    let want = if ipv6_loopback() { 2 } else { 1 };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut rows = rows;
    while rows.len() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        rows = wait_for(port, 1);
    }
    rows.retain(|r| r.processes.iter().any(|p| p.pid == server.pid()));
    assert_eq!(rows.len(), want, "{rows:#?}");
    for r in &rows {
        assert_eq!(r.processes.len(), 1);
        assert_eq!(r.processes[0].pid, server.pid());
        assert_eq!(r.processes[0].name.as_deref(), Some("redis-server"));
        assert_eq!(r.exposure, Some(portscope::model::AddrClass::Loopback));
    }
    drop(server);
}
