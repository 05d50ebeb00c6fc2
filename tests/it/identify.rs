//! Issue 15: listeners identified by their owning process and, with `--identify`, by a polite
//! local handshake. Real daemons from Debian on non-standard ports, started inside a network
//! namespace with a public-looking address (11.22.33.44 on a veth both of whose ends are in the
//! namespace), so nothing leaves the machine and the host's own services are never touched.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portscope::model::{AuthState, ServiceSource, SocketEntry};
use serde_json::Value;

use crate::common::*;

/// The daemons the issue names; each is (what, path, package).
const NEEDED: [(&str, &str); 5] = [
    ("/usr/bin/redis-server", "redis-server"),
    ("/usr/sbin/sshd", "openssh-server"),
    ("/usr/sbin/nginx", "nginx-light"),
    ("/usr/bin/memcached", "memcached"),
    ("/usr/bin/ssh-keygen", "openssh-client"),
];

/// Start `cmd` inside the namespace (`ip netns exec` execs it, so the pid is the daemon's).
fn spawn_in(ns: &Netns, cmd: &[&str], dir: &Path) -> Child {
    Child(
        Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .args(cmd)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start daemon in netns"),
    )
}

fn row(rows: &[SocketEntry], port: u16) -> &SocketEntry {
    rows.iter()
        .find(|s| s.local_port == port && s.local_address.is_ipv4())
        .or_else(|| rows.iter().find(|s| s.local_port == port))
        .unwrap_or_else(|| panic!("no listener on {port} in {rows:#?}"))
}

fn findings_on(doc: &Value, port: u16) -> Vec<&Value> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["port"] == port && f["local_address"] == "0.0.0.0")
        .collect()
}

#[test]
fn daemons_identified_by_process_and_handshake_and_audited_by_service() {
    for (path, package) in NEEDED {
        if !Path::new(path).exists()
            && skip(&format!("{path} is missing (apt-get install {package})"))
        {
            return;
        }
    }
    let Some(ns) = Netns::create("ident") else {
        return;
    };
    ns.addr("va", "11.22.33.44/24");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    // sshd refuses to start without its privilege separation directory.
    std::fs::create_dir_all("/run/sshd").unwrap();
    let key = format!("{d}/host_ed25519");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f", &key])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    std::fs::write(format!("{d}/sshd_config"), "").unwrap();
    std::fs::write(
        format!("{d}/nginx.conf"),
        format!(
            "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p;\n\
               fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
               server {{ listen 8081; return 204; }} }}\n"
        ),
    )
    .unwrap();
    let redis = |port: &str, password: Option<&str>| {
        let mut cmd = vec![
            "/usr/bin/redis-server",
            "--port",
            port,
            "--bind",
            "0.0.0.0",
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ];
        if let Some(password) = password {
            cmd.extend(["--requirepass", password]);
        }
        spawn_in(&ns, &cmd, dir.path())
    };
    let _daemons = [
        redis("6379", None),
        redis("6380", None),
        redis("6381", Some("s3cret-for-tests")),
        spawn_in(
            &ns,
            &[
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-p",
                "2222",
                "-f",
                &format!("{d}/sshd_config"),
                "-h",
                &key,
                "-o",
                &format!("PidFile={d}/sshd.pid"),
                "-o",
                "UsePAM=no",
                "-o",
                "ListenAddress=0.0.0.0",
            ],
            dir.path(),
        ),
        spawn_in(
            &ns,
            &[
                "/usr/sbin/nginx",
                "-c",
                &format!("{d}/nginx.conf"),
                "-p",
                &d,
            ],
            dir.path(),
        ),
        spawn_in(
            &ns,
            &[
                "/usr/bin/memcached",
                "-p",
                "11212",
                "-U",
                "0",
                "-l",
                "0.0.0.0",
                "-u",
                "nobody",
            ],
            dir.path(),
        ),
        spawn_in(
            &ns,
            &["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"],
            dir.path(),
        ),
    ];
    // A listener that accepts (the kernel completes the connection) and never says a word.
    let silent = ns.run(|| std::net::TcpListener::bind("0.0.0.0:0").unwrap());
    let silent_port = port_of(silent.local_addr());
    let ports = [6379, 6380, 6381, 2222, 8081, 11212, 8000];
    let deadline = Instant::now() + Duration::from_secs(15);
    let rows = loop {
        let doc = ns.list_json(&["-t"]);
        if ports
            .iter()
            .all(|p| doc.sockets.iter().any(|s| s.local_port == *p))
        {
            break doc.sockets;
        }
        assert!(
            Instant::now() < deadline,
            "daemons never listened: {:#?}",
            doc.sockets
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    // By process: the owner wins over the port's name (2222 is EtherNet-IP-1 to IANA).
    let by_process = [
        (6380, "redis"),
        (6381, "redis"),
        (2222, "ssh"),
        (8081, "http"),
        (11212, "memcached"),
        (8000, "dev-server"),
    ];
    for (port, service) in by_process {
        let r = row(&rows, port);
        assert_eq!(r.service.as_deref(), Some(service), "{port}: {r:#?}");
        assert_eq!(r.service_source, [ServiceSource::Process], "{port}");
        assert!(r.handshake.is_none());
    }
    let r = row(&rows, silent_port);
    assert!(
        !r.service_source.contains(&ServiceSource::Process),
        "{r:#?}"
    );

    // By handshake, on loopback inside the namespace. Generous limit, not a timing assertion.
    let out = portscope_or_hang_in(
        &ns,
        &["--json", "-t", "--identify"],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: ListDoc = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = doc.sockets;
    let seen = |port| {
        let r = row(&rows, port);
        let h = r
            .handshake
            .clone()
            .unwrap_or_else(|| panic!("no handshake on {port}: {r:#?}"));
        (r.clone(), h)
    };
    for (port, service) in by_process {
        let (r, h) = seen(port);
        assert!(h.identified, "{port}: {h:#?}");
        assert_eq!(r.service.as_deref(), Some(service), "{port}");
        assert_eq!(
            r.service_source,
            [ServiceSource::Process, ServiceSource::Handshake],
            "{port}: {h:#?}"
        );
    }
    let (_, ssh) = seen(2222);
    assert!(ssh.summary.starts_with("SSH-2.0-OpenSSH_"), "{ssh:#?}");
    let (_, open) = seen(6380);
    assert_eq!(open.auth, Some(AuthState::None));
    assert!(
        open.summary.ends_with("no authentication required"),
        "{open:#?}"
    );
    let (_, locked) = seen(6381);
    assert_eq!(locked.auth, Some(AuthState::Required), "{locked:#?}");
    let (_, nginx) = seen(8081);
    assert!(
        nginx
            .server
            .as_deref()
            .is_some_and(|s| s.starts_with("nginx")),
        "{nginx:#?}"
    );
    assert_eq!(nginx.http_status, Some(204));
    let (_, memcached) = seen(11212);
    assert!(
        memcached.summary.starts_with("memcached 1."),
        "{memcached:#?}"
    );
    assert_eq!(memcached.auth, Some(AuthState::None));
    let (_, python) = seen(8000);
    assert!(
        python
            .server
            .as_deref()
            .is_some_and(|s| s.contains("Python")),
        "{python:#?}"
    );
    let (r, quiet) = seen(silent_port);
    assert!(!quiet.identified, "{quiet:#?}");
    assert_eq!(quiet.summary, "no reply within 500 ms");
    assert!(!r.service_source.contains(&ServiceSource::Handshake));

    // The audit: Redis on 6380 at the severity of 6379; raised when the handshake shows no
    // password; the same Redis with requirepass not raised.
    let audit = |identify: bool| -> Value {
        let mut args = vec!["audit", "--json"];
        if identify {
            args.push("--identify");
        }
        let out = ns.portscope(&args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("audit JSON")
    };
    let plain = audit(false);
    let only = |doc: &Value, port| -> Value {
        let found = findings_on(doc, port);
        assert_eq!(found.len(), 1, "{port}: {found:#?}");
        found[0].clone()
    };
    let r6379 = only(&plain, 6379);
    let r6380 = only(&plain, 6380);
    assert_eq!(r6380["rule"], "exposed-redis");
    assert_eq!(r6380["severity"], r6379["severity"]);
    assert_eq!(r6380["severity"], "high");
    assert_eq!(r6380["service_source"], serde_json::json!(["process"]));
    assert_eq!(only(&plain, 2222)["rule"], "exposed-ssh");
    assert_eq!(only(&plain, 11212)["rule"], "exposed-memcached-tcp");

    let shaken = audit(true);
    let open = only(&shaken, 6380);
    assert_eq!(open["severity"], "critical", "{open:#}");
    assert_eq!(open["base_severity"], "high");
    assert_eq!(
        open["service_source"],
        serde_json::json!(["process", "handshake"])
    );
    assert!(
        open["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().is_some_and(
                |n| n.contains("no authentication required") && n.contains("high → critical")
            )),
        "{open:#}"
    );
    let locked = only(&shaken, 6381);
    assert_eq!(locked["severity"], "high", "{locked:#}");
    assert_eq!(locked["handshake"]["auth"], "required");
    assert_eq!(only(&shaken, 11212)["severity"], "critical");

    // The table says how the service was identified and what the handshake saw.
    let out = ns.portscope(&["audit", "--identify", "--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0.0.0.0:6380  Redis (identified by process and handshake)"),
        "{text}"
    );
    assert!(text.contains("handshake: Redis "), "{text}");
    drop(silent);
}

/// `ip netns exec NAME portscope ARGS`, failed if it has not finished after `limit`.
fn portscope_or_hang_in(ns: &Netns, args: &[&str], limit: Duration) -> std::process::Output {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name, bin()]).args(args);
    output_or_hang(cmd, limit)
}
