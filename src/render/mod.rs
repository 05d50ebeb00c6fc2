//! Rendering: a report and a writer in, bytes out. Colour and terminal sanitization live only
//! here; labels come from `model`, the output format and its listing writer from [`sink`].
//! Nothing in this module collects or analyses.

pub mod audit;
pub mod check;
pub mod csv;
pub mod explain;
pub mod investigation;
pub mod json;
pub mod kill;
pub mod prometheus;
pub mod sanitize;
pub mod sink;
pub mod table;
pub mod watch;

pub use sanitize::{Sanitized, sanitize};
pub use sink::{Format, ListEnd, ReportFormat, list_sink};

/// How to render for the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Fit the table to this many columns (a terminal); `None` never truncates (pipes, files).
    pub width: Option<usize>,
}

impl Style {
    /// No colour, no width limit: what tests and pipes get.
    #[cfg(test)]
    #[must_use]
    pub fn plain() -> Self {
        Style {
            color: false,
            width: None,
        }
    }
}

/// Capacity of the stdout buffer: a `--all --json` of a busy host is tens of megabytes, and
/// stdout itself is line-buffered, which without this buffer costs one `write` per line.
pub const STDOUT_BUFFER: usize = 64 * 1024;

/// The writer every command's output goes through: a [`STDOUT_BUFFER`]-byte buffer over
/// [`ClosedPipeOk`], so a report is written in a few large `write` calls and a closed pipe is
/// still not an error. The caller must `flush` it at the end (and before prompting on a
/// terminal) to see write errors: dropping it flushes but ignores them.
pub fn buffered<W: std::io::Write>(inner: W) -> std::io::BufWriter<ClosedPipeOk<W>> {
    std::io::BufWriter::with_capacity(STDOUT_BUFFER, ClosedPipeOk::new(inner))
}

/// A writer for stdout that treats a closed pipe (`portscope | head -1`) as the reader having
/// seen enough: the write "succeeds" and later output is dropped, so the command still finishes
/// and its exit code (1 for nothing found, an audit failure, …) is kept.
#[derive(Debug)]
pub struct ClosedPipeOk<W> {
    inner: W,
    closed: bool,
}

impl<W: std::io::Write> ClosedPipeOk<W> {
    /// Wrap a writer.
    pub fn new(inner: W) -> Self {
        ClosedPipeOk {
            inner,
            closed: false,
        }
    }
}

impl<W: std::io::Write> std::io::Write for ClosedPipeOk<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    /// Counts `write` calls: each one is a syscall when the writer is stdout.
    #[derive(Debug, Default)]
    struct CountWrites {
        writes: usize,
        bytes: usize,
    }
    impl Write for CountWrites {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            self.bytes += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Rendering N entries through the stdout writer takes far fewer than N `write` calls, for
    /// the JSON and both table paths. The counter sits under a `LineWriter`, as stdout's file
    /// descriptor sits under std's line-buffered `Stdout`: without the buffer that is one
    /// `write` per line.
    #[test]
    fn stdout_writer_is_buffered() {
        use crate::model::{ProcessInfo, SocketEntry};
        let n: u32 = 2000;
        let entries: Vec<SocketEntry> = (0..n)
            .map(|i| SocketEntry {
                processes: vec![ProcessInfo {
                    cmdline: [format!("server --port {i}")].into(),
                    ..ProcessInfo::unknown(100 + i)
                }],
                ..SocketEntry::test_listener("127.0.0.1", u16::try_from(i % 60_000 + 1).unwrap())
            })
            .collect();
        let cols = table::Columns {
            states: true,
            owners: true,
            netns: false,
        };
        let json = |out: &mut dyn Write| {
            let mut stream = json::ListStream::begin(out).unwrap();
            for e in &entries {
                stream.entry(e).unwrap();
            }
            stream.finish(None, &[]).unwrap();
        };
        let table = |width| {
            let entries = &entries;
            move |out: &mut dyn Write| {
                let style = Style {
                    color: false,
                    width,
                };
                table::sockets(out, entries, cols, style).unwrap();
            }
        };
        check_buffered("json", n, json);
        check_buffered("piped table", n, table(None));
        check_buffered("terminal table", n, table(Some(100)));
    }

    fn check_buffered(name: &str, entries: u32, render: impl FnOnce(&mut dyn Write)) {
        let mut out = buffered(std::io::LineWriter::new(CountWrites::default()));
        render(&mut out);
        out.flush().unwrap();
        let counter = out.into_inner().unwrap().inner.into_inner().unwrap();
        let chunks = counter.bytes / STDOUT_BUFFER + 1;
        assert!(
            counter.writes <= 2 * chunks + 2,
            "{name}: {} writes for {} bytes, {entries} entries",
            counter.writes,
            counter.bytes
        );
        assert!(
            counter.writes < entries as usize / 10,
            "{name}: {} writes",
            counter.writes
        );
    }

    #[test]
    fn closed_pipe_swallows_only_broken_pipe() {
        let mut w = ClosedPipeOk::new(Broken);
        assert!(writeln!(w, "a line").is_ok());
        assert!(w.flush().is_ok());
        let mut v = ClosedPipeOk::new(Vec::new());
        writeln!(v, "kept").unwrap();
        assert_eq!(v.inner, b"kept\n");
    }
}
