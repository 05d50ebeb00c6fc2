//! The few `bpf(2)` commands the owner-scan iterator needs, called directly: create a map,
//! update, delete and look up its elements, load the program, link it as an iterator and
//! create the iterator's file. Replaces aya's runtime loader, whose `EbpfLoader::new` parses
//! the kernel's whole BTF (~20 ms and ~25 MB) whatever BTF it is then given; the ELF parsing and
//! the relocations still come from `aya-obj` (pure, no system calls).
//!
//! Each attribute block is a zeroed 128-byte buffer with the fields of `union bpf_attr`
//! (include/uapi/linux/bpf.h) written at their offsets; the kernel requires every byte past
//! the fields it knows to be zero, which the zeroing guarantees.

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

const BPF_MAP_CREATE: u32 = 0;
const BPF_MAP_LOOKUP_ELEM: u32 = 1;
const BPF_MAP_UPDATE_ELEM: u32 = 2;
const BPF_MAP_DELETE_ELEM: u32 = 3;
const BPF_PROG_LOAD: u32 = 5;
const BPF_MAP_UPDATE_BATCH: u32 = 26;
const BPF_LINK_CREATE: u32 = 28;
const BPF_ITER_CREATE: u32 = 33;

/// `BPF_PROG_TYPE_TRACING`, the type of iterator programs.
const BPF_PROG_TYPE_TRACING: u32 = 26;
/// `BPF_TRACE_ITER`, the expected attach type (and link attach type) of an iterator.
const BPF_TRACE_ITER: u32 = 28;

/// The size of the attribute block passed to the kernel (larger than any command used here).
const ATTR_LEN: usize = 128;

/// A `union bpf_attr` being filled.
struct Attr([u8; ATTR_LEN]);

impl Attr {
    fn new() -> Self {
        Attr([0; ATTR_LEN])
    }

    fn u32(mut self, at: usize, value: u32) -> Self {
        self.0[at..at + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn u64(mut self, at: usize, value: u64) -> Self {
        self.0[at..at + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn bytes(mut self, at: usize, value: &[u8]) -> Self {
        self.0[at..at + value.len()].copy_from_slice(value);
        self
    }

    /// Run `cmd` with this block; the kernel's non-negative result.
    fn call(mut self, cmd: u32) -> io::Result<i64> {
        // SAFETY: the block is ATTR_LEN bytes, passed with its length; every pointer written
        // into it (by the callers below) refers to memory that outlives this call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                libc::c_long::from(cmd.cast_signed()),
                self.0.as_mut_ptr(),
                ATTR_LEN as libc::c_long,
            )
        };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    }

    /// Run `cmd`, which returns a new file descriptor.
    fn call_fd(self, cmd: u32) -> io::Result<OwnedFd> {
        let fd = RawFd::try_from(self.call(cmd)?)
            .map_err(|_| io::Error::other("the kernel returned an invalid descriptor"))?;
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// A pointer as the kernel's `__aligned_u64`.
fn addr<T: ?Sized>(p: *const T) -> u64 {
    p.cast::<u8>() as u64
}

/// A map's name as the kernel takes it: at most 15 bytes, NUL-padded.
fn object_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (slot, byte) in out.iter_mut().zip(
        name.bytes()
            .filter(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .take(15),
    ) {
        *slot = byte;
    }
    out
}

/// The shape of a map to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSpec {
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of elements.
    pub max_entries: u32,
    /// `BPF_F_*` flags.
    pub flags: u32,
}

/// `BPF_MAP_CREATE`.
pub fn map_create(name: &str, spec: MapSpec) -> io::Result<OwnedFd> {
    Attr::new()
        .u32(0, spec.map_type)
        .u32(4, spec.key_size)
        .u32(8, spec.value_size)
        .u32(12, spec.max_entries)
        .u32(16, spec.flags)
        .bytes(28, &object_name(name))
        .call_fd(BPF_MAP_CREATE)
}

/// The attribute block of the element commands.
fn elem(map: RawFd, key: u64, value: u64, flags: u64) -> Attr {
    Attr::new()
        .u32(0, map.cast_unsigned())
        .u64(8, key)
        .u64(16, value)
        .u64(24, flags)
}

/// `BPF_MAP_UPDATE_ELEM` of a `u64` key and an 8-byte-or-smaller value.
pub fn map_update(map: RawFd, key: &u64, value: &[u8]) -> io::Result<()> {
    elem(map, addr(key), addr(value.as_ptr()), 0)
        .call(BPF_MAP_UPDATE_ELEM)
        .map(drop)
}

/// `BPF_MAP_UPDATE_BATCH`: `keys[i]` → `values[i * value_len..]` in one call (Linux ≥ 5.6).
/// `Ok(false)` when the kernel has no batch operations for this map (the caller falls back to
/// one update per element).
pub fn map_update_batch(map: RawFd, keys: &[u64], values: &[u8]) -> io::Result<bool> {
    let count = u32::try_from(keys.len()).map_err(|_| io::Error::other("too many keys"))?;
    if count == 0 {
        return Ok(true);
    }
    // struct { in_batch, out_batch, keys, values: u64; count, map_fd: u32; elem_flags, flags }
    let result = Attr::new()
        .u64(16, addr(keys.as_ptr()))
        .u64(24, addr(values.as_ptr()))
        .u32(32, count)
        .u32(36, map.cast_unsigned())
        .call(BPF_MAP_UPDATE_BATCH);
    match result {
        Ok(_) => Ok(true),
        // EINVAL: a kernel before 5.6; EOPNOTSUPP or ENOTSUPP (524, kernel-internal): a map
        // type without batch operations.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::EOPNOTSUPP | 524)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// `BPF_MAP_DELETE_ELEM` of a `u64` key; a missing key is not an error.
pub fn map_delete(map: RawFd, key: &u64) -> io::Result<()> {
    match elem(map, addr(key), 0, 0).call(BPF_MAP_DELETE_ELEM) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other.map(drop),
    }
}

/// `BPF_MAP_UPDATE_ELEM` of an array slot (`u32` key, `u64` value).
pub fn array_set(map: RawFd, index: u32, value: u64) -> io::Result<()> {
    elem(map, addr(&index), addr(&value), 0)
        .call(BPF_MAP_UPDATE_ELEM)
        .map(drop)
}

/// `BPF_MAP_LOOKUP_ELEM` of an array slot (`u32` key, `u64` value).
pub fn array_get(map: RawFd, index: u32) -> io::Result<u64> {
    let mut value = 0u64;
    elem(map, addr(&index), addr(&raw mut value), 0).call(BPF_MAP_LOOKUP_ELEM)?;
    Ok(value)
}

/// What `BPF_PROG_LOAD` needs for an iterator program.
pub struct IterProgram<'a> {
    /// Program name (at most 15 bytes are kept).
    pub name: &'a str,
    /// The instructions, 8 bytes each.
    pub insns: &'a [u8],
    /// The license string.
    pub license: &'a CStr,
    /// The kernel BTF id of the `bpf_iter_<target>` function.
    pub attach_btf_id: u32,
}

/// `BPF_PROG_LOAD` of a `BPF_PROG_TYPE_TRACING` program attached as `BPF_TRACE_ITER`. On a
/// refusal the verifier's log (its last lines) is part of the error.
pub fn prog_load_iter(prog: &IterProgram<'_>) -> io::Result<OwnedFd> {
    let insn_cnt =
        u32::try_from(prog.insns.len() / 8).map_err(|_| io::Error::other("program too long"))?;
    let attr = |log: Option<&mut [u8]>| {
        let mut attr = Attr::new()
            .u32(0, BPF_PROG_TYPE_TRACING)
            .u32(4, insn_cnt)
            .u64(8, addr(prog.insns.as_ptr()))
            .u64(16, addr(prog.license.as_ptr()))
            .bytes(48, &object_name(prog.name))
            .u32(68, BPF_TRACE_ITER)
            .u32(108, prog.attach_btf_id);
        if let Some(log) = log {
            let size = u32::try_from(log.len()).unwrap_or(u32::MAX);
            attr = attr
                .u32(24, 1)
                .u32(28, size)
                .u64(32, addr(log.as_mut_ptr()));
        }
        attr
    };
    match attr(None).call_fd(BPF_PROG_LOAD) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            // Again with the verifier's log, to say why. Before Linux 6.4 a log that does not
            // fit is cut at its end, losing the error: 1 MiB holds this program's whole log.
            let mut log = vec![0u8; 1024 * 1024];
            match attr(Some(&mut log)).call_fd(BPF_PROG_LOAD) {
                Ok(fd) => Ok(fd),
                Err(_) => Err(io::Error::new(
                    first.kind(),
                    format!("{first}{}", log_tail(&log)),
                )),
            }
        }
    }
}

/// The last lines of a verifier log, `: line; line`, or nothing when it is empty.
fn log_tail(log: &[u8]) -> String {
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(" (verifier: {})", tail.join("; "))
    }
}

/// `BPF_LINK_CREATE` of an iterator program (no iterator arguments: every task).
pub fn link_create_iter(prog: RawFd) -> io::Result<OwnedFd> {
    Attr::new()
        .u32(0, prog.cast_unsigned())
        .u32(8, BPF_TRACE_ITER)
        .call_fd(BPF_LINK_CREATE)
}

/// `BPF_ITER_CREATE`: a new file whose reads run the iterator once from the start.
pub fn iter_create(link: RawFd) -> io::Result<OwnedFd> {
    Attr::new()
        .u32(0, link.cast_unsigned())
        .call_fd(BPF_ITER_CREATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_and_cleaned() {
        assert_eq!(&object_name("wanted")[..7], b"wanted\0");
        assert_eq!(object_name("a_very_long_map_name_indeed")[15], 0);
        assert_eq!(&object_name("a.b-c")[..4], b"abc\0");
    }

    #[test]
    fn fields_land_at_their_offsets() {
        let attr = Attr::new().u32(4, 7).u64(8, 0x0102_0304_0506_0708);
        assert_eq!(attr.0[4..8], 7u32.to_ne_bytes());
        assert_eq!(attr.0[8..16], 0x0102_0304_0506_0708u64.to_ne_bytes());
        assert!(attr.0[16..].iter().all(|&b| b == 0));
    }

    #[test]
    fn verifier_log_tail() {
        assert_eq!(log_tail(&[0; 8]), "");
        let log = b"0: r1 = 1\nR1 invalid mem access\n\nprocessed 3 insns\n\0junk";
        assert_eq!(
            log_tail(log),
            " (verifier: 0: r1 = 1; R1 invalid mem access; processed 3 insns)"
        );
    }
}
