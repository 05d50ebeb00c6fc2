//! Helpers shared by the integration tests: running the binary, parsing its JSON into the
//! crate's own types, opening sockets with the options real services use, and skipping.

#![allow(dead_code)]

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Command, Output, Stdio};

use std::time::{Duration, Instant};

use portscope::model::{
    OwnerDetails, PortVerdict as Verdict, ProbeOutcome, ProbeResult, Proto, SocketEntry,
};
use serde::Deserialize;

/// The parsed `portscope --json` document.
#[derive(Debug, Deserialize)]
pub struct ListDoc {
    pub schema_version: u32,
    /// The host's name (`gethostname`).
    pub host: Option<String>,
    /// When the snapshot was taken (RFC 3339, UTC).
    #[serde(with = "portscope::model::rfc3339")]
    pub taken_at: portscope::model::UnixTime,
    pub sockets: Vec<SocketEntry>,
    pub pid_namespace: Option<portscope::model::PidNamespace>,
    pub warnings: Vec<String>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portscope")
}

pub fn portscope(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run portscope")
}

/// Run with `--json`, assert the exit code is 0 or 1, and parse.
pub fn list_json(args: &[&str]) -> ListDoc {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = portscope(&all);
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "exit {code:?}, stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: ListDoc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(doc.schema_version, 1);
    doc
}

/// The socket inode behind a descriptor of this process.
pub fn inode_of(fd: &impl AsRawFd) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .expect("fd")
        .ino()
}

/// The rows of the document that are this socket (matched by inode, so other sockets on the
/// same port number — another protocol, another address — never confuse a test).
pub fn ours<'a>(doc: &'a ListDoc, fd: &impl AsRawFd) -> Vec<&'a SocketEntry> {
    let inode = inode_of(fd);
    doc.sockets
        .iter()
        .filter(|s| s.inode == Some(inode))
        .collect()
}

/// The skip guard shared with the unit tests (fails under CI=true instead of skipping).
#[path = "../../src/testing.rs"]
mod testing;
#[allow(unused_imports)]
pub use testing::{is_ci, skip};

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// A raw socket made with libc so options can be set before bind, as daemons do.
pub fn raw_socket(domain: i32, ty: i32) -> OwnedFd {
    // SAFETY: plain socket(2) call; the result is checked before being wrapped.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a fresh, owned descriptor.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

pub fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) {
    // SAFETY: value is a live i32 of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

/// A TCP listener on `[::]:0` with IPV6_V6ONLY set as asked.
pub fn v6_wildcard_listener(v6only: bool) -> TcpListener {
    v6_wildcard_listener_on(0, v6only)
}

/// A TCP listener on `[::]:port` with IPV6_V6ONLY set as asked.
pub fn v6_wildcard_listener_on(port: u16, v6only: bool) -> TcpListener {
    let fd = raw_socket(libc::AF_INET6, libc::SOCK_STREAM);
    setsockopt_int(
        fd.as_raw_fd(),
        libc::IPPROTO_IPV6,
        libc::IPV6_V6ONLY,
        i32::from(v6only),
    );
    // SAFETY: sockaddr_in6 is plain data; zero is "::" port 0.
    let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    addr.sin6_port = port.to_be();
    // SAFETY: addr is a valid sockaddr_in6 of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a bound stream socket.
    assert_eq!(unsafe { libc::listen(fd.as_raw_fd(), 16) }, 0);
    TcpListener::from(fd)
}

/// A TCP socket bound to 127.0.0.1 on a free port that never listens or connects (a server
/// between bind and listen), and its port.
pub fn tcp_bound_only() -> (OwnedFd, u16) {
    let fd = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
    // SAFETY: sockaddr_in is plain data; zero is 0.0.0.0 port 0.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_in of the size given.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    // SAFETY: addr and len are live and describe a buffer of len bytes.
    let rc = unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &raw mut len) };
    assert_eq!(rc, 0, "getsockname: {}", std::io::Error::last_os_error());
    (fd, u16::from_be(addr.sin_port))
}

/// True when the running kernel is at least `major.minor`.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

pub fn port_of(addr: std::io::Result<SocketAddr>) -> u16 {
    addr.expect("local addr").port()
}

pub fn udp_bound(ip: &str) -> UdpSocket {
    UdpSocket::bind(format!("{ip}:0")).expect("bind udp")
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

/// Spawn `cmd` so that it (and only it) inherits `fds`: FD_CLOEXEC is cleared in the child
/// between fork and exec, never in this process, where parallel tests spawn other children.
pub fn spawn_holding(mut cmd: Command, fds: &[RawFd]) -> Child {
    use std::os::unix::process::CommandExt;
    let fds = fds.to_vec();
    // SAFETY: the closure only calls fcntl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Child(cmd.stdin(Stdio::null()).spawn().expect("spawn child"))
}

/// A child process that ends when dropped (killed by its own pid).
pub struct Child(pub std::process::Child);

impl Child {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sleep 60` holding `fds`.
pub fn sleeper(fds: &[RawFd]) -> Child {
    let mut cmd = Command::new("sleep");
    cmd.arg("60");
    spawn_holding(cmd, fds)
}

pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    r.read_to_string(&mut s).expect("read");
    s
}

/// A network namespace made by the test, with a veth pair whose both ends live inside it, so
/// addresses of any class can be assigned without touching the host. Deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Create `ps-<tag>-<pid>` with lo, va and vb up; `None` (after `skip`) when the machine
    /// cannot (not root, no iproute2).
    pub fn create(tag: &str) -> Option<Netns> {
        if !is_root() {
            skip("network namespace tests need root");
            return None;
        }
        if !have("ip") {
            skip("network namespace tests need iproute2 (ip)");
            return None;
        }
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("ps-{tag}-{}-{n}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let ns = Netns { name };
        ns.ip(&["netns", "add", &ns.name]);
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns.exec(&[
            "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb",
        ]);
        ns.exec(&["ip", "link", "set", "va", "up"]);
        ns.exec(&["ip", "link", "set", "vb", "up"]);
        Some(ns)
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run a command inside the namespace and assert it succeeds.
    pub fn exec(&self, cmd: &[&str]) {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend_from_slice(cmd);
        self.ip(&args);
    }

    /// Add an address (IPv6 without duplicate address detection, so it is usable at once).
    pub fn addr(&self, dev: &str, cidr: &str) {
        let mut cmd = vec!["ip", "addr", "add", cidr, "dev", dev];
        if cidr.contains(':') {
            cmd.push("nodad");
        }
        self.exec(&cmd);
    }

    /// Run `f` on a thread that has entered the namespace: sockets it creates live there, and
    /// this process owns them.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(&path).expect("open netns");
                // SAFETY: setns on a valid namespace fd; it changes only this thread's netns.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("netns thread")
        })
    }

    /// Interface index of `dev` inside the namespace.
    pub fn ifindex(&self, dev: &str) -> u32 {
        let name = std::ffi::CString::new(dev).unwrap();
        // SAFETY: if_nametoindex reads a NUL-terminated name.
        self.run(|| unsafe { libc::if_nametoindex(name.as_ptr()) })
    }

    /// `portscope ARGS` run inside the namespace.
    pub fn portscope(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, bin()])
            .args(args)
            .env_remove("NO_COLOR")
            .output()
            .expect("run portscope in netns")
    }

    /// Set a sysctl inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")]);
    }

    /// `portscope --json ARGS` run inside the namespace.
    pub fn list_json(&self, args: &[&str]) -> ListDoc {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, bin(), "--json"])
            .args(args)
            .output()
            .expect("run portscope in netns");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// `portscope ARGS`, killed and failed if it has not finished after a generous `limit`: for
/// inputs that used to hang forever. Not a timing assertion: the limit is far above any normal
/// run.
pub fn portscope_or_hang(args: &[&str], limit: std::time::Duration) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_remove("NO_COLOR");
    output_or_hang(cmd, limit)
}

/// Run `cmd` (stdin empty, output captured), killed and failed if it has not finished after
/// `limit`.
pub fn output_or_hang(mut cmd: Command, limit: std::time::Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let read_out = std::thread::spawn(move || read_bytes(stdout));
    let read_err = std::thread::spawn(move || read_bytes(stderr));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            // Not yet reaped, so the pid is still this child's.
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}: it hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: read_out.join().expect("stdout reader"),
        stderr: read_err.join().expect("stderr reader"),
    }
}

fn read_bytes(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

// ---- `who` and `kill`: the parsed `who --json` document and processes that hold a port.

/// The parsed `portscope who --json` document.
#[derive(Debug, Deserialize)]
pub struct WhoDoc {
    pub schema_version: u32,
    pub port: u16,
    pub proto: Option<Proto>,
    pub in_use: bool,
    pub verdict: Verdict,
    pub sockets: Vec<SocketEntry>,
    pub owners: Vec<OwnerDetails>,
    pub bind_probe: Vec<ProbeResult>,
    pub advice: Vec<String>,
}

pub fn who_json(args: &[&str]) -> (Option<i32>, WhoDoc) {
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

pub fn probe_on(doc: &WhoDoc, proto: Proto, address: &str) -> ProbeOutcome {
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
pub fn free_port() -> u16 {
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
pub fn child_listener(cmd: Command) -> (Child, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(listener.local_addr());
    let child = spawn_holding(cmd, &[listener.as_raw_fd()]);
    drop(listener);
    (child, port)
}

pub fn sleep_cmd() -> Command {
    let mut c = Command::new("sleep");
    c.arg("60");
    c
}

pub fn alive(child: &mut Child) -> bool {
    child.0.try_wait().unwrap().is_none()
}

pub fn exited_within(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(child) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
