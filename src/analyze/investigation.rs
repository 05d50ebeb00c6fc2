//! The "port already in use" report of `portscope who` (and the first half of `kill`): owner
//! details joined from the collected pieces, and plain-words advice on how to free the port.
//!
//! Pure: every input (process details, raw cgroup text, parent chain, sysctls, bind probe
//! results, the current time) is collected elsewhere and passed in; nothing here reads the
//! system or prints.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::analyze::owner::{self, Container, Forwarder};
use crate::collect::probe::{ProbeOutcome, ProbeResult};
use crate::collect::who::{Ancestor, OwnerRaw, PortSettings};
use crate::model::PortSpec;
use crate::model::{OwnerUnknown, ProcessInfo, Proto, SocketEntry, SocketState};

/// Linux `TCP_TIMEWAIT_LEN`: how long a TIME_WAIT socket lives.
pub const TIME_WAIT_SECONDS: u64 = 60;

/// Everything known about one process that holds a socket on the port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerDetails {
    /// Process id (the key `sockets[].processes[].pid` refers to).
    pub pid: u32,
    /// Process name.
    pub name: Option<String>,
    /// Full command line, one string per argument.
    pub cmdline: Vec<String>,
    /// Executable path.
    pub exe: Option<String>,
    /// Real uid.
    pub uid: Option<u32>,
    /// Name of that uid.
    pub user: Option<String>,
    /// Start time, seconds since the Unix epoch.
    pub start_time: Option<u64>,
    /// Seconds since the start.
    pub age_seconds: Option<u64>,
    /// Parent, grandparent, … up to pid 1.
    pub parents: Vec<Ancestor>,
    /// The cgroup path the unit and container come from.
    pub cgroup: Option<String>,
    /// Innermost systemd unit (`nginx.service`, `session-3.scope`, `docker-<id>.scope`).
    pub unit: Option<String>,
    /// When `unit` belongs to a user's service manager, that user's uid (`systemctl --user`).
    pub unit_user_manager: Option<u32>,
    /// For a pid-1 holder: the `.socket` unit whose `Listen*=` names this port.
    pub socket_unit: Option<String>,
    /// True when the holder is pid 1 (a service manager holding the port for socket activation).
    pub socket_activated: bool,
    /// The container the process runs in.
    pub container: Option<Container>,
    /// When the process is a port forwarder of a container runtime: what it forwards to.
    pub forwarder: Option<Forwarder>,
    /// True for a kernel thread.
    pub kernel_thread: bool,
}

/// Join one holder's details. `now` is the current Unix time; `socket_units` are the
/// (name, text) pairs of systemd `.socket` units, consulted only for pid 1.
#[must_use]
pub fn owner_details(
    info: &ProcessInfo,
    raw: &OwnerRaw,
    spec: PortSpec,
    proto: Proto,
    now: u64,
    socket_units: &[(String, String)],
) -> OwnerDetails {
    let cg = raw
        .cgroup
        .as_deref()
        .map(owner::parse_cgroup)
        .unwrap_or_default();
    let socket_activated = info.pid == 1;
    let socket_unit = if socket_activated {
        socket_units
            .iter()
            .find(|(_, text)| owner::socket_unit_listens_on(text, spec.port, Some(proto)))
            .map(|(name, _)| name.clone())
    } else {
        None
    };
    OwnerDetails {
        pid: info.pid,
        name: info.name.clone(),
        cmdline: info.cmdline.clone(),
        exe: info.exe.clone(),
        uid: info.uid,
        user: info.user.clone(),
        start_time: info.start_time,
        age_seconds: info.start_time.map(|t| now.saturating_sub(t)),
        parents: raw.ancestors.clone(),
        cgroup: cg.path,
        unit: cg.unit,
        unit_user_manager: cg.user_manager,
        socket_unit,
        socket_activated,
        container: cg.container,
        forwarder: owner::parse_forwarder(info.name.as_deref(), &info.cmdline, spec.port, proto),
        kernel_thread: raw.kernel_thread,
    }
}

/// The distinct holders of the entries, by pid, with the protocol of the first socket each
/// holds (for forwarders that map per protocol).
#[must_use]
pub fn holders(entries: &[SocketEntry]) -> BTreeMap<u32, (ProcessInfo, Proto)> {
    let mut out = BTreeMap::new();
    for e in entries {
        for p in &e.processes {
            out.entry(p.pid).or_insert_with(|| (p.clone(), e.proto));
        }
    }
    out
}

/// `1h 2m`, `3d 4h`, `42s`.
#[must_use]
pub fn human_age(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn who_name(o: &OwnerDetails) -> String {
    format!("{} (pid {})", o.name.as_deref().unwrap_or("?"), o.pid)
}

/// How to stop one holder, as a sentence with the exact command.
#[must_use]
pub fn stop_advice(o: &OwnerDetails, spec: PortSpec) -> String {
    let port = spec.port;
    if let Some(f) = &o.forwarder {
        let target = match (&f.container_address, f.container_port) {
            (Some(a), Some(p)) => {
                let a = a
                    .parse::<IpAddr>()
                    .map_or_else(|_| a.clone(), crate::render::addr);
                format!(" to {a}:{p}")
            }
            (None, Some(p)) => format!(" to container port {p}"),
            _ => String::new(),
        };
        let (runtime, cli) = if f.kind == "docker-proxy" {
            ("a Docker container", "docker")
        } else {
            ("a rootless Podman container", "podman")
        };
        return format!(
            "Port {port} is published by {runtime}: {} forwards it{target}. Stopping the forwarder \
             would not stop the container: find it with `{cli} ps --filter publish={port}` and \
             stop it with `{cli} stop <container>`.",
            who_name(o)
        );
    }
    if let Some(c) = &o.container {
        let id = short_id(&c.id);
        return match (c.runtime.as_str(), &c.pod_uid) {
            (_, Some(pod)) => format!(
                "{} runs in a container of Kubernetes pod {pod}: its controller would start it \
                 again. Find the pod with `crictl ps --id {id}` and scale down or delete its \
                 workload with kubectl.",
                who_name(o)
            ),
            ("docker", None) => format!(
                "{} runs in Docker container {id}: stop it with `docker stop {id}`.",
                who_name(o)
            ),
            ("podman", None) => format!(
                "{} runs in Podman container {id}: stop it with `podman stop {id}`.",
                who_name(o)
            ),
            ("cri-o", None) => format!(
                "{} runs in CRI-O container {id}: stop it with `crictl stop {id}`.",
                who_name(o)
            ),
            _ => format!(
                "{} runs in containerd container {id}: stop it with `nerdctl stop {id}`.",
                who_name(o)
            ),
        };
    }
    if o.socket_activated {
        return match &o.socket_unit {
            Some(unit) => format!(
                "systemd (pid 1) holds port {port} for socket activation of {unit}: stop it with \
                 `systemctl stop {unit}` (and its service); disable it with `systemctl disable \
                 {unit}` to keep it free."
            ),
            None => format!(
                "Port {port} is held by pid 1 ({}), socket-activated by the service manager: \
                 find the unit with `systemctl list-sockets | grep {port}` and stop it with \
                 `systemctl stop <unit>.socket`.",
                o.name.as_deref().unwrap_or("?")
            ),
        };
    }
    if let Some(unit) = restarting_unit(o) {
        let systemctl = match o.unit_user_manager {
            Some(uid) => format!("systemctl --user stop {unit}` (as uid {uid}"),
            None => format!("systemctl stop {unit}"),
        };
        let close = if o.unit_user_manager.is_some() {
            ")"
        } else {
            "`"
        };
        return format!(
            "{} belongs to {unit}, which systemd may restart if it is killed: stop it with \
             `{systemctl}{close}.",
            who_name(o)
        );
    }
    format!("Stop {} or run `portscope kill {spec}`.", who_name(o))
}

/// The `.service` unit a holder belongs to, when systemd would restart it after a kill
/// (scopes, sessions and the user manager itself are not restarted that way). Only a process
/// the service manager started itself counts (its parent is pid 1 or a `systemd` user manager,
/// or the parent is unknown): a shell's child inside a CI runner's `.service` is not restarted.
#[must_use]
pub fn restarting_unit(o: &OwnerDetails) -> Option<&str> {
    let started_by_manager = o
        .parents
        .first()
        .is_none_or(|p| p.pid == 1 || p.name.as_deref() == Some("systemd"));
    o.unit
        .as_deref()
        .filter(|u| u.ends_with(".service") && !u.starts_with("user@") && started_by_manager)
}

/// What `who` concludes about the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The socket table lists at least one socket on the port.
    InUse,
    /// The socket table lists nothing on the port, yet the bind probe failed with
    /// `EADDRINUSE`: a socket the table does not show holds it.
    InUseUnlisted,
    /// No listed socket uses the port and no probe found it in use.
    Free,
}

impl Verdict {
    /// True unless the port is free (exit code 0 rather than 1).
    #[must_use]
    pub fn in_use(self) -> bool {
        self != Verdict::Free
    }
}

/// The verdict on a port from its listed sockets and the bind probe: never "free" while the
/// probe's own bind finds the port in use.
#[must_use]
pub fn verdict(sockets: &[SocketEntry], probe: &[ProbeResult]) -> Verdict {
    if !sockets.is_empty() {
        Verdict::InUse
    } else if probe.iter().any(|p| p.result == ProbeOutcome::InUse) {
        Verdict::InUseUnlisted
    } else {
        Verdict::Free
    }
}

/// The protocols the bind probe should try: those asked about for which the socket table
/// lists no socket on the port. Where the table lists one, it explains the port already, and
/// a probe would only take a port a starting service may want for a moment; where it lists
/// none, only a bind can tell a port held by a socket the table does not show (a TCP socket
/// bound but not listening, on kernels before 6.5) from a free one.
#[must_use]
pub fn probe_protocols(spec: PortSpec, sockets: &[SocketEntry]) -> Vec<Proto> {
    let asked = match spec.proto {
        Some(p) => vec![p],
        None => vec![Proto::Tcp, Proto::Udp],
    };
    asked
        .into_iter()
        .filter(|&p| {
            !sockets
                .iter()
                .any(|s| s.proto == p && s.local_port == spec.port)
        })
        .collect()
}

/// The protocols whose probe found the port in use while the table lists no socket of that
/// protocol on it, each with the addresses that were in use.
fn unlisted_holders(sockets: &[SocketEntry], probe: &[ProbeResult]) -> Vec<(Proto, Vec<String>)> {
    let mut out: Vec<(Proto, Vec<String>)> = Vec::new();
    for p in probe {
        if p.result != ProbeOutcome::InUse || sockets.iter().any(|s| s.proto == p.proto) {
            continue;
        }
        let address = crate::render::addr(p.address);
        match out.iter_mut().find(|(proto, _)| *proto == p.proto) {
            Some((_, addresses)) => addresses.push(address),
            None => out.push((p.proto, vec![address])),
        }
    }
    out
}

/// The inputs of [`advice`].
#[derive(Debug, Clone, Copy)]
pub struct AdviceInput<'a> {
    /// The port (and protocol) asked about.
    pub spec: PortSpec,
    /// Every socket on the port.
    pub sockets: &'a [SocketEntry],
    /// Their holders' details.
    pub owners: &'a [OwnerDetails],
    /// The port sysctls.
    pub settings: &'a PortSettings,
    /// The bind probe.
    pub probe: &'a [ProbeResult],
}

/// Advice in plain words, most useful first.
#[must_use]
pub fn advice(input: &AdviceInput<'_>) -> Vec<String> {
    let AdviceInput {
        spec,
        sockets,
        owners,
        settings,
        probe,
    } = *input;
    let port = spec.port;
    let mut out = Vec::new();
    let unlisted = unlisted_holders(sockets, probe);
    if sockets.is_empty() && unlisted.is_empty() {
        out.push(format!("Nothing uses port {spec}: it is free."));
    }
    for (proto, addresses) in &unlisted {
        out.push(format!(
            "No listed socket uses port {port}/{proto}, yet a plain bind of it fails with \
             \"Address already in use\" on {}: a socket the kernel's socket table does not show \
             holds it. Most likely a TCP socket that is bound but neither listening nor \
             connected (a server between bind() and listen(), a client that bound before \
             connect()), which kernels before 6.5 do not list; or a socket that was opened \
             right after the table was read. Run `portscope who {port}/{proto}` again, and look \
             for sockets no table lists with `sudo lsof -nP | grep 'protocol: {}'`.",
            addresses.join(", "),
            proto.as_str().to_ascii_uppercase(),
        ));
    }
    for o in owners {
        let line = stop_advice(o, spec);
        if !out.contains(&line) {
            out.push(line);
        }
    }
    let unseen = |reason: OwnerUnknown| {
        sockets
            .iter()
            .filter(|s| s.owner_unknown_reason == Some(reason) && s.state != SocketState::TimeWait)
            .count()
    };
    let n = unseen(OwnerUnknown::Permission);
    if n > 0 {
        out.push(format!(
            "The owner of {n} socket(s) is not visible without privileges: run `sudo portscope who {spec}`."
        ));
    }
    let n = unseen(OwnerUnknown::Hidden);
    if n > 0 {
        out.push(format!(
            "The owner of {n} socket(s) is hidden: its process's file descriptors cannot be read \
             even as root (another PID namespace, a sandbox or a security module). It cannot be \
             stopped from here."
        ));
    }
    let n = unseen(OwnerUnknown::NotFound);
    if n > 0 {
        out.push(format!(
            "No process holds {n} socket(s): a kernel socket (NFS, WireGuard, …), a process in \
             another PID namespace, or one that just exited."
        ));
    }
    let n = unseen(OwnerUnknown::Kernel);
    if n > 0 {
        out.push(format!(
            "{n} socket(s) have no file yet or any more (connections waiting in a listener's \
             accept queue, or closing): they go away with the listener or by themselves."
        ));
    }
    let bound = sockets
        .iter()
        .filter(|s| s.state == SocketState::Bound)
        .count();
    if bound > 0 {
        out.push(format!(
            "{bound} socket(s) are bound but neither listening nor connected (a server between \
             bind() and listen(), or a client that bound before connect()): they hold the port \
             all the same."
        ));
    }
    let tw = sockets
        .iter()
        .filter(|s| s.state == SocketState::TimeWait)
        .count();
    if tw > 0 {
        out.push(format!(
            "{tw} connection(s) in TIME_WAIT: no process holds them and they clear by themselves \
             within {TIME_WAIT_SECONDS} seconds (Linux TCP_TIMEWAIT_LEN). Until then a bind \
             without SO_REUSEADDR fails with \"Address already in use\"; servers that set \
             SO_REUSEADDR can bind anyway."
        ));
    }
    out.extend(address_conflicts(sockets, port));
    if probe
        .iter()
        .any(|p| p.result == ProbeOutcome::PermissionDenied)
    {
        let start = settings
            .unprivileged_port_start
            .map_or_else(|| "the privileged limit".to_string(), |s| s.to_string());
        out.push(format!(
            "Binding port {port} needs privileges here (below net.ipv4.ip_unprivileged_port_start \
             = {start}): run the server as root, or grant it CAP_NET_BIND_SERVICE."
        ));
    }
    if let Some((lo, hi)) = settings.ephemeral_range {
        if (lo..=hi).contains(&port) && !is_reserved(settings, port) {
            out.push(format!(
                "Port {port} lies in the ephemeral range {lo}-{hi} \
                 (net.ipv4.ip_local_port_range): outgoing connections may take it at any time. \
                 Pick a port outside the range, or reserve it in net.ipv4.ip_local_reserved_ports."
            ));
        }
    }
    if is_reserved(settings, port) {
        out.push(format!(
            "Port {port} is listed in net.ipv4.ip_local_reserved_ports: outgoing connections never \
             pick it, so it stays available for a server."
        ));
    }
    out
}

/// True when `port` is listed in `net.ipv4.ip_local_reserved_ports`.
#[must_use]
pub fn is_reserved(settings: &PortSettings, port: u16) -> bool {
    settings.reserved_ports.as_deref().is_some_and(|list| {
        list.split(',').any(|item| {
            let item = item.trim();
            match item.split_once('-') {
                Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
                    (Ok(a), Ok(b)) => (a..=b).contains(&port),
                    _ => false,
                },
                None => item.parse::<u16>().ok() == Some(port),
            }
        })
    })
}

fn address_conflicts(sockets: &[SocketEntry], port: u16) -> Vec<String> {
    let bound: Vec<&SocketEntry> = sockets
        .iter()
        .filter(|s| {
            matches!(
                s.state,
                SocketState::Listen | SocketState::Unconnected | SocketState::Bound
            )
        })
        .collect();
    let mut out = Vec::new();
    let specific: Vec<String> = bound
        .iter()
        .filter(|s| !s.local_address.is_unspecified())
        .map(|s| crate::render::addr(s.local_address))
        .fold(Vec::new(), |mut v, a| {
            if !v.contains(&a) {
                v.push(a);
            }
            v
        });
    if !specific.is_empty() {
        out.push(format!(
            "The holder binds only {}: a wildcard bind (0.0.0.0:{port} or [::]:{port}) of the same \
             port fails while it exists, but another specific address can still be bound.",
            specific.join(", ")
        ));
    }
    if bound.iter().any(|s| s.local_address.is_unspecified()) {
        out.push(format!(
            "The holder binds a wildcard address: it blocks port {port} on every local address of \
             its family, so binding 127.0.0.1:{port} or a specific address fails too."
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn entry(state: SocketState, addr: &str, reason: Option<OwnerUnknown>) -> SocketEntry {
        SocketEntry {
            state,
            owner_unknown_reason: reason,
            port_range: "registered".into(),
            exposure: None,
            wildcard: false,
            ..SocketEntry::test_listener(addr, 8080)
        }
    }

    fn info(pid: u32, name: &str, cmd: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            fds: vec![3],
            name: Some(name.into()),
            cmdline: cmd.split_whitespace().map(str::to_string).collect(),
            exe: None,
            uid: Some(0),
            user: Some("root".into()),
            ppid: Some(1),
            start_time: Some(1000),
        }
    }

    fn details(pid: u32, name: &str, cmd: &str, cgroup: &str) -> OwnerDetails {
        let raw = OwnerRaw {
            cgroup: Some(cgroup.to_string()),
            ancestors: vec![Ancestor {
                pid: 1,
                name: Some("systemd".into()),
            }],
            kernel_thread: false,
        };
        let units = vec![(
            "cups.socket".to_string(),
            "[Socket]\nListenStream=631\n".to_string(),
        )];
        owner_details(
            &info(pid, name, cmd),
            &raw,
            spec(8080),
            Proto::Tcp,
            4600,
            &units,
        )
    }

    fn spec(port: u16) -> PortSpec {
        PortSpec { port, proto: None }
    }

    #[test]
    fn owner_details_join() {
        let d = details(
            10,
            "nginx",
            "nginx -g x",
            "0::/system.slice/nginx.service\n",
        );
        assert_eq!(d.age_seconds, Some(3600));
        assert_eq!(d.unit.as_deref(), Some("nginx.service"));
        assert_eq!(restarting_unit(&d), Some("nginx.service"));
        assert!(!d.socket_activated && d.forwarder.is_none());
        // A child of a shell inside a service (a CI runner's job) is not restarted by systemd.
        let mut job = d.clone();
        job.parents = vec![Ancestor {
            pid: 40,
            name: Some("bash".into()),
        }];
        assert_eq!(restarting_unit(&job), None);
        let mut p1 = info(1, "systemd", "/sbin/init");
        p1.start_time = None;
        let raw = OwnerRaw::default();
        let units = vec![("cups.socket".into(), "ListenStream=631\n".into())];
        let d = owner_details(&p1, &raw, spec(631), Proto::Tcp, 5, &units);
        assert!(d.socket_activated);
        assert_eq!(d.socket_unit.as_deref(), Some("cups.socket"));
        assert_eq!(d.age_seconds, None);
    }

    #[test]
    fn stop_advice_by_kind() {
        let id = "a".repeat(64);
        let cases: Vec<(OwnerDetails, &str)> = vec![
            (
                details(10, "nginx", "nginx", "0::/system.slice/nginx.service\n"),
                "`systemctl stop nginx.service`",
            ),
            (
                details(
                    11,
                    "node",
                    "node app.js",
                    "0::/user.slice/user-1000.slice/user@1000.service/app.slice/dev.service\n",
                ),
                "`systemctl --user stop dev.service` (as uid 1000)",
            ),
            (
                details(
                    12,
                    "python3",
                    "python3 -m http.server",
                    "0::/user.slice/user-1000.slice/session-2.scope\n",
                ),
                "Stop python3 (pid 12) or run `portscope kill 8080`.",
            ),
            (
                details(
                    13,
                    "python3",
                    "python3",
                    &format!("0::/system.slice/docker-{id}.scope\n"),
                ),
                "`docker stop aaaaaaaaaaaa`",
            ),
            (
                details(
                    14,
                    "docker-proxy",
                    "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80",
                    "0::/system.slice/docker.service\n",
                ),
                "forwards it to 172.17.0.2:80",
            ),
            (
                details(
                    15,
                    "rootlessport",
                    "rootlessport",
                    "0::/user.slice/user-1000.slice/user@1000.service/user.slice/podman.scope\n",
                ),
                "`podman ps --filter publish=8080`",
            ),
            (
                details(
                    16,
                    "nginx",
                    "nginx",
                    &format!(
                        "0::/kubepods.slice/kubepods-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-{id}.scope\n"
                    ),
                ),
                "Kubernetes pod 1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901",
            ),
            (
                details(1, "systemd", "/sbin/init", "0::/init.scope\n"),
                "`systemctl list-sockets | grep 8080`",
            ),
        ];
        for (d, want) in cases {
            let got = stop_advice(&d, spec(8080));
            assert!(got.contains(want), "{want}\n  in: {got}");
        }
    }

    #[test]
    fn advice_lines() {
        let settings = PortSettings {
            ephemeral_range: Some((32768, 60999)),
            reserved_ports: Some("40000,50000-50010".into()),
            unprivileged_port_start: Some(1024),
        };
        let none = advice(&AdviceInput {
            spec: spec(40001),
            sockets: &[],
            owners: &[],
            settings: &settings,
            probe: &[],
        });
        assert!(none[0].contains("Nothing uses port 40001"), "{none:?}");
        assert!(
            none.iter()
                .any(|l| l.contains("ephemeral range 32768-60999"))
        );
        let reserved = advice(&AdviceInput {
            spec: spec(50005),
            sockets: &[],
            owners: &[],
            settings: &settings,
            probe: &[],
        });
        assert!(
            reserved
                .iter()
                .any(|l| l.contains("ip_local_reserved_ports"))
        );
        assert!(!reserved.iter().any(|l| l.contains("ephemeral range")));

        let sockets = vec![
            entry(SocketState::Listen, "127.0.0.1", None),
            entry(
                SocketState::TimeWait,
                "127.0.0.1",
                Some(OwnerUnknown::Kernel),
            ),
            entry(SocketState::Listen, "0.0.0.0", Some(OwnerUnknown::Hidden)),
        ];
        let probe = vec![ProbeResult {
            proto: Proto::Tcp,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            result: ProbeOutcome::PermissionDenied,
            error: Some("Permission denied (os error 13)".into()),
        }];
        let lines = advice(&AdviceInput {
            spec: spec(80),
            sockets: &sockets,
            owners: &[],
            settings: &settings,
            probe: &probe,
        });
        let has = |s: &str| lines.iter().any(|l| l.contains(s));
        assert!(has("TIME_WAIT"), "{lines:?}");
        assert!(has("within 60 seconds"));
        assert!(has("is hidden"));
        assert!(
            !has("No process holds"),
            "TIME_WAIT is not 'no process': {lines:?}"
        );
        assert!(has("binds only 127.0.0.1: a wildcard bind"));
        assert!(has("binds a wildcard address"));
        assert!(has("ip_unprivileged_port_start = 1024"));
        assert!(!has("ephemeral"));
    }

    fn probed(proto: Proto, address: &str, result: ProbeOutcome) -> ProbeResult {
        ProbeResult {
            proto,
            address: address.parse().unwrap(),
            result,
            error: None,
        }
    }

    #[test]
    fn verdict_never_says_free_while_the_probe_finds_the_port_in_use() {
        let listener = entry(SocketState::Listen, "127.0.0.1", None);
        let in_use = probed(Proto::Tcp, "0.0.0.0", ProbeOutcome::InUse);
        let free = probed(Proto::Tcp, "0.0.0.0", ProbeOutcome::Free);
        let denied = probed(Proto::Tcp, "0.0.0.0", ProbeOutcome::PermissionDenied);
        let cases: Vec<(Vec<SocketEntry>, Vec<ProbeResult>, Verdict)> = vec![
            (vec![listener.clone()], vec![], Verdict::InUse),
            (vec![listener.clone()], vec![free.clone()], Verdict::InUse),
            (vec![], vec![], Verdict::Free),
            (vec![], vec![free.clone()], Verdict::Free),
            (vec![], vec![denied.clone()], Verdict::Free),
            // The table is empty, yet a plain bind fails: in use, by a socket it does not list.
            (vec![], vec![free, in_use.clone()], Verdict::InUseUnlisted),
            (vec![], vec![denied, in_use], Verdict::InUseUnlisted),
        ];
        for (sockets, probe, want) in cases {
            let got = verdict(&sockets, &probe);
            assert_eq!(got, want, "{sockets:?} {probe:?}");
            assert_eq!(got.in_use(), want != Verdict::Free);
        }
    }

    #[test]
    fn probe_only_what_the_table_cannot_explain() {
        let tcp = entry(SocketState::Listen, "127.0.0.1", None);
        let tw = entry(
            SocketState::TimeWait,
            "127.0.0.1",
            Some(OwnerUnknown::Kernel),
        );
        let udp = SocketEntry {
            proto: Proto::Udp,
            ..entry(SocketState::Unconnected, "0.0.0.0", None)
        };
        let both = PortSpec {
            port: 8080,
            proto: None,
        };
        let only = |proto| PortSpec {
            port: 8080,
            proto: Some(proto),
        };
        let cases: Vec<(PortSpec, Vec<SocketEntry>, Vec<Proto>)> = vec![
            (both, vec![], vec![Proto::Tcp, Proto::Udp]),
            (both, vec![tcp.clone()], vec![Proto::Udp]),
            (both, vec![udp.clone()], vec![Proto::Tcp]),
            (both, vec![tcp.clone(), udp.clone()], vec![]),
            (only(Proto::Tcp), vec![], vec![Proto::Tcp]),
            (only(Proto::Tcp), vec![tcp], vec![]),
            // TIME_WAIT explains a failing bind as well as a listener does.
            (only(Proto::Tcp), vec![tw], vec![]),
            (only(Proto::Udp), vec![udp], vec![]),
            (only(Proto::Udp), vec![], vec![Proto::Udp]),
        ];
        for (spec, sockets, want) in cases {
            assert_eq!(probe_protocols(spec, &sockets), want, "{spec} {sockets:?}");
        }
    }

    #[test]
    fn advice_for_a_port_no_listed_socket_explains() {
        let probe = vec![
            probed(Proto::Tcp, "0.0.0.0", ProbeOutcome::InUse),
            probed(Proto::Tcp, "::", ProbeOutcome::Free),
            probed(Proto::Tcp, "127.0.0.1", ProbeOutcome::InUse),
        ];
        let lines = advice(&AdviceInput {
            spec: spec(8080),
            sockets: &[],
            owners: &[],
            settings: &PortSettings::default(),
            probe: &probe,
        });
        assert!(!lines.iter().any(|l| l.contains("free")), "{lines:?}");
        assert!(
            lines[0].contains("No listed socket uses port 8080/tcp")
                && lines[0].contains("on 0.0.0.0, 127.0.0.1:")
                && lines[0].contains("bound but neither listening nor connected")
                && lines[0].contains("protocol: TCP"),
            "{lines:?}"
        );
        // A bound-only socket the table does list is explained in words.
        let bound = entry(SocketState::Bound, "127.0.0.1", None);
        let lines = advice(&AdviceInput {
            spec: spec(8080),
            sockets: &[bound],
            owners: &[],
            settings: &PortSettings::default(),
            probe: &[],
        });
        let has = |s: &str| lines.iter().any(|l| l.contains(s));
        assert!(
            has("1 socket(s) are bound but neither listening"),
            "{lines:?}"
        );
        assert!(has("binds only 127.0.0.1"), "{lines:?}");
    }

    #[test]
    fn ages_and_reserved_lists() {
        assert_eq!(human_age(42), "42s");
        assert_eq!(human_age(3 * 60 + 4), "3m 4s");
        assert_eq!(human_age(2 * 3600 + 5 * 60), "2h 5m");
        assert_eq!(human_age(3 * 86_400 + 4 * 3600), "3d 4h");
        let s = |r: &str| PortSettings {
            reserved_ports: Some(r.into()),
            ..PortSettings::default()
        };
        assert!(is_reserved(&s("8080"), 8080));
        assert!(is_reserved(&s("1,9000-9010"), 9005));
        assert!(!is_reserved(&s(""), 8080));
        assert!(!is_reserved(&s("9000-9010"), 9011));
    }
}
