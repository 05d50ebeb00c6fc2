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
/// `-u`/`--udp-ports`) specs such as `8080`, `8080:80`, `127.0.0.1/8080:80`, `8000-8010:9000-9010`
/// (several specs may be comma-separated).
fn pasta_target(args: &[String], host_port: u16, proto: Proto) -> Option<u16> {
    let (short, long) = match proto {
        Proto::Tcp => ("-t", "--tcp-ports"),
        Proto::Udp => ("-u", "--udp-ports"),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let spec = if arg == short || arg == long {
            it.next().map(String::as_str)
        } else {
            arg.strip_prefix(&format!("{long}="))
        };
        let Some(spec) = spec else { continue };
        for item in spec.split(',') {
            if let Some(port) = pasta_map(item, host_port) {
                return Some(port);
            }
        }
    }
    None
}

fn pasta_map(item: &str, host_port: u16) -> Option<u16> {
    // Strip an address (`127.0.0.1/` or `::1/`) and an interface (`%eth0`).
    let item = item.rsplit('/').next().unwrap_or(item);
    let (host, target) = match item.split_once(':') {
        Some((h, t)) => (h, Some(t)),
        None => (item, None),
    };
    let host = host.split('%').next().unwrap_or(host);
    let range = |s: &str| -> Option<(u16, u16)> {
        match s.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => {
                let p = s.parse().ok()?;
                Some((p, p))
            }
        }
    };
    let (start, end) = range(host)?;
    if !(start..=end).contains(&host_port) {
        return None;
    }
    let offset = host_port - start;
    match target {
        None => Some(host_port),
        Some(t) => range(t).and_then(|(ts, _)| ts.checked_add(offset)),
    }
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
