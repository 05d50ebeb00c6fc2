//! `--netns` and `--all-netns`: sockets in network namespaces the tests create, each labelled
//! with its namespace, exposure judged on that namespace's interfaces, a "container" whose
//! private wildcard bind is published by a forwarder in the host namespace (a python3 TCP
//! forwarder named `docker-proxy` with docker-proxy's command line; a python3 stand-in named
//! `pasta` holding the namespace open; a DNAT rule of a test namespace playing the host), and
//! the audit's attribution. Every assertion filters on the test's own namespaces and ports, so other
//! namespaces on the machine do not matter.

use std::net::TcpListener;
use std::process::{Command, Stdio};

use portscope::model::{AddrClass, SocketEntry};

use crate::common::*;

/// The sockets of `doc` in the namespace named `name`.
fn in_ns<'a>(doc: &'a ListDoc, name: &str) -> Vec<&'a SocketEntry> {
    doc.sockets
        .iter()
        .filter(|s| s.netns.as_ref().and_then(|n| n.name.as_deref()) == Some(name))
        .collect()
}

/// A process living in `ns` (so the namespace is found through /proc too), killed on drop.
fn resident(ns: &Netns) -> Child {
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.name, "sleep", "60"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep in netns");
    let child = Child(child);
    // `ip netns exec` execs sleep after setns: wait until the pid's namespace is the new one.
    let want = std::fs::metadata(format!("/run/netns/{}", ns.name)).unwrap();
    for _ in 0..200 {
        if let Ok(meta) = std::fs::metadata(format!("/proc/{}/ns/net", child.pid())) {
            use std::os::unix::fs::MetadataExt;
            if meta.ino() == want.ino() {
                return child;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("sleep never entered {}", ns.name);
}

#[test]
fn all_netns_labels_each_namespace_once_with_its_own_exposure() {
    let Some(a) = Netns::create("alla") else {
        return;
    };
    let Some(b) = Netns::create("allb") else {
        return;
    };
    a.addr("va", "10.61.0.2/24");
    b.addr("va", "11.22.33.44/24");
    let sleeper = resident(&a);
    let (la, lb) = (
        a.run(|| TcpListener::bind("0.0.0.0:0").unwrap()),
        b.run(|| TcpListener::bind("0.0.0.0:0").unwrap()),
    );
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let (pa, pb, ph) = (
        port_of(la.local_addr()),
        port_of(lb.local_addr()),
        port_of(host.local_addr()),
    );

    let doc = list_json(&["--all-netns", "-t"]);
    // A is found by its /run/netns name and by the pid living there: counted once.
    let rows_a = in_ns(&doc, &a.name);
    assert_eq!(rows_a.len(), 1, "{rows_a:#?}");
    let sa = rows_a[0];
    assert_eq!(sa.local_port, pa);
    let ns_a = sa.netns.as_ref().unwrap();
    assert!(!ns_a.host);
    assert_eq!(ns_a.pid, Some(sleeper.pid()), "the process living there");
    assert_eq!(sa.exposure, Some(AddrClass::Private), "{sa:#?}");
    assert_eq!(sa.exposure_address, Some(ip("10.61.0.2")));
    assert_eq!(sa.exposure_interface.as_deref(), Some("va"));
    assert!(sa.processes.iter().any(|p| p.pid == std::process::id()));
    let rows_b = in_ns(&doc, &b.name);
    assert_eq!(rows_b.len(), 1, "{rows_b:#?}");
    assert_eq!(rows_b[0].local_port, pb);
    assert_eq!(rows_b[0].exposure, Some(AddrClass::Public));
    assert_eq!(
        rows_b[0].netns.as_ref().unwrap().pid,
        None,
        "nothing lives in B"
    );
    // Each namespace once: no inode under two labels, no socket twice.
    let inodes: std::collections::BTreeSet<u64> = doc
        .sockets
        .iter()
        .filter_map(|s| s.netns.as_ref())
        .filter(|n| n.name.as_deref() == Some(a.name.as_str()))
        .map(|n| n.inode)
        .collect();
    assert_eq!(inodes.len(), 1);
    let mut keys: Vec<_> = doc
        .sockets
        .iter()
        .map(|s| (s.inode, s.local_port))
        .collect();
    let all = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), all, "a socket listed twice");
    // The host's own listener is in the host namespace.
    let sh = doc.sockets.iter().find(|s| s.local_port == ph).unwrap();
    assert!(sh.netns.as_ref().unwrap().host);

    // The table has a NETNS column naming each.
    let out = portscope(&["--all-netns", "-t", "--port", &format!("{pa},{pb},{ph}")]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NETNS "), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&a.name) && l.contains(&pa.to_string())),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("host ") && l.contains(&ph.to_string())),
        "{text}"
    );

    // Without the flags nothing changes: no column, every `netns` null.
    let plain = list_json(&["-t", "--port", &ph.to_string()]);
    assert!(!plain.sockets.is_empty());
    assert!(plain.sockets.iter().all(|s| s.netns.is_none()));
    let out = portscope(&["-t", "--port", &ph.to_string()]);
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("PROTO "));
    drop((la, lb, host));
}

#[test]
fn netns_by_name_and_by_pid() {
    let Some(a) = Netns::create("one") else {
        return;
    };
    a.addr("va", "10.62.0.2/24");
    let sleeper = resident(&a);
    let inside = a.run(|| TcpListener::bind("10.62.0.2:0").unwrap());
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let (pi, ph) = (port_of(inside.local_addr()), port_of(host.local_addr()));
    let pid = sleeper.pid().to_string();
    let path = format!("/run/netns/{}", a.name);
    for target in [a.name.as_str(), pid.as_str(), path.as_str()] {
        let doc = list_json(&["--netns", target, "-t"]);
        let s = doc
            .sockets
            .iter()
            .find(|s| s.local_port == pi)
            .unwrap_or_else(|| panic!("--netns {target}: {:#?}", doc.sockets));
        let ns = s.netns.as_ref().unwrap();
        assert_eq!(
            ns.name.as_deref(),
            Some(a.name.as_str()),
            "--netns {target}"
        );
        assert_eq!(ns.pid, Some(sleeper.pid()));
        assert_eq!(s.exposure, Some(AddrClass::Private));
        assert!(
            doc.sockets.iter().all(|s| s.local_port != ph),
            "--netns {target} shows the host's sockets"
        );
        // One namespace: no NETNS column.
        let out = portscope(&["--netns", target, "-t"]);
        assert!(String::from_utf8(out.stdout).unwrap().starts_with("PROTO "));
    }
    // who finds the holder inside, and does not probe the host for it.
    let (code, doc) = who_json(&[&pi.to_string(), "--netns", &a.name]);
    assert_eq!(code, Some(0));
    assert_eq!(doc.sockets.len(), 1);
    assert!(doc.bind_probe.is_empty());
    // A namespace that does not exist is one error line, exit 2.
    let out = portscope(&["--netns", "ps-no-such-namespace"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/run/netns/ps-no-such-namespace"), "{err}");
    // kill does not take it.
    let out = portscope(&["kill", "1", "--netns", &a.name]);
    assert_eq!(out.status.code(), Some(2));
    drop((inside, host));
}

#[test]
fn netns_without_root_is_one_line_and_exit_2() {
    if !is_root() || !have("setpriv") {
        skip("needs root and setpriv to run portscope as nobody");
        return;
    }
    for flag in [&["--all-netns"][..], &["--netns", "1"][..]] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
            .args(flag)
            .output()
            .expect("setpriv");
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("need root"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

/// A python3 TCP forwarder in the host namespace that looks like docker-proxy: process name
/// `docker-proxy` (prctl PR_SET_NAME) and its command line's flags.
const FORWARDER: &str = r#"
import ctypes, socket, sys, threading
ctypes.CDLL(None).prctl(15, b"docker-proxy", 0, 0, 0)
args = sys.argv[1:]
def flag(n): return args[args.index("-" + n) + 1]
s = socket.socket()
s.bind((flag("host-ip"), int(flag("host-port"))))
s.listen()
print("ready", flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally: b.close()
while True:
    c, _ = s.accept()
    try: t = socket.create_connection((flag("container-ip"), int(flag("container-port"))), timeout=2)
    except OSError:
        c.close(); continue
    threading.Thread(target=pipe, args=(c, t), daemon=True).start()
    threading.Thread(target=pipe, args=(t, c), daemon=True).start()
"#;

fn forwarder(host_port: u16, container_ip: &str, container_port: u16) -> Child {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .args([
            "-c",
            FORWARDER,
            "-proto",
            "tcp",
            "-host-ip",
            "0.0.0.0",
            "-host-port",
        ])
        .arg(host_port.to_string())
        .args(["-container-ip", container_ip, "-container-port"])
        .arg(container_port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Child(child)
}

/// The exposure the listing gives the TCP listener on `port` held by the forwarder `pid`, which
/// must be listed under the process name `name`.
fn forwarder_exposure(port: u16, pid: u32, name: &str) -> serde_json::Value {
    let host = list_json(&["-t", "--port", &port.to_string()]);
    let listener = host
        .sockets
        .iter()
        .find(|s| s.processes.iter().any(|p| p.pid == pid))
        .unwrap_or_else(|| panic!("{name} (pid {pid}) not listed: {:#?}", host.sockets));
    assert_eq!(listener.processes[0].name.as_deref(), Some(name));
    serde_json::to_value(listener.exposure).unwrap()
}

#[derive(serde::Deserialize)]
struct AuditDoc {
    findings: Vec<serde_json::Value>,
}

fn audit_json(args: &[&str]) -> AuditDoc {
    let mut all = vec!["audit", "--json"];
    all.extend_from_slice(args);
    let out = portscope(&all);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("audit JSON")
}

fn findings_in<'a>(doc: &'a AuditDoc, ns: &str) -> Vec<&'a serde_json::Value> {
    doc.findings
        .iter()
        .filter(|f| f["netns"]["name"] == ns)
        .collect()
}

#[test]
fn audit_links_a_published_container_port_to_its_forwarder() {
    if !have("python3") {
        skip("needs python3 for the forwarder");
        return;
    }
    let Some(c) = Netns::create("ctr") else {
        return;
    };
    let Some(d) = Netns::create("priv") else {
        return;
    };
    // The "container": a private address, Redis on its wildcard, published by the forwarder.
    c.addr("va", "10.63.0.2/24");
    // Another namespace with a public address inside and nothing publishing it.
    d.addr("va", "11.22.33.44/24");
    let redis_c = c.run(|| TcpListener::bind("0.0.0.0:6379").unwrap());
    let redis_d = d.run(|| TcpListener::bind("0.0.0.0:6379").unwrap());
    let host_port = free_port();
    let fwd = forwarder(host_port, "10.63.0.2", 6379);

    // The published host socket's exposure, as the listing judges it.
    let host_exposure = forwarder_exposure(host_port, fwd.pid(), "docker-proxy");

    let doc = audit_json(&["--all-netns"]);
    let fc = findings_in(&doc, &c.name);
    assert_eq!(fc.len(), 1, "{fc:#?}");
    let f = fc[0];
    assert_eq!(f["port"], 6379);
    assert_eq!(f["rule"], "exposed-redis");
    assert_eq!(f["netns"]["host"], false);
    assert_eq!(f["published"][0]["forwarder"], "docker-proxy");
    assert_eq!(f["published"][0]["pid"], fwd.pid());
    assert_eq!(f["published"][0]["port"], host_port);
    assert_eq!(
        f["exposure"], host_exposure,
        "the published socket's exposure"
    );
    let notes = f["notes"].to_string();
    assert!(
        notes.contains("published on the host by docker-proxy"),
        "{notes}"
    );

    // Unpublished: public inside its namespace, judged host-internal (private).
    let fd = findings_in(&doc, &d.name);
    assert_eq!(fd.len(), 1, "{fd:#?}");
    assert_eq!(fd[0]["exposure"], "private");
    assert_eq!(fd[0]["severity"], "medium", "high lowered one step");
    assert!(fd[0].get("published").is_none());
    assert!(
        fd[0]["notes"].to_string().contains("no forwarder"),
        "{:#?}",
        fd[0]["notes"]
    );
    // The listing keeps each namespace's own exposure.
    let list = list_json(&["--all-netns", "-t", "--port", "6379"]);
    assert_eq!(in_ns(&list, &d.name)[0].exposure, Some(AddrClass::Public));
    assert_eq!(in_ns(&list, &c.name)[0].exposure, Some(AddrClass::Private));

    // --netns NAME: the container's findings only, still linked to the host's forwarder.
    let one = audit_json(&["--netns", &c.name]);
    assert!(!one.findings.is_empty());
    assert!(
        one.findings
            .iter()
            .all(|f| f["netns"]["name"] == c.name.as_str()),
        "{:#?}",
        one.findings
    );
    assert_eq!(one.findings[0]["published"][0]["port"], host_port);
    // The audit without the flags is as before: no netns, nothing published.
    let plain = audit_json(&[]);
    assert!(
        plain
            .findings
            .iter()
            .all(|f| f.get("netns").is_none() && f.get("published").is_none())
    );
    drop((redis_c, redis_d, fwd));
}

/// A stand-in for pasta: python3 whose process name (`comm`) is `pasta` (prctl PR_SET_NAME),
/// with pasta's `-t HOST:NS` on its command line, listening on the host port in the host
/// namespace and holding a descriptor open on the namespace it "forwards" into (`NS_PATH`, not on
/// the command line, so the link is made through the descriptor as with the real pasta). It
/// forwards nothing.
const PASTA: &str = r#"
import ctypes, os, socket, sys
ctypes.CDLL(None).prctl(15, b"pasta", 0, 0, 0)
ns = os.open(os.environ["NS_PATH"], os.O_RDONLY)
port = int(sys.argv[sys.argv.index("-t") + 1].split(":")[0])
s = socket.socket()
s.bind(("0.0.0.0", port))
s.listen()
print("ready", flush=True)
sys.stdin.read()
"#;

#[test]
fn audit_links_a_pasta_forwarder_by_the_namespace_it_holds() {
    use std::io::BufRead;
    if !have("python3") {
        skip("needs python3 for the pasta stand-in");
        return;
    }
    let Some(c) = Netns::create("pasta") else {
        return;
    };
    c.addr("va", "10.64.0.2/24");
    let redis = c.run(|| TcpListener::bind("0.0.0.0:6379").unwrap());
    let host_port = free_port();
    let mut child = Command::new("python3")
        .args(["-c", PASTA, "--config-net", "-t"])
        .arg(format!("{host_port}:6379"))
        .env("NS_PATH", format!("/run/netns/{}", c.name))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let pasta = Child(child);

    let host_exposure = forwarder_exposure(host_port, pasta.pid(), "pasta");

    let doc = audit_json(&["--all-netns"]);
    let fc = findings_in(&doc, &c.name);
    assert_eq!(fc.len(), 1, "{fc:#?}");
    let f = fc[0];
    assert_eq!(
        (f["port"].as_u64(), &f["rule"]),
        (Some(6379), &"exposed-redis".into())
    );
    assert_eq!(f["published"][0]["forwarder"], "pasta", "{f:#?}");
    assert_eq!(f["published"][0]["pid"], pasta.pid());
    assert_eq!(f["published"][0]["port"], host_port);
    assert_eq!(f["exposure"], host_exposure);
    assert!(
        f["notes"]
            .to_string()
            .contains("published on the host by pasta"),
        "{f:#?}"
    );
    drop((redis, pasta));
}

/// DNAT into a "container": a test namespace H plays the host (a public 11.22.33.44 and
/// 10.8.0.1 on va, its own nftables ruleset, forwarding on), and a second namespace C the
/// container, reached through H's vb moved into it (10.8.0.2), as tests/it/reach.rs sets it up:
/// nothing touches the machine's own namespace or firewall. portscope runs inside H (`ip netns
/// exec`), so H is its own namespace, the "host", whose firewall it reads; `--netns C` reads C
/// and H. (`--all-netns` from inside H would also list the machine's real namespace, as just
/// another namespace: correct, but slower and beside the point.)
#[test]
fn audit_links_a_dnat_rule_to_the_container_socket_it_sends_to() {
    if !have("nft") && skip("the DNAT test needs nft (Debian package nftables)") {
        return;
    }
    let Some(h) = Netns::create("dnh") else {
        return;
    };
    let Some(c) = Netns::create("dnc") else {
        return;
    };
    h.addr("va", "11.22.33.44/24");
    c.exec(&["ip", "link", "del", "va"]);
    h.exec(&["ip", "link", "set", "vb", "netns", &c.name]);
    c.exec(&["ip", "link", "set", "vb", "up"]);
    c.addr("vb", "10.8.0.2/24");
    h.addr("va", "10.8.0.1/24");
    h.sysctl("net.ipv4.ip_forward", "1");
    // Redis published on 16379, PostgreSQL by a rule that keeps the port, MySQL by nothing.
    let inside = c.run(|| [6379, 5432, 3306].map(|p| TcpListener::bind(("0.0.0.0", p)).unwrap()));
    let rules = "table ip nat {\n chain prerouting {\n  type nat hook prerouting priority dstnat; policy accept;\n  fib daddr type local tcp dport 16379 dnat to 10.8.0.2:6379\n  fib daddr type local tcp dport 5432 dnat to 10.8.0.2\n }\n}\n";
    let path = std::env::temp_dir().join(format!("{}.nft", h.name));
    std::fs::write(&path, rules).unwrap();
    h.exec(&["nft", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);

    let out = h.portscope(&["audit", "--json", "--netns", &c.name]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: AuditDoc = serde_json::from_slice(&out.stdout).expect("audit JSON");
    let of_port = |port: u64| -> Vec<&serde_json::Value> {
        doc.findings
            .iter()
            .filter(|f| f["netns"]["name"] == c.name.as_str() && f["port"] == port)
            .collect()
    };
    for (port, outside) in [(6379, 16379), (5432, 5432)] {
        let found = of_port(port);
        let f = found
            .iter()
            .find(|f| f["published"].is_array())
            .unwrap_or_else(|| panic!("{port}: {:#?}", doc.findings));
        let p = &f["published"][0];
        assert_eq!(p["forwarder"], "dnat", "{f:#?}");
        assert!(p["pid"].is_null(), "{f:#?}");
        assert_eq!(p["port"], outside, "{f:#?}");
        assert_eq!(p["nat_rule"]["chain"], "prerouting", "{f:#?}");
        assert_eq!(f["exposure"], "public", "{f:#?}");
        assert_eq!(f["exposure_address"], "11.22.33.44", "{f:#?}");
        assert_eq!(f["severity"], f["base_severity"], "{f:#?}");
        // Judged on the published port's path: forwarded, nothing filters it.
        assert_eq!(f["reachable"], "yes", "{f:#?}");
        assert_eq!(f["reachability"]["path"], "forward", "{f:#?}");
        assert!(
            f["notes"]
                .to_string()
                .contains("published on the host by DNAT ("),
            "{f:#?}"
        );
    }
    // The published port's own finding (issue 16) now sees its target.
    let outer: Vec<&serde_json::Value> = doc
        .findings
        .iter()
        .filter(|f| f["port"] == 16379 && f["published"].is_object())
        .collect();
    assert_eq!(outer.len(), 1, "{:#?}", doc.findings);
    assert_eq!(outer[0]["published"]["target_visible"], true);
    // Not published: host-internal, and the note says DNAT rules were looked at.
    let mysql = of_port(3306);
    assert_eq!(mysql.len(), 1, "{:#?}", doc.findings);
    assert_eq!(mysql[0]["exposure"], "private");
    assert!(
        mysql[0]["notes"]
            .to_string()
            .contains("no forwarder or DNAT rule in the host namespace publishes it"),
        "{:#?}",
        mysql[0]
    );
    drop(inside);
}
