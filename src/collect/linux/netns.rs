//! Listeners in other network namespaces: one process per namespace other than portscope's
//! own is found through `PROC_ROOT/PID/ns/net`, and its `PROC_ROOT/PID/net/{tcp,tcp6}` (or
//! `udp`, `udp6`) — the socket table of that process's namespace — is searched for the port.
//! Bounded: at most [`MAX_NAMESPACES`] namespaces are read.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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
