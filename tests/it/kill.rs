//! `portscope kill`: dry run, consent, signalling, escalation, refusals (pid 1, another PID
//! namespace) against processes the tests start themselves.

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portscope::model::OwnerUnknown;

use crate::common::*;

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

/// A listener held by pid 1: `kill` refuses it, even with `--yes`. Made deterministic in a child
/// PID namespace (`unshare --pid --fork --mount-proc`), whose init (`sh`, pid 1 there) inherits a
/// listening socket of this test and runs portscope inside the namespace without it. The init
/// holds the socket only through fd 3; portscope gets fd 3 closed (`3>&-`), so it sees pid 1 as
/// the one holder. `--yes` is safe here: pid 1 of a namespace this test made, and its refusal is
/// the point.
#[test]
fn kill_refuses_a_pid_1_holder() {
    if !is_root() {
        skip("PID namespace tests need root");
        return;
    }
    if !have("unshare") {
        skip("PID namespace tests need unshare (util-linux)");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fd = listener.as_raw_fd();
    // bash, not sh: the inherited fd may have two digits, which dash cannot redirect.
    let to_3 = if fd == 3 {
        String::new()
    } else {
        format!("exec 3<&{fd} {fd}<&-; ")
    };
    let script =
        format!(r#"{to_3}"$0" kill {port}/tcp --yes --json --timeout 200ms 3>&-; echo "exit=$?""#);
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "bash",
        "-c",
    ])
    .arg(&script)
    .arg(bin())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = spawn_holding(cmd, &[fd]);
    // Both outputs are a few lines: reading one after the other cannot block the child.
    let stdout = read_all(child.0.stdout.take().unwrap());
    let stderr = read_all(child.0.stderr.take().unwrap());
    child.0.wait().unwrap();
    assert!(stdout.trim_end().ends_with("exit=2"), "{stdout}\n{stderr}");
    let json = stdout.trim_end().trim_end_matches("exit=2");
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(doc["signalled"].as_array().map(Vec::len), Some(0), "{doc}");
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{doc}");
    assert_eq!(targets[0]["pid"], 1);
    assert_eq!(targets[0]["action"], "refused");
    assert!(stderr.contains("Nothing was signalled"), "{stderr}");
    drop(listener);
}

/// The real example on this project's build machines: port 2024 held by pid 1 of the machine
/// (its tooling). Where it is, `kill --dry-run` must refuse it; where it is not, there is nothing
/// to observe (the deterministic case is `kill_refuses_a_pid_1_holder`), so this returns with a
/// note rather than going through the skip guard. It never consents to a signal.
#[test]
fn kill_refuses_the_machines_pid_1_listener_on_2024() {
    let (code, doc) = who_json(&["2024/tcp"]);
    let by_pid1 = doc.owners.iter().any(|o| o.pid == 1);
    let out = portscope(&["--json", "--port", "2024"]);
    let hidden_pid1 = String::from_utf8_lossy(&out.stdout).contains("(pid 1)")
        && doc
            .sockets
            .iter()
            .any(|s| s.owner_unknown_reason == Some(OwnerUnknown::Hidden));
    if code != Some(0) || !(by_pid1 || hidden_pid1) {
        eprintln!("NOTE: port 2024 is not held by pid 1 here; nothing to observe");
        return;
    }
    let out = portscope(&["kill", "2024", "--dry-run", "--timeout", "100ms"]);
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
