//! The investigation of one port, for `portscope who` and the first half of `portscope kill`:
//! the collected pieces (the sockets on the port, each holder's raw facts, the bind probe, the
//! port sysctls, the systemd socket units, the current time) joined into an [`Investigation`]
//! with each holder's details, the verdict and the advice (`analyze::advice`). It also decides
//! which protocols the bind probe should try.
//!
//! Pure: every input is collected elsewhere and passed in; nothing here reads the system, the
//! clock, or prints.

use std::collections::BTreeMap;

use crate::analyze::advice::{AdviceInput, advice};
use crate::analyze::owner;
use crate::model::{
    Investigation, OwnerDetails, PidNamespace, PortSpec, PortVerdict, ProcessInfo, Proto,
    SocketEntry,
};
use crate::model::{OwnerRaw, PortSettings};
use crate::model::{ProbeOutcome, ProbeResult};

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
        name: info.name.as_deref().map(str::to_owned),
        cmdline: info.cmdline.to_vec(),
        exe: info.exe.as_deref().map(str::to_owned),
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

/// True when the systemd `.socket` units are needed to explain the holders of `entries`: only
/// when pid 1 holds one of them, since only the service manager holds a port for socket
/// activation and [`owner_details`] consults the units for pid 1 alone. Reading them walks the
/// unit directories, so it is skipped otherwise.
#[must_use]
pub fn needs_socket_units(entries: &[SocketEntry]) -> bool {
    entries
        .iter()
        .any(|e| e.processes.iter().any(|p| p.pid == 1))
}

/// The verdict on a port from its listed sockets and the bind probe: never "free" while the
/// probe's own bind finds the port in use.
#[must_use]
pub fn verdict(sockets: &[SocketEntry], probe: &[ProbeResult]) -> PortVerdict {
    if !sockets.is_empty() {
        PortVerdict::InUse
    } else if probe.iter().any(|p| p.result == ProbeOutcome::InUse) {
        PortVerdict::InUseUnlisted
    } else {
        PortVerdict::Free
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

/// The collected pieces an investigation is made of.
#[derive(Debug, Clone)]
pub struct Pieces {
    /// The port asked about.
    pub spec: PortSpec,
    /// Every socket on it, in the listing's order.
    pub sockets: Vec<SocketEntry>,
    /// Why the sockets may be an incomplete picture.
    pub warnings: Vec<String>,
    /// What `/proc/PID` says about each holder of [`holders`]; a holder missing here is
    /// treated as one of which nothing could be read.
    pub owner_raw: BTreeMap<u32, OwnerRaw>,
    /// The systemd `.socket` units as (name, text), consulted only for a pid-1 holder.
    pub socket_units: Vec<(String, String)>,
    /// The port sysctls.
    pub settings: PortSettings,
    /// The bind probe (empty when none was run).
    pub probe: Vec<ProbeResult>,
    /// The current time, seconds since the Unix epoch.
    pub now: u64,
    /// The PID namespace the pids belong to when the proc root is not portscope's own.
    pub pid_namespace: Option<PidNamespace>,
}

/// Join the pieces: each holder's details (by pid), the verdict and the advice.
#[must_use]
pub fn investigate(pieces: Pieces) -> Investigation {
    let Pieces {
        spec,
        sockets,
        warnings,
        owner_raw,
        socket_units,
        settings,
        probe,
        now,
        pid_namespace,
    } = pieces;
    let unread = OwnerRaw::default();
    let owners: Vec<OwnerDetails> = holders(&sockets)
        .values()
        .map(|(info, proto)| {
            let raw = owner_raw.get(&info.pid).unwrap_or(&unread);
            owner_details(info, raw, spec, *proto, now, &socket_units)
        })
        .collect();
    let verdict = verdict(&sockets, &probe);
    let advice = advice(&AdviceInput {
        spec,
        sockets: &sockets,
        owners: &owners,
        settings: &settings,
        probe: &probe,
        pid_namespace: pid_namespace.as_ref(),
    });
    Investigation {
        spec,
        sockets,
        owners,
        probe,
        verdict,
        settings,
        advice,
        warnings,
        pid_namespace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::advice::stop_advice;
    use crate::analyze::owner::restarting_unit;
    use crate::model::Ancestor;
    use crate::model::PortVerdict as Verdict;
    use crate::model::{OwnerUnknown, SocketState};

    #[test]
    fn socket_units_are_read_only_for_a_pid_1_holder() {
        let held = |pids: &[u32]| SocketEntry {
            processes: pids
                .iter()
                .map(|&pid| ProcessInfo::test_process(pid, "p"))
                .collect(),
            ..SocketEntry::test_listener("0.0.0.0", 8080)
        };
        // (holders of each socket, units needed)
        let cases: [(Vec<Vec<u32>>, bool); 5] = [
            (vec![], false),
            (vec![vec![]], false),
            (vec![vec![700, 701]], false),
            (vec![vec![1]], true),
            (vec![vec![700], vec![], vec![42, 1]], true),
        ];
        for (holders, want) in cases {
            let entries: Vec<SocketEntry> = holders.iter().map(|h| held(h)).collect();
            assert_eq!(needs_socket_units(&entries), want, "{holders:?}");
        }
    }

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

    fn info(pid: u32, name: &str, cmd: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            fds: Some(vec![3]),
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
            let got = stop_advice(&d, spec(8080), None);
            assert!(got.contains(want), "{want}\n  in: {got}");
        }
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

    /// The join: holders by pid with the protocol of their first socket, raw facts where read
    /// (none for pid 1 here), socket units for pid 1 only, ages from `now`, and everything
    /// else passed through.
    #[test]
    fn investigate_joins_the_pieces() {
        let tcp = SocketEntry {
            processes: vec![
                info(42, "nginx", "nginx -g x"),
                info(1, "systemd", "/sbin/init"),
            ],
            ..entry(SocketState::Listen, "0.0.0.0", None)
        };
        let udp = SocketEntry {
            proto: Proto::Udp,
            processes: vec![info(42, "nginx", "nginx -g x")],
            ..entry(SocketState::Unconnected, "0.0.0.0", None)
        };
        let raw = OwnerRaw {
            cgroup: Some("0::/system.slice/nginx.service\n".into()),
            ancestors: vec![Ancestor {
                pid: 1,
                name: Some("systemd".into()),
            }],
            kernel_thread: false,
        };
        let probe = vec![probed(Proto::Tcp, "::", ProbeOutcome::Free)];
        let ns = PidNamespace {
            proc_root: "/proc/9/root/proc".into(),
            inode: Some(2),
            own_inode: Some(1),
            ancestor: false,
        };
        let found = investigate(Pieces {
            spec: spec(8080),
            sockets: vec![tcp, udp],
            warnings: vec!["partial".into()],
            owner_raw: BTreeMap::from([(42, raw)]),
            socket_units: vec![("web.socket".into(), "ListenStream=8080\n".into())],
            settings: PortSettings::default(),
            probe: probe.clone(),
            now: 4600,
            pid_namespace: Some(ns.clone()),
        });
        type Joined<'a> = (u32, Option<&'a str>, Option<&'a str>, Option<u64>);
        let owners: Vec<Joined> = found
            .owners
            .iter()
            .map(|o| {
                (
                    o.pid,
                    o.unit.as_deref(),
                    o.socket_unit.as_deref(),
                    o.age_seconds,
                )
            })
            .collect();
        assert_eq!(
            owners,
            vec![
                (1, None, Some("web.socket"), Some(3600)),
                (42, Some("nginx.service"), None, Some(3600)),
            ]
        );
        assert!(found.owners[0].socket_activated && found.owners[0].parents.is_empty());
        assert_eq!(found.verdict, Verdict::InUse);
        assert_eq!(found.sockets.len(), 2);
        assert_eq!(found.probe, probe);
        assert_eq!(found.warnings, vec!["partial".to_string()]);
        assert_eq!(found.shown_namespace(), Some(&ns));
        let has = |s: &str| found.advice.iter().any(|l| l.contains(s));
        assert!(has("`systemctl stop web.socket`"), "{:?}", found.advice);
        assert!(has("`systemctl stop nginx.service`"), "{:?}", found.advice);
    }
}
