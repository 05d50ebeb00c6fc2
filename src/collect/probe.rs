//! The bind probe of `portscope who`: try to bind a port the way a plain server would, on the
//! IPv4 and IPv6 wildcard and loopback addresses, and report what the system says. One bind is
//! the platform's: `collect::unix::probe` (no `SO_REUSEADDR`, Linux's and macOS's default) and
//! `collect::windows::probe` (`SO_EXCLUSIVEADDRUSE`, the Winsock counterpart: without it
//! Windows lets a second socket bind a port that a wildcard socket holds).
//!
//! It must not listen, connect or send: each probe socket is bound and closed at once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[cfg(unix)]
use crate::collect::unix::probe::{classify, try_bind};
#[cfg(windows)]
use crate::collect::windows::probe::{classify, try_bind};
use crate::model::{ProbeOutcome, ProbeResult, Proto};

/// The addresses every probe tries, in report order.
const ADDRESSES: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// Probe `port` for each protocol given, on each of [`ADDRESSES`].
#[must_use]
pub(crate) fn probe(port: u16, protos: &[Proto]) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    for &proto in protos {
        for address in ADDRESSES {
            let (result, error) = match try_bind(proto, address, port) {
                Ok(()) => (ProbeOutcome::Free, None),
                Err(err) => (classify(&err), Some(err.to_string())),
            };
            out.push(ProbeResult {
                proto,
                address,
                result,
                error,
            });
        }
    }
    out
}
