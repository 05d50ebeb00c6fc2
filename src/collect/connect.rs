//! The real connect of `portscope check`: one TCP handshake, or one UDP datagram and a wait
//! for an answer, with a short timeout, reported with the OS error. The caller has checked
//! that the address is this machine's (`check` is not a scanner).
//!
//! It must not decide what the result means (that is `analyze::check`).

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6, TcpStream, UdpSocket};
use std::time::Duration;

use crate::model::{CheckTarget, ConnectOutcome, ConnectResult, Proto};

/// Connect to `target` once, waiting at most `timeout`; `scope_id` is the interface index of
/// a link-local IPv6 address (0 otherwise).
#[must_use]
pub fn connect(target: &CheckTarget, scope_id: u32, timeout: Duration) -> ConnectResult {
    let addr = match target.address {
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, target.port, 0, scope_id)),
        v4 => SocketAddr::new(v4, target.port),
    };
    let result = match target.proto {
        Proto::Tcp => TcpStream::connect_timeout(&addr, timeout).map(drop),
        Proto::Udp => udp_probe(addr, timeout),
    };
    match result {
        Ok(()) => ConnectResult {
            outcome: ConnectOutcome::Open,
            errno: None,
            error: None,
        },
        Err(e) => {
            let outcome = outcome_of(&e);
            if outcome == ConnectOutcome::Timeout {
                // A UDP wait ends in EAGAIN, a TCP one in an error of no errno: a timeout is
                // no OS error either way (docs/json.md: `errno` is null on a timeout).
                let error = match target.proto {
                    Proto::Tcp => e.to_string(),
                    Proto::Udp => "no answer within the timeout".to_owned(),
                };
                return ConnectResult {
                    outcome,
                    errno: None,
                    error: Some(error),
                };
            }
            ConnectResult {
                outcome,
                errno: e.raw_os_error(),
                error: Some(e.to_string()),
            }
        }
    }
}

/// Send one empty datagram and wait for anything back: an answer is `open`, an ICMP port
/// unreachable comes back as ECONNREFUSED on the connected socket, silence is a timeout.
fn udp_probe(addr: SocketAddr, timeout: Duration) -> io::Result<()> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(addr)?;
    socket.set_read_timeout(Some(timeout))?;
    socket.send(&[])?;
    let mut buf = [0u8; 512];
    socket.recv(&mut buf).map(drop)
}

fn outcome_of(e: &io::Error) -> ConnectOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ConnectOutcome::Refused,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ConnectOutcome::Timeout,
        // EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL on Unix; their WSAE* counterparts on Windows.
        io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable => ConnectOutcome::Unreachable,
        _ => ConnectOutcome::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn open_and_refused_on_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = CheckTarget {
            address: "127.0.0.1".parse().unwrap(),
            port,
            proto: Proto::Tcp,
            zone: None,
        };
        let ok = connect(&target, 0, Duration::from_secs(2));
        assert_eq!(ok.outcome, ConnectOutcome::Open);
        drop(listener);
        let refused = connect(&target, 0, Duration::from_secs(2));
        assert_eq!(refused.outcome, ConnectOutcome::Refused);
        // The OS's number: errno on Unix, the Winsock error on Windows.
        #[cfg(unix)]
        assert_eq!(refused.errno, Some(libc::ECONNREFUSED));
        #[cfg(windows)]
        assert_eq!(refused.errno, Some(10061), "WSAECONNREFUSED");
    }

    /// A UDP service that does not answer is a timeout with no errno (it was EAGAIN, 11).
    #[test]
    fn udp_silence_is_a_timeout_without_errno() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = CheckTarget {
            address: "127.0.0.1".parse().unwrap(),
            port: silent.local_addr().unwrap().port(),
            proto: Proto::Udp,
            zone: None,
        };
        let got = connect(&target, 0, Duration::from_millis(100));
        assert_eq!(got.outcome, ConnectOutcome::Timeout);
        assert_eq!(got.errno, None);
        assert_eq!(got.error.as_deref(), Some("no answer within the timeout"));
    }
}
