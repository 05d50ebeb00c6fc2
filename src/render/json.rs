//! JSON output: typed, versioned objects (see docs/json.md). Never carries colour.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::SocketEntry;

/// Version of every JSON document portscope writes. Bumped only on incompatible changes; new
/// fields may be added within a version.
pub const SCHEMA_VERSION: u32 = 1;

/// `portscope --json`.
#[derive(Debug, Serialize)]
pub struct ListDocument<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Matching sockets, in the table's order.
    pub sockets: &'a [SocketEntry],
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
/// every entry: the bytes are exactly those of [`write`] of the whole document (pinned by a unit
/// test). Start with [`ListStream::begin`], add each entry with [`ListStream::entry`], end with
/// [`ListStream::finish`], which writes the warnings (known only once every entry was seen).
#[derive(Debug)]
pub struct ListStream<W> {
    out: W,
    entries: usize,
}

impl<W: Write> ListStream<W> {
    /// Write the head of the document, up to the opening of `sockets`.
    ///
    /// # Errors
    /// When writing fails.
    pub fn begin(mut out: W) -> io::Result<Self> {
        write!(
            out,
            "{{\n  \"schema_version\": {SCHEMA_VERSION},\n  \"sockets\": ["
        )?;
        Ok(ListStream { out, entries: 0 })
    }

    /// Write one entry of `sockets`.
    ///
    /// # Errors
    /// When writing fails.
    pub fn entry(&mut self, entry: &SocketEntry) -> io::Result<()> {
        self.out
            .write_all(if self.entries == 0 { b"\n" } else { b",\n" })?;
        self.out.write_all(b"    ")?;
        // The entry sits two levels deep: its own lines get that indentation.
        to_writer_indented(&mut self.out, entry, b"    ")?;
        self.entries += 1;
        Ok(())
    }

    /// Close `sockets`, write `warnings` and the end of the document; returns the number of
    /// entries written.
    ///
    /// # Errors
    /// When writing fails.
    pub fn finish(mut self, warnings: &[String]) -> io::Result<usize> {
        if self.entries > 0 {
            self.out.write_all(b"\n  ")?;
        }
        self.out.write_all(b"],\n  \"warnings\": ")?;
        to_writer_indented(&mut self.out, &warnings, b"  ")?;
        self.out.write_all(b"\n}\n")?;
        Ok(self.entries)
    }
}

/// `serde_json::to_writer_pretty` of a value nested under `indent`: every line after the first
/// starts with `indent`. JSON strings never hold a raw newline (serde escapes it), so every
/// newline serde writes is a line break of the layout.
fn to_writer_indented<T: Serialize + ?Sized>(
    out: &mut impl Write,
    value: &T,
    indent: &'static [u8],
) -> io::Result<()> {
    serde_json::to_writer_pretty(Indent { out, indent }, value).map_err(io::Error::from)
}

/// A writer that inserts `indent` after every newline.
struct Indent<'w, W> {
    out: &'w mut W,
    indent: &'static [u8],
}

impl<W: Write> Write for Indent<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(at + 1);
            self.out.write_all(line)?;
            self.out.write_all(self.indent)?;
            rest = tail;
        }
        self.out.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
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
            cmdline: vec![
                "sshd: \"quoted\"\nnew\tline 服务 \u{1b}[31m".into(),
                "-D".into(),
            ],
            ..ProcessInfo::unknown(812)
        }];
        let mut b = SocketEntry::test_listener("::", 8080);
        b.owner_unknown_reason = Some(OwnerUnknown::Hidden);
        vec![a, b]
    }

    fn streamed(entries: &[SocketEntry], warnings: &[String]) -> String {
        let mut out = Vec::new();
        let mut stream = ListStream::begin(&mut out).unwrap();
        for e in entries {
            stream.entry(e).unwrap();
        }
        assert_eq!(stream.finish(warnings).unwrap(), entries.len());
        String::from_utf8(out).unwrap()
    }

    fn whole(entries: &[SocketEntry], warnings: &[String]) -> String {
        let mut out = Vec::new();
        write(
            &mut out,
            &ListDocument {
                schema_version: SCHEMA_VERSION,
                sockets: entries,
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
        for n in 0..=all.len() {
            for w in [&[][..], &warnings[..1], &warnings[..]] {
                assert_eq!(streamed(&all[..n], w), whole(&all[..n], w), "{n} entries");
            }
        }
    }
}
