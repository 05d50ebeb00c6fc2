//! One bind of the probe of `portscope who` (`collect::probe`) on the Unix backends (socket(2)
//! and bind(2) are the same there): bind a port the way a server that does not set
//! `SO_REUSEADDR` would, and classify what the kernel says.
//!
//! Each probe socket is bound and closed at once: it never listens, connects or sends, so it
//! cannot accept a connection or disturb the holder. `[::]` is probed with `IPV6_V6ONLY=1`, so
//! it tests the IPv6 side alone (a dual-stack bind would fail on any IPv4 holder too, which the
//! `0.0.0.0` probe already shows). It must not set `SO_REUSEADDR`: the point is to see whether a
//! plain bind works.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::model::{ProbeOutcome, Proto};

pub(crate) fn classify(err: &io::Error) -> ProbeOutcome {
    match err.raw_os_error() {
        Some(libc::EADDRINUSE) => ProbeOutcome::InUse,
        Some(libc::EACCES | libc::EPERM) => ProbeOutcome::PermissionDenied,
        Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT) => ProbeOutcome::AddressUnavailable,
        _ => ProbeOutcome::Error,
    }
}

pub(crate) fn try_bind(proto: Proto, address: IpAddr, port: u16) -> io::Result<()> {
    let domain = match address {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    };
    let ty = match proto {
        Proto::Tcp => libc::SOCK_STREAM,
        Proto::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: plain socket(2) call; the result is checked before it is wrapped.
    let raw = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor this function owns; OwnedFd closes it on every path.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    match address {
        IpAddr::V4(v4) => {
            // SAFETY: sockaddr_in is plain data; all-zero is a valid starting value.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = port.to_be();
            sa.sin_addr.s_addr = u32::from(v4).to_be();
            bind(&fd, (&raw const sa).cast(), size_of::<libc::sockaddr_in>())
        }
        IpAddr::V6(v6) => {
            let one: libc::c_int = 1;
            // SAFETY: `one` is a live c_int and the length passed is its size.
            let rc = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_V6ONLY,
                    (&raw const one).cast(),
                    socklen(size_of::<libc::c_int>()),
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: sockaddr_in6 is plain data; all-zero is a valid starting value.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_port = port.to_be();
            sa.sin6_addr.s6_addr = v6.octets();
            bind(&fd, (&raw const sa).cast(), size_of::<libc::sockaddr_in6>())
        }
    }
}

fn socklen(n: usize) -> libc::socklen_t {
    libc::socklen_t::try_from(n).unwrap_or(libc::socklen_t::MAX)
}

fn bind(fd: &OwnedFd, sa: *const libc::sockaddr, len: usize) -> io::Result<()> {
    // SAFETY: `sa` points to a live socket address of `len` bytes built by the caller, and
    // `fd` is an open socket.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), sa, socklen(len)) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::probe::probe;
    use std::net::Ipv4Addr;
    use std::net::{TcpListener, UdpSocket};

    #[test]
    fn held_and_free_ports() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let results = probe(port, &[Proto::Tcp]);
        let on = |a: &str| {
            let a: IpAddr = a.parse().unwrap();
            results.iter().find(|r| r.address == a).unwrap().result
        };
        assert_eq!(on("127.0.0.1"), ProbeOutcome::InUse);
        // A specific-address listener blocks the IPv4 wildcard too.
        assert_eq!(on("0.0.0.0"), ProbeOutcome::InUse);
        drop(listener);
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        drop(udp);
        let results = probe(port, &[Proto::Udp]);
        assert_eq!(results.len(), 4);
        let v4 = results
            .iter()
            .find(|r| r.address == IpAddr::V4(Ipv4Addr::LOCALHOST))
            .unwrap();
        assert_eq!(v4.result, ProbeOutcome::Free);
        assert_eq!(v4.error, None);
    }

    #[test]
    fn errno_classes() {
        let e = |n| classify(&io::Error::from_raw_os_error(n));
        assert_eq!(e(libc::EADDRINUSE), ProbeOutcome::InUse);
        assert_eq!(e(libc::EACCES), ProbeOutcome::PermissionDenied);
        assert_eq!(e(libc::EADDRNOTAVAIL), ProbeOutcome::AddressUnavailable);
        assert_eq!(e(libc::EINVAL), ProbeOutcome::Error);
    }
}
