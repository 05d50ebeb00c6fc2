//! The kernel's BTF cut down to what the owner-scan iterator needs, so that relocating it costs
//! well under a millisecond instead of parsing all ~150,000 types of `/sys/kernel/btf/vmlinux`
//! into owned structures (~20 ms and ~25 MB with aya).
//!
//! What the loader needs of the kernel BTF: the CO-RE field relocations of
//! `bpf/task_file.bpf.c` (matched by struct and member *name*; only the members the program
//! reads matter, at their real offsets) and the id of the `bpf_iter_task_file` function the
//! iterator attaches to. [`slim`] therefore returns that id (the kernel's own numbering) and a
//! small BTF of the structs with only the members read (plus anonymous struct/union members,
//! through which a member may be reached) and the types those members resolve to, numbered
//! from 1 in the kernel's order: a few dozen types that `aya-obj` parses in microseconds.
//! Pointer members point to `void` (CO-RE accepts any pointer for a pointer member).
//!
//! It must not change a kept record's layout facts: sizes, member offsets and the kinds CO-RE
//! compares are copied as the kernel wrote them.

use std::collections::{HashMap, HashSet};

/// Structs the program reads and the members it reads of each.
pub const STRUCTS: &[(&str, &[&str])] = &[
    (
        "task_struct",
        &["pid", "tgid", "group_leader", "thread_pid", "files"],
    ),
    ("pid", &["level", "numbers"]),
    ("upid", &["nr", "ns"]),
    ("file", &["f_inode"]),
    ("inode", &["i_mode", "i_ino"]),
];

/// The function an `iter/task_file` program attaches to.
pub const ITER_FUNC: &str = "bpf_iter_task_file";

const HEADER_LEN: usize = 24;
const MAGIC: u16 = 0xeb9f;
const RECORD_HEAD: usize = 12;
const MEMBER_LEN: usize = 12;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at + 4)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// One type record of the input.
#[derive(Clone, Copy)]
struct Record {
    start: usize,
    name_off: u32,
    info: u32,
    /// `size` or `type`, by kind.
    size_type: u32,
}

impl Record {
    fn kind(self) -> u32 {
        (self.info >> 24) & 0x1f
    }

    fn vlen(self) -> usize {
        (self.info & 0xffff) as usize
    }
}

/// Length of the record's kind-specific data after its 12-byte head.
fn tail_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
        KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
        KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
        | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
        _ => return None,
    })
}

/// What of a kept type goes into the output.
#[derive(Clone)]
enum Keep {
    /// The record as it is.
    Whole,
    /// A struct or union with only these members (indexes into its member list).
    Members(Vec<usize>),
}

/// What [`slim`] returns.
pub struct Slim {
    /// The slim BTF, in the byte order of the input.
    pub btf: Vec<u8>,
    /// The kernel's id of [`ITER_FUNC`].
    pub iter_func: u32,
}

/// The slim BTF of `raw` (the bytes of `/sys/kernel/btf/vmlinux`) and the id of the iterator
/// function.
///
/// # Errors
/// When `raw` is not BTF this parser understands, or lacks a struct or the function.
pub fn slim(raw: &[u8]) -> Result<Slim, String> {
    let bad = || "the kernel BTF is malformed".to_owned();
    let magic = raw.get(0..2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    if magic != Some(MAGIC) {
        return Err("the kernel BTF has an unknown magic (another byte order?)".to_owned());
    }
    let hdr_len = u32_at(raw, 4).ok_or_else(bad)? as usize;
    let field = |at| u32_at(raw, at).map(|v| v as usize).ok_or_else(bad);
    let (type_off, type_len, str_off, str_len) = (field(8)?, field(12)?, field(16)?, field(20)?);
    let range = |off: usize, len: usize| -> Result<std::ops::Range<usize>, String> {
        let start = hdr_len.checked_add(off).ok_or_else(bad)?;
        Ok(start..start.checked_add(len).ok_or_else(bad)?)
    };
    let types = raw.get(range(type_off, type_len)?).ok_or_else(bad)?;
    let strings = raw.get(range(str_off, str_len)?).ok_or_else(bad)?;
    let name = |off: u32| -> &[u8] {
        let rest = strings.get(off as usize..).unwrap_or_default();
        &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
    };
    // True when the name at `off` is `wanted`, without measuring the whole name first (most
    // of the ~150,000 names differ within their first bytes).
    let named = |off: u32, wanted: &str| -> bool {
        let rest = strings.get(off as usize..).unwrap_or_default();
        rest.starts_with(wanted.as_bytes()) && rest.get(wanted.len()) == Some(&0)
    };

    // Id 0 is `void`; record i (from 1) starts at records[i - 1].
    let mut records: Vec<Record> = Vec::with_capacity(type_len / 20);
    let mut wanted_structs: Vec<(u32, &[&str])> = Vec::new();
    let mut func = None;
    let mut at = 0;
    while at < types.len() {
        let record = Record {
            start: at,
            name_off: u32_at(types, at).ok_or_else(bad)?,
            info: u32_at(types, at + 4).ok_or_else(bad)?,
            size_type: u32_at(types, at + 8).ok_or_else(bad)?,
        };
        let tail = tail_len(record.kind(), record.vlen()).ok_or_else(|| {
            format!(
                "the kernel BTF has a type of unknown kind {}",
                record.kind()
            )
        })?;
        records.push(record);
        let id = u32::try_from(records.len()).map_err(|_| bad())?;
        match record.kind() {
            KIND_STRUCT => {
                if let Some((_, members)) = STRUCTS.iter().find(|(s, _)| named(record.name_off, s))
                {
                    wanted_structs.push((id, members));
                }
            }
            KIND_FUNC if func.is_none() && named(record.name_off, ITER_FUNC) => {
                func = Some(id);
            }
            _ => {}
        }
        at += RECORD_HEAD + tail;
    }
    let func = func.ok_or_else(|| {
        format!("the kernel has no {ITER_FUNC} (task_file iterators need Linux 5.8)")
    })?;
    for (wanted, _) in STRUCTS {
        let found = wanted_structs
            .iter()
            .any(|&(id, _)| name(records[id as usize - 1].name_off) == wanted.as_bytes());
        if !found {
            return Err(format!("the kernel BTF has no struct {wanted}"));
        }
    }
    let record_of = |id: u32| -> Result<Record, String> {
        records
            .get((id as usize).wrapping_sub(1))
            .copied()
            .ok_or_else(bad)
    };
    let member = |record: Record, index: usize| -> Result<(u32, u32), String> {
        let at = record.start + RECORD_HEAD + index * MEMBER_LEN;
        Ok((
            u32_at(types, at).ok_or_else(bad)?,
            u32_at(types, at + 4).ok_or_else(bad)?,
        ))
    };

    // The kept types: the wanted structs with their read members, and what those resolve to.
    let mut keep: HashMap<u32, Keep> = HashMap::new();
    let mut composites: Vec<(u32, &[&str])> = wanted_structs;
    let mut plain: Vec<u32> = Vec::new();
    let mut seen_plain: HashSet<u32> = HashSet::new();
    while let Some((id, names)) = composites.pop() {
        if keep.contains_key(&id) {
            continue;
        }
        let record = record_of(id)?;
        let mut kept = Vec::new();
        for index in 0..record.vlen() {
            let (name_off, type_id) = member(record, index)?;
            if name_off == 0 {
                // An anonymous struct or union member: a wanted member may sit inside it.
                let resolved = resolve(type_id, &record_of)?;
                if matches!(
                    record_of(resolved).map(Record::kind),
                    Ok(KIND_STRUCT | KIND_UNION)
                ) {
                    kept.push(index);
                    plain.push(type_id);
                    composites.push((resolved, names));
                }
            } else if names.iter().any(|n| n.as_bytes() == name(name_off)) {
                kept.push(index);
                plain.push(type_id);
            }
        }
        keep.insert(id, Keep::Members(kept));
    }
    // The member types: typedef and qualifier chains, arrays (element and index), integers,
    // pointers (not their targets: CO-RE accepts any pointer for a pointer member) and
    // composites (as empty shells unless wanted above).
    while let Some(id) = plain.pop() {
        if id == 0 || !seen_plain.insert(id) {
            continue;
        }
        let record = record_of(id)?;
        match record.kind() {
            KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                keep.entry(id).or_insert(Keep::Whole);
                plain.push(record.size_type);
            }
            KIND_ARRAY => {
                keep.entry(id).or_insert(Keep::Whole);
                let at = record.start + RECORD_HEAD;
                plain.push(u32_at(types, at).ok_or_else(bad)?);
                plain.push(u32_at(types, at + 4).ok_or_else(bad)?);
            }
            KIND_STRUCT | KIND_UNION => {
                keep.entry(id).or_insert(Keep::Members(Vec::new()));
            }
            _ => {
                keep.entry(id).or_insert(Keep::Whole);
            }
        }
    }

    // Output: the kept types, numbered from 1 in the kernel's order; a reference to a type not
    // kept (a pointer's target) becomes `void`.
    let mut order: Vec<u32> = keep.keys().copied().collect();
    order.sort_unstable();
    let new_ids: HashMap<u32, u32> = order
        .iter()
        .zip(1u32..)
        .map(|(&old, new)| (old, new))
        .collect();
    let renumber = |old: u32| new_ids.get(&old).copied().unwrap_or(0);
    let mut out_types = Vec::with_capacity(order.len() * 64);
    let mut out_strings = vec![0u8];
    let mut names_at: HashMap<u32, u32> = HashMap::new();
    let mut intern = |off: u32, out_strings: &mut Vec<u8>| -> Result<u32, String> {
        if off == 0 {
            return Ok(0);
        }
        if let Some(&at) = names_at.get(&off) {
            return Ok(at);
        }
        let at = u32::try_from(out_strings.len()).map_err(|_| bad())?;
        out_strings.extend_from_slice(name(off));
        out_strings.push(0);
        names_at.insert(off, at);
        Ok(at)
    };
    let push = |out: &mut Vec<u8>, value: u32| out.extend_from_slice(&value.to_ne_bytes());
    for &id in &order {
        let record = record_of(id)?;
        push(&mut out_types, intern(record.name_off, &mut out_strings)?);
        match &keep[&id] {
            Keep::Whole => match record.kind() {
                KIND_PTR | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_TYPE_TAG => {
                    push(&mut out_types, record.info);
                    push(&mut out_types, renumber(record.size_type));
                }
                KIND_ARRAY => {
                    let at = record.start + RECORD_HEAD;
                    push(&mut out_types, record.info);
                    push(&mut out_types, record.size_type);
                    push(&mut out_types, renumber(u32_at(types, at).ok_or_else(bad)?));
                    push(
                        &mut out_types,
                        renumber(u32_at(types, at + 4).ok_or_else(bad)?),
                    );
                    push(&mut out_types, u32_at(types, at + 8).ok_or_else(bad)?);
                }
                KIND_ENUM | KIND_ENUM64 => {
                    // Their values carry names of their own: not needed here, so dropped.
                    push(&mut out_types, record.info & !0xffff);
                    push(&mut out_types, record.size_type);
                }
                KIND_FUNC_PROTO => {
                    // Parameters dropped as above; the return type is a reference.
                    push(&mut out_types, record.info & !0xffff);
                    push(&mut out_types, renumber(record.size_type));
                }
                kind => {
                    // Integers and floats: no reference to another type.
                    let tail = tail_len(kind, record.vlen()).ok_or_else(bad)?;
                    let body = types
                        .get(record.start + 4..record.start + RECORD_HEAD + tail)
                        .ok_or_else(bad)?;
                    if !matches!(kind, KIND_INT | KIND_FLOAT | KIND_FWD) {
                        return Err(format!(
                            "the kernel BTF has a member of unexpected kind {kind}"
                        ));
                    }
                    out_types.extend_from_slice(body);
                }
            },
            Keep::Members(members) => {
                let count = u32::try_from(members.len()).map_err(|_| bad())?;
                push(&mut out_types, (record.info & !0xffff) | count);
                push(&mut out_types, record.size_type);
                for &index in members {
                    let at = record.start + RECORD_HEAD + index * MEMBER_LEN;
                    let (name_off, type_id) = member(record, index)?;
                    push(&mut out_types, intern(name_off, &mut out_strings)?);
                    push(&mut out_types, renumber(type_id));
                    push(&mut out_types, u32_at(types, at + 8).ok_or_else(bad)?);
                }
            }
        }
    }
    let type_len = u32::try_from(out_types.len()).map_err(|_| bad())?;
    let str_len = u32::try_from(out_strings.len()).map_err(|_| bad())?;
    let mut out = Vec::with_capacity(HEADER_LEN + out_types.len() + out_strings.len());
    out.extend_from_slice(&MAGIC.to_ne_bytes());
    out.push(raw.get(2).copied().unwrap_or(1));
    out.push(0);
    for value in [HEADER_LEN as u32, 0, type_len, type_len, str_len] {
        out.extend_from_slice(&value.to_ne_bytes());
    }
    out.extend_from_slice(&out_types);
    out.extend_from_slice(&out_strings);
    Ok(Slim {
        btf: out,
        iter_func: func,
    })
}

/// The type `id` stands for once typedefs and qualifiers are looked through.
fn resolve(mut id: u32, record_of: &impl Fn(u32) -> Result<Record, String>) -> Result<u32, String> {
    for _ in 0..32 {
        if id == 0 {
            return Ok(0);
        }
        let record = record_of(id)?;
        match record.kind() {
            KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                id = record.size_type;
            }
            _ => return Ok(id),
        }
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record of `kind` named `wanted` in BTF `data`, as (id, [(member name, offset
    /// word)]), walked independently of [`slim`]'s bookkeeping.
    fn find(data: &[u8], kind: u32, wanted: &str) -> Vec<(u32, Vec<(String, u32)>)> {
        let field = |at| u32_at(data, at).unwrap() as usize;
        let hdr = field(4);
        let types = &data[hdr + field(8)..hdr + field(8) + field(12)];
        let strings = &data[hdr + field(16)..hdr + field(16) + field(20)];
        let name = |off: usize| {
            let end = strings[off..].iter().position(|&b| b == 0).unwrap();
            String::from_utf8_lossy(&strings[off..off + end]).into_owned()
        };
        let mut out = Vec::new();
        let (mut at, mut id) = (0, 0u32);
        while at < types.len() {
            id += 1;
            let info = u32_at(types, at + 4).unwrap();
            let (k, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
            if k == kind && name(u32_at(types, at).unwrap() as usize) == wanted {
                let members = (0..if k == KIND_STRUCT { vlen } else { 0 })
                    .map(|i| {
                        let m = at + RECORD_HEAD + i * MEMBER_LEN;
                        (
                            name(u32_at(types, m).unwrap() as usize),
                            u32_at(types, m + 8).unwrap(),
                        )
                    })
                    .collect();
                out.push((id, members));
            }
            at += RECORD_HEAD + tail_len(k, vlen).unwrap();
        }
        out
    }

    #[test]
    fn slim_btf_keeps_the_members_read_at_their_offsets_and_the_function_id() {
        let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            crate::testing::skip("no kernel BTF at /sys/kernel/btf/vmlinux");
            return;
        };
        let small = slim(&raw).unwrap();
        assert!(small.btf.len() < 16 * 1024, "{} bytes", small.btf.len());
        let func = find(&raw, KIND_FUNC, ITER_FUNC);
        assert_eq!(small.iter_func, func[0].0);
        for (name, read) in STRUCTS {
            let kept = find(&small.btf, KIND_STRUCT, name);
            assert_eq!(kept.len(), 1, "{name}");
            let whole = find(&raw, KIND_STRUCT, name);
            for member in *read {
                let at = |list: &[(String, u32)]| {
                    list.iter().find(|(n, _)| n == member).map(|(_, off)| *off)
                };
                // A member inside an anonymous struct or union is kept through it.
                if let Some(offset) = at(&whole[0].1) {
                    assert_eq!(at(&kept[0].1), Some(offset), "{name}.{member}");
                }
            }
        }
        // aya-obj parses it.
        aya_obj::btf::Btf::parse(&small.btf, object::Endianness::default()).unwrap();
    }

    #[test]
    fn not_btf_is_an_error() {
        assert!(slim(b"not btf at all, not even close").is_err());
        assert!(slim(&[]).is_err());
    }
}
