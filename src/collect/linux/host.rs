//! Linux host and owner facts beyond the socket table: the raw cgroup text, the parent chain and
//! the kernel-thread flag of one owning process (`portscope who`), the port sysctls, the
//! interfaces with `route_localnet` set (`audit`), and the systemd socket units that may name a
//! pid-1 listener.
//!
//! Every `/proc` read goes through the caller's proc root (`--proc-root`) and the one bounded
//! reader; the sysctls are those of the reader's network namespace. Nothing here interprets
//! what it reads beyond splitting numbers: cgroup paths and unit files are parsed by
//! `analyze::owner`.

use std::fs;
use std::path::Path;

use crate::collect::files::proc_text;
use crate::collect::linux::process;
use crate::model::{Ancestor, OwnerRaw, PortList, PortRange, PortSettings};

/// Longest parent chain followed (a guard against a cycle in a fixture tree).
const MAX_DEPTH: usize = 64;

/// Read the cgroup, the parent chain and the kernel-thread flag of `pid`.
#[must_use]
pub(crate) fn owner_raw(proc_root: &Path, pid: u32) -> OwnerRaw {
    // One read of each stat file gives an ancestor's name and the next parent.
    let mut ancestors = Vec::new();
    let mut next = process::parent_of(proc_root, pid);
    while let Some(parent) = next {
        if ancestors.len() >= MAX_DEPTH || parent == pid {
            break;
        }
        let stat = process::comm_and_parent(proc_root, parent);
        next = stat.as_ref().and_then(|(_, p)| *p).filter(|_| parent != 1);
        ancestors.push(Ancestor {
            pid: parent,
            name: stat.map(|(name, _)| name),
        });
    }
    OwnerRaw {
        cgroup: process::cgroup(proc_root, pid),
        ancestors,
        kernel_thread: process::is_kernel_thread(proc_root, pid),
    }
}

/// Read the port sysctls from `proc_root/sys/net/ipv4`.
#[must_use]
pub(crate) fn port_settings(proc_root: &Path) -> PortSettings {
    let dir = proc_root.join("sys/net/ipv4");
    let read = |name: &str| proc_text(&dir.join(name));
    PortSettings {
        ephemeral_range: read("ip_local_port_range").and_then(|t| {
            let mut it = t.split_whitespace().map(str::parse::<u16>);
            match (it.next(), it.next()) {
                (Some(Ok(start)), Some(Ok(end))) => Some(PortRange { start, end }),
                _ => None,
            }
        }),
        reserved_ports: read("ip_local_reserved_ports").map(|t| PortList::parse(t.trim())),
        unprivileged_port_start: read("ip_unprivileged_port_start")
            .and_then(|t| t.trim().parse().ok()),
        excluded_ranges: None,
    }
}

/// Directories systemd loads socket units from, most specific first.
const UNIT_DIRS: [&str; 5] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/run/systemd/generator",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Interfaces whose `net.ipv4.conf.<if>.route_localnet` is 1, read from
/// `<proc_root>/sys/net/ipv4/conf/*/route_localnet` (`all` included, `default` skipped: it only
/// seeds interfaces created later). The sysctls are those of the reader's network namespace.
/// Where the files do not exist (a fixture tree without them) the list is empty.
#[must_use]
pub(crate) fn route_localnet(proc_root: &Path) -> Vec<String> {
    let dir = proc_root.join("sys/net/ipv4/conf");
    let Ok(read) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = read
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name != "default")
        .filter(|name| {
            proc_text(&dir.join(name).join("route_localnet")).is_some_and(|v| v.trim() == "1")
        })
        .collect();
    out.sort();
    out
}

/// `net.ipv4.ip_forward` and `net.ipv6.conf.all.forwarding` under `<proc_root>/sys`, of the
/// reader's network namespace; `None` where a file cannot be read.
#[must_use]
pub(crate) fn ip_forwarding(proc_root: &Path) -> [Option<bool>; 2] {
    let read = |path: &str| proc_text(&proc_root.join(path)).map(|v| v.trim() != "0");
    [
        read("sys/net/ipv4/ip_forward"),
        read("sys/net/ipv6/conf/all/forwarding"),
    ]
}

/// Every `*.socket` unit file as (unit name, text); the first file of a name wins, as in
/// systemd's own lookup order. Unreadable directories are skipped.
#[must_use]
pub(crate) fn socket_units() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for dir in UNIT_DIRS {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".socket") || out.iter().any(|(n, _)| *n == name) {
                continue;
            }
            if let Ok(text) = fs::read_to_string(entry.path()) {
                out.push((name, text));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_chain_and_sysctls() {
        let dir = tempfile::tempdir().unwrap();
        let stat = |pid: u32, comm: &str, ppid: u32| {
            let p = dir.path().join(pid.to_string());
            fs::create_dir_all(&p).unwrap();
            fs::write(
                p.join("stat"),
                format!("{pid} ({comm}) S {ppid} 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0"),
            )
            .unwrap();
            fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
            fs::write(p.join("cmdline"), format!("{comm}\0")).unwrap();
        };
        stat(1, "systemd", 0);
        stat(40, "bash", 1);
        stat(77, "python3", 40);
        fs::write(
            dir.path().join("77/cgroup"),
            "0::/user.slice/session-2.scope\n",
        )
        .unwrap();
        let raw = owner_raw(dir.path(), 77);
        let chain: Vec<(u32, Option<&str>)> = raw
            .ancestors
            .iter()
            .map(|a| (a.pid, a.name.as_deref()))
            .collect();
        assert_eq!(chain, vec![(40, Some("bash")), (1, Some("systemd"))]);
        assert_eq!(
            raw.cgroup.as_deref(),
            Some("0::/user.slice/session-2.scope\n")
        );
        assert!(!raw.kernel_thread);

        let net = dir.path().join("sys/net/ipv4");
        fs::create_dir_all(&net).unwrap();
        fs::write(net.join("ip_local_port_range"), "32768\t60999\n").unwrap();
        fs::write(net.join("ip_local_reserved_ports"), "8080,9000-9010\n").unwrap();
        fs::write(net.join("ip_unprivileged_port_start"), "1024\n").unwrap();
        let s = port_settings(dir.path());
        let ephemeral = s.ephemeral_range.unwrap();
        assert_eq!((ephemeral.start, ephemeral.end), (32768, 60999));
        let reserved = s.reserved_ports.unwrap();
        assert_eq!(reserved.as_str(), "8080,9000-9010");
        assert!(reserved.contains(9010) && !reserved.contains(9011));
        assert_eq!(s.unprivileged_port_start, Some(1024));
        assert_eq!(
            port_settings(Path::new("/nonexistent")),
            PortSettings::default()
        );
    }

    #[test]
    fn route_localnet_reads_the_proc_root() {
        let root = tempfile::tempdir().unwrap();
        let conf = root.path().join("sys/net/ipv4/conf");
        for (dev, value) in [("all", "0"), ("default", "1"), ("eth0", "1\n"), ("lo", "0")] {
            fs::create_dir_all(conf.join(dev)).unwrap();
            fs::write(conf.join(dev).join("route_localnet"), value).unwrap();
        }
        fs::create_dir_all(conf.join("wg0")).unwrap();
        assert_eq!(route_localnet(root.path()), vec!["eth0".to_owned()]);
        assert!(route_localnet(&root.path().join("missing")).is_empty());
    }
}
