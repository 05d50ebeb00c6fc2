//! Issue 14: the BPF `task_file` owner scan (`--owner-scan bpf`) must report exactly what the
//! `/proc` scan (`--owner-scan proc`) reports, on a live set of sockets these tests make: a
//! listener shared by two processes, sockets inherited over fork, a socket passed with
//! SCM_RIGHTS, a process with several threads, one whose main thread has exited, a thread with
//! a descriptor table of its own, and processes in a child PID namespace (seen from outside,
//! and by a portscope running inside it).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// The BPF scan can run here (root, BTF, iterators); otherwise skip (fail under CI=true).
fn bpf_usable() -> bool {
    if !is_root() {
        return !skip("the BPF owner scan needs root");
    }
    let out = portscope(&["--owner-scan", "bpf", "--json", "--port", "1"]);
    if !matches!(out.status.code(), Some(0 | 1)) {
        return !skip(&format!(
            "the BPF owner scan cannot run: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    true
}

/// The holders of each of the given ports' 127.0.0.1 sockets: (proto, port, state) → sorted
/// (pid, fds), plus the owner-unknown reason.
type Owners = BTreeMap<String, Row>;
/// One socket's holders (pid, fds) and owner-unknown reason.
type Row = (Vec<(u32, Option<Vec<u32>>)>, Option<String>);

fn owners(doc: &ListDoc, ports: &[u16]) -> Owners {
    doc.sockets
        .iter()
        .filter(|s| ports.contains(&s.local_port))
        .map(|s| {
            let key = format!(
                "{:?} {}:{} {:?} {:?}:{:?}",
                s.proto, s.local_address, s.local_port, s.state, s.remote_address, s.remote_port
            );
            let mut holders: Vec<_> = s.processes.iter().map(|p| (p.pid, p.fds.clone())).collect();
            holders.sort();
            (
                key,
                (holders, s.owner_unknown_reason.map(|r| format!("{r:?}"))),
            )
        })
        .collect()
}

const WORLD: &str = r#"
import ctypes, json, os, socket, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
ports = {}
def listener(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        s.listen()
    return s
shared = listener()                      # held by this process and its forked child
udp = listener(socket.SOCK_DGRAM)        # inherited over fork
client = socket.create_connection(shared.getsockname())
server, _ = shared.accept()              # an established pair, both ends here
ports["shared"] = shared.getsockname()[1]
ports["udp"] = udp.getsockname()[1]
a, b = socket.socketpair()
passed_port = os.pipe()
child = os.fork()
if child == 0:
    mine = listener()                    # passed to the parent with SCM_RIGHTS
    os.write(passed_port[1], str(mine.getsockname()[1]).encode() + b"\n")
    socket.send_fds(a, [b"x"], [mine.fileno()])
    time.sleep(120)
    os._exit(0)
ports["passed"] = int(os.read(passed_port[0], 32).decode().strip())
_, fds, _, _ = socket.recv_fds(b, 1, 1)
received = socket.socket(fileno=os.dup(fds[0]))   # two fds of the parent: the received and its dup
# A thread with a descriptor table of its own (unshare(CLONE_FILES)): /proc/PID/fd does not
# show it, so neither scan reports its socket's holder.
ready = threading.Event()
def own_table():
    libc.unshare(0x400)
    s = listener()
    ports["own_table"] = s.getsockname()[1]
    ready.set()
    time.sleep(120)
threading.Thread(target=own_table, daemon=True).start()
ready.wait()
for _ in range(3):
    threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
# A process whose main thread exits: its sockets live on in its other thread.
orphan = listener()
ports["leaderless"] = orphan.getsockname()[1]
os.set_inheritable(orphan.fileno(), True)
gone = os.fork()
if gone == 0:
    threading.Thread(target=time.sleep, args=(120,)).start()
    libc.pthread_exit(None)
orphan.close()
print(json.dumps({"ports": ports, "pids": [os.getpid(), child, gone]}), flush=True)
time.sleep(120)
"#;

/// Wait for the one JSON line the world prints.
fn world_line(child: &mut std::process::Child) -> serde_json::Value {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))
}

struct Killed(std::process::Child, Vec<u32>);

impl Drop for Killed {
    fn drop(&mut self) {
        for &pid in &self.1 {
            // SAFETY: kill has no memory preconditions; these are the world's own pids.
            unsafe {
                libc::kill(i32::try_from(pid).unwrap_or(0), libc::SIGKILL);
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn bpf_and_proc_scans_report_the_same_holders() {
    if !have("python3") && skip("python3 is not installed") {
        return;
    }
    if !bpf_usable() {
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", WORLD])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("python3");
    let line = world_line(&mut child);
    let pids: Vec<u32> = line["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| u32::try_from(p.as_u64().unwrap()).unwrap())
        .collect();
    let world = Killed(child, pids[1..].to_vec());
    let ports: Vec<u16> = line["ports"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| u16::try_from(p.as_u64().unwrap()).unwrap())
        .collect();
    // The leaderless process: wait until its main thread is a zombie.
    let status = format!("/proc/{}/status", pids[2]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&status).is_ok_and(|t| t.contains("State:\tZ")) {
        assert!(Instant::now() < deadline, "main thread never exited");
        std::thread::sleep(Duration::from_millis(20));
    }

    for view in [&["--all"][..], &[][..]] {
        let mut args = vec!["--owner-scan", "bpf"];
        args.extend_from_slice(view);
        let bpf = owners(&list_json(&args), &ports);
        args[1] = "proc";
        let proc = owners(&list_json(&args), &ports);
        assert_eq!(bpf, proc, "view {view:?}");
        args[1] = "auto";
        assert_eq!(
            owners(&list_json(&args), &ports),
            proc,
            "auto, view {view:?}"
        );
        // Every kind of socket the world made is there, with the holders it should have.
        // (The leaderless process, forked last, inherited the others' sockets too.)
        let holds = |h: &Row, pid| h.0.iter().any(|(p, _)| *p == pid);
        let shared = port_key(&proc, line["ports"]["shared"].as_u64(), "Listen");
        assert!(pids.iter().all(|&p| holds(&shared, p)), "{shared:?}");
        let passed = port_key(&proc, line["ports"]["passed"].as_u64(), "Listen");
        assert!(pids.iter().all(|&p| holds(&passed, p)), "{passed:?}");
        let received = passed.0.iter().find(|h| h.0 == pids[0]).unwrap();
        assert_eq!(received.1.as_ref().map(Vec::len), Some(2), "{passed:?}");
        let leaderless = port_key(&proc, line["ports"]["leaderless"].as_u64(), "Listen");
        assert_eq!(leaderless.0, vec![(pids[2], leaderless.0[0].1.clone())]);
        let own_table = port_key(&proc, line["ports"]["own_table"].as_u64(), "Listen");
        assert!(own_table.0.is_empty(), "{own_table:?}");
    }
    // The kernel-side filter of `who`: one port's sockets.
    for name in ["shared", "passed", "leaderless", "udp"] {
        let port = line["ports"][name].as_u64().unwrap().to_string();
        let (code_bpf, bpf) = who_json(&["--owner-scan", "bpf", &port]);
        let (code_proc, proc) = who_json(&["--owner-scan", "proc", &port]);
        assert_eq!(code_bpf, code_proc, "{name}");
        let pids_of = |d: &WhoDoc| {
            let mut p: Vec<u32> = d.owners.iter().map(|o| o.pid).collect();
            p.sort_unstable();
            p
        };
        assert_eq!(pids_of(&bpf), pids_of(&proc), "{name}");
        assert!(!pids_of(&proc).is_empty(), "{name}");
    }
    drop(world);
}

fn port_key(owners: &Owners, port: Option<u64>, state: &str) -> Row {
    let port = port.unwrap();
    owners
        .iter()
        .find(|(k, _)| k.contains(&format!(":{port} {state}")))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("port {port} {state} missing: {owners:#?}"))
}

/// In a child PID namespace with its own /proc, both scans name the holder by its pid there;
/// seen from outside, by its pid here.
#[test]
fn bpf_scan_reports_pids_of_portscopes_own_pid_namespace() {
    if !have("unshare") && skip("unshare is not installed") {
        return;
    }
    if !have("python3") && skip("python3 is not installed") {
        return;
    }
    if !bpf_usable() {
        return;
    }
    let script = format!(
        "python3 -c 'import socket, time, os\n\
         s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen()\n\
         print(s.getsockname()[1], os.getpid(), flush=True); time.sleep(120)' > $OUT &\n\
         while [ ! -s $OUT ]; do sleep 0.05; done\n\
         port=$(cut -d\" \" -f1 $OUT)\n\
         for m in bpf proc auto; do {bin} --json --owner-scan $m --port $port; echo; echo ===; done\n\
         kill $!\n",
        bin = bin()
    );
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("listener");
    let out = output_or_hang(
        {
            let mut cmd = Command::new("unshare");
            cmd.args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script])
                .env("OUT", &out_file);
            cmd
        },
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = std::fs::read_to_string(&out_file).unwrap();
    let mut fields = info.split_whitespace();
    let port: u16 = fields.next().unwrap().parse().unwrap();
    let pid_inside: u32 = fields.next().unwrap().parse().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let docs: Vec<ListDoc> = text
        .split("===")
        .filter(|part| !part.trim().is_empty())
        .map(|part| serde_json::from_str(part.trim()).unwrap())
        .collect();
    assert_eq!(docs.len(), 3, "{text}");
    let expect = owners(&docs[1], &[port]);
    let listener = port_key(&expect, Some(u64::from(port)), "Listen");
    assert_eq!(
        listener.0.iter().map(|h| h.0).collect::<Vec<_>>(),
        vec![pid_inside],
        "{expect:?}"
    );
    assert_eq!(
        owners(&docs[0], &[port]),
        expect,
        "bpf inside the namespace"
    );
    assert_eq!(
        owners(&docs[2], &[port]),
        expect,
        "auto inside the namespace"
    );
}

/// A world in a child PID namespace, seen from outside: host pids from both scans.
#[test]
fn bpf_scan_sees_a_child_pid_namespace_with_host_pids() {
    if !have("unshare") && skip("unshare is not installed") {
        return;
    }
    if !have("python3") && skip("python3 is not installed") {
        return;
    }
    if !bpf_usable() {
        return;
    }
    let mut child = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--kill-child",
            "python3",
            "-c",
            "import socket, time\n\
             s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
             print(s.getsockname()[1], flush=True); time.sleep(120)",
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let guard = Killed(child, Vec::new());
    let port: u16 = line.trim().parse().unwrap();
    let proc = owners(
        &list_json(&["--owner-scan", "proc", "--port", &port.to_string()]),
        &[port],
    );
    let bpf = owners(
        &list_json(&["--owner-scan", "bpf", "--port", &port.to_string()]),
        &[port],
    );
    assert_eq!(bpf, proc);
    let holder = port_key(&proc, Some(u64::from(port)), "Listen");
    // The python3 inside is pid 1 there, a larger number here.
    assert!(holder.0.len() == 1 && holder.0[0].0 > 1, "{holder:?}");
    drop(guard);
}

#[test]
fn owner_scan_bpf_refuses_another_proc_root_with_one_line() {
    let out = portscope(&[
        "--owner-scan",
        "bpf",
        "--proc-root",
        "/proc/self/..",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--owner-scan bpf") && err.contains("--proc-root"),
        "{err}"
    );
    let out = portscope(&["--owner-scan", "bpf", "--backend", "netstat2", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("netstat2"));
}

/// The committed object is what its source builds to with Debian 12's clang (the prefix map
/// keeps the checkout's path out of the debug info); with another clang it must still build.
#[test]
fn committed_bpf_object_is_built_from_its_source() {
    if !have("clang") && skip("clang is not installed (apt-get install clang)") {
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("task_file.bpf.o");
    let out = Command::new("sh")
        .args(["-c", "scripts/build-bpf \"$1\"", "sh"])
        .arg(&built)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = Command::new("clang").arg("--version").output().unwrap();
    let debian12 = String::from_utf8_lossy(&version.stdout).contains("Debian clang version 14.");
    if debian12 {
        let committed = std::fs::read(format!("{root}/bpf/task_file.bpf.o")).unwrap();
        assert!(
            std::fs::read(&built).unwrap() == committed,
            "bpf/task_file.bpf.o is stale: run scripts/build-bpf and commit it"
        );
    }
}

/// Unprivileged, `--owner-scan bpf` fails with one line naming the loader's refusal, and the
/// default (`auto`) quietly reads `/proc`, with the same output as `--owner-scan proc`.
#[test]
fn unprivileged_bpf_fails_with_the_reason_and_auto_falls_back() {
    if !is_root() && skip("needs root to drop to another user") {
        return;
    }
    if !have("setpriv") && skip("setpriv (util-linux) is not installed") {
        return;
    }
    let nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
            .args(args)
            .output()
            .unwrap()
    };
    let out = nobody(&["--owner-scan", "bpf", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--owner-scan bpf") && err.contains("--owner-scan proc"),
        "{err}"
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr()).to_string();
    let auto = nobody(&["--port", &port, "--color", "never"]);
    let proc = nobody(&["--port", &port, "--color", "never", "--owner-scan", "proc"]);
    assert_eq!(auto.status.code(), Some(0));
    assert_eq!(auto.stdout, proc.stdout);
    assert_eq!(auto.stderr, proc.stderr);
}
