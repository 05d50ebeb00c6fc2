//! The owner scan in the kernel: a BPF `iter/task_file` program (`bpf/task_file.bpf.c`, its
//! compiled object committed as `bpf/task_file.bpf.o` and embedded here) visits every open file
//! of every task of portscope's PID namespace and writes one 16-byte record (pid, fd, inode,
//! thread flag) per socket; with a wanted set of at most [`KERNEL_FILTER_MAX`] inodes only
//! those cross into user space (a hash map the program looks up).
//!
//! It must produce exactly what `procfs::scan_owners` produces for the same sockets: the pids
//! are translated in the kernel to this PID namespace's numbers, a thread is reported only when
//! its leader's descriptor table is gone (as `/proc/PID/fd` is the leader's table), and those
//! thread records are merged only when the `/proc` scan would read `PID/task/TID/fd` (some
//! wanted socket still without a holder). It must not be used for another `--proc-root` or a
//! `/proc` of another PID namespace: the caller checks ([`same_pid_namespace`]).
//!
//! The program is loaded once per process and reused (a `watch` poll attaches and reads again).

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use aya::maps::{Array, HashMap as BpfHashMap, MapData};
use aya::programs::Iter;
use aya::{Btf, Ebpf, EbpfLoader, Endianness};

use super::btf_slim;

use crate::model::{FdRef, OwnerScan, Phases};

/// The compiled program (`bpf/task_file.bpf.c`, built by `.ci/run` with
/// `clang -target bpf -g -O2`), aligned for the ELF parser.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../../../bpf/task_file.bpf.o");

/// The kernel's own type information, which CO-RE relocates the program against.
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Up to this many wanted inodes are filtered in the kernel; above it every socket record is
/// read and filtered here (filling the map would cost one syscall per inode, more than reading
/// the extra 16-byte records).
pub const KERNEL_FILTER_MAX: u32 = 4096;

/// The high bit of a record's inode: the holder is a thread whose leader has no descriptor
/// table left (`FLAG_THREAD` in the program).
const FLAG_THREAD: u64 = 1 << 63;
const RECORD_LEN: usize = 16;
/// Indexes of the program's `state` array.
const STATE_LAST_TASK: u32 = 0;
const STATE_PROCESSES: u32 = 1;
const STATE_FILTER: u32 = 2;

/// The loaded program and its maps, kept for the life of the process.
struct Loaded {
    ebpf: Ebpf,
    /// The inodes now in the `wanted` map, removed before the next scan fills it.
    in_map: Vec<u64>,
}

/// The BPF owner scan of one process: not tried yet, loaded, or failed once (then never
/// retried: `auto` falls back to `/proc` for the rest of the run at no further cost).
#[derive(Default)]
pub struct BpfScanner {
    state: Mutex<State>,
}

#[derive(Default)]
enum State {
    #[default]
    Untried,
    Loaded(Box<Loaded>),
    Failed(String),
}

impl fmt::Debug for BpfScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.lock().as_deref() {
            Ok(State::Untried) => "untried",
            Ok(State::Loaded(_)) => "loaded",
            Ok(State::Failed(_)) => "failed",
            Err(_) => "poisoned",
        };
        f.debug_struct("BpfScanner").field("state", &state).finish()
    }
}

impl BpfScanner {
    /// Scan every holder of the `wanted` socket inodes (every socket with `None`), loading the
    /// program on first use. Records `owner scan (bpf: load)`, `(bpf: attach)` and
    /// `(bpf: read)` in `phases`.
    ///
    /// # Errors
    /// Why the iterator cannot run: no BTF, not permitted (no CAP_BPF/CAP_PERFMON, lockdown,
    /// seccomp), a kernel without `task_file` iterators, or a failed read; the text is the
    /// loader's own message.
    pub fn scan(
        &self,
        wanted: Option<&HashSet<u64>>,
        phases: &mut Phases,
    ) -> Result<OwnerScan, String> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| "an earlier scan panicked".to_owned())?;
        if matches!(*state, State::Untried) {
            let start = Instant::now();
            *state = match load() {
                Ok(loaded) => State::Loaded(Box::new(loaded)),
                Err(why) => State::Failed(why),
            };
            phases.0.push(("owner scan (bpf: load)", start.elapsed()));
        }
        match &mut *state {
            State::Loaded(loaded) => read(loaded, wanted, phases),
            State::Failed(why) => Err(why.clone()),
            State::Untried => Err("not loaded".to_owned()),
        }
    }
}

/// Below this many open files on the system (`/proc/sys/fs/file-nr`), `--owner-scan auto`
/// keeps the `/proc` scan: the iterator's fixed cost (loading the program: ~35 ms in a release
/// build on this project's VM, most of it aya parsing the kernel's whole BTF in
/// `EbpfLoader::new`, which 0.14 always does) is more than the `/proc` scan of fewer files costs
/// at 2–3 µs per descriptor.
pub const AUTO_MIN_OPEN_FILES: u64 = 15_000;

/// Whether the iterator is likely to be faster than the `/proc` scan here: the system has at
/// least [`AUTO_MIN_OPEN_FILES`] open files. The count is the whole machine's (it is not per
/// PID namespace), so in a small container on a busy host `auto` may pick the iterator where
/// `/proc` would have been as fast; the answer is the same either way.
#[must_use]
pub fn worth_loading(proc_root: &Path) -> bool {
    std::fs::read_to_string(proc_root.join("sys/fs/file-nr"))
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .is_some_and(|files| files >= AUTO_MIN_OPEN_FILES)
}

/// Whether `proc_root` is this process's own PID namespace's `/proc`: the iterator reports the
/// pids of the reader's namespace, and the `/proc` scan those of the proc mount's.
#[must_use]
pub fn same_pid_namespace(proc_root: &Path) -> bool {
    std::fs::read_link(proc_root.join("self"))
        .ok()
        .and_then(|target| target.to_str()?.parse::<u32>().ok())
        == Some(std::process::id())
}

/// Load the object with this kernel's BTF (CO-RE relocations), size the wanted map and load
/// the program as a `task_file` iterator.
fn load() -> Result<Loaded, String> {
    // The slim BTF (btf_slim.rs): what the relocations and the attach point need, parsed in
    // a few milliseconds instead of the whole kernel's ~50.
    let raw =
        std::fs::read(KERNEL_BTF).map_err(|e| format!("no kernel BTF ({KERNEL_BTF}): {e}"))?;
    let btf = Btf::parse(&btf_slim::slim(&raw)?, Endianness::default())
        .map_err(|e| format!("cannot parse the kernel BTF: {}", chain(&e)))?;
    drop(raw);
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .map_max_entries("wanted", KERNEL_FILTER_MAX)
        .load(OBJECT)
        .map_err(|e| format!("cannot load the task_file iterator: {}", chain(&e)))?;
    let program: &mut Iter = ebpf
        .program_mut("task_file")
        .ok_or("the BPF object has no task_file program")?
        .try_into()
        .map_err(|e| format!("task_file is not an iterator: {}", chain(&e)))?;
    program
        .load("task_file", &btf)
        .map_err(|e| format!("the kernel refused the task_file iterator: {}", chain(&e)))?;
    Ok(Loaded {
        ebpf,
        in_map: Vec::new(),
    })
}

/// An error with its sources, `a: b: c`.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        // aya's errors often repeat their source's message in their own.
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Fill the maps, attach, read the records and turn them into an [`OwnerScan`].
fn read(
    loaded: &mut Loaded,
    wanted: Option<&HashSet<u64>>,
    phases: &mut Phases,
) -> Result<OwnerScan, String> {
    let start = Instant::now();
    let filter = wanted.filter(|w| w.len() <= KERNEL_FILTER_MAX as usize);
    {
        let map = loaded
            .ebpf
            .map_mut("wanted")
            .ok_or("the BPF object has no wanted map")?;
        let mut map: BpfHashMap<&mut MapData, u64, u8> =
            BpfHashMap::try_from(map).map_err(|e| chain(&e))?;
        for inode in loaded.in_map.drain(..) {
            let _ = map.remove(&inode);
        }
        for &inode in filter.into_iter().flatten() {
            map.insert(inode, 1, 0).map_err(|e| chain(&e))?;
            loaded.in_map.push(inode);
        }
    }
    let mut state = state_map(&mut loaded.ebpf)?;
    for (index, value) in [
        (STATE_LAST_TASK, 0),
        (STATE_PROCESSES, 0),
        (STATE_FILTER, u64::from(filter.is_some())),
    ] {
        state.set(index, value, 0).map_err(|e| chain(&e))?;
    }
    let program: &mut Iter = loaded
        .ebpf
        .program_mut("task_file")
        .ok_or("the BPF object has no task_file program")?
        .try_into()
        .map_err(|e| chain(&e))?;
    let link_id = program
        .attach()
        .map_err(|e| format!("cannot attach the iterator: {}", chain(&e)))?;
    let link = program.take_link(link_id).map_err(|e| chain(&e))?;
    let mut file = link
        .into_file()
        .map_err(|e| format!("cannot create the iterator: {}", chain(&e)))?;
    phases.0.push(("owner scan (bpf: attach)", start.elapsed()));

    let start = Instant::now();
    let mut records = Vec::with_capacity(64 * 1024);
    file.read_to_end(&mut records)
        .map_err(|e| format!("cannot read the iterator: {e}"))?;
    let processes = state_map(&mut loaded.ebpf)?
        .get(&STATE_PROCESSES, 0)
        .map_err(|e| chain(&e))?;
    let scan = owner_scan(&records, wanted, processes);
    phases.0.push(("owner scan (bpf: read)", start.elapsed()));
    Ok(scan)
}

fn state_map(ebpf: &mut Ebpf) -> Result<Array<&mut MapData, u64>, String> {
    let map = ebpf
        .map_mut("state")
        .ok_or("the BPF object has no state map")?;
    Array::try_from(map).map_err(|e| chain(&e))
}

/// The [`OwnerScan`] of the iterator's `records`, as `procfs::scan_owners` builds it: holders
/// of wanted inodes only, threads' records merged only when a wanted inode (any, without a
/// wanted set) is still without a holder after the processes' own tables, each holder list
/// sorted and free of duplicates (threads sharing one table).
#[must_use]
pub fn owner_scan(records: &[u8], wanted: Option<&HashSet<u64>>, processes: u64) -> OwnerScan {
    let mut scan = OwnerScan {
        performed: true,
        processes_scanned: usize::try_from(processes).unwrap_or(usize::MAX),
        ..OwnerScan::default()
    };
    let mut threads = Vec::new();
    for record in records.chunks_exact(RECORD_LEN) {
        let word = |at: usize| {
            let mut bytes = [0u8; 4];
            bytes.copy_from_slice(&record[at..at + 4]);
            u32::from_ne_bytes(bytes)
        };
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&record[8..16]);
        let raw = u64::from_ne_bytes(bytes);
        let (pid, fd, inode) = (word(0), word(4), raw & !FLAG_THREAD);
        if !wanted.is_none_or(|w| w.contains(&inode)) {
            continue;
        }
        let holder = FdRef { pid, fd: Some(fd) };
        if raw & FLAG_THREAD == 0 {
            scan.by_inode.entry(inode).or_default().push(holder);
        } else {
            threads.push((inode, holder));
        }
    }
    let unfound = wanted.is_none_or(|w| w.iter().any(|i| !scan.by_inode.contains_key(i)));
    if unfound {
        for (inode, holder) in threads {
            scan.by_inode.entry(inode).or_default().push(holder);
        }
    }
    for holders in scan.by_inode.values_mut() {
        holders.sort_unstable();
        holders.dedup();
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pid: u32, fd: u32, inode: u64, thread: bool) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(pid.to_ne_bytes());
        out.extend(fd.to_ne_bytes());
        out.extend((inode | if thread { FLAG_THREAD } else { 0 }).to_ne_bytes());
        out
    }

    fn at(pid: u32, fd: u32) -> FdRef {
        FdRef { pid, fd: Some(fd) }
    }

    #[test]
    fn records_become_sorted_deduplicated_holders_of_wanted_inodes() {
        let records = [
            record(20, 4, 777, false),
            record(10, 3, 777, false),
            record(30, 5, 888, false),
            record(30, 5, 999, false),
        ]
        .concat();
        let wanted: HashSet<u64> = [777, 888].into_iter().collect();
        let scan = owner_scan(&records, Some(&wanted), 3);
        assert!(scan.performed);
        assert_eq!(scan.processes_scanned, 3);
        assert_eq!(scan.by_inode.get(&777), Some(&vec![at(10, 3), at(20, 4)]));
        assert_eq!(scan.by_inode.get(&888), Some(&vec![at(30, 5)]));
        assert_eq!(scan.by_inode.get(&999), None);
        // Without a wanted set every socket counts.
        assert_eq!(owner_scan(&records, None, 3).by_inode.len(), 3);
    }

    #[test]
    fn thread_records_merge_only_while_a_wanted_inode_is_unfound() {
        // pid 200's leader has exited; threads 201 and 202 share one table holding 888 (two
        // identical records), as the /proc scan reads PID/task/TID/fd.
        let records = [
            record(100, 3, 777, false),
            record(200, 5, 888, true),
            record(200, 5, 888, true),
            record(200, 6, 777, true),
        ]
        .concat();
        let both: HashSet<u64> = [777, 888].into_iter().collect();
        let scan = owner_scan(&records, Some(&both), 1);
        assert_eq!(scan.by_inode.get(&888), Some(&vec![at(200, 5)]));
        assert_eq!(scan.by_inode.get(&777), Some(&vec![at(100, 3), at(200, 6)]));
        // Every wanted inode found in processes' own tables: the /proc scan reads no thread.
        let one: HashSet<u64> = [777].into_iter().collect();
        let scan = owner_scan(&records, Some(&one), 1);
        assert_eq!(scan.by_inode.get(&777), Some(&vec![at(100, 3)]));
        // No wanted set: threads are always read.
        let scan = owner_scan(&records, None, 1);
        assert_eq!(scan.by_inode.get(&888), Some(&vec![at(200, 5)]));
    }

    #[test]
    fn a_short_trailing_record_is_ignored() {
        let mut records = record(1, 2, 3, false);
        records.extend([0u8; 7]);
        let scan = owner_scan(&records, None, 1);
        assert_eq!(scan.by_inode.len(), 1);
    }

    #[test]
    fn few_open_files_keep_the_proc_scan() {
        assert!(!worth_loading(Path::new("/nonexistent/proc")));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sys/fs")).unwrap();
        let file_nr = dir.path().join("sys/fs/file-nr");
        std::fs::write(&file_nr, "454\t0\t2466246\n").unwrap();
        assert!(!worth_loading(dir.path()));
        std::fs::write(&file_nr, "35000\t0\t2466246\n").unwrap();
        assert!(worth_loading(dir.path()));
    }

    #[test]
    fn own_proc_is_this_pid_namespace() {
        assert!(same_pid_namespace(Path::new(crate::collect::PROC_ROOT)));
        assert!(!same_pid_namespace(Path::new("/nonexistent/proc")));
    }
}
