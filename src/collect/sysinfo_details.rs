//! Process details through sysinfo with a targeted refresh of just the given pids (never a full
//! refresh), shared by every platform, and the recovery of names the kernel truncated.
//!
//! It must not enumerate all processes: callers pass the few pids that own sockets.

use std::collections::BTreeMap;
use std::sync::Arc;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::model::ProcessInfo;

/// The kernel's `comm` holds at most this many bytes (TASK_COMM_LEN - 1).
const COMM_MAX: usize = 15;

/// Details of `pids` through sysinfo's targeted refresh; `None` when sysinfo cannot start.
/// `user` is left `None`: names are resolved by the caller's cache.
#[must_use]
pub fn details(pids: &[u32]) -> Option<BTreeMap<u32, ProcessInfo>> {
    let mut sys = System::new().ok()?;
    let wanted: Vec<Pid> = pids.iter().map(|&p| Pid::from_u32(p)).collect();
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&wanted),
        false,
        ProcessRefreshKind::nothing()
            // nothing() still reads tasks unless told otherwise.
            .without_tasks()
            .with_exe(UpdateKind::OnlyIfNotSet)
            .with_cmd(UpdateKind::OnlyIfNotSet)
            .with_user(UpdateKind::OnlyIfNotSet),
    );
    let mut out = BTreeMap::new();
    for &pid in pids {
        let Some(p) = sys.process(Pid::from_u32(pid)) else {
            continue;
        };
        let cmdline: Vec<String> = p
            .cmd()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let exe = p
            .exe()
            .map(|e| e.to_string_lossy().into_owned())
            .filter(|e| !e.is_empty());
        let comm = p.name().to_string_lossy().into_owned();
        #[cfg(unix)]
        let uid = p.user_id().map(|u| **u);
        #[cfg(not(unix))]
        let uid = None;
        out.insert(
            pid,
            ProcessInfo {
                pid,
                fds: Some(Vec::new()),
                name: Some(full_name(&comm, exe.as_deref(), &cmdline).into()),
                cmdline: cmdline.into(),
                exe: exe.map(Arc::from),
                uid,
                user: None,
                ppid: p.parent().map(Pid::as_u32),
                start_time: Some(p.start_time()).filter(|&t| t > 0),
            },
        );
    }
    Some(out)
}

/// The kernel truncates `comm` to 15 bytes; recover the full name from the executable or the
/// first argument when they extend it.
pub(crate) fn full_name(comm: &str, exe: Option<&str>, cmdline: &[String]) -> String {
    if comm.len() < COMM_MAX {
        return comm.to_string();
    }
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let candidates = exe
        .map(base)
        .into_iter()
        .chain(cmdline.first().map(|a| base(a)));
    for candidate in candidates {
        if candidate.len() > comm.len() && candidate.starts_with(comm) {
            return candidate;
        }
    }
    comm.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untruncates_long_names() {
        let cmd = vec!["/usr/bin/containerd-shim-runc-v2".to_string()];
        assert_eq!(
            full_name("containerd-shim", None, &cmd),
            "containerd-shim-runc-v2"
        );
        assert_eq!(
            full_name(
                "containerd-shim",
                Some("/usr/bin/containerd-shim-runc-v2"),
                &[]
            ),
            "containerd-shim-runc-v2"
        );
        assert_eq!(full_name("nginx", Some("/usr/sbin/nginx"), &[]), "nginx");
        // A 15-byte name that the exe does not extend stays as it is.
        assert_eq!(
            full_name("abcdefghijklmno", Some("/bin/other"), &[]),
            "abcdefghijklmno"
        );
    }
}
