//! One bind of the probe of `portscope who` (`collect::probe`) with Winsock semantics: the probe
//! socket sets `SO_EXCLUSIVEADDRUSE`, so the bind fails whenever any socket holds the port on an
//! overlapping address, as a plain bind does on Linux. Without it Windows lets a specific-address
//! bind share a port that a wildcard socket holds, and the probe would call a held port free.
//! `[::]` is probed v6-only, as on Unix.
//!
//! An excluded port range (Hyper-V, WinNAT) makes the bind fail with WSAEACCES, "an attempt was
//! made to access a socket in a way forbidden by its access permissions": that is reported as
//! [`ProbeOutcome::PermissionDenied`] and explained by the advice.

use std::io;
use std::net::IpAddr;

use windows_sys::Win32::Networking::WinSock::{
    AF_INET, AF_INET6, INVALID_SOCKET, IPPROTO_IPV6, IPV6_V6ONLY, SO_EXCLUSIVEADDRUSE, SOCK_DGRAM,
    SOCK_STREAM, SOCKADDR, SOCKADDR_IN, SOCKADDR_IN6, SOCKET, SOL_SOCKET, WSADATA, WSAEACCES,
    WSAEADDRINUSE, WSAEADDRNOTAVAIL, WSAEAFNOSUPPORT, WSAGetLastError, WSAStartup, bind,
    closesocket, setsockopt, socket,
};

use crate::model::{ProbeOutcome, Proto};

/// What the Winsock error of a failed bind means.
pub(crate) fn classify(err: &io::Error) -> ProbeOutcome {
    match err.raw_os_error() {
        Some(WSAEADDRINUSE) => ProbeOutcome::InUse,
        Some(WSAEACCES) => ProbeOutcome::PermissionDenied,
        Some(WSAEADDRNOTAVAIL | WSAEAFNOSUPPORT) => ProbeOutcome::AddressUnavailable,
        _ => ProbeOutcome::Error,
    }
}

/// The last Winsock error as an `io::Error` (its text comes from the system).
fn last_error() -> io::Error {
    // SAFETY: no preconditions.
    io::Error::from_raw_os_error(unsafe { WSAGetLastError() })
}

/// A socket closed on drop.
struct Socket(SOCKET);

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: a socket this module opened, closed once.
        unsafe { closesocket(self.0) };
    }
}

/// Make sure Winsock is initialised (reference-counted by the system; the standard library
/// does the same before its first socket and never cleans up either).
fn startup() -> io::Result<()> {
    // SAFETY: WSADATA is plain data that WSAStartup fills in.
    let mut data: WSADATA = unsafe { std::mem::zeroed() };
    // SAFETY: `data` is a live out-pointer; version 2.2.
    match unsafe { WSAStartup(0x0202, &raw mut data) } {
        0 => Ok(()),
        n => Err(io::Error::from_raw_os_error(n)),
    }
}

fn set_int(s: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` is a live i32 and the length passed is its size.
    let rc = unsafe { setsockopt(s.0, level, name, (&raw const value).cast(), 4) };
    if rc == 0 { Ok(()) } else { Err(last_error()) }
}

/// Bind `address:port` once with `SO_EXCLUSIVEADDRUSE` and close the socket.
pub(crate) fn try_bind(proto: Proto, address: IpAddr, port: u16) -> io::Result<()> {
    startup()?;
    let family = match address {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    };
    let ty = match proto {
        Proto::Tcp => SOCK_STREAM,
        Proto::Udp => SOCK_DGRAM,
    };
    // SAFETY: plain call; the result is checked before it is wrapped.
    let raw = unsafe { socket(i32::from(family), ty, 0) };
    if raw == INVALID_SOCKET {
        return Err(last_error());
    }
    let s = Socket(raw);
    set_int(&s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1)?;
    let rc = match address {
        IpAddr::V4(v4) => {
            let mut sa = SOCKADDR_IN {
                sin_family: AF_INET,
                sin_port: port.to_be(),
                ..SOCKADDR_IN::default()
            };
            sa.sin_addr.S_un.S_addr = u32::from(v4).to_be();
            let len = i32::try_from(size_of::<SOCKADDR_IN>()).unwrap_or(i32::MAX);
            // SAFETY: `sa` is a live SOCKADDR_IN of `len` bytes.
            unsafe { bind(s.0, (&raw const sa).cast::<SOCKADDR>(), len) }
        }
        IpAddr::V6(v6) => {
            set_int(&s, IPPROTO_IPV6, IPV6_V6ONLY, 1)?;
            let mut sa = SOCKADDR_IN6 {
                sin6_family: AF_INET6,
                sin6_port: port.to_be(),
                ..SOCKADDR_IN6::default()
            };
            sa.sin6_addr.u.Byte = v6.octets();
            let len = i32::try_from(size_of::<SOCKADDR_IN6>()).unwrap_or(i32::MAX);
            // SAFETY: `sa` is a live SOCKADDR_IN6 of `len` bytes.
            unsafe { bind(s.0, (&raw const sa).cast::<SOCKADDR>(), len) }
        }
    };
    if rc == 0 { Ok(()) } else { Err(last_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::probe::probe;
    use std::net::TcpListener;

    #[test]
    fn winsock_error_classes() {
        let e = |n| classify(&io::Error::from_raw_os_error(n));
        assert_eq!(e(WSAEADDRINUSE), ProbeOutcome::InUse);
        assert_eq!(e(WSAEACCES), ProbeOutcome::PermissionDenied);
        assert_eq!(e(WSAEADDRNOTAVAIL), ProbeOutcome::AddressUnavailable);
        assert_eq!(e(10022), ProbeOutcome::Error, "WSAEINVAL");
    }

    #[test]
    fn a_held_port_is_in_use() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let results = probe(port, &[Proto::Tcp]);
        let on = |a: &str| {
            let a: IpAddr = a.parse().unwrap();
            results.iter().find(|r| r.address == a).unwrap().result
        };
        assert_eq!(on("127.0.0.1"), ProbeOutcome::InUse);
    }
}
