//! Listeners in other network namespaces: one process per namespace other than portscope's
//! own is found through `PROC_ROOT/PID/ns/net`, and its `PROC_ROOT/PID/net/{tcp,tcp6}` (or
//! `udp`, `udp6`) — the socket table of that process's namespace — is searched for the port.
//! Bounded: at most [`MAX_NAMESPACES`] namespaces are read.
//!
//! Also the namespaces a forwarder process (pasta, rootlessport) forwards into
//! ([`held_namespaces`]): the `net:[N]` targets of its descriptors and the namespaces of its
//! children, read only for the pids asked about and bounded per process.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::collect::files;
use crate::model::{ForeignListener, Proto};

/// At most this many other namespaces are read.
const MAX_NAMESPACES: usize = 512;

/// The namespace inode of a `net:[N]` link.
fn ns_inode(link: &Path) -> Option<u64> {
    let target = std::fs::read_link(link).ok()?;
    let text = target.to_str()?;
    text.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// At most this many forwarder processes are looked at.
const MAX_FORWARDERS: usize = 64;
/// At most this many descriptors of one process are read.
const MAX_FDS: usize = 4096;
/// At most this many tasks of one process, and children of all of them, are read.
const MAX_TASKS: usize = 256;
const MAX_CHILDREN: usize = 256;

/// The namespace inode a descriptor (`PROC_ROOT/PID/fd/N`) is open on. Opened through
/// `/proc/PID/ns/net` its link reads `net:[N]`; opened through a bind mount (`ip netns`'s
/// `/run/netns/NAME`, Podman's `/run/user/UID/netns/…`) it reads that path, and then the file it
/// leads to is taken when it lives on nsfs (the device of portscope's own namespace file), its
/// inode being the namespace's. Only paths under `/run`, `/var/run` and `/proc` are looked at
/// (`stat` on anything else, a network mount, could hang). A user or mount namespace passes the
/// nsfs test too; its inode never equals a network namespace's, so it links nothing.
fn held_namespace(fd: &Path, nsfs_dev: Option<u64>) -> Option<u64> {
    let target = std::fs::read_link(fd).ok()?;
    let text = target.to_str()?;
    if let Some(inode) = text
        .strip_prefix("net:[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
    {
        return Some(inode);
    }
    if !["/run/", "/var/run/", "/proc/"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        return None;
    }
    let meta = std::fs::metadata(fd).ok()?;
    (Some(meta.dev()) == nsfs_dev).then(|| meta.ino())
}

/// For each of `pids`: the network namespaces other than its own it holds a descriptor to or
/// a child of it lives in, sorted.
pub(crate) fn held_namespaces(proc_root: &Path, pids: &[u32]) -> BTreeMap<u32, Vec<u64>> {
    let mut out = BTreeMap::new();
    let nsfs_dev = std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.dev());
    for &pid in pids.iter().take(MAX_FORWARDERS) {
        let dir = proc_root.join(pid.to_string());
        let own = ns_inode(&dir.join("ns/net"));
        let mut found = BTreeSet::new();
        if let Ok(fds) = std::fs::read_dir(dir.join("fd")) {
            for fd in fds.take(MAX_FDS).flatten() {
                found.extend(held_namespace(&fd.path(), nsfs_dev));
            }
        }
        let mut children = Vec::new();
        if let Ok(tasks) = std::fs::read_dir(dir.join("task")) {
            for task in tasks.take(MAX_TASKS).flatten() {
                let Some(text) = files::proc_text(&task.path().join("children")) else {
                    continue;
                };
                children.extend(
                    text.split_ascii_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
                if children.len() >= MAX_CHILDREN {
                    break;
                }
            }
        }
        for child in children.into_iter().take(MAX_CHILDREN) {
            found.extend(ns_inode(&proc_root.join(child.to_string()).join("ns/net")));
        }
        if let Some(own) = own {
            found.remove(&own);
        }
        out.insert(pid, found.into_iter().collect());
    }
    out
}

/// Listeners on `port` over `proto` in network namespaces other than portscope's own.
pub(crate) fn foreign_listeners(proc_root: &Path, port: u16, proto: Proto) -> Vec<ForeignListener> {
    let own = ns_inode(Path::new("/proc/self/ns/net"));
    let Ok(pids) = super::procfs::list_pids(proc_root) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for pid in pids {
        let dir = proc_root.join(pid.to_string());
        let Some(ns) = ns_inode(&dir.join("ns/net")) else {
            continue;
        };
        if Some(ns) == own || !seen.insert(ns) {
            continue;
        }
        if seen.len() > MAX_NAMESPACES {
            break;
        }
        let process = files::proc_text(&dir.join("comm")).map(|s| s.trim_end().to_owned());
        let (files_, state) = match proto {
            Proto::Tcp => (["net/tcp", "net/tcp6"], "0A"),
            Proto::Udp => (["net/udp", "net/udp6"], "07"),
        };
        for file in files_ {
            let Some(text) = files::proc_text(&dir.join(file)) else {
                continue;
            };
            for (address, p) in parse_table(&text, state) {
                if p == port {
                    out.push(ForeignListener {
                        netns: ns,
                        pid,
                        process: process.clone(),
                        proto,
                        address,
                        port,
                    });
                }
            }
        }
    }
    out
}

/// (address, port) of every line of a `/proc/net/{tcp,udp}[6]` table in `state` (hex).
fn parse_table(text: &str, state: &str) -> Vec<(IpAddr, u16)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let mut fields = line.split_ascii_whitespace();
        let (Some(_), Some(local), Some(_), Some(st)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if st != state {
            continue;
        }
        let Some((addr, port)) = local.split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port, 16) else {
            continue;
        };
        if let Some(addr) = hex_addr(addr) {
            out.push((addr, port));
        }
    }
    out
}

/// The kernel writes addresses as 32-bit words in host byte order.
fn hex_addr(hex: &str) -> Option<IpAddr> {
    let words: Option<Vec<u32>> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect();
    let words = words?;
    match words.as_slice() {
        [w] => Some(IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes()))),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            let v6 = Ipv6Addr::from(bytes);
            Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n   1: 0100007F:0016 0100007F:9C40 01 0\n";
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_table(tcp, "0A"),
                vec![("127.0.0.1".parse().unwrap(), 8080)]
            );
            let v6 = "h\n 0: 00000000000000000000000001000000:1F90 0 0A\n";
            assert_eq!(parse_table(v6, "0A"), vec![("::1".parse().unwrap(), 8080)]);
        }
    }
}
