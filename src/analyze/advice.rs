//! Advice in plain words for a port someone wants: how to stop each holder (the exact
//! command for a service, a container, a socket-activated unit), what the sockets nobody is
//! seen to hold are, why a bind may fail (TIME_WAIT, a wildcard or specific bind, privileges)
//! and what the port sysctls say about the port.
//!
//! Pure: every input (the sockets, the holders' details, the sysctls, the bind probe) is
//! collected and joined elsewhere; nothing here reads the system or prints.

use std::net::IpAddr;

use crate::analyze::owner::restarting_unit;
use crate::model::{
    ContainerRuntime, ForwarderKind, HostAddr, OwnerDetails, OwnerUnknown, PortSpec, Proto,
    SocketEntry, SocketState, TIME_WAIT_SECONDS,
};
use crate::model::{ExcludedPortRange, PidNamespace, PortSettings, ProbeOutcome, ProbeResult};

/// A path as one shell word: as it is when it holds only safe characters, else single-quoted.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%=,".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn who_name(o: &OwnerDetails) -> String {
    format!("{} (pid {})", o.name.as_deref().unwrap_or("?"), o.pid)
}

/// The pid of a holder as the user may act on it: when the pids come from another PID
/// namespace (`--proc-root`), the number means another process here, so it is named as that
/// namespace's.
fn who_name_in(o: &OwnerDetails, ns: Option<&PidNamespace>) -> String {
    match ns {
        None => who_name(o),
        Some(_) => format!(
            "{} (pid {} in the PID namespace of --proc-root, not this one)",
            o.name.as_deref().unwrap_or("?"),
            o.pid
        ),
    }
}

/// How to stop one holder, as a sentence with the exact command. With `ns` (the pids are
/// another PID namespace's) the pid is named as that namespace's and the suggested
/// `portscope kill` keeps the `--proc-root`, which translates it.
#[must_use]
pub fn stop_advice(o: &OwnerDetails, spec: PortSpec, ns: Option<&PidNamespace>) -> String {
    let port = spec.port;
    if is_windows_system(o) {
        return format!(
            "Port {spec} is held by Windows' System process (pid 4): the kernel's HTTP Server \
             API (http.sys), which serves IIS, WinRM, WSUS, SSRS and every program that \
             registered a URL on this port with it. `netsh http show servicestate` names the \
             registered URLs and the processes behind them; stop that service (IIS: `net stop \
             w3svc`), or move it to another port. pid 4 itself is never terminated."
        );
    }
    if let Some(f) = &o.forwarder {
        let target = match (&f.container_address, f.container_port) {
            (Some(a), Some(p)) => {
                let a = a
                    .parse::<IpAddr>()
                    .map_or_else(|_| a.clone(), |ip| HostAddr(ip).to_string());
                format!(" to {a}:{p}")
            }
            (None, Some(p)) => format!(" to container port {p}"),
            _ => String::new(),
        };
        let (runtime, cli) = match f.kind {
            ForwarderKind::DockerProxy => ("a Docker container", "docker"),
            ForwarderKind::RootlessPort | ForwarderKind::Pasta => {
                ("a rootless Podman container", "podman")
            }
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
        return match (c.runtime, &c.pod_uid) {
            (_, Some(pod)) => format!(
                "{} runs in a container of Kubernetes pod {pod}: its controller would start it \
                 again. Find the pod with `crictl ps --id {id}` and scale down or delete its \
                 workload with kubectl.",
                who_name(o)
            ),
            (ContainerRuntime::Docker, None) => format!(
                "{} runs in Docker container {id}: stop it with `docker stop {id}`.",
                who_name(o)
            ),
            (ContainerRuntime::Podman, None) => format!(
                "{} runs in Podman container {id}: stop it with `podman stop {id}`.",
                who_name(o)
            ),
            (ContainerRuntime::CriO, None) => format!(
                "{} runs in CRI-O container {id}: stop it with `crictl stop {id}`.",
                who_name(o)
            ),
            (ContainerRuntime::Containerd, None) => format!(
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
    match ns {
        None => format!("Stop {} or run `portscope kill {spec}`.", who_name(o)),
        Some(ns) => format!(
            "Stop {} with `portscope kill --proc-root {} {spec}`, which finds it under its pid \
             in this namespace; the number shown here names another process in this shell.",
            who_name_in(o, Some(ns)),
            shell_quote(&ns.proc_root)
        ),
    }
}

/// True for Windows' System process: pid 4, named `System` (on Linux pid 4 is a kernel thread
/// with another name, which holds no port).
fn is_windows_system(o: &OwnerDetails) -> bool {
    o.pid == 4 && o.name.as_deref() == Some("System")
}

/// The excluded port ranges (Windows) that contain `port` for `proto` (both when `None`).
fn exclusions(settings: &PortSettings, spec: PortSpec) -> Vec<&ExcludedPortRange> {
    settings
        .excluded_ranges
        .iter()
        .flatten()
        .filter(|r| r.contains(spec.port) && spec.proto.is_none_or(|p| p == r.proto))
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
        let address = HostAddr(p.address).to_string();
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
    /// The PID namespace the pids belong to when it is not portscope's own.
    pub pid_namespace: Option<&'a PidNamespace>,
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
        pid_namespace,
    } = *input;
    let port = spec.port;
    let mut out = Vec::new();
    let unlisted = unlisted_holders(sockets, probe);
    if sockets.is_empty() && unlisted.is_empty() && exclusions(settings, spec).is_empty() {
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
        let line = stop_advice(o, spec, pid_namespace);
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
    let n = unseen(OwnerUnknown::NotReported);
    if n > 0 {
        out.push(format!(
            "The system's socket table names no process for {n} socket(s) (pid 0): nothing \
             more can be said about who holds them from here (under Wine this is every socket)."
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
    let excluded = exclusions(settings, spec);
    for r in &excluded {
        let (family, lo, hi) = (if r.ipv6 { "ipv6" } else { "ipv4" }, r.start, r.end);
        let by = if r.administered {
            "an administrator reserved it (`netsh int … add excludedportrange`)"
        } else {
            "the system reserved it at start (Hyper-V, WinNAT, WSL or Docker Desktop take such \
             ranges)"
        };
        out.push(format!(
            "Port {port}/{} lies in the excluded port range {lo}-{hi} ({family}): {by}. No \
             program can bind it, although nothing listens: a bind fails with \"An attempt was \
             made to access a socket in a way forbidden by its access permissions\" \
             (WSAEACCES). See `netsh int {family} show excludedportrange protocol={}`; pick a \
             port outside it, or, as Administrator, `net stop winnat`, reserve your port with \
             `netsh int {family} add excludedportrange protocol={} startport={port} \
             numberofports=1`, and `net start winnat`.",
            r.proto, r.proto, r.proto
        ));
    }
    if !excluded.is_empty() {
        // The exclusion explains a refused bind; the Linux sysctl does not apply.
    } else if settings.excluded_ranges.is_some()
        && probe
            .iter()
            .any(|p| p.result == ProbeOutcome::PermissionDenied)
    {
        out.push(format!(
            "Binding port {port} is refused with \"access permissions\" (WSAEACCES) although no \
             excluded range contains it: another program holds it with SO_EXCLUSIVEADDRUSE, or \
             a reservation appeared after the check. Run `portscope who {spec}` again, and \
             `netsh http show servicestate` for URLs registered with http.sys."
        ));
    } else if probe
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
    let reserved = is_reserved(settings, port);
    if let Some(range) = settings.ephemeral_range {
        if range.contains(port) && !reserved {
            let (lo, hi) = (range.start, range.end);
            out.push(format!(
                "Port {port} lies in the ephemeral range {lo}-{hi} \
                 (net.ipv4.ip_local_port_range): outgoing connections may take it at any time. \
                 Pick a port outside the range, or reserve it in net.ipv4.ip_local_reserved_ports."
            ));
        }
    }
    if reserved {
        out.push(format!(
            "Port {port} is listed in net.ipv4.ip_local_reserved_ports: outgoing connections never \
             pick it, so it stays available for a server."
        ));
    }
    out
}

/// True when `port` is listed in `net.ipv4.ip_local_reserved_ports`.
fn is_reserved(settings: &PortSettings, port: u16) -> bool {
    settings
        .reserved_ports
        .as_ref()
        .is_some_and(|list| list.contains(port))
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
        .map(|s| HostAddr(s.local_address).to_string())
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

    /// Review of issue 8: with `--proc-root` of another PID namespace, the advice named the
    /// holder's pid there ("Stop python3 (pid 7) or run `portscope kill 41001`"): typed into a
    /// shell here, that number names another process, and the command lost `--proc-root`.
    #[test]
    fn advice_in_another_pid_namespace_keeps_the_proc_root() {
        let o = OwnerDetails {
            pid: 7,
            name: Some("python3".into()),
            ..OwnerDetails::test_owner(7)
        };
        let ns = PidNamespace {
            proc_root: "/proc/4242/root/proc".into(),
            inode: Some(4_026_532_500),
            own_inode: Some(4_026_531_836),
            ancestor: false,
        };
        let spec = PortSpec {
            port: 41001,
            proto: None,
        };
        let here = stop_advice(&o, spec, None);
        assert_eq!(here, "Stop python3 (pid 7) or run `portscope kill 41001`.");
        let there = stop_advice(&o, spec, Some(&ns));
        assert!(
            there.contains("pid 7 in the PID namespace of --proc-root")
                && there.contains("`portscope kill --proc-root /proc/4242/root/proc 41001`"),
            "{there}"
        );
        let odd = PidNamespace {
            proc_root: "/tmp/it's here".into(),
            ..ns
        };
        assert!(
            stop_advice(&o, spec, Some(&odd)).contains("--proc-root '/tmp/it'\\''s here' 41001"),
            "{}",
            stop_advice(&o, spec, Some(&odd))
        );
    }
    use std::net::Ipv4Addr;

    use crate::model::{PortList, PortRange};

    fn entry(state: SocketState, addr: &str, reason: Option<OwnerUnknown>) -> SocketEntry {
        SocketEntry {
            state,
            owner_unknown_reason: reason,
            port_range: crate::model::IanaRange::Registered,
            exposure: None,
            wildcard: false,
            ..SocketEntry::test_listener(addr, 8080)
        }
    }

    fn spec(port: u16) -> PortSpec {
        PortSpec { port, proto: None }
    }

    /// Issue 10: on Windows a port held by pid 4 is http.sys's, and a port in an excluded range
    /// cannot be bound although nothing listens.
    #[test]
    fn windows_system_and_excluded_ranges() {
        let system = OwnerDetails {
            name: Some("System".into()),
            ..OwnerDetails::test_owner(4)
        };
        let line = stop_advice(&system, spec(80), None);
        assert!(
            line.contains("http.sys") && line.contains("netsh http show servicestate"),
            "{line}"
        );
        // pid 4 of Linux is a kernel thread with another name: the ordinary advice.
        let kworker = OwnerDetails {
            name: Some("kworker/R-rcu_gp".into()),
            ..OwnerDetails::test_owner(4)
        };
        assert!(!stop_advice(&kworker, spec(80), None).contains("http.sys"));

        let range = |start, end, administered| ExcludedPortRange {
            proto: Proto::Tcp,
            ipv6: false,
            start,
            end,
            administered,
        };
        let settings = PortSettings {
            excluded_ranges: Some(vec![range(49709, 49808, false), range(50000, 50059, true)]),
            ..PortSettings::default()
        };
        let denied = ProbeResult {
            proto: Proto::Tcp,
            address: "0.0.0.0".parse().unwrap(),
            result: ProbeOutcome::PermissionDenied,
            error: Some("access permissions".into()),
        };
        let run = |port: u16, probe: &[ProbeResult]| {
            advice(&AdviceInput {
                spec: spec(port),
                sockets: &[],
                owners: &[],
                settings: &settings,
                probe,
                pid_namespace: None,
            })
        };
        let inside = run(49750, std::slice::from_ref(&denied));
        assert_eq!(inside.len(), 1, "{inside:?}");
        assert!(
            inside[0].contains("excluded port range 49709-49808 (ipv4)")
                && inside[0].contains("the system reserved it")
                && inside[0].contains("netsh int ipv4 show excludedportrange protocol=tcp"),
            "{inside:?}"
        );
        let administered = run(50000, &[]);
        assert!(
            administered[0].contains("an administrator reserved it"),
            "{administered:?}"
        );
        // Another protocol's exclusion does not apply to port/udp.
        let udp = advice(&AdviceInput {
            spec: PortSpec {
                port: 49750,
                proto: Some(Proto::Udp),
            },
            sockets: &[],
            owners: &[],
            settings: &settings,
            probe: &[],
            pid_namespace: None,
        });
        assert!(udp[0].contains("it is free"), "{udp:?}");
        // Denied outside every range: the Winsock wording, not the Linux sysctl.
        let outside = run(8080, std::slice::from_ref(&denied));
        assert!(
            outside.iter().any(|l| l.contains("SO_EXCLUSIVEADDRUSE"))
                && !outside
                    .iter()
                    .any(|l| l.contains("ip_unprivileged_port_start")),
            "{outside:?}"
        );
        // Free and not excluded.
        assert!(run(8080, &[])[0].contains("it is free"));
    }

    #[test]
    fn advice_lines() {
        let settings = PortSettings {
            ephemeral_range: Some(PortRange {
                start: 32768,
                end: 60999,
            }),
            reserved_ports: Some(PortList::parse("40000,50000-50010")),
            unprivileged_port_start: Some(1024),
            excluded_ranges: None,
        };
        let none = advice(&AdviceInput {
            spec: spec(40001),
            sockets: &[],
            owners: &[],
            settings: &settings,
            probe: &[],
            pid_namespace: None,
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
            pid_namespace: None,
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
            pid_namespace: None,
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
            pid_namespace: None,
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
            pid_namespace: None,
        });
        let has = |s: &str| lines.iter().any(|l| l.contains(s));
        assert!(
            has("1 socket(s) are bound but neither listening"),
            "{lines:?}"
        );
        assert!(has("binds only 127.0.0.1"), "{lines:?}");
    }

    #[test]
    fn ephemeral_and_reserved_ports() {
        let settings = |ephemeral: Option<(u16, u16)>, reserved: Option<&str>| PortSettings {
            ephemeral_range: ephemeral.map(|(start, end)| PortRange { start, end }),
            reserved_ports: reserved.map(PortList::parse),
            unprivileged_port_start: None,
            excluded_ranges: None,
        };
        // (settings, port, says "ephemeral range", says "is listed in …reserved_ports")
        let cases = [
            (settings(Some((32768, 60999)), None), 40000, true, false),
            (settings(Some((32768, 60999)), None), 32768, true, false),
            (settings(Some((32768, 60999)), None), 60999, true, false),
            (settings(Some((32768, 60999)), None), 61000, false, false),
            (settings(Some((32768, 60999)), Some("")), 40000, true, false),
            (
                settings(Some((32768, 60999)), Some("8080,40000-40010")),
                40005,
                false,
                true,
            ),
            (settings(None, Some("8080")), 8080, false, true),
            (settings(None, Some("1,9000-9010")), 9005, false, true),
            (settings(None, Some("9000-9010")), 9011, false, false),
            // Items that are no range list nothing.
            (settings(None, Some("0,x,9010-9000")), 9005, false, false),
            (settings(None, None), 8080, false, false),
        ];
        for (settings, port, ephemeral, reserved) in cases {
            let lines = advice(&AdviceInput {
                spec: spec(port),
                sockets: &[],
                owners: &[],
                settings: &settings,
                probe: &[],
                pid_namespace: None,
            });
            let says = |text: &str| lines.iter().any(|l| l.contains(text));
            assert_eq!(says("ephemeral range"), ephemeral, "{port} {lines:?}");
            assert_eq!(
                says("is listed in net.ipv4.ip_local_reserved_ports"),
                reserved,
                "{port} {lines:?}"
            );
        }
    }
}
