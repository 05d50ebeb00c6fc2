//! The model's values as people read them: one `Display` per label that more than one output
//! shows — an address (`[::1]`), an end (`[::1]:80`), a socket's local end (`[::] v4+v6`), its
//! exposure (`private via eth0`), why its owner is unknown (`(need root)`) — written once here,
//! so the table, the who and audit reports and any later format spell them alike.
//!
//! Plain text: nothing here colours, cuts or escapes for a terminal. Names inside a label
//! (interfaces) are written as they are; a renderer for a terminal escapes the whole label
//! (`render::sanitize`), which changes only those names. Width, fill and alignment flags are
//! honoured (`{:<11}`), as for a `&str`.

use std::fmt::{self, Display, Formatter};
use std::net::IpAddr;

use super::{AddrClass, FindingSocket, OwnerUnknown, SocketEntry};

/// Write what `write` produces, honouring the formatter's width, fill, alignment and precision
/// like [`Formatter::pad`]; without such flags the text goes straight to the formatter.
fn padded(
    f: &mut Formatter<'_>,
    write: impl Fn(&mut dyn fmt::Write) -> fmt::Result,
) -> fmt::Result {
    if f.width().is_none() && f.precision().is_none() {
        return write(f);
    }
    let mut text = String::new();
    write(&mut text)?;
    f.pad(&text)
}

/// An IP address as it is shown next to a port: `127.0.0.1`, `[::1]` (IPv6 in brackets, so
/// `[::1]:80` stays readable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostAddr(pub IpAddr);

impl HostAddr {
    fn write(self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(out, "{v4}"),
            IpAddr::V6(v6) => write!(out, "[{v6}]"),
        }
    }
}

impl Display for HostAddr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        padded(f, |out| self.write(out))
    }
}

/// An address with its port: `127.0.0.1:80`, `[::1]:80` (a remote end, an end in a report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint(pub IpAddr, pub u16);

impl Display for Endpoint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        padded(f, |out| {
            HostAddr(self.0).write(out)?;
            write!(out, ":{}", self.1)
        })
    }
}

/// A socket's local end as the listing and the reports show it: the address, `%device` when
/// the socket is bound to one, `:port` when asked for ([`LocalEnd::with_port`]; the table shows
/// the port in a column of its own), and for an IPv6 wildcard whether it takes IPv4 too:
/// `0.0.0.0`, `127.0.0.53%lo`, `[::] v4+v6`, `[::]:6379 v6-only`, `0.0.0.0%eth0:53`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalEnd<'a> {
    /// The local address.
    pub address: IpAddr,
    /// The device the socket is bound to.
    pub interface: Option<&'a str>,
    /// The port, when the label carries it.
    pub port: Option<u16>,
    /// [`SocketEntry::dual_stack`]: `v4+v6` when true, `v6-only` when false.
    pub dual_stack: Option<bool>,
}

impl<'a> LocalEnd<'a> {
    /// The local end of a listing row, without its port.
    #[must_use]
    pub fn of(entry: &'a SocketEntry) -> Self {
        LocalEnd {
            address: entry.local_address,
            interface: entry.interface.as_deref(),
            port: None,
            dual_stack: entry.dual_stack,
        }
    }

    /// The local end of an audit finding's socket, with its port (a report line).
    #[must_use]
    pub fn of_finding(socket: &'a FindingSocket) -> Self {
        LocalEnd {
            address: socket.local_address,
            interface: socket.interface.as_deref(),
            port: Some(socket.port),
            dual_stack: socket.dual_stack,
        }
    }

    /// The same end with `:port` after the address and device.
    #[must_use]
    pub fn with_port(self, port: u16) -> Self {
        LocalEnd {
            port: Some(port),
            ..self
        }
    }
}

impl Display for LocalEnd<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        padded(f, |out| {
            HostAddr(self.address).write(out)?;
            if let Some(dev) = self.interface {
                write!(out, "%{dev}")?;
            }
            if let Some(port) = self.port {
                write!(out, ":{port}")?;
            }
            match self.dual_stack {
                Some(true) => out.write_str(" v4+v6"),
                Some(false) => out.write_str(" v6-only"),
                None => Ok(()),
            }
        })
    }
}

/// An exposure class as a word: `loopback`, `link-local`, `private`, `documentation`,
/// `multicast`, `reserved`, `public` (JSON and `--exposure` spell `link_local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassName(pub AddrClass);

impl Display for ClassName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.pad(match self.0 {
            AddrClass::LinkLocal => "link-local",
            other => other.as_str(),
        })
    }
}

/// How far a socket reaches, in one of two lengths:
///
/// - [`ExposureLabel::of`], the listing's EXPOSURE cell: the class, and for a wildcard bind the
///   interface that carries the most exposed address (`public via eth0`); `none` when a
///   wildcard covers no address at all.
/// - [`ExposureLabel::detailed`], a report line: the class with the interface and address that
///   make it so, and whether the bind is a wildcard (`public via eth0 203.0.113.7 (wildcard
///   bind)`); `no address` when a wildcard covers none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposureLabel<'a> {
    /// [`SocketEntry::exposure`].
    pub class: Option<AddrClass>,
    /// [`SocketEntry::exposure_address`].
    pub via_address: Option<IpAddr>,
    /// [`SocketEntry::exposure_interface`].
    pub via_interface: Option<&'a str>,
    /// [`SocketEntry::wildcard`].
    pub wildcard: bool,
    /// The report form rather than the cell.
    pub detailed: bool,
}

impl<'a> ExposureLabel<'a> {
    /// The listing's cell for a row.
    #[must_use]
    pub fn of(entry: &'a SocketEntry) -> Self {
        ExposureLabel {
            class: entry.exposure,
            via_address: entry.exposure_address,
            via_interface: entry.exposure_interface.as_deref(),
            wildcard: entry.wildcard,
            detailed: false,
        }
    }

    /// The report form for an audit finding's socket.
    #[must_use]
    pub fn of_finding(socket: &'a FindingSocket) -> Self {
        ExposureLabel {
            class: socket.exposure,
            via_address: socket.exposure_address,
            via_interface: socket.exposure_interface.as_deref(),
            wildcard: socket.wildcard,
            detailed: true,
        }
    }

    /// The report form of the same exposure.
    #[must_use]
    pub fn detailed(self) -> Self {
        ExposureLabel {
            detailed: true,
            ..self
        }
    }
}

impl Display for ExposureLabel<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        padded(f, |out| {
            let Some(class) = self.class else {
                return out.write_str(if self.detailed { "no address" } else { "none" });
            };
            write!(out, "{}", ClassName(class))?;
            if !self.detailed {
                return match self.via_interface {
                    Some(dev) if self.wildcard => write!(out, " via {dev}"),
                    _ => Ok(()),
                };
            }
            match (self.via_interface, self.via_address) {
                (Some(dev), Some(a)) => write!(out, " via {dev} {a}")?,
                (None, Some(a)) => write!(out, " via {a}")?,
                (Some(dev), None) => write!(out, " via {dev}")?,
                (None, None) => {}
            }
            if self.wildcard {
                out.write_str(" (wildcard bind)")?;
            }
            Ok(())
        })
    }
}

/// The length of an [`OwnerUnknownLabel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerUnknownForm {
    /// The listing's PROCESS cell: `(need root)`, `(hidden)`, `(kernel)`, `(not found)`; empty
    /// when the scan was skipped or no reason is known.
    Cell,
    /// An owner in a report: `unknown (run as root to see it)`, `unknown (hidden even from
    /// root)`, `unknown (no process holds it)`, `kernel`; `unknown` otherwise.
    Owner,
    /// What the reason means, after a socket in `who`'s list of sockets without a visible
    /// owner: `not visible without root`, `hidden: …`, `kernel-owned: …`, `no process holds it:
    /// …`; empty when the scan was skipped or no reason is known (such sockets are not listed).
    Explained,
}

/// Why no owner is shown for a socket, in the words of one [`OwnerUnknownForm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerUnknownLabel {
    /// [`SocketEntry::owner_unknown_reason`].
    pub reason: Option<OwnerUnknown>,
    /// How long the label is.
    pub form: OwnerUnknownForm,
}

impl OwnerUnknownLabel {
    /// The text, which is the same for every socket with this reason.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        use OwnerUnknown::{Hidden, Kernel, NotFound, NotReported, Permission, Skipped};
        use OwnerUnknownForm::{Cell, Explained, Owner};
        match (self.form, self.reason) {
            (Cell, Some(Permission)) => "(need root)",
            (Cell, Some(Hidden)) => "(hidden)",
            (Cell, Some(Kernel)) => "(kernel)",
            (Cell, Some(NotFound)) => "(not found)",
            (Cell, Some(NotReported)) => "(not reported)",
            (Cell | Explained, Some(Skipped) | None) => "",
            (Owner, Some(Permission)) => "unknown (run as root to see it)",
            (Owner, Some(Hidden)) => "unknown (hidden even from root)",
            (Owner, Some(NotFound)) => "unknown (no process holds it)",
            (Owner, Some(NotReported)) => "unknown (the OS names no process)",
            (Owner, Some(Kernel)) => "kernel",
            (Owner, Some(Skipped) | None) => "unknown",
            (Explained, Some(Permission)) => "not visible without root",
            (Explained, Some(Hidden)) => {
                "hidden: the holder's file descriptors cannot be read even as root (another PID \
                 namespace or a sandbox)"
            }
            (Explained, Some(Kernel)) => {
                "kernel-owned: no process holds it (TIME_WAIT or a kernel socket)"
            }
            (Explained, Some(NotReported)) => {
                "not reported: the system's socket table names no process for it (pid 0: \
                 TIME_WAIT on Windows, every socket under Wine)"
            }
            (Explained, Some(NotFound)) => {
                "no process holds it: a kernel socket (NFS, WireGuard), another PID namespace, or \
                 the process exited"
            }
        }
    }
}

impl Display for OwnerUnknownLabel {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_and_ends() {
        let cases = [
            ("127.0.0.1", "127.0.0.1", "127.0.0.1:80"),
            ("0.0.0.0", "0.0.0.0", "0.0.0.0:80"),
            ("::", "[::]", "[::]:80"),
            ("::1", "[::1]", "[::1]:80"),
            ("fe80::1", "[fe80::1]", "[fe80::1]:80"),
            (
                "::ffff:10.0.0.1",
                "[::ffff:10.0.0.1]",
                "[::ffff:10.0.0.1]:80",
            ),
        ];
        for (addr, host, end) in cases {
            assert_eq!(HostAddr(ip(addr)).to_string(), host);
            assert_eq!(Endpoint(ip(addr), 80).to_string(), end);
        }
        // Padded like a string (the bind-probe lines of `who` align on it).
        assert_eq!(format!("{:<11}|", HostAddr(ip("::"))), "[::]       |");
        assert_eq!(format!("{:>8}|", Endpoint(ip("::1"), 8)), " [::1]:8|");
        assert_eq!(format!("{:<3}|", HostAddr(ip("10.0.0.1"))), "10.0.0.1|");
    }

    #[test]
    fn local_ends() {
        let end = |addr, interface, dual_stack| LocalEnd {
            address: ip(addr),
            interface,
            port: None,
            dual_stack,
        };
        let cases = [
            (end("0.0.0.0", None, None), "0.0.0.0", "0.0.0.0:53"),
            (
                end("127.0.0.53", Some("lo"), None),
                "127.0.0.53%lo",
                "127.0.0.53%lo:53",
            ),
            (end("::", None, Some(true)), "[::] v4+v6", "[::]:53 v4+v6"),
            (
                end("::", None, Some(false)),
                "[::] v6-only",
                "[::]:53 v6-only",
            ),
            (
                end("::", Some("eth0"), Some(false)),
                "[::]%eth0 v6-only",
                "[::]%eth0:53 v6-only",
            ),
            // Names are written as they are: escaping is the terminal renderer's.
            (
                end("10.0.0.1", Some("e\x1b"), None),
                "10.0.0.1%e\x1b",
                "10.0.0.1%e\x1b:53",
            ),
        ];
        for (label, plain, with_port) in cases {
            assert_eq!(label.to_string(), plain);
            assert_eq!(label.with_port(53).to_string(), with_port);
        }
        let mut e = SocketEntry::test_listener("::", 8080);
        e.interface = Some("eth1".into());
        e.dual_stack = Some(true);
        assert_eq!(LocalEnd::of(&e).to_string(), "[::]%eth1 v4+v6");
        let finding = FindingSocket::from(&e);
        assert_eq!(
            LocalEnd::of_finding(&finding).to_string(),
            "[::]%eth1:8080 v4+v6"
        );
        assert_eq!(format!("{:<12}|", LocalEnd::of(&e)), "[::]%eth1 v4+v6|");
    }

    #[test]
    fn exposures() {
        use AddrClass::{LinkLocal, Private, Public};
        let label = |class, via_address: Option<&str>, via_interface, wildcard| ExposureLabel {
            class,
            via_address: via_address.map(ip),
            via_interface,
            wildcard,
            detailed: false,
        };
        // (label, cell, report line)
        let cases = [
            (
                label(Some(Public), Some("203.0.113.7"), Some("eth0"), true),
                "public via eth0",
                "public via eth0 203.0.113.7 (wildcard bind)",
            ),
            // A specific bind names no interface in the cell: the address says it all.
            (
                label(Some(Public), Some("203.0.113.7"), Some("eth0"), false),
                "public",
                "public via eth0 203.0.113.7",
            ),
            (
                label(Some(LinkLocal), Some("fe80::1"), None, true),
                "link-local",
                "link-local via fe80::1 (wildcard bind)",
            ),
            (
                label(Some(Private), None, Some("eth1"), true),
                "private via eth1",
                "private via eth1 (wildcard bind)",
            ),
            (
                label(Some(Private), None, None, false),
                "private",
                "private",
            ),
            (label(None, None, None, true), "none", "no address"),
        ];
        for (label, cell, report) in cases {
            assert_eq!(label.to_string(), cell, "{label:?}");
            assert_eq!(label.detailed().to_string(), report, "{label:?}");
        }
        let mut e = SocketEntry::test_listener("0.0.0.0", 22);
        e.exposure = Some(Public);
        e.exposure_interface = Some("eth0".into());
        assert_eq!(ExposureLabel::of(&e).to_string(), "public via eth0");
        assert_eq!(
            ExposureLabel::of_finding(&FindingSocket::from(&e)).to_string(),
            "public via eth0 (wildcard bind)"
        );
        assert_eq!(
            format!("{:<17}|", ExposureLabel::of(&e)),
            "public via eth0  |"
        );
        assert_eq!(ClassName(LinkLocal).to_string(), "link-local");
        assert_eq!(
            ClassName(AddrClass::Documentation).to_string(),
            "documentation"
        );
    }

    #[test]
    fn unknown_owners() {
        use OwnerUnknown::{Hidden, Kernel, NotFound, NotReported, Permission, Skipped};
        use OwnerUnknownForm::{Cell, Explained, Owner};
        let reasons = [
            Some(Permission),
            Some(Hidden),
            Some(Kernel),
            Some(NotFound),
            Some(NotReported),
            Some(Skipped),
            None,
        ];
        // One row per reason: (cell, owner, explained).
        let want = [
            (
                "(need root)",
                "unknown (run as root to see it)",
                "not visible without root",
            ),
            (
                "(hidden)",
                "unknown (hidden even from root)",
                "hidden: the holder's file descriptors cannot be read even as root (another PID namespace or a sandbox)",
            ),
            (
                "(kernel)",
                "kernel",
                "kernel-owned: no process holds it (TIME_WAIT or a kernel socket)",
            ),
            (
                "(not found)",
                "unknown (no process holds it)",
                "no process holds it: a kernel socket (NFS, WireGuard), another PID namespace, or the process exited",
            ),
            (
                "(not reported)",
                "unknown (the OS names no process)",
                "not reported: the system's socket table names no process for it (pid 0: TIME_WAIT on Windows, every socket under Wine)",
            ),
            ("", "unknown", ""),
            ("", "unknown", ""),
        ];
        for (reason, (cell, owner, explained)) in reasons.into_iter().zip(want) {
            let label = |form| OwnerUnknownLabel { reason, form }.to_string();
            assert_eq!(label(Cell), cell, "{reason:?}");
            assert_eq!(label(Owner), owner, "{reason:?}");
            assert_eq!(label(Explained), explained, "{reason:?}");
        }
    }
}
