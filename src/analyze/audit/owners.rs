//! Who owns a finding's socket beyond its processes: the systemd unit and the container of every
//! owning pid (from the text of `/proc/PID/cgroup`, parsed by [`crate::analyze::owner`]), and for
//! a container port forwarder the address and port it forwards to, as a note.
//!
//! Pure: the command passes the platform's look-up of cgroup texts to [`owner_cgroups`], which
//! asks it once per pid [`owner_pids`] names; this module must not read them itself, and must
//! not print.

use std::collections::{BTreeSet, HashMap};

use crate::analyze::owner::{parse_cgroup, parse_forwarder};
use crate::model::Finding;
use crate::model::{CgroupInfo, Forwarder};

/// The pids whose cgroup the audit reads: every owning process of a finding, in order.
#[must_use]
pub fn owner_pids(findings: &[Finding]) -> BTreeSet<u32> {
    findings
        .iter()
        .flat_map(|f| f.socket.processes.iter().map(|p| p.pid))
        .collect()
}

/// Join the owners of `findings` with their cgroup texts: one `read` per pid [`owner_pids`]
/// names, keeping the pids it answered for. `read` is the platform's look-up
/// (`Platform::cgroup`), passed in so this stays pure.
#[must_use]
pub fn owner_cgroups(
    findings: &[Finding],
    read: impl Fn(u32) -> Option<String>,
) -> HashMap<u32, String> {
    owner_pids(findings)
        .into_iter()
        .filter_map(|pid| Some((pid, read(pid)?)))
        .collect()
}

/// Parse the cgroup texts the command read (pid → text of `/proc/PID/cgroup`).
#[must_use]
pub fn parse_cgroups(texts: &HashMap<u32, String>) -> HashMap<u32, CgroupInfo> {
    texts
        .iter()
        .map(|(&pid, text)| (pid, parse_cgroup(text)))
        .collect()
}

/// Name each finding's owners beyond their processes: the systemd unit and the container of
/// every owning pid (from `cgroups`, parsed `/proc/PID/cgroup` texts), and for a container port
/// forwarder the address and port it forwards to, as a note.
pub fn attach_owners(findings: &mut [Finding], cgroups: &HashMap<u32, CgroupInfo>) {
    for f in findings.iter_mut() {
        for p in &f.socket.processes {
            let Some(info) = cgroups.get(&p.pid) else {
                continue;
            };
            // Session and user-manager scopes say nothing an administrator would stop.
            if let Some(unit) = info
                .unit
                .as_ref()
                .filter(|u| u.ends_with(".service") || u.ends_with(".socket"))
            {
                if !f.units.contains(unit) {
                    f.units.push(unit.clone());
                }
            }
            if let Some(c) = &info.container {
                if !f.containers.iter().any(|k| k.id == c.id) {
                    f.containers.push(c.clone());
                }
            }
        }
        for p in &f.socket.processes {
            let fwd = parse_forwarder(p.name.as_deref(), &p.cmdline, f.socket.port, f.socket.proto);
            if let Some(Forwarder {
                kind,
                container_address: Some(addr),
                container_port,
                ..
            }) = fwd
            {
                let target = match container_port {
                    Some(port) => format!("{addr}:{port}"),
                    None => addr,
                };
                let note = format!("{kind} forwards this port to the container at {target}");
                if !f.notes.contains(&note) {
                    f.notes.push(note);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::base;
    use super::*;
    use crate::model::{AddrClass, ProcessInfo, SocketEntry};

    #[test]
    fn owners_are_named_by_unit_container_and_forwarder_target() {
        let mut f = base(&redis_entry_for_owner_test());
        f.socket.processes[0].name = Some("docker-proxy".into());
        f.socket.processes[0].cmdline = [
            "/usr/bin/docker-proxy",
            "-proto",
            "tcp",
            "-host-ip",
            "0.0.0.0",
            "-host-port",
            "6379",
            "-container-ip",
            "172.17.0.2",
            "-container-port",
            "6379",
        ]
        .map(String::from)
        .into();
        let pid = f.socket.processes[0].pid;
        let cgroups = HashMap::from([(pid, parse_cgroup("0::/system.slice/docker.service\n"))]);
        let mut findings = vec![f];
        attach_owners(&mut findings, &cgroups);
        assert_eq!(findings[0].units, vec!["docker.service"]);
        assert!(findings[0].containers.is_empty());
        assert!(
            findings[0]
                .notes
                .iter()
                .any(|n| n.contains("172.17.0.2:6379")),
            "{:?}",
            findings[0].notes
        );
        let cgroups = HashMap::from([(
            pid,
            parse_cgroup(&format!(
                "0::/system.slice/docker-{}.scope\n",
                "ab".repeat(32)
            )),
        )]);
        attach_owners(&mut findings, &cgroups);
        assert_eq!(findings[0].containers.len(), 1);
        assert_eq!(findings[0].containers[0].runtime, "docker");
    }

    #[test]
    fn cgroups_are_read_once_per_owning_pid() {
        use std::cell::RefCell;
        let owned = |pids: &[u32]| {
            let mut e = redis_entry_for_owner_test();
            e.processes = pids
                .iter()
                .map(|&pid| ProcessInfo::test_process(pid, "w"))
                .collect();
            base(&e)
        };
        // (findings' owners, pids the platform answers for, the join)
        let cases = [
            (vec![], vec![1, 2], vec![]),
            (vec![vec![7], vec![7, 8]], vec![7, 8], vec![7, 8]),
            // A pid without a readable cgroup (exited, another namespace) is left out.
            (vec![vec![7, 9]], vec![9], vec![9]),
            (vec![vec![]], vec![1], vec![]),
        ];
        for (owners, known, want) in cases {
            let findings: Vec<Finding> = owners.iter().map(|p| owned(p)).collect();
            let asked = RefCell::new(Vec::new());
            let joined = owner_cgroups(&findings, |pid| {
                asked.borrow_mut().push(pid);
                known.contains(&pid).then(|| format!("0::/{pid}.service\n"))
            });
            let mut got: Vec<u32> = joined.keys().copied().collect();
            got.sort_unstable();
            assert_eq!(got, want, "{owners:?}");
            for (pid, text) in &joined {
                assert_eq!(text, &format!("0::/{pid}.service\n"));
            }
            // Each owning pid asked once, in order.
            let pids: Vec<u32> = owner_pids(&findings).into_iter().collect();
            assert_eq!(*asked.borrow(), pids, "{owners:?}");
        }
    }

    fn redis_entry_for_owner_test() -> SocketEntry {
        SocketEntry {
            inode: Some(9),
            processes: vec![ProcessInfo {
                fds: Some(vec![4]),
                uid: Some(0),
                user: Some("root".into()),
                ppid: Some(1),
                ..ProcessInfo::test_process(4321, "redis-server")
            }],
            service: Some("redis".into()),
            port_range: crate::model::IanaRange::Registered,
            exposure: Some(AddrClass::Public),
            ..SocketEntry::test_listener("0.0.0.0", 6379)
        }
    }
}
