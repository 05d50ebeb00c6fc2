//! Linux backend: netlink sock_diag for the socket table, `/proc` for owners and process details.

pub mod procfs;
pub mod sock_diag;

use crate::collect::{CollectError, SocketQuery};
use crate::model::{Family, Proto, RawSocket};

/// Dump the sockets the query asks for, one netlink request per (protocol, family).
///
/// # Errors
/// When netlink cannot be opened or a reply cannot be decoded.
pub fn sockets(query: &SocketQuery) -> Result<Vec<RawSocket>, CollectError> {
    let mut out = Vec::new();
    for (proto, states) in [(Proto::Tcp, query.tcp_states), (Proto::Udp, query.udp_states)] {
        if states == 0 {
            continue;
        }
        for (family, wanted) in [(Family::Ipv4, query.ipv4), (Family::Ipv6, query.ipv6)] {
            if wanted {
                out.extend(sock_diag::dump(proto, family, states)?);
            }
        }
    }
    Ok(out)
}
