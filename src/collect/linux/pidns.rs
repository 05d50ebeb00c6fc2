//! Which PID namespace the pids read through `--proc-root` belong to, and how one of those
//! processes is found again in portscope's own namespace: `portscope kill` must signal the
//! holder, never whatever process has the same number here.
//!
//! A proc filesystem shows the pids of the PID namespace it was mounted for. Its `self` resolves
//! only when portscope is visible in that namespace, and the `NSpid:` line of `self/status`
//! lists portscope's pid there and in each nested namespace down to its own: one entry means the
//! namespace is portscope's own. One process seen through two proc filesystems is recognised by
//! what does not depend on the viewer: its innermost namespace (`ns/pid`), its pid there (the
//! last `NSpid:` entry) and its start time.
//!
//! Every read goes through the proc root it is given, except [`own_namespace_processes_in`] and
//! the `own_inode` of [`pid_namespace`], which by design read portscope's own `/proc`. Reads
//! refuse anything but regular files and are bounded, so a fixture tree with a FIFO cannot hang
//! them.
//! Nothing here decides whom to signal (`analyze::kill` does).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use crate::collect::PROC_ROOT as OWN_PROC;
use crate::model::{PidNamespace, ProcIdentity};

/// What a proc filesystem's `self` says about portscope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfView {
    /// `self` does not resolve: portscope is not visible in that namespace (a container's proc
    /// filesystem seen from the host), or the tree is not a proc filesystem at all.
    Unresolved,
    /// The `NSpid:` line of `self/status`: portscope's pid in that namespace, then in each
    /// nested one down to its own.
    NsPid(Vec<u32>),
    /// A kernel without `NSpid:` (before 4.1): only the pid `self` resolves to.
    Pid(u32),
}

/// How a proc filesystem's PID namespace relates to portscope's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// It is portscope's own: pids need no translation.
    Own,
    /// It contains portscope's namespace (a host's `/proc` seen from a container).
    Ancestor,
    /// portscope is not in it: a nested namespace (a container's), an unrelated one, or not a
    /// proc filesystem.
    Other,
}

/// Decide the relation from what `self` shows; `own_pid` is `getpid()`, portscope's pid in its
/// own (innermost) namespace.
#[must_use]
pub fn relation(view: &SelfView, own_pid: u32) -> Relation {
    match view {
        SelfView::NsPid(list) => match list.as_slice() {
            [only] if *only == own_pid => Relation::Own,
            [_, .., last] if *last == own_pid => Relation::Ancestor,
            _ => Relation::Other,
        },
        // Without NSpid a coincidence cannot be ruled out; this is the best such kernels allow.
        SelfView::Pid(pid) if *pid == own_pid => Relation::Own,
        SelfView::Pid(_) | SelfView::Unresolved => Relation::Other,
    }
}

/// Read `proc_root/self` and its `status`. A tree that is not a mounted proc filesystem (a
/// fixture, or a forged tree whose `self` is a symlink to portscope's own pid) is always
/// `Unresolved`: only the kernel can vouch that `self` is portscope, so only a real proc
/// filesystem may be taken for portscope's own namespace.
#[must_use]
pub fn self_view(proc_root: &Path) -> SelfView {
    if !is_procfs(proc_root) {
        return SelfView::Unresolved;
    }
    let Some(pid) = fs::read_link(proc_root.join("self"))
        .ok()
        .and_then(|target| target.to_str().and_then(|t| t.parse::<u32>().ok()))
    else {
        return SelfView::Unresolved;
    };
    match read_small(&proc_root.join("self/status")).and_then(|t| parse_nspid(&t)) {
        Some(list) => SelfView::NsPid(list),
        None => SelfView::Pid(pid),
    }
}

/// The PID namespace of `proc_root` when it is not portscope's own; `None` when it is (the
/// usual `/proc`).
#[must_use]
pub fn pid_namespace(proc_root: &Path) -> Option<PidNamespace> {
    let rel = relation(&self_view(proc_root), std::process::id());
    if rel == Relation::Own {
        return None;
    }
    Some(PidNamespace {
        proc_root: proc_root.display().to_string(),
        inode: namespace_inode(proc_root),
        own_inode: ns_link(&Path::new(OWN_PROC).join("self/ns/pid")),
        ancestor: rel == Relation::Ancestor,
    })
}

/// How many processes [`namespace_inode`] tries when pid 1's link is unreadable.
const NAMESPACE_PROBES: usize = 256;

/// The inode of the PID namespace `proc_root` was mounted for: that of a process living in it.
/// Pid 1 is its init; when its `ns/pid` is unreadable (a protected init), any process whose
/// `NSpid:` has one entry lives there too (kernel threads, in the initial namespace).
fn namespace_inode(proc_root: &Path) -> Option<u64> {
    ns_link(&proc_root.join("1/ns/pid")).or_else(|| {
        fs::read_dir(proc_root)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .take(NAMESPACE_PROBES)
            .find_map(|pid| {
                let dir = proc_root.join(pid.to_string());
                let nspid = read_small(&dir.join("status")).and_then(|t| parse_nspid(&t))?;
                (nspid.len() == 1)
                    .then(|| ns_link(&dir.join("ns/pid")))
                    .flatten()
            })
    })
}

/// Read the identity of `pid` through `proc_root`; fields that cannot be read are `None`.
#[must_use]
pub fn identity(proc_root: &Path, pid: u32) -> ProcIdentity {
    let dir = proc_root.join(pid.to_string());
    ProcIdentity {
        ns: ns_link(&dir.join("ns/pid")),
        ns_pid: read_small(&dir.join("status"))
            .and_then(|t| parse_nspid(&t))
            .and_then(|list| list.last().copied()),
        start_ticks: read_small(&dir.join("stat")).and_then(|t| parse_start_ticks(&t)),
    }
}

/// The processes of portscope's own `/proc` whose innermost PID namespace is `ns`, with their
/// identities: the candidates for a process seen through another proc root. `None` when
/// `/proc` is not portscope's own proc filesystem (then nothing can be translated).
#[must_use]
pub fn own_namespace_processes_in(ns: u64) -> Option<Vec<(u32, ProcIdentity)>> {
    let own = Path::new(OWN_PROC);
    if relation(&self_view(own), std::process::id()) != Relation::Own {
        return None;
    }
    let entries = fs::read_dir(own).ok()?;
    let mut out: Vec<(u32, ProcIdentity)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| ns_link(&own.join(format!("{pid}/ns/pid"))) == Some(ns))
        .map(|pid| (pid, identity(own, pid)))
        .collect();
    out.sort_unstable_by_key(|(pid, _)| *pid);
    Some(out)
}

/// True when `proc_root/PID/fd` holds one of `inodes` (a `socket:[N]` link), or, when the
/// main thread's table shows none, the fd table of one of its other threads
/// (`proc_root/PID/task/TID/fd`): a process whose main thread has exited keeps its sockets
/// there, and the owner scan finds it the same way.
///
/// # Errors
/// When the fd directory cannot be listed: the process is gone (`NotFound`) or its descriptors
/// are not readable (`PermissionDenied`).
pub fn holds_any_socket(proc_root: &Path, pid: u32, inodes: &BTreeSet<u64>) -> io::Result<bool> {
    let process = proc_root.join(pid.to_string());
    if fd_dir_holds(&process.join("fd"), inodes)? {
        return Ok(true);
    }
    let Ok(tasks) = fs::read_dir(process.join("task")) else {
        return Ok(false);
    };
    for task in tasks.filter_map(Result::ok) {
        if task.file_name().to_str() == Some(pid.to_string().as_str()) {
            continue;
        }
        if fd_dir_holds(&task.path().join("fd"), inodes).unwrap_or(false) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn fd_dir_holds(dir: &Path, inodes: &BTreeSet<u64>) -> io::Result<bool> {
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        // An fd closed between the listing and the readlink is simply not a holder.
        if let Ok(target) = fs::read_link(entry.path()) {
            if target
                .to_str()
                .and_then(parse_socket_link)
                .is_some_and(|inode| inodes.contains(&inode))
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// True when `path` is the root of a mounted proc filesystem (`statfs` type `PROC_SUPER_MAGIC`).
fn is_procfs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into a zeroed struct of the right type; `c_path` is NUL-terminated
    // and outlives the call.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &raw mut buf) };
    #[allow(clippy::unnecessary_cast, clippy::cast_lossless)]
    let magic = buf.f_type as i64;
    rc == 0 && magic == PROC_SUPER_MAGIC
}

/// The namespace inode a `ns/pid` link names (`pid:[4026531836]`).
fn ns_link(path: &Path) -> Option<u64> {
    let target = fs::read_link(path).ok()?;
    parse_ns_link(target.to_str()?)
}

/// `pid:[4026531836]` → 4026531836.
#[must_use]
pub fn parse_ns_link(target: &str) -> Option<u64> {
    target
        .strip_prefix("pid:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The `NSpid:` line of a `status` file: the pid in the proc filesystem's namespace first, then
/// in each nested namespace down to the process's own. `None` when absent or malformed.
#[must_use]
pub fn parse_nspid(status: &str) -> Option<Vec<u32>> {
    let rest = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    let list: Vec<u32> = rest
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    (!list.is_empty()).then_some(list)
}

/// Field 22 (`starttime`, clock ticks since boot) of a `stat` line; the name in parentheses may
/// hold spaces and parentheses, so fields are counted after the last `)`.
fn parse_start_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    // After `)`: field 3 (state) is index 0, so field 22 is index 19.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// `socket:[12345]` → 12345.
fn parse_socket_link(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// A small regular file as text through the one bounded, non-blocking proc reader: `None` for
/// anything else (a FIFO or device in a fixture tree would block or never end).
fn read_small(path: &Path) -> Option<String> {
    crate::collect::files::proc_text(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nspid_lines() {
        let cases: &[(&str, Option<Vec<u32>>)] = &[
            ("Name:\tx\nNSpid:\t4242\n", Some(vec![4242])),
            ("NSpid:\t16183\t16178\n", Some(vec![16183, 16178])),
            ("NSpid:\t9\t5\t1\nNSsid:\t1\n", Some(vec![9, 5, 1])),
            ("Name:\tx\nPid:\t7\n", None),
            ("NSpid:\n", None),
            ("NSpid:\t12\tx\n", None),
            ("NSpid:\t-1\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(&parse_nspid(text), want, "{text:?}");
        }
    }

    #[test]
    fn ns_links_and_stat_fields() {
        assert_eq!(parse_ns_link("pid:[4026531836]"), Some(4_026_531_836));
        assert_eq!(parse_ns_link("net:[4026531836]"), None);
        assert_eq!(parse_ns_link("pid:[]"), None);
        assert_eq!(
            parse_start_ticks("55 (a (b) c) S 1 55 55 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0"),
            Some(4242)
        );
        assert_eq!(parse_start_ticks("55 (x) S 1"), None);
        assert_eq!(parse_socket_link("socket:[77]"), Some(77));
        assert_eq!(parse_socket_link("pipe:[77]"), None);
    }

    #[test]
    fn relations() {
        use Relation::{Ancestor, Other, Own};
        let me = 500;
        let cases: &[(SelfView, Relation)] = &[
            (SelfView::NsPid(vec![500]), Own),
            // A host's /proc seen from a container where portscope is pid 500.
            (SelfView::NsPid(vec![16_000, 500]), Ancestor),
            (SelfView::NsPid(vec![16_000, 40, 500]), Ancestor),
            // self resolves to someone else: not a namespace portscope can trust.
            (SelfView::NsPid(vec![501]), Other),
            (SelfView::NsPid(vec![500, 7]), Other),
            // A container's /proc seen from the host: portscope is not in it.
            (SelfView::Unresolved, Other),
            (SelfView::Pid(500), Own),
            (SelfView::Pid(7), Other),
        ];
        for (view, want) in cases {
            assert_eq!(relation(view, me), *want, "{view:?}");
        }
    }

    #[test]
    fn own_proc_is_own_namespace() {
        assert_eq!(pid_namespace(Path::new(OWN_PROC)), None);
        let me = identity(Path::new(OWN_PROC), std::process::id());
        assert!(me.ns.is_some() && me.start_ticks.is_some(), "{me:?}");
        assert_eq!(me.ns_pid, Some(std::process::id()));
        // This process is found among the processes of its own namespace.
        let found = own_namespace_processes_in(me.ns.unwrap()).unwrap();
        assert!(found.contains(&(std::process::id(), me)), "{found:?}");
    }

    #[test]
    fn fixture_tree_is_another_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let ns = pid_namespace(dir.path()).expect("not portscope's own");
        assert_eq!(ns.inode, None);
        assert!(!ns.ancestor);
        assert!(ns.to_string().contains("not portscope's own"));
        // A FIFO where a status file should be does not hang the reads.
        let p = dir.path().join("9");
        fs::create_dir_all(&p).unwrap();
        let fifo = std::ffi::CString::new(p.join("status").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        fs::write(
            p.join("stat"),
            "9 (x) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0",
        )
        .unwrap();
        assert_eq!(
            identity(dir.path(), 9),
            ProcIdentity {
                ns: None,
                ns_pid: None,
                start_ticks: Some(77)
            }
        );
    }

    /// Review of issue 8: a process that named itself with bytes that are not UTF-8
    /// (`prctl(PR_SET_NAME, b"\xff\xfe…")`) had no readable identity, so kill refused it while
    /// `--dry-run` promised to signal it.
    #[test]
    fn identity_survives_a_name_that_is_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("4242");
        fs::create_dir_all(&p).unwrap();
        let mut stat =
            b"4242 (\xff\xfe) x) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0".to_vec();
        stat[6] = 0xff;
        stat[7] = 0xfe;
        fs::write(p.join("stat"), &stat).unwrap();
        fs::write(p.join("status"), b"Name:\t\xff\xfe\nNSpid:\t4242\t7\n").unwrap();
        let id = identity(dir.path(), 4242);
        assert_eq!((id.ns_pid, id.start_ticks), (Some(7), Some(12345)));
    }

    /// Review of issue 8: a process whose main thread exited holds its sockets in the fd table
    /// of another thread; kill's last check looked only at `PID/fd` and refused it.
    #[test]
    fn holder_behind_an_exited_main_thread_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("77");
        fs::create_dir_all(p.join("fd")).unwrap();
        fs::create_dir_all(p.join("task/77/fd")).unwrap();
        fs::create_dir_all(p.join("task/78/fd")).unwrap();
        std::os::unix::fs::symlink("socket:[555]", p.join("task/78/fd/3")).unwrap();
        let wanted = BTreeSet::from([555]);
        assert!(holds_any_socket(dir.path(), 77, &wanted).unwrap());
        assert!(!holds_any_socket(dir.path(), 77, &BTreeSet::from([556])).unwrap());
    }

    /// Review of issue 8: a forged tree whose `self` points at portscope's own pid (and whose
    /// `self/status` says so) was taken for portscope's own namespace, so its fd links were
    /// trusted for the last check before the signal. Only a mounted proc filesystem can be.
    #[test]
    fn a_forged_self_does_not_make_a_tree_our_own_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id().to_string();
        let p = dir.path().join(&me);
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("status"), format!("Name:\tx\nNSpid:\t{me}\n")).unwrap();
        std::os::unix::fs::symlink(&me, dir.path().join("self")).unwrap();
        assert_eq!(self_view(dir.path()), SelfView::Unresolved);
        assert!(pid_namespace(dir.path()).is_some());
        assert_eq!(
            relation(&self_view(Path::new(OWN_PROC)), std::process::id()),
            Relation::Own
        );
    }

    #[test]
    fn holds_own_socket() {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd()))
            .unwrap()
            .ino();
        let me = std::process::id();
        let proc = Path::new(OWN_PROC);
        assert!(holds_any_socket(proc, me, &BTreeSet::from([inode])).unwrap());
        assert!(!holds_any_socket(proc, me, &BTreeSet::from([1])).unwrap());
        assert!(holds_any_socket(proc, u32::MAX, &BTreeSet::from([inode])).is_err());
    }
}
