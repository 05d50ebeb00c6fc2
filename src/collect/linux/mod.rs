//! Linux backend: netlink sock_diag for the socket table, one pass over `/proc/*/fd` for owners,
//! sysinfo (or the same files under `--proc-root`) for process details.

pub mod process;
pub mod procfs;
pub mod sock_diag;

use std::collections::HashSet;
use std::path::Path;

use crate::collect::{CollectError, Phases, SocketQuery};
use crate::model::{Family, OwnerScan, Proto, RawSocket};

/// Dump the sockets the query asks for, one netlink request per (protocol, family).
///
/// # Errors
/// When netlink cannot be opened or a reply cannot be decoded.
pub fn sockets(query: &SocketQuery) -> Result<Vec<RawSocket>, CollectError> {
    let mut out = Vec::new();
    for (proto, states) in [
        (Proto::Tcp, query.tcp_states),
        (Proto::Udp, query.udp_states),
    ] {
        if states == 0 {
            continue;
        }
        for (family, wanted) in [(Family::Ipv4, query.ipv4), (Family::Ipv6, query.ipv6)] {
            if wanted {
                out.extend(sock_diag::dump_filtered(
                    proto,
                    family,
                    states,
                    query.local_ports,
                )?);
            }
        }
    }
    Ok(out)
}

/// The socket table with owners: dump, keep what `keep` accepts, then (when `with_owners`) one
/// `/proc` pass recording only the kept sockets' inodes. Both steps are timed into `phases`.
///
/// # Errors
/// When the socket table cannot be read.
pub fn socket_table(
    query: &SocketQuery,
    keep: &dyn Fn(&RawSocket) -> bool,
    with_owners: bool,
    proc_root: &Path,
    phases: &mut Phases,
) -> Result<(Vec<RawSocket>, OwnerScan), CollectError> {
    let mut table = phases.time("socket dump (netlink)", || sockets(query))?;
    table.retain(|s| keep(s));
    let scan = if with_owners {
        let wanted: HashSet<u64> = table.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
        phases.time("owner scan (/proc/*/fd)", || {
            procfs::scan_owners(proc_root, Some(&wanted))
        })
    } else {
        OwnerScan::default()
    };
    Ok((table, scan))
}

/// Details of the given pids (see [`process::details`]).
#[must_use]
pub fn processes(
    proc_root: &Path,
    pids: &[u32],
) -> std::collections::BTreeMap<u32, crate::model::ProcessInfo> {
    process::details(proc_root, pids)
}

/// True when this process may read other users' `/proc/PID/fd`: effective uid 0, or both
/// CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH in the effective set.
#[must_use]
pub fn privileged(proc_root: &Path) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    // Opening another user's /proc/PID/fd needs CAP_DAC_READ_SEARCH; reading its links needs
    // CAP_SYS_PTRACE. One without the other sees no owner at all.
    const CAP_DAC_READ_SEARCH: u32 = 2;
    const CAP_SYS_PTRACE: u32 = 19;
    const BOTH: u64 = (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_SYS_PTRACE);
    crate::collect::files::proc_text(&proc_root.join("self/status"))
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & BOTH == BOTH)
}
