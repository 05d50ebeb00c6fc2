//! Details of the few processes that own sockets: name, command line, executable, uid, parent,
//! start time, and the raw cgroup text.
//!
//! With the default `/proc` root the details come from sysinfo with a targeted refresh of just
//! these pids (never a full refresh). sysinfo cannot be pointed at another root, so for
//! `--proc-root DIR` the same fields are read directly from `DIR/PID/{stat,status,cmdline,exe}`.
//! A process that exited meanwhile is simply absent from the result. Every file is read through
//! [`crate::collect::files`], so a FIFO or device in a fixture tree counts as unreadable
//! instead of blocking, and no read is unbounded.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use crate::collect::PROC_ROOT;
use crate::collect::files::{proc_bytes, proc_text};
use crate::collect::sysinfo_details::{self, full_name};
use crate::model::ProcessInfo;

/// Look up details of `pids`. `user` is left `None`: names are resolved by the caller's cache.
#[must_use]
pub fn details(proc_root: &Path, pids: &[u32]) -> BTreeMap<u32, ProcessInfo> {
    if pids.is_empty() {
        return BTreeMap::new();
    }
    let via_sysinfo = if proc_root == Path::new(PROC_ROOT) {
        sysinfo_details::details(pids)
    } else {
        None
    };
    let mut found = via_sysinfo.unwrap_or_else(|| {
        let clock = start_clock(proc_root);
        pids.iter()
            .filter_map(|&pid| read_one(proc_root, pid, clock).map(|info| (pid, info)))
            .collect()
    });
    for info in found.values_mut() {
        if info.cmdline.is_empty() && info.exe.is_none() {
            from_live_thread(proc_root, info);
        }
    }
    found
}

/// Fill the command line and executable of a process whose main thread has exited while
/// other threads live on: `PID/cmdline` and `PID/exe` then read as empty (the main thread has
/// no memory map any more), but every other thread's `PID/task/TID/` still has them. Kernel
/// threads, which have neither anywhere, are left as they are.
fn from_live_thread(proc_root: &Path, info: &mut ProcessInfo) {
    let task = proc_root.join(info.pid.to_string()).join("task");
    let Ok(entries) = fs::read_dir(&task) else {
        return;
    };
    let pid = info.pid.to_string();
    for entry in entries.flatten() {
        if entry.file_name().as_encoded_bytes() == pid.as_bytes() {
            continue;
        }
        let dir = entry.path();
        let cmdline = crate::collect::files::proc_bytes(&dir.join("cmdline"))
            .map(|b| split_cmdline(&b))
            .unwrap_or_default();
        if cmdline.is_empty() {
            continue;
        }
        info.exe = fs::read_link(dir.join("exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|e| !e.is_empty())
            .map(Arc::from);
        info.cmdline = cmdline.into();
        return;
    }
}

/// Read one process's details straight from `proc_root/PID`. `None` when it no longer exists.
#[cfg(test)]
fn read_process(proc_root: &Path, pid: u32) -> Option<ProcessInfo> {
    read_one(proc_root, pid, start_clock(proc_root))
}

/// Boot time (seconds since the epoch) and clock ticks per second, read once per lookup:
/// `proc_root/stat` is costly to generate (one line per CPU and every interrupt counter).
fn start_clock(proc_root: &Path) -> Option<(u64, u64)> {
    boot_time(proc_root).zip(clock_ticks())
}

fn read_one(proc_root: &Path, pid: u32, clock: Option<(u64, u64)>) -> Option<ProcessInfo> {
    let dir = proc_root.join(pid.to_string());
    let stat = proc_text(&dir.join("stat"))?;
    let parsed = parse_stat(&stat)?;
    let cmdline = proc_bytes(&dir.join("cmdline"))
        .map(|b| split_cmdline(&b))
        .unwrap_or_default();
    let exe = fs::read_link(dir.join("exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|e| !e.is_empty());
    let uid = proc_text(&dir.join("status")).and_then(|s| parse_status_uid(&s));
    let start_time = clock.map(|(btime, hz)| btime + parsed.start_ticks / hz);
    Some(ProcessInfo {
        pid,
        fds: Some(Vec::new()),
        name: Some(full_name(&parsed.comm, exe.as_deref(), &cmdline).into()),
        cmdline: cmdline.into(),
        exe: exe.map(Arc::from),
        uid,
        user: None,
        ppid: Some(parsed.ppid).filter(|&p| p > 0),
        start_time,
    })
}

/// The raw text of `proc_root/PID/cgroup`, `None` when unreadable.
#[must_use]
pub fn cgroup(proc_root: &Path, pid: u32) -> Option<String> {
    proc_text(&proc_root.join(pid.to_string()).join("cgroup"))
}

/// Parent pid of `pid` from `proc_root/PID/stat`.
#[must_use]
pub fn parent_of(proc_root: &Path, pid: u32) -> Option<u32> {
    let stat = proc_text(&proc_root.join(pid.to_string()).join("stat"))?;
    parse_stat(&stat).map(|s| s.ppid).filter(|&p| p > 0)
}

/// Name (`comm`) and parent pid of `pid` from one read of `proc_root/PID/stat`; the parent is
/// `None` for pid 1 and kernel roots.
#[must_use]
pub fn comm_and_parent(proc_root: &Path, pid: u32) -> Option<(String, Option<u32>)> {
    let stat = proc_text(&proc_root.join(pid.to_string()).join("stat"))?;
    parse_stat(&stat).map(|s| (s.comm, Some(s.ppid).filter(|&p| p > 0)))
}

/// True for a kernel thread (no command line, child of kthreadd or pid 2 itself).
#[must_use]
pub fn is_kernel_thread(proc_root: &Path, pid: u32) -> bool {
    if pid == 2 {
        return true;
    }
    let dir = proc_root.join(pid.to_string());
    let empty_cmdline = proc_bytes(&dir.join("cmdline")).is_some_and(|b| b.is_empty());
    empty_cmdline && parent_of(proc_root, pid) == Some(2)
}

#[derive(Debug, PartialEq, Eq)]
struct Stat {
    comm: String,
    ppid: u32,
    start_ticks: u64,
}

/// Parse `/proc/PID/stat`. The name sits in parentheses and may itself contain spaces and
/// parentheses, so the fields are read after the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); ppid is field 4, starttime field 22.
    let ppid = rest.get(1)?.parse().ok()?;
    let start_ticks = rest.get(19)?.parse().ok()?;
    Some(Stat {
        comm,
        ppid,
        start_ticks,
    })
}

fn parse_status_uid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let trimmed = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn boot_time(proc_root: &Path) -> Option<u64> {
    let stat = proc_text(&proc_root.join("stat"))?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn clock_ticks() -> Option<u64> {
    // SAFETY: sysconf has no preconditions; it only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&hz| hz > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_name() {
        let text = "1234 (my (odd) name) S 77 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let stat = parse_stat(text).unwrap();
        assert_eq!(
            stat,
            Stat {
                comm: "my (odd) name".into(),
                ppid: 77,
                start_ticks: 4242
            }
        );
    }

    #[test]
    fn status_uid_is_real_uid() {
        let text = "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1\t1\t1\t1\n";
        assert_eq!(parse_status_uid(text), Some(1000));
        assert_eq!(parse_status_uid("Name:\tx\n"), None);
    }

    #[test]
    fn cmdline_split() {
        assert_eq!(
            split_cmdline(b"nginx: master\0-g\0daemon off;\0"),
            vec!["nginx: master", "-g", "daemon off;"]
        );
        assert!(split_cmdline(b"").is_empty());
    }

    #[test]
    fn own_reader_and_sysinfo_agree_on_self() {
        let me = std::process::id();
        let direct = read_process(Path::new(PROC_ROOT), me).unwrap();
        let via = sysinfo_details::details(&[me])
            .unwrap()
            .remove(&me)
            .unwrap();
        assert_eq!(direct.name, via.name);
        assert_eq!(direct.cmdline, via.cmdline);
        assert_eq!(direct.exe, via.exe);
        assert_eq!(direct.uid, via.uid);
        assert_eq!(direct.ppid, via.ppid);
        let (a, b) = (direct.start_time.unwrap(), via.start_time.unwrap());
        assert!(a.abs_diff(b) <= 1, "start times {a} vs {b}");
    }

    #[test]
    fn fixture_process() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("55");
        fs::create_dir_all(&p).unwrap();
        fs::write(
            p.join("stat"),
            "55 (redis-server) S 1 55 55 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0",
        )
        .unwrap();
        fs::write(p.join("cmdline"), b"/usr/bin/redis-server 127.0.0.1:6379\0").unwrap();
        fs::write(p.join("status"), "Uid:\t101\t101\t101\t101\n").unwrap();
        fs::write(dir.path().join("stat"), "cpu 0 0\nbtime 1700000000\n").unwrap();
        let info = read_process(dir.path(), 55).unwrap();
        assert_eq!(info.name.as_deref(), Some("redis-server"));
        assert_eq!(info.uid, Some(101));
        assert_eq!(info.ppid, Some(1));
        assert_eq!(info.exe, None);
        assert_eq!(
            info.start_time,
            Some(1_700_000_000 + 500 / clock_ticks().unwrap())
        );
        assert!(read_process(dir.path(), 56).is_none());
        assert!(details(dir.path(), &[55, 56]).contains_key(&55));
    }
}
