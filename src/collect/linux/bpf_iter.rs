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
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use aya_obj::Object;
use aya_obj::btf::Btf;
use object::Endianness;

use super::{bpf_sys, btf_slim};

use crate::model::{FdRef, OwnerScan, Phases};

/// Bytes aligned for the ELF parser.
#[repr(C)]
struct Aligned<B: ?Sized> {
    _align: [u64; 0],
    bytes: B,
}

/// The compiled program (`bpf/task_file.bpf.c`, built by `.ci/run` with
/// `clang -target bpf -g -O2`), aligned for the ELF parser.
static OBJECT: &Aligned<[u8]> = &Aligned {
    _align: [],
    bytes: *include_bytes!("../../../bpf/task_file.bpf.o"),
};

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
    /// The program (the link holds it too).
    _program: OwnedFd,
    link: OwnedFd,
    wanted: OwnedFd,
    state: OwnedFd,
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
/// keeps the `/proc` scan: loading the iterator costs ~5 ms on this project's VM (the slim BTF,
/// relocation, verification, link), about what the `/proc` scan of 2,000 descriptors costs at
/// 2–3 µs each, while the iterator reads one in ~0.5 µs. The threshold leaves a margin for
/// machines where the load is slower.
pub const AUTO_MIN_OPEN_FILES: u64 = 4_000;

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

/// Load the object with this kernel's BTF (CO-RE relocations), create its maps (the wanted
/// map sized to [`KERNEL_FILTER_MAX`]), load the program as a `task_file` iterator and link it.
fn load() -> Result<Loaded, String> {
    // The slim BTF (btf_slim.rs): the few types the relocations need, and the id of the
    // function the iterator attaches to.
    let raw = KernelBtf::open().map_err(|e| format!("no kernel BTF ({KERNEL_BTF}): {e}"))?;
    let slim = btf_slim::slim(raw.bytes())?;
    drop(raw);
    let btf = Btf::parse(&slim.btf, Endianness::default())
        .map_err(|e| format!("cannot parse the kernel BTF: {}", chain(&e)))?;
    let mut obj = Object::parse(&OBJECT.bytes)
        .map_err(|e| format!("cannot parse the BPF object: {}", chain(&e)))?;
    obj.relocate_btf(&btf)
        .map_err(|e| format!("cannot relocate the BPF object: {}", chain(&e)))?;

    // The maps, each created with the size the kernel will use.
    let map_objs: Vec<(String, aya_obj::Map)> = obj.maps.drain().collect();
    let mut maps: Vec<(String, OwnedFd)> = Vec::with_capacity(map_objs.len());
    for (name, map) in &map_objs {
        // The shapes the reads and writes below assume.
        let (key, value) = match name.as_str() {
            "wanted" => (8, 1),
            "state" => (4, 8),
            _ => (map.key_size(), map.value_size()),
        };
        if (map.key_size(), map.value_size()) != (key, value) {
            return Err(format!(
                "the BPF map {name} has {}-byte keys and {}-byte values, not {key} and {value}",
                map.key_size(),
                map.value_size()
            ));
        }
        let max_entries = if name == "wanted" {
            KERNEL_FILTER_MAX
        } else {
            map.max_entries()
        };
        let spec = bpf_sys::MapSpec {
            map_type: map.map_type(),
            key_size: map.key_size(),
            value_size: map.value_size(),
            max_entries,
            flags: map.map_flags(),
        };
        let fd = bpf_sys::map_create(name, spec)
            .map_err(|e| format!("cannot create the BPF map {name}: {}", with_hint(&e)))?;
        maps.push((name.clone(), fd));
    }
    let text_sections: HashSet<usize> = obj.functions.keys().map(|(index, _)| *index).collect();
    obj.relocate_maps(
        map_objs
            .iter()
            .zip(&maps)
            .map(|((name, map), (_, fd))| (name.as_str(), fd.as_raw_fd(), map)),
        &text_sections,
    )
    .map_err(|e| format!("cannot relocate the BPF maps: {}", chain(&e)))?;
    obj.relocate_calls(&text_sections)
        .map_err(|e| format!("cannot link the BPF functions: {}", chain(&e)))?;
    let program = obj
        .programs
        .get("task_file")
        .ok_or("the BPF object has no task_file program")?;
    let function = obj
        .functions
        .get(&program.function_key())
        .ok_or("the BPF object has no code for task_file")?;
    let insns = instruction_bytes(&function.instructions);
    let program = bpf_sys::prog_load_iter(&bpf_sys::IterProgram {
        name: "task_file",
        insns,
        license: &obj.license,
        attach_btf_id: slim.iter_func,
    })
    .map_err(|e| {
        format!(
            "the kernel refused the task_file iterator: {}",
            with_hint(&e)
        )
    })?;
    let link = bpf_sys::link_create_iter(program.as_raw_fd())
        .map_err(|e| format!("cannot attach the iterator: {e}"))?;
    let mut take = |name: &str| {
        maps.iter()
            .position(|(n, _)| n == name)
            .map(|at| maps.swap_remove(at).1)
            .ok_or_else(|| format!("the BPF object has no {name} map"))
    };
    Ok(Loaded {
        wanted: take("wanted")?,
        state: take("state")?,
        _program: program,
        link,
        in_map: Vec::new(),
    })
}

/// The bytes of the kernel's BTF: mapped where the kernel allows it (Linux ≥ 6.16: no copy of
/// its ~5 MB), else read.
enum KernelBtf {
    Mapped { at: *mut libc::c_void, len: usize },
    Read(Vec<u8>),
}

impl KernelBtf {
    fn open() -> std::io::Result<Self> {
        let file = File::open(KERNEL_BTF)?;
        let len = usize::try_from(file.metadata()?.len()).unwrap_or(0);
        if len > 0 {
            // SAFETY: a read-only private mapping of `len` bytes of an open file; it is only
            // read through `bytes` and unmapped once, in `drop`.
            let at = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if at != libc::MAP_FAILED {
                return Ok(KernelBtf::Mapped { at, len });
            }
        }
        let mut bytes = Vec::with_capacity(len);
        (&file).read_to_end(&mut bytes)?;
        Ok(KernelBtf::Read(bytes))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: the mapping is `len` readable bytes, alive until `drop`.
            KernelBtf::Mapped { at, len } => unsafe {
                std::slice::from_raw_parts(at.cast::<u8>(), *len)
            },
            KernelBtf::Read(bytes) => bytes,
        }
    }
}

impl Drop for KernelBtf {
    fn drop(&mut self) {
        if let KernelBtf::Mapped { at, len } = *self {
            // SAFETY: the mapping made in `open`, unmapped once.
            unsafe {
                libc::munmap(at, len);
            }
        }
    }
}

/// The instructions as the kernel reads them: `struct bpf_insn` is 8 bytes, `repr(C)` in
/// aya-obj's generated bindings, with the register bit-fields in the target's own order.
fn instruction_bytes(insns: &[aya_obj::generated::bpf_insn]) -> &[u8] {
    const _: () = assert!(std::mem::size_of::<aya_obj::generated::bpf_insn>() == 8);
    // SAFETY: `bpf_insn` is a plain `repr(C)` struct of 8 bytes with no padding (asserted
    // above); viewing the slice's memory as bytes reads initialized memory only.
    unsafe { std::slice::from_raw_parts(insns.as_ptr().cast::<u8>(), std::mem::size_of_val(insns)) }
}

/// A `bpf(2)` error, with what a refusal usually means.
fn with_hint(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => format!(
            "{err}: it needs root (or CAP_BPF and CAP_PERFMON), and no kernel lockdown or \
             seccomp filter forbidding bpf(2)"
        ),
        _ => err.to_string(),
    }
}

/// An error with its sources, `a: b: c`.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        // Errors often repeat their source's message in their own.
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Fill the maps, create the iterator, read the records and turn them into an [`OwnerScan`].
fn read(
    loaded: &mut Loaded,
    wanted: Option<&HashSet<u64>>,
    phases: &mut Phases,
) -> Result<OwnerScan, String> {
    let start = Instant::now();
    let filter = wanted.filter(|w| w.len() <= KERNEL_FILTER_MAX as usize);
    let map = loaded.wanted.as_raw_fd();
    // An inode leaves `in_map` only once deleted, and enters it before it is added, so a
    // failure part way never leaves the map with entries nobody will remove.
    while let Some(&inode) = loaded.in_map.last() {
        bpf_sys::map_delete(map, &inode).map_err(|e| format!("cannot clear the inode map: {e}"))?;
        loaded.in_map.pop();
    }
    if let Some(filter) = filter {
        let keys: Vec<u64> = filter.iter().copied().collect();
        loaded.in_map.clone_from(&keys);
        let values = vec![1u8; keys.len()];
        let batched = bpf_sys::map_update_batch(map, &keys, &values)
            .map_err(|e| format!("cannot fill the inode map: {e}"))?;
        if !batched {
            for inode in &keys {
                bpf_sys::map_update(map, inode, &[1])
                    .map_err(|e| format!("cannot fill the inode map: {e}"))?;
            }
        }
    }
    let state = loaded.state.as_raw_fd();
    for (index, value) in [
        (STATE_LAST_TASK, 0),
        (STATE_PROCESSES, 0),
        (STATE_FILTER, u64::from(filter.is_some())),
    ] {
        bpf_sys::array_set(state, index, value)
            .map_err(|e| format!("cannot reset the iterator's state: {e}"))?;
    }
    let mut file = File::from(
        bpf_sys::iter_create(loaded.link.as_raw_fd())
            .map_err(|e| format!("cannot create the iterator: {e}"))?,
    );
    phases.0.push(("owner scan (bpf: attach)", start.elapsed()));

    let start = Instant::now();
    let mut records = Vec::with_capacity(64 * 1024);
    file.read_to_end(&mut records)
        .map_err(|e| format!("cannot read the iterator: {e}"))?;
    let processes = bpf_sys::array_get(state, STATE_PROCESSES)
        .map_err(|e| format!("cannot read the iterator's state: {e}"))?;
    let scan = owner_scan(&records, wanted, processes);
    phases.0.push(("owner scan (bpf: read)", start.elapsed()));
    Ok(scan)
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
    fn a_refusal_says_what_is_needed() {
        let denied = with_hint(&std::io::Error::from_raw_os_error(libc::EPERM));
        assert!(
            denied.contains("needs root (or CAP_BPF and CAP_PERFMON)"),
            "{denied}"
        );
        let other = with_hint(&std::io::Error::from_raw_os_error(libc::E2BIG));
        assert!(!other.contains("root"), "{other}");
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
