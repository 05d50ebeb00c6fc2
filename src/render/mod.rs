//! Rendering: a report and a writer in, bytes out. Colour and terminal sanitization live only
//! here; nothing in this module collects or analyses.

use std::net::IpAddr;

pub mod audit;
pub mod json;
pub mod sanitize;
pub mod table;
pub mod who;

pub use sanitize::sanitize;

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
    #[must_use]
    pub fn plain() -> Self {
        Style {
            color: false,
            width: None,
        }
    }
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

/// `127.0.0.1` or `[::1]`.
#[must_use]
pub fn addr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
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
