//! Who a socket's owner really is: the systemd unit and the container, read from the text of
//! `/proc/PID/cgroup`, and the container behind a port forwarder (`docker-proxy`, `rootlessport`,
//! `pasta`), read from its command line; the `ListenStream=` lines of systemd socket units; and
//! whether systemd would restart a holder that is killed.
//!
//! Pure: it parses strings the collectors read and never touches the system itself. Every parser
//! is pinned by table-driven tests on recorded strings.

use crate::model::Proto;
use crate::model::{
    CgroupInfo, Container, ContainerRuntime, Forwarder, ForwarderKind, OwnerDetails,
};

/// Parse the text of `/proc/PID/cgroup` (cgroup v1, v2 or hybrid).
#[must_use]
pub fn parse_cgroup(text: &str) -> CgroupInfo {
    let mut unified = None;
    let mut systemd = None;
    let mut container = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            unified = Some(path);
        } else if controllers == "name=systemd" {
            systemd = Some(path);
        }
        if container.is_none() {
            container = container_of(path);
        }
    }
    let path = unified
        .filter(|p| *p != "/")
        .or(systemd.filter(|p| *p != "/"))
        .or(unified)
        .or(systemd);
    let mut info = CgroupInfo {
        path: path.map(str::to_string).filter(|p| !p.is_empty()),
        container,
        ..CgroupInfo::default()
    };
    if let Some(path) = path {
        for comp in path.split('/') {
            if let Some(uid) = comp
                .strip_prefix("user@")
                .and_then(|r| r.strip_suffix(".service"))
                .and_then(|u| u.parse().ok())
            {
                info.user_manager = Some(uid);
                info.unit = Some(comp.to_string());
            } else if is_unit(comp) {
                info.unit = Some(comp.to_string());
            }
        }
        // The user manager's own process sits in `user@UID.service/init.scope`: its unit is the
        // user manager itself, not a unit under it.
        if info.unit.as_deref() == Some("init.scope") && info.user_manager.is_some() {
            info.unit = info.user_manager.map(|uid| format!("user@{uid}.service"));
            info.user_manager = None;
        } else if info
            .unit
            .as_deref()
            .is_some_and(|u| u.starts_with("user@") && u.ends_with(".service"))
        {
            info.user_manager = None;
        }
    }
    info
}

fn is_unit(comp: &str) -> bool {
    [".service", ".scope", ".socket", ".mount", ".swap"]
        .iter()
        .any(|s| comp.len() > s.len() && comp.ends_with(s))
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Recognise a container in one cgroup path.
fn container_of(path: &str) -> Option<Container> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let kube = comps.iter().any(|c| c.starts_with("kubepods"));
    let pod_uid = comps.iter().find_map(|c| pod_uid_of(c));
    let make = |runtime: ContainerRuntime, id: &str| Container {
        runtime,
        id: id.to_string(),
        name: None,
        pod_uid: pod_uid.clone(),
    };
    // Innermost match wins (a nested `docker/<id>` inside a pod slice, …).
    for (i, comp) in comps.iter().enumerate().rev() {
        let scoped = |prefix: &str| {
            comp.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".scope"))
                .filter(|id| is_hex_id(id))
        };
        if let Some(id) = scoped("docker-") {
            return Some(make(ContainerRuntime::Docker, id));
        }
        if let Some(id) = scoped("libpod-") {
            return Some(make(ContainerRuntime::Podman, id));
        }
        if let Some(id) = scoped("cri-containerd-").or_else(|| scoped("nerdctl-")) {
            return Some(make(ContainerRuntime::Containerd, id));
        }
        if let Some(id) = scoped("crio-") {
            return Some(make(ContainerRuntime::CriO, id));
        }
        if is_hex_id(comp) && comp.len() == 64 {
            let parent = i.checked_sub(1).and_then(|p| comps.get(p)).copied();
            match parent {
                Some("docker") => return Some(make(ContainerRuntime::Docker, comp)),
                Some("libpod_parent") => return Some(make(ContainerRuntime::Podman, comp)),
                _ if kube => return Some(make(ContainerRuntime::Containerd, comp)),
                _ => {}
            }
        }
    }
    None
}

/// `kubepods-besteffort-pod1b2c_3d4e.slice` or `pod1b2c-3d4e` → the pod uid with dashes.
fn pod_uid_of(comp: &str) -> Option<String> {
    let rest = comp.strip_suffix(".slice").unwrap_or(comp);
    let start = rest.rfind("pod")?;
    let uid = rest.get(start + 3..)?;
    let ok = uid.len() >= 32
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'_' || b == b'-');
    ok.then(|| uid.replace('_', "-"))
}

/// Recognise a port forwarder from its process name and command line. `host_port` and `proto`
/// select the right mapping of a pasta command line that forwards several ports.
#[must_use]
pub fn parse_forwarder(
    name: Option<&str>,
    cmdline: &[String],
    host_port: u16,
    proto: Proto,
) -> Option<Forwarder> {
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    let argv0 = cmdline.first().map(|a| base(a));
    let is = |want: &str| {
        name.is_some_and(|n| n == want)
            || argv0
                .as_deref()
                .is_some_and(|a| a == want || a.split_whitespace().next() == Some(want))
    };
    if is("docker-proxy") || is("rootlesskit-docker-proxy") {
        let address = flag_value(cmdline, "container-ip");
        let port = flag_value(cmdline, "container-port").and_then(|p| p.parse().ok());
        return Some(Forwarder {
            kind: ForwarderKind::DockerProxy,
            container_address: address,
            container_port: port,
        });
    }
    if is("rootlessport") || is("rootlessport-child") {
        return Some(Forwarder {
            kind: ForwarderKind::RootlessPort,
            container_address: None,
            container_port: None,
        });
    }
    if is("pasta") || is("pasta.avx2") {
        return Some(Forwarder {
            kind: ForwarderKind::Pasta,
            container_address: None,
            container_port: pasta_target(cmdline, host_port, proto),
        });
    }
    None
}

/// The value of `-name V`, `--name V`, `-name=V` or `--name=V`.
fn flag_value(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            continue;
        };
        if flag == name {
            return it.next().cloned();
        }
        if let Some(v) = flag.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_string());
        }
    }
    None
}

/// The namespace-side port pasta forwards `host_port` to, from `-t`/`--tcp-ports` (or
/// `-u`/`--udp-ports`) specs as pasta(1) describes them: `8080`, `8080:80`, `127.0.0.1/8080:80`,
/// `192.0.2.1%eth0/22`, `8000-8010:9000-9010`, comma-separated lists, exclusions (`~3000-3010`;
/// a spec of exclusions only forwards every other port unchanged) and `auto` (ports bound in
/// the namespace, forwarded unchanged: pasta's default when no spec is given). `none` and specs
/// that cannot be read give `None`. The first spec that forwards the port decides.
fn pasta_target(args: &[String], host_port: u16, proto: Proto) -> Option<u16> {
    let (short, long) = match proto {
        Proto::Tcp => ("-t", "--tcp-ports"),
        Proto::Udp => ("-u", "--udp-ports"),
    };
    let mut it = args.iter().skip(1);
    let mut any_spec = false;
    while let Some(arg) = it.next() {
        if arg == "--" {
            break;
        }
        let spec = if arg == short || arg == long {
            it.next().map(String::as_str)
        } else if let Some(v) = arg.strip_prefix(&format!("{long}=")) {
            Some(v)
        } else {
            arg.strip_prefix(short).filter(|v| !v.is_empty())
        };
        let Some(spec) = spec else { continue };
        any_spec = true;
        if let Some(port) = pasta_spec(spec, host_port) {
            return Some(port);
        }
    }
    // pasta forwards `auto` by default.
    (!any_spec).then_some(host_port)
}

/// One `-t`/`-u` spec: the namespace port `host_port` goes to, `None` when the spec does not
/// forward it.
fn pasta_spec(spec: &str, host_port: u16) -> Option<u16> {
    match spec {
        "auto" => return Some(host_port),
        "none" | "" => return None,
        _ => {}
    }
    let range = |s: &str| -> Option<(u16, u16)> {
        match s.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse().ok()?, b.parse().ok()?);
                (a <= b).then_some((a, b))
            }
            None => {
                let p = s.parse().ok()?;
                Some((p, p))
            }
        }
    };
    let mut includes = 0;
    let mut mapped = None;
    for item in spec.split(',') {
        // Strip an address (`127.0.0.1/`, `::1/`, `192.0.2.1%eth0/`).
        let item = item.rsplit('/').next().unwrap_or(item);
        if let Some(excluded) = item.strip_prefix('~') {
            let (a, b) = range(excluded)?;
            if (a..=b).contains(&host_port) {
                return None;
            }
            continue;
        }
        includes += 1;
        let (host, target) = match item.split_once(':') {
            Some((h, t)) => (h, Some(t)),
            None => (item, None),
        };
        let (start, end) = range(host)?;
        if mapped.is_some() || !(start..=end).contains(&host_port) {
            continue;
        }
        let offset = host_port - start;
        mapped = match target {
            None => Some(host_port),
            Some(t) => {
                let (ts, te) = range(t)?;
                ts.checked_add(offset).filter(|p| *p <= te.max(ts))
            }
        };
    }
    if includes == 0 {
        // Only exclusions: every other port, unchanged.
        return Some(host_port);
    }
    mapped
}

/// A network namespace a pasta command line names: `--netns NAME` (or `/run/netns/NAME`), or a
/// target PID (`pasta [OPTION]... PID`, `--netns /proc/PID/ns/net`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsRef {
    /// A namespace under `/run/netns`.
    Name(String),
    /// The namespace of a process.
    Pid(u32),
}

/// pasta options that take a value (pasta(1)), so a value is not taken for the target PID.
const PASTA_VALUE_OPTIONS: [&str; 47] = [
    "-l",
    "--log-file",
    "--log-size",
    "-p",
    "--pcap",
    "-P",
    "--pid",
    "-m",
    "--mtu",
    "-a",
    "--address",
    "-n",
    "--netmask",
    "-M",
    "--mac-addr",
    "-g",
    "--gateway",
    "-i",
    "--interface",
    "-o",
    "--outbound",
    "--outbound-if4",
    "--outbound-if6",
    "-D",
    "--dns",
    "--dns-forward",
    "-S",
    "--search",
    "-s",
    "--socket",
    "-F",
    "--fd",
    "-t",
    "--tcp-ports",
    "-u",
    "--udp-ports",
    "-I",
    "--ns-ifname",
    "-T",
    "--tcp-ns",
    "-U",
    "--udp-ns",
    "--userns",
    "--runas",
    "--map-host-loopback",
    "--map-guest-addr",
    "--ns-mac-addr",
];

/// The namespace a pasta command line names, if any (`None` also for a path that is neither
/// `/run/netns/NAME` nor `/proc/PID/ns/net`, and for a command pasta starts itself).
#[must_use]
pub fn pasta_netns(args: &[String]) -> Option<NsRef> {
    let from_path = |v: &str| -> Option<NsRef> {
        if !v.contains('/') {
            return (!v.is_empty() && v != "." && v != "..").then(|| NsRef::Name(v.to_owned()));
        }
        if let Some(name) = v
            .strip_prefix("/run/netns/")
            .or(v.strip_prefix("/var/run/netns/"))
        {
            return (!name.is_empty() && !name.contains('/')).then(|| NsRef::Name(name.to_owned()));
        }
        v.strip_prefix("/proc/")
            .and_then(|r| r.strip_suffix("/ns/net"))
            .and_then(|pid| pid.parse().ok())
            .map(NsRef::Pid)
    };
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--netns" {
            return it.next().and_then(|v| from_path(v));
        }
        if let Some(v) = arg.strip_prefix("--netns=") {
            return from_path(v);
        }
        if arg == "--" {
            let first = it.next()?;
            return first.parse().ok().filter(|p| *p > 0).map(NsRef::Pid);
        }
        if PASTA_VALUE_OPTIONS.contains(&arg.as_str()) {
            it.next();
            continue;
        }
        if arg.starts_with('-') {
            continue;
        }
        // The first operand: a PID, or a command pasta runs in a namespace of its own.
        return arg.parse().ok().filter(|p| *p > 0).map(NsRef::Pid);
    }
    None
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

/// The `Listen*=` lines of a systemd socket unit that match `port`/`proto`
/// (`ListenStream=8080`, `ListenStream=[::]:8080`, `ListenDatagram=0.0.0.0:53`).
#[must_use]
pub fn socket_unit_listens_on(unit_text: &str, port: u16, proto: Option<Proto>) -> bool {
    unit_text.lines().any(|line| {
        let Some((key, value)) = line.trim().split_once('=') else {
            return false;
        };
        let line_proto = match key.trim() {
            "ListenStream" => Proto::Tcp,
            "ListenDatagram" => Proto::Udp,
            _ => return false,
        };
        if proto.is_some_and(|p| p != line_proto) {
            return false;
        }
        let value = value.trim();
        let port_text = value.rsplit(':').next().unwrap_or(value);
        // `/run/foo.sock` and other non-numeric values are not inet sockets.
        port_text.parse::<u16>().ok() == Some(port)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ancestor;

    const ID: &str = "3f4e6b1a2c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";

    #[test]
    fn cgroup_paths() {
        type Want<'a> = (Option<&'a str>, Option<u32>, Option<(&'a str, bool)>);
        let docker_v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        let podman_user = format!(
            "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope\n"
        );
        let kube = format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-{ID}.scope\n"
        );
        let docker_v1 = format!("12:pids:/docker/{ID}\n11:name=systemd:/docker/{ID}\n");
        let kube_v1 =
            format!("4:memory:/kubepods/besteffort/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/{ID}\n");
        let crio = format!(
            "0::/kubepods.slice/kubepods-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/crio-{ID}.scope\n"
        );
        let podman_root = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
        let u_docker = format!("docker-{ID}.scope");
        let u_libpod = format!("libpod-{ID}.scope");
        let u_cri_containerd = format!("cri-containerd-{ID}.scope");
        let u_crio = format!("crio-{ID}.scope");
        let cases: Vec<(&str, Want)> = vec![
            (
                "0::/system.slice/nginx.service\n",
                (Some("nginx.service"), None, None),
            ),
            ("0::/\n", (None, None, None)),
            ("", (None, None, None)),
            (
                "0::/user.slice/user-1000.slice/session-3.scope\n",
                (Some("session-3.scope"), None, None),
            ),
            (
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-dev.service\n",
                (Some("app-dev.service"), Some(1000), None),
            ),
            (
                "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n",
                (Some("user@1000.service"), None, None),
            ),
            ("0::/init.scope\n", (Some("init.scope"), None, None)),
            (
                "11:name=systemd:/system.slice/ssh.service\n10:pids:/system.slice/ssh.service\n0::/\n",
                (Some("ssh.service"), None, None),
            ),
            (
                &docker_v2,
                (Some(u_docker.as_str()), None, Some(("docker", false))),
            ),
            (
                &podman_user,
                (Some(u_libpod.as_str()), Some(1000), Some(("podman", false))),
            ),
            (
                &kube,
                (
                    Some(u_cri_containerd.as_str()),
                    None,
                    Some(("containerd", true)),
                ),
            ),
            (&docker_v1, (None, None, Some(("docker", false)))),
            (&kube_v1, (None, None, Some(("containerd", true)))),
            (&crio, (Some(u_crio.as_str()), None, Some(("cri-o", true)))),
            (
                &podman_root,
                (Some(u_libpod.as_str()), None, Some(("podman", false))),
            ),
            // This machine's memory controller names a job, not a container.
            (
                "4:memory:/process_api/a3c0ceb3d494ad2329fc1ef6500822f4\n0::/\n",
                (None, None, None),
            ),
            (
                "0::/system.slice/docker.service\n",
                (Some("docker.service"), None, None),
            ),
            (
                "0::/system.slice/libpod-conmon-abc.scope\n",
                (Some("libpod-conmon-abc.scope"), None, None),
            ),
        ];
        for (text, (unit, manager, container)) in cases {
            let info = parse_cgroup(text);
            assert_eq!(info.unit.as_deref(), unit, "{text}");
            assert_eq!(info.user_manager, manager, "{text}");
            let got = info
                .container
                .as_ref()
                .map(|c| (c.runtime.as_str(), c.pod_uid.is_some()));
            assert_eq!(got, container, "{text}");
            if let Some(c) = &info.container {
                assert_eq!(c.id, ID, "{text}");
                if let Some(uid) = &c.pod_uid {
                    assert_eq!(uid, "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901");
                }
            }
        }
        assert_eq!(
            parse_cgroup("0::/system.slice/nginx.service\n")
                .path
                .as_deref(),
            Some("/system.slice/nginx.service")
        );
    }

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn forwarders() {
        type Want<'a> = Option<(&'a str, Option<&'a str>, Option<u16>)>;
        let cases: Vec<(Option<&str>, &str, u16, Proto, Want)> = vec![
            (
                Some("docker-proxy"),
                "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80",
                8080,
                Proto::Tcp,
                Some(("docker-proxy", Some("172.17.0.2"), Some(80))),
            ),
            (
                Some("docker-proxy"),
                "/usr/libexec/docker/docker-proxy -proto udp -host-ip :: -host-port 5353 -container-ip fd00::2 -container-port 53 -use-listen-fd",
                5353,
                Proto::Udp,
                Some(("docker-proxy", Some("fd00::2"), Some(53))),
            ),
            (
                None,
                "docker-proxy --container-ip=10.88.0.5 --container-port=443",
                8443,
                Proto::Tcp,
                Some(("docker-proxy", Some("10.88.0.5"), Some(443))),
            ),
            (
                Some("rootlessport"),
                "rootlessport",
                8080,
                Proto::Tcp,
                Some(("rootlessport", None, None)),
            ),
            (
                Some("exe"),
                "/usr/libexec/podman/rootlessport",
                8080,
                Proto::Tcp,
                Some(("rootlessport", None, None)),
            ),
            (
                Some("pasta"),
                "/usr/bin/pasta --config-net -t 8080:80 -t 127.0.0.1/9090:90 -u 5353:53 --netns /run/user/1000/netns/netns-1",
                9090,
                Proto::Tcp,
                Some(("pasta", None, Some(90))),
            ),
            (
                Some("pasta"),
                "/usr/bin/pasta --config-net --tcp-ports=8000-8010:9000-9010 --netns /run/user/1000/netns/x",
                8003,
                Proto::Tcp,
                Some(("pasta", None, Some(9003))),
            ),
            (
                Some("pasta"),
                "/usr/bin/pasta --config-net -t 8080:80 -u 5353:53",
                5353,
                Proto::Udp,
                Some(("pasta", None, Some(53))),
            ),
            (
                Some("pasta"),
                "pasta -t 7000",
                7000,
                Proto::Tcp,
                Some(("pasta", None, Some(7000))),
            ),
            (
                Some("pasta"),
                "pasta -t 2000-5000,~3000-3010",
                3005,
                Proto::Tcp,
                Some(("pasta", None, None)),
            ),
            (
                Some("pasta"),
                "pasta -t 2000-5000,~3000-3010",
                4000,
                Proto::Tcp,
                Some(("pasta", None, Some(4000))),
            ),
            (
                Some("pasta"),
                "pasta -t ~20000-20010",
                8080,
                Proto::Tcp,
                Some(("pasta", None, Some(8080))),
            ),
            (
                Some("pasta"),
                "pasta -t 192.0.2.1%eth0/22",
                22,
                Proto::Tcp,
                Some(("pasta", None, Some(22))),
            ),
            (
                Some("pasta"),
                "pasta -t [::1]/8443:443",
                8443,
                Proto::Tcp,
                Some(("pasta", None, Some(443))),
            ),
            (
                Some("pasta.avx2"),
                "pasta.avx2 -t8080:80",
                8080,
                Proto::Tcp,
                Some(("pasta", None, Some(80))),
            ),
            (
                Some("pasta"),
                "pasta -t 8000-8010:9000-9005",
                8008,
                Proto::Tcp,
                Some(("pasta", None, None)),
            ),
            (
                Some("pasta"),
                "pasta -t none -u none",
                8080,
                Proto::Tcp,
                Some(("pasta", None, None)),
            ),
            (
                Some("pasta"),
                "pasta --config-net",
                8080,
                Proto::Tcp,
                Some(("pasta", None, Some(8080))),
            ),
            (
                Some("pasta"),
                "pasta -t auto",
                8080,
                Proto::Tcp,
                Some(("pasta", None, Some(8080))),
            ),
            (
                Some("pasta"),
                "pasta -t 80-70 -t x:y -t 65535:65535-1",
                75,
                Proto::Tcp,
                Some(("pasta", None, None)),
            ),
            (
                Some("pasta"),
                "pasta -t 8080:80 -- sh -c 'nc -t 9090'",
                9090,
                Proto::Tcp,
                Some(("pasta", None, None)),
            ),
            (
                Some("nginx"),
                "nginx: master process /usr/sbin/nginx",
                80,
                Proto::Tcp,
                None,
            ),
            (
                Some("python3"),
                "python3 -m http.server --container-port 80",
                8000,
                Proto::Tcp,
                None,
            ),
        ];
        for (name, cmd, port, proto, want) in cases {
            let got = parse_forwarder(name, &argv(cmd), port, proto);
            let got = got.as_ref().map(|f| {
                (
                    f.kind.as_str(),
                    f.container_address.as_deref(),
                    f.container_port,
                )
            });
            assert_eq!(got, want, "{cmd}");
        }
    }

    #[test]
    fn pasta_namespaces() {
        let cases: Vec<(&str, Option<NsRef>)> = vec![
            (
                "pasta --config-net -t 8080:80 --netns ctr",
                Some(NsRef::Name("ctr".into())),
            ),
            (
                "pasta --netns=/run/netns/blue -t 80",
                Some(NsRef::Name("blue".into())),
            ),
            ("pasta --netns /proc/4242/ns/net", Some(NsRef::Pid(4242))),
            ("pasta --netns /run/user/1000/netns/netns-1", None),
            ("pasta --config-net -t 8080:80 4242", Some(NsRef::Pid(4242))),
            ("pasta -t 8080 -u 53 4242", Some(NsRef::Pid(4242))),
            ("pasta -t 8080", None),
            (
                "pasta -P /run/pasta.pid -m 1500 -- 77",
                Some(NsRef::Pid(77)),
            ),
            ("pasta --config-net sh -c 'sleep 1'", None),
            ("pasta 0", None),
            ("pasta 99999999999", None),
            ("pasta --netns", None),
            ("pasta --netns ..", None),
            ("pasta", None),
        ];
        for (cmd, want) in cases {
            assert_eq!(pasta_netns(&argv(cmd)), want, "{cmd}");
        }
    }

    /// Only a `.service` the service manager started the holder in is restarted by systemd.
    #[test]
    fn restarting_units() {
        let parent = |pid: u32, name: &str| Ancestor {
            pid,
            name: Some(name.into()),
        };
        let owner = |unit: &str, parents: Vec<Ancestor>| OwnerDetails {
            unit: Some(unit.into()),
            parents,
            ..OwnerDetails::test_owner(10)
        };
        let cases = [
            (
                owner("nginx.service", vec![parent(1, "systemd")]),
                Some("nginx.service"),
            ),
            (owner("nginx.service", vec![]), Some("nginx.service")),
            (
                owner("dev.service", vec![parent(900, "systemd")]),
                Some("dev.service"),
            ),
            // A shell's child inside a CI runner's service.
            (owner("runner.service", vec![parent(40, "bash")]), None),
            (owner("session-2.scope", vec![parent(1, "systemd")]), None),
            (owner("user@1000.service", vec![parent(1, "systemd")]), None),
            (OwnerDetails::test_owner(11), None),
        ];
        for (o, want) in cases {
            assert_eq!(restarting_unit(&o), want, "{:?}", o.unit);
        }
    }

    #[test]
    fn socket_units() {
        let unit = "[Socket]\nListenStream=631\nListenStream=/run/cups/cups.sock\nListenDatagram=[::]:5353\n";
        assert!(socket_unit_listens_on(unit, 631, None));
        assert!(socket_unit_listens_on(unit, 631, Some(Proto::Tcp)));
        assert!(!socket_unit_listens_on(unit, 631, Some(Proto::Udp)));
        assert!(socket_unit_listens_on(unit, 5353, Some(Proto::Udp)));
        assert!(!socket_unit_listens_on(unit, 80, None));
        assert!(socket_unit_listens_on(
            "ListenStream = 127.0.0.1:8080",
            8080,
            None
        ));
    }
}
