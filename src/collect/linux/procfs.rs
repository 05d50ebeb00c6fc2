//! The one pass over `/proc/*/fd` that maps socket inodes to every (pid, fd) holding them.
//!
//! Every read goes through the `proc_root` the caller passes (`--proc-root`), so a container's
//! `/host/proc` or a fixture tree work like `/proc`. Per-process failures are counted in the
//! returned [`OwnerScan`], never fatal: permission denied (other users' processes without
//! privileges, or fds hidden even from root) and processes that exit during the scan.
//!
//! It must not read anything but the fd directories: process details are looked up afterwards,
//! only for the pids that matter.

use std::collections::HashSet;
use std::ffi::CStr;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::path::Path;

use crate::model::{FdRef, OwnerScan};

/// Below this many processes the scan stays on one thread: spawning costs more than it saves.
const PARALLEL_MIN_PROCESSES: usize = 256;

/// Scan `proc_root/*/fd` once and return the holders of socket inodes.
///
/// With `wanted` set, only those inodes are recorded (the scan itself still visits every fd:
/// the readlink is the cost, and a holder must not be missed). The pass is split over up to
/// four threads on large process tables.
#[must_use]
pub fn scan_owners(proc_root: &Path, wanted: Option<&HashSet<u64>>) -> OwnerScan {
    let pids = match list_pids(proc_root) {
        Ok(pids) => pids,
        Err(_) => {
            // An unreadable /proc is reported as "nothing scanned, everything denied" by the
            // caller's owner-unknown logic, never a panic.
            return OwnerScan {
                performed: true,
                ..OwnerScan::default()
            };
        }
    };
    let threads = if pids.len() < PARALLEL_MIN_PROCESSES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
    };
    let parts: Vec<Partial> = if threads <= 1 {
        vec![scan_pids(proc_root, &pids, wanted)]
    } else {
        let chunk = pids.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = pids
                .chunks(chunk)
                .map(|slice| scope.spawn(move || scan_pids(proc_root, slice, wanted)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Partial::default()))
                .collect()
        })
    };
    let mut scan = OwnerScan {
        performed: true,
        ..OwnerScan::default()
    };
    let mut empty = Vec::new();
    for part in parts {
        scan.processes_scanned += part.scanned;
        scan.vanished += part.vanished;
        scan.denied.extend(part.denied);
        empty.extend(part.empty);
        for (inode, fd) in part.found {
            scan.by_inode.entry(inode).or_default().push(fd);
        }
    }
    // A process whose main thread has exited while other threads live on shows an empty
    // `PID/fd`: its descriptors are only under `PID/task/TID/fd`. Those are read only when a
    // wanted socket is still without a holder, so a normal run pays nothing for it.
    let unfound = wanted.is_none_or(|w| w.iter().any(|i| !scan.by_inode.contains_key(i)));
    if unfound && !empty.is_empty() {
        let part = scan_threads(proc_root, &empty, wanted);
        for (inode, fd) in part.found {
            scan.by_inode.entry(inode).or_default().push(fd);
        }
        for pid in part.denied {
            if !scan.denied.contains(&pid) {
                scan.denied.push(pid);
            }
        }
    }
    for holders in scan.by_inode.values_mut() {
        holders.sort_unstable();
        // Threads sharing one descriptor table list the same (pid, fd) each.
        holders.dedup();
    }
    scan.denied.sort_unstable();
    scan
}

/// Which processes' descriptors the `/proc` scan could not read (sorted), and how many fd
/// directories it could open: what [`scan_owners`] reports as `denied` and
/// `processes_scanned`, found by reading one link per process (`PID/cwd`, and only when that is
/// refused the first descriptor's) instead of every descriptor's. The
/// denial is the kernel's ptrace access check, made per process, so one link tells. For a
/// scan that did not go through `/proc` (the BPF iterator) and must report the same.
#[must_use]
pub fn denied(proc_root: &Path) -> (Vec<u32>, usize) {
    let (Ok(pids), Ok(root)) = (list_pids(proc_root), File::open(proc_root)) else {
        return (Vec::new(), 0);
    };
    let mut buf = Buffers::new();
    let mut denied = Vec::new();
    let mut scanned = 0;
    for pid in pids {
        // First one `readlink` of `PID/cwd`: the kernel makes the same ptrace access check for
        // it as for the descriptors' links, so a process it allows is not denied (one syscall
        // instead of an open, a listing and a readlink). Only a refused one is checked the
        // `/proc` scan's way, since that counts a process without descriptors as readable.
        buf.rel.clear();
        let _ = write!(buf.rel, "{pid}/cwd\0");
        let refused_cwd = CStr::from_bytes_with_nul(buf.rel.as_bytes()).is_ok_and(|path| {
            readlinkat(&root, path, &mut buf.link)
                .is_err_and(|e| e.kind() == io::ErrorKind::PermissionDenied)
        });
        if !refused_cwd {
            scanned += 1;
            continue;
        }
        buf.rel.clear();
        let _ = write!(buf.rel, "{pid}/fd\0");
        let dir = match open_dir_at(&root, &buf.rel) {
            Ok(dir) => dir,
            Err(err) => {
                if err.kind() == io::ErrorKind::PermissionDenied {
                    denied.push(pid);
                }
                continue;
            }
        };
        scanned += 1;
        let mut refused = false;
        let link = &mut buf.link;
        // A small buffer: the kernel lists only as many descriptors as fit, and reading stops
        // at the first link read (a full listing costs ~1 µs per descriptor).
        let listed = for_each_entry_while(&dir, &mut buf.dirents[..FIRST_ENTRIES_WORDS], |name| {
            if parse_u32(name.to_bytes()).is_none() {
                return true;
            }
            match readlinkat(&dir, name, link) {
                Ok(_) => false,
                Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                    refused = true;
                    false
                }
                // Closed in between: try the next one.
                Err(_) => true,
            }
        });
        if refused || listed.is_err_and(|e| e.kind() == io::ErrorKind::PermissionDenied) {
            denied.push(pid);
        }
    }
    (denied, scanned)
}

/// Numeric entries of `proc_root`, sorted.
///
/// # Errors
/// When `proc_root` cannot be listed.
pub fn list_pids(proc_root: &Path) -> io::Result<Vec<u32>> {
    let mut pids: Vec<u32> = fs::read_dir(proc_root)?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| parse_u32(entry.file_name().as_bytes()))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

#[derive(Debug, Default)]
struct Partial {
    found: Vec<(u64, FdRef)>,
    scanned: usize,
    denied: Vec<u32>,
    vanished: usize,
    /// Processes whose `fd` directory listed no descriptor at all (kernel threads, and
    /// processes whose main thread has exited: see [`scan_threads`]).
    empty: Vec<u32>,
}

/// The reusable buffers of one scanning thread.
struct Buffers {
    link: [u8; 64],
    dirents: Vec<u64>,
    rel: String,
}

impl Buffers {
    fn new() -> Self {
        Buffers {
            link: [0u8; 64],
            dirents: vec![0u64; DIRENT_BUF_WORDS],
            rel: String::new(),
        }
    }
}

/// What reading one fd directory gave.
struct FdTable {
    /// Descriptors listed (sockets or not).
    fds: usize,
    /// Some entry, or the listing itself, was denied.
    denied: bool,
}

/// Read the fd directory `rel` (relative to `root`, NUL-terminated) of process `pid`,
/// recording the wanted socket inodes it holds in `found`.
fn scan_fd_dir(
    root: &File,
    pid: u32,
    wanted: Option<&HashSet<u64>>,
    buf: &mut Buffers,
    found: &mut Vec<(u64, FdRef)>,
) -> io::Result<FdTable> {
    let dir = open_dir_at(root, &buf.rel)?;
    let mut table = FdTable {
        fds: 0,
        denied: false,
    };
    let link = &mut buf.link;
    let listed = for_each_entry(&dir, &mut buf.dirents, |name| {
        let Some(fd) = parse_u32(name.to_bytes()) else {
            return;
        };
        table.fds += 1;
        match readlinkat(&dir, name, link) {
            Ok(target) => {
                if let Some(inode) = parse_socket_link(target) {
                    if wanted.is_none_or(|w| w.contains(&inode)) {
                        found.push((inode, FdRef { pid, fd: Some(fd) }));
                    }
                }
            }
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => table.denied = true,
            // The fd closed or the process exited between getdents and readlink.
            Err(_) => {}
        }
    });
    if let Err(err) = listed {
        table.denied |= err.kind() == io::ErrorKind::PermissionDenied;
    }
    Ok(table)
}

fn scan_pids(proc_root: &Path, pids: &[u32], wanted: Option<&HashSet<u64>>) -> Partial {
    let mut part = Partial::default();
    // Every fd directory is opened relative to the root, so its path is walked once.
    let root = match File::open(proc_root) {
        Ok(root) => root,
        Err(_) => {
            part.vanished = pids.len();
            return part;
        }
    };
    let mut buf = Buffers::new();
    for &pid in pids {
        buf.rel.clear();
        let _ = write!(buf.rel, "{pid}/fd\0");
        match scan_fd_dir(&root, pid, wanted, &mut buf, &mut part.found) {
            Ok(table) => {
                part.scanned += 1;
                if table.denied {
                    part.denied.push(pid);
                } else if table.fds == 0 {
                    part.empty.push(pid);
                }
            }
            Err(err) => match err.kind() {
                io::ErrorKind::PermissionDenied => part.denied.push(pid),
                _ => part.vanished += 1,
            },
        }
    }
    part
}

/// The descriptors of processes whose `PID/fd` was empty, read through their other threads'
/// `PID/task/TID/fd` (as `ss -T` and `lsof -K` look): when the main thread has exited, the
/// process lives on in its other threads, but `PID/fd` shows the main thread's (no) table.
/// Holders are recorded under the process id, so every pid shown is one a signal reaches.
fn scan_threads(proc_root: &Path, pids: &[u32], wanted: Option<&HashSet<u64>>) -> Partial {
    let mut part = Partial::default();
    let Ok(root) = File::open(proc_root) else {
        return part;
    };
    let mut buf = Buffers::new();
    let mut tids = Vec::new();
    for &pid in pids {
        buf.rel.clear();
        let _ = write!(buf.rel, "{pid}/task\0");
        let Ok(task) = open_dir_at(&root, &buf.rel) else {
            continue;
        };
        tids.clear();
        let _ = for_each_entry(&task, &mut buf.dirents, |name| {
            tids.extend(parse_u32(name.to_bytes()).filter(|&tid| tid != pid));
        });
        for &tid in &tids {
            buf.rel.clear();
            let _ = write!(buf.rel, "{pid}/task/{tid}/fd\0");
            if let Ok(table) = scan_fd_dir(&root, pid, wanted, &mut buf, &mut part.found) {
                if table.denied && !part.denied.contains(&pid) {
                    part.denied.push(pid);
                }
            }
        }
    }
    part
}

/// The `getdents64` buffer of [`denied`], in 8-byte words (512 bytes: about 20 entries).
const FIRST_ENTRIES_WORDS: usize = 64;

/// Size of the `getdents64` buffer in 8-byte words (32 KiB: one call for ~1,300 fds).
const DIRENT_BUF_WORDS: usize = 4096;

/// `openat(root, rel, O_DIRECTORY)`; `rel` ends with a NUL byte.
fn open_dir_at(root: &File, rel: &str) -> io::Result<File> {
    let path =
        CStr::from_bytes_with_nul(rel.as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `root` is an open fd for the duration of the call and `path` is NUL-terminated.
    let fd = unsafe {
        libc::openat(
            root.as_raw_fd(),
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened by this call and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Call `each` with the name of every entry of the open directory `dir`, read with raw
/// `getdents64` calls: one buffer for the whole scan, no allocation per entry, and no second
/// `open` of the directory as `std::fs::read_dir` would need next to the fd `readlinkat` uses.
fn for_each_entry(dir: &File, buf: &mut [u64], mut each: impl FnMut(&CStr)) -> io::Result<()> {
    for_each_entry_while(dir, buf, |name| {
        each(name);
        true
    })
}

/// [`for_each_entry`] that stops reading the directory once `each` returns false (after the
/// rest of the buffer already read).
fn for_each_entry_while(
    dir: &File,
    buf: &mut [u64],
    mut each: impl FnMut(&CStr) -> bool,
) -> io::Result<()> {
    // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, then the NUL-terminated name.
    const NAME_OFFSET: usize = 19;
    let capacity = buf.len() * 8;
    let mut going = true;
    loop {
        // SAFETY: `dir` is an open directory fd and `buf` is writable for `capacity` bytes.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr().cast::<libc::c_void>(),
                capacity,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = usize::try_from(n).map_err(|_| io::ErrorKind::InvalidData)?;
        if n == 0 {
            return Ok(());
        }
        // SAFETY: the kernel wrote `n <= capacity` bytes into `buf`, which is valid for reads of
        // `capacity` bytes; u8 has no alignment requirement.
        let bytes =
            unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n.min(capacity)) };
        let mut off = 0;
        while let Some(head) = bytes.get(off..off + NAME_OFFSET) {
            let reclen = usize::from(u16::from_ne_bytes([head[16], head[17]]));
            let Some(record) = bytes
                .get(off..off + reclen)
                .filter(|_| reclen > NAME_OFFSET)
            else {
                return Err(io::ErrorKind::InvalidData.into());
            };
            if let Ok(name) = CStr::from_bytes_until_nul(&record[NAME_OFFSET..]) {
                going &= each(name);
            }
            off += reclen;
        }
        if !going {
            return Ok(());
        }
    }
}

/// `readlinkat(dir, name)` into `out`, returning the link target bytes.
fn readlinkat<'a>(dir: &File, name: &CStr, out: &'a mut [u8; 64]) -> io::Result<&'a [u8]> {
    // SAFETY: `dir` is an open directory fd for the duration of the call, `name` is
    // NUL-terminated, and `out` is a writable buffer of `out.len()` bytes.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            out.as_mut_ptr().cast::<libc::c_char>(),
            out.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = usize::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    Ok(&out[..n.min(out.len())])
}

/// `socket:[12345]` → 12345.
fn parse_socket_link(target: &[u8]) -> Option<u64> {
    let rest = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

fn parse_u32(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::PROC_ROOT;
    use std::net::TcpListener;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn parses_socket_links() {
        assert_eq!(parse_socket_link(b"socket:[12345]"), Some(12345));
        assert_eq!(parse_socket_link(b"pipe:[12345]"), None);
        assert_eq!(parse_socket_link(b"/dev/null"), None);
        assert_eq!(parse_socket_link(b"socket:[]"), None);
        assert_eq!(parse_socket_link(b"socket:[12a]"), None);
    }

    #[test]
    fn parses_pids() {
        assert_eq!(parse_u32(b"123"), Some(123));
        assert_eq!(parse_u32(b"self"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"+1"), None);
    }

    #[test]
    fn finds_own_listener_with_fd() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = listener.as_raw_fd();
        let inode = fs::metadata(format!("/proc/self/fd/{fd}")).unwrap().ino();
        let wanted: HashSet<u64> = [inode].into_iter().collect();
        let scan = scan_owners(Path::new(PROC_ROOT), Some(&wanted));
        assert!(scan.performed);
        let me = std::process::id();
        let holders = scan.by_inode.get(&inode).expect("own socket found");
        assert!(holders.contains(&FdRef {
            pid: me,
            fd: Some(u32::try_from(fd).unwrap())
        }));
        // Only the wanted inode was recorded.
        assert_eq!(scan.by_inode.len(), 1);
    }

    #[test]
    fn denied_probe_agrees_with_the_scan() {
        let scan = scan_owners(Path::new(PROC_ROOT), None);
        let (denied, scanned) = denied(Path::new(PROC_ROOT));
        // Processes come and go between the two passes; the ones denied are stable (pid 1 on
        // this project's machines, none elsewhere).
        assert_eq!(denied.contains(&1), scan.denied.contains(&1));
        assert!(scanned > 0);
    }

    #[test]
    fn missing_proc_root_is_not_fatal() {
        let scan = scan_owners(Path::new("/nonexistent/proc"), None);
        assert!(scan.performed);
        assert_eq!(scan.processes_scanned, 0);
        assert!(scan.by_inode.is_empty());
    }

    #[test]
    fn holders_behind_an_exited_main_thread_are_found_in_its_threads() {
        let dir = tempfile::tempdir().unwrap();
        let link = |path: &str, target: &str| {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, path).unwrap();
        };
        // pid 100: an ordinary process holding 777.
        link("100/fd/3", "socket:[777]");
        // pid 200: its main thread exited (empty fd table); threads 201 and 202 share a table
        // holding 888.
        fs::create_dir_all(dir.path().join("200/fd")).unwrap();
        fs::create_dir_all(dir.path().join("200/task/200/fd")).unwrap();
        link("200/task/201/fd/5", "socket:[888]");
        link("200/task/202/fd/5", "socket:[888]");
        // pid 300: a kernel thread, no descriptors anywhere.
        fs::create_dir_all(dir.path().join("300/fd")).unwrap();
        fs::create_dir_all(dir.path().join("300/task/300/fd")).unwrap();
        let wanted: HashSet<u64> = [777, 888].into_iter().collect();
        let scan = scan_owners(dir.path(), Some(&wanted));
        let at = |pid, fd| FdRef { pid, fd: Some(fd) };
        assert_eq!(scan.by_inode.get(&777), Some(&vec![at(100, 3)]));
        // Recorded once, under the process id a signal reaches.
        assert_eq!(scan.by_inode.get(&888), Some(&vec![at(200, 5)]));
        assert!(scan.denied.is_empty());
        // Without a wanted set every socket counts as not found yet.
        let scan = scan_owners(dir.path(), None);
        assert_eq!(scan.by_inode.get(&888), Some(&vec![at(200, 5)]));
    }

    #[test]
    fn fixture_tree_with_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let fd_dir = dir.path().join("4242/fd");
        fs::create_dir_all(&fd_dir).unwrap();
        std::os::unix::fs::symlink("socket:[777]", fd_dir.join("3")).unwrap();
        std::os::unix::fs::symlink("/dev/null", fd_dir.join("0")).unwrap();
        fs::create_dir_all(dir.path().join("self")).unwrap();
        let scan = scan_owners(dir.path(), None);
        assert_eq!(scan.processes_scanned, 1);
        assert_eq!(
            scan.by_inode.get(&777).unwrap(),
            &vec![FdRef {
                pid: 4242,
                fd: Some(3)
            }]
        );
    }
}
