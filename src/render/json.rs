//! JSON output: typed, versioned objects (see docs/json.md). Never carries colour.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::{PidNamespace, SocketEntry, UnixTime};

/// Version of every JSON document portscope writes. Bumped only on incompatible changes; new
/// fields may be added within a version.
pub const SCHEMA_VERSION: u32 = 1;

/// `portscope --json`: the listing as one host's snapshot, which `portscope audit --from` reads
/// back. [`ListDocument`] with the host's name and the time it was taken.
#[derive(Debug, Serialize)]
pub struct SnapshotDocument<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Where and when the snapshot was taken.
    #[serde(flatten)]
    pub origin: ListOrigin<'a>,
    /// Matching sockets, in the table's order.
    pub sockets: &'a [SocketEntry],
    /// The PID namespace the pids belong to when `--proc-root` is not portscope's own; `null`
    /// when it is.
    pub pid_namespace: Option<&'a PidNamespace>,
    /// Why the result may be partial (also printed on stderr).
    pub warnings: &'a [String],
}

/// Where and when a listing was taken: the head of a [`SnapshotDocument`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ListOrigin<'a> {
    /// The host's name (`gethostname`), `null` when unknown.
    pub host: Option<&'a str>,
    /// When the snapshot was taken: RFC 3339, UTC, whole seconds.
    #[serde(with = "crate::model::rfc3339")]
    pub taken_at: UnixTime,
}

/// The listing document without [`ListOrigin`]: what [`ListStream::begin`] starts (the
/// `Format::Json` sink of `render::sink` writes it); `portscope --json` writes a
/// [`SnapshotDocument`] through the JSON sink of `render::sink` ([`ListStream::begin_snapshot`]).
#[derive(Debug, Serialize)]
pub struct ListDocument<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Matching sockets, in the table's order.
    pub sockets: &'a [SocketEntry],
    /// The PID namespace the pids belong to when `--proc-root` is not portscope's own; `null`
    /// when it is.
    pub pid_namespace: Option<&'a PidNamespace>,
    /// Why the result may be partial (also printed on stderr).
    pub warnings: &'a [String],
}

/// Write any serializable document followed by a newline.
///
/// # Errors
/// When writing fails (a closed pipe included).
pub fn write<T: Serialize>(out: &mut dyn Write, doc: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// A [`ListDocument`] written one socket at a time, so `--all --json` on a busy host never holds
/// every entry: the bytes are exactly those of [`write()`] of the whole document (pinned by a unit
/// test). Start with [`ListStream::begin`], add each entry with [`ListStream::entry`], end with
/// [`ListStream::finish`], which writes the warnings (known only once every entry was seen).
#[derive(Debug)]
pub struct ListStream<W> {
    out: W,
    entries: usize,
    /// One entry's text: serde writes it token by token into this buffer (cheap, inlined), and
    /// the buffer goes to `out` in one call (`out` is often a `dyn Write`).
    buf: Vec<u8>,
}

impl<W: Write> ListStream<W> {
    /// Write the head of the document, up to the opening of `sockets`.
    ///
    /// # Errors
    /// When writing fails.
    pub fn begin(out: W) -> io::Result<Self> {
        Self::begin_with(out, None)
    }

    /// Write the head of a [`SnapshotDocument`], up to the opening of `sockets`.
    ///
    /// # Errors
    /// When writing fails.
    pub fn begin_snapshot(out: W, origin: &ListOrigin<'_>) -> io::Result<Self> {
        Self::begin_with(out, Some(origin))
    }

    fn begin_with(mut out: W, origin: Option<&ListOrigin<'_>>) -> io::Result<Self> {
        write!(out, "{{\n  \"schema_version\": {SCHEMA_VERSION},")?;
        if let Some(origin) = origin {
            out.write_all(b"\n  \"host\": ")?;
            to_writer_indented(&mut out, &origin.host, 1)?;
            write!(out, ",\n  \"taken_at\": \"{}\",", origin.taken_at.rfc3339())?;
        }
        out.write_all(b"\n  \"sockets\": [")?;
        Ok(ListStream {
            out,
            entries: 0,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Write one entry of `sockets`.
    ///
    /// # Errors
    /// When writing fails.
    pub fn entry(&mut self, entry: &SocketEntry) -> io::Result<()> {
        self.buf.clear();
        self.buf
            .extend_from_slice(if self.entries == 0 { b"\n" } else { b",\n" });
        self.buf.extend_from_slice(b"    ");
        // The entry sits two levels deep: its own lines get that indentation.
        to_writer_indented(&mut self.buf, entry, 2)?;
        self.out.write_all(&self.buf)?;
        self.entries += 1;
        Ok(())
    }

    /// Close `sockets`, write `pid_namespace`, `warnings` and the end of the document, and
    /// flush; returns the number of entries written.
    ///
    /// # Errors
    /// When writing fails.
    pub fn finish(
        mut self,
        pid_namespace: Option<&PidNamespace>,
        warnings: &[String],
    ) -> io::Result<usize> {
        if self.entries > 0 {
            self.out.write_all(b"\n  ")?;
        }
        self.out.write_all(b"],\n  \"pid_namespace\": ")?;
        to_writer_indented(&mut self.out, &pid_namespace, 1)?;
        self.out.write_all(b",\n  \"warnings\": ")?;
        to_writer_indented(&mut self.out, warnings, 1)?;
        self.out.write_all(b"\n}\n")?;
        self.out.flush()?;
        Ok(self.entries)
    }
}

/// `serde_json::to_writer_pretty` of a value nested `level` levels deep: its lines after the
/// first are indented as the whole document's pretty printing would indent them.
fn to_writer_indented<T: Serialize + ?Sized>(
    out: &mut impl Write,
    value: &T,
    level: usize,
) -> io::Result<()> {
    let formatter = Nested {
        level,
        has_value: false,
    };
    value
        .serialize(&mut serde_json::Serializer::with_formatter(out, formatter))
        .map_err(io::Error::from)
}

/// serde_json's `PrettyFormatter` (two-space indent) starting `level` levels deep, so an entry
/// can be written on its own with the layout it has inside the document.
struct Nested {
    level: usize,
    has_value: bool,
}

impl Nested {
    fn newline<W: ?Sized + Write>(&self, out: &mut W) -> io::Result<()> {
        out.write_all(b"\n")?;
        for _ in 0..self.level {
            out.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        out.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(out)?;
        }
        out.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        if !first {
            out.write_all(b",")?;
        }
        self.newline(out)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        out.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(out)?;
        }
        out.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        if !first {
            out.write_all(b",")?;
        }
        self.newline(out)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddrClass, OwnerUnknown, ProcessInfo};

    fn entries() -> Vec<SocketEntry> {
        let mut a = SocketEntry::test_listener("0.0.0.0", 22);
        a.exposure = Some(AddrClass::Public);
        a.service = Some("ssh".into());
        a.processes = vec![ProcessInfo {
            cmdline: [
                "sshd: \"quoted\"\nnew\tline 服务 \u{1b}[31m".into(),
                "-D".into(),
            ]
            .into(),
            ..ProcessInfo::unknown(812)
        }];
        let mut b = SocketEntry::test_listener("::", 8080);
        b.owner_unknown_reason = Some(OwnerUnknown::Hidden);
        vec![a, b]
    }

    fn streamed(entries: &[SocketEntry], ns: Option<&PidNamespace>, warnings: &[String]) -> String {
        let mut out = Vec::new();
        let mut stream = ListStream::begin(&mut out).unwrap();
        for e in entries {
            stream.entry(e).unwrap();
        }
        assert_eq!(stream.finish(ns, warnings).unwrap(), entries.len());
        String::from_utf8(out).unwrap()
    }

    fn whole(entries: &[SocketEntry], ns: Option<&PidNamespace>, warnings: &[String]) -> String {
        let mut out = Vec::new();
        write(
            &mut out,
            &ListDocument {
                schema_version: SCHEMA_VERSION,
                sockets: entries,
                pid_namespace: ns,
                warnings,
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn streamed_list_is_byte_identical_to_the_whole_document() {
        let all = entries();
        let warnings = ["one \"warning\"\nwith a newline".to_string(), "two".into()];
        let other = PidNamespace {
            proc_root: "/proc/42/root/proc".into(),
            inode: Some(4_026_532_000),
            own_inode: None,
            ancestor: false,
        };
        for n in 0..=all.len() {
            for w in [&[][..], &warnings[..1], &warnings[..]] {
                for ns in [None, Some(&other)] {
                    assert_eq!(
                        streamed(&all[..n], ns, w),
                        whole(&all[..n], ns, w),
                        "{n} entries"
                    );
                }
            }
        }
    }

    /// `portscope --json` (the snapshot sink) writes exactly the whole [`SnapshotDocument`],
    /// whatever the host's name holds.
    #[test]
    fn streamed_snapshot_is_byte_identical_to_the_whole_document() {
        let all = entries();
        let warnings = ["w".to_string()];
        for host in [Some("web1"), Some("we\"ird\nname 服务"), None] {
            let origin = ListOrigin {
                host,
                taken_at: UnixTime(1_735_689_600),
            };
            for n in 0..=all.len() {
                let mut streamed = Vec::new();
                let mut stream = ListStream::begin_snapshot(&mut streamed, &origin).unwrap();
                for e in &all[..n] {
                    stream.entry(e).unwrap();
                }
                let written = stream.finish(None, &warnings).unwrap();
                assert_eq!(written, n);
                let mut whole = Vec::new();
                write(
                    &mut whole,
                    &SnapshotDocument {
                        schema_version: SCHEMA_VERSION,
                        origin,
                        sockets: &all[..n],
                        pid_namespace: None,
                        warnings: &warnings,
                    },
                )
                .unwrap();
                assert_eq!(
                    String::from_utf8(streamed).unwrap(),
                    String::from_utf8(whole).unwrap(),
                    "{host:?}, {n} entries"
                );
            }
        }
        let mut head = Vec::new();
        let origin = ListOrigin {
            host: Some("web1"),
            taken_at: UnixTime(0),
        };
        ListStream::begin_snapshot(&mut head, &origin).unwrap();
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "{\n  \"schema_version\": 1,\n  \"host\": \"web1\",\n  \"taken_at\": \
             \"1970-01-01T00:00:00Z\",\n  \"sockets\": ["
        );
    }
}
