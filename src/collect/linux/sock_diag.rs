//! The Linux socket table through netlink `sock_diag`: one `NETLINK_SOCK_DIAG` socket and one
//! `SOCK_DIAG_BY_FAMILY` dump request per (protocol, family), decoded into [`RawSocket`]s.
//!
//! What it does:
//! - turns the query's states into the kernel's state mask ([`kernel_states`]), so the kernel
//!   does the filtering (a TCP `1 << LISTEN` dump never walks the established hash), and the
//!   kernel's state numbers back into [`SocketState`]s ([`socket_state`]): the numbers of
//!   include/net/tcp_states.h appear nowhere else;
//! - keeps what `ss` shows and netstat2 drops: the UDP state and remote end (a connected UDP
//!   socket is `Established`, not "listening"), the bound interface, and `IPV6_V6ONLY`;
//! - turns every kernel error into a [`CollectError`]. An `NLMSG_ERROR` reply, and the negative
//!   errno the kernel puts in `NLMSG_DONE` when the dump itself fails (for example `ENOENT` when
//!   the protocol's diag module, `udp_diag`, is missing), are errors, never an empty table.
//!
//! What it must not do: widen the state mask (OR-ing in CLOSE makes a TCP dump walk every
//! established socket), read `/proc` or resolve owners, names and services (other modules do),
//! allocate per socket beyond the result `Vec`, or panic on anything the kernel sends.
//!
//! `IPV6_V6ONLY` needs no extension: the kernel appends `INET_DIAG_SKV6ONLY` to every AF_INET6
//! socket in LISTEN or CLOSE state (TCP listeners, unconnected UDP) whatever `idiag_ext` says, and
//! to no other state. So `v6only` is `Some` for those and `None` for connected IPv6 sockets. No
//! extension is requested: `INET_DIAG_TCLASS`, often suggested for this, only adds a traffic-class
//! and a class-id attribute to every message. A socket bound to a specific, non-mapped IPv6
//! address (`[::1]`) reports `Some(true)` whatever `IPV6_V6ONLY` was set to, because the kernel
//! sets the flag at `bind`; only for `[::]` does the value say whether IPv4 is accepted too.
//!
//! Attributes are walked in place instead of through the crate's `InetResponse`, which boxes every
//! message and copies each unknown attribute (recent kernels always send `INET_DIAG_CGROUP_ID`
//! and `INET_DIAG_SOCKOPT`) into a `Vec`: on a host with 40k sockets that is 120k allocations.
//!
//! Platform notes: only sockets of the caller's network namespace are visible (a listener inside
//! a container's netns is not: `--netns`/`--all-netns` run this reader on a thread that entered
//! the namespace first, see `namespaces.rs`). No privileges are needed: an
//! unprivileged caller sees every socket of the namespace with its uid and inode.

use std::io;
use std::mem::size_of;

use netlink_packet_core::{
    DoneBuffer, ErrorBuffer, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_ALIGNTO, NLMSG_DONE, NLMSG_ERROR,
    NLMSG_NOOP, NLMSG_OVERRUN, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NlasIterator,
    Parseable,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, INET_DIAG_SHUTDOWN, INET_DIAG_SKV6ONLY, IPPROTO_TCP, IPPROTO_UDP,
    SOCK_DIAG_BY_FAMILY,
};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponseBuffer, InetResponseHeader, SocketId, StateFlags,
};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr};

use crate::collect::CollectError;
use crate::model::{Family, Proto, RawSocket, SocketState, StateSet};

/// Receive buffer. The kernel sizes each dump datagram by the largest buffer seen so far, capped
/// near 32 KiB, so 64 KiB never truncates and keeps the number of `recv` calls minimal.
const RECV_BUF_LEN: usize = 64 * 1024;

/// Length of `struct inet_diag_msg`, after which the attributes start.
const INET_DIAG_MSG_LEN: usize = size_of::<InetResponseBuffer>();

/// Extensions asked for: none (see the module documentation for `INET_DIAG_SKV6ONLY`).
fn extensions() -> ExtensionFlags {
    ExtensionFlags::empty()
}

/// Kernel state number of TCP_ESTABLISHED (also a connected UDP socket).
const TCP_ESTABLISHED: u8 = 1;
/// Kernel state number of TCP_CLOSE (an unconnected UDP socket).
const TCP_CLOSE: u8 = 7;
/// Kernel state number of TCP_LISTEN.
const TCP_LISTEN: u8 = 10;
/// Kernel pseudo-state TCP_BOUND_INACTIVE (Linux 6.5): asking for it makes the kernel walk its
/// bind table for TCP sockets that are bound but neither listening nor connected, which it then
/// reports in state CLOSE. Older kernels ignore the bit.
const TCP_BOUND_INACTIVE: u8 = 13;
/// Every kernel state, 1..=12, and TCP_BOUND_INACTIVE (13).
const ALL_KERNEL_STATES: u32 = 0x3ffe;

/// The [`SocketState`] of a kernel `TCP_*` state number (include/net/tcp_states.h) reported
/// for a socket of `proto`; `None` for a number the model does not know.
fn socket_state(proto: Proto, state: u8) -> Option<SocketState> {
    Some(match (proto, state) {
        // UDP sockets only ever report these two states.
        (Proto::Udp, TCP_CLOSE) => SocketState::Unconnected,
        (Proto::Udp, TCP_ESTABLISHED) => SocketState::Established,
        (Proto::Udp, _) => return None,
        (_, TCP_ESTABLISHED) => SocketState::Established,
        (_, 2) => SocketState::SynSent,
        (_, 3) => SocketState::SynRecv,
        (_, 4) => SocketState::FinWait1,
        (_, 5) => SocketState::FinWait2,
        (_, 6) => SocketState::TimeWait,
        // TCP_CLOSE with a local port: bound but inactive (reported so by the kernel's walk of
        // the bind table); 13, TCP_BOUND_INACTIVE, is what a request asks for.
        (_, TCP_CLOSE | TCP_BOUND_INACTIVE) => SocketState::Bound,
        (_, 8) => SocketState::CloseWait,
        (_, 9) => SocketState::LastAck,
        (_, TCP_LISTEN) => SocketState::Listen,
        (_, 11) => SocketState::Closing,
        (_, 12) => SocketState::NewSynRecv,
        _ => return None,
    })
}

/// The kernel state number to ask for (a bit of `idiag_states`) to get `state` for `proto`,
/// `None` when the protocol has no such state (an unconnected TCP socket, a listening UDP
/// socket). `Bound` is asked for as TCP_BOUND_INACTIVE (13): asking for TCP_CLOSE (7) would
/// only walk the established hash, where bound sockets are not.
fn kernel_number(state: SocketState, proto: Proto) -> Option<u8> {
    if proto == Proto::Tcp && state == SocketState::Bound {
        return Some(TCP_BOUND_INACTIVE);
    }
    (1..=12).find(|&n| socket_state(proto, n) == Some(state))
}

/// The kernel's `idiag_states` mask for `states` of `proto`: exactly the states asked (TCP
/// `1 << LISTEN` alone for the listening view; CLOSE is deliberately not OR-ed in as `ss -l`
/// does, so the kernel skips the established hash), or every kernel state when every state is
/// asked. Zero when none of the states occurs in `proto`.
pub(crate) fn kernel_states(states: StateSet, proto: Proto) -> u32 {
    if states.is_all() {
        return ALL_KERNEL_STATES;
    }
    states
        .iter()
        .filter_map(|s| kernel_number(s, proto))
        .fold(0, |mask, n| mask | (1 << n))
}

/// Dump all sockets of one protocol and family in one of `states` and, with `local_ports`,
/// whose local port is in that inclusive range.
///
/// `states` becomes the kernel's state mask ([`kernel_states`]); nothing is sent when it is
/// zero. Sockets whose state the model does not know are skipped. Only the caller's network
/// namespace is visible. The kernel applies the port range (an `INET_DIAG_REQ_BYTECODE`
/// filter, as `ss 'sport = :P'` sends), so a port lookup on a host with 40k established sockets
/// copies only the matches.
///
/// # Errors
/// [`CollectError::SocketTable`] when the netlink socket cannot be opened, sent on or read, or
/// when the kernel answers with an error (`ENOENT`: no diag module for the protocol);
/// [`CollectError::Decode`] when a reply is malformed.
pub(crate) fn dump_filtered(
    proto: Proto,
    family: Family,
    states: StateSet,
    local_ports: Option<(u16, u16)>,
) -> Result<Vec<RawSocket>, CollectError> {
    let mask = kernel_states(states, proto);
    if mask == 0 {
        return Ok(Vec::new());
    }
    dump_mask(proto, family, mask, local_ports)
}

/// [`dump_filtered`] with the kernel's state mask as given.
fn dump_mask(
    proto: Proto,
    family: Family,
    states: u32,
    local_ports: Option<(u16, u16)>,
) -> Result<Vec<RawSocket>, CollectError> {
    let protocol = match proto {
        Proto::Tcp => IPPROTO_TCP,
        Proto::Udp => IPPROTO_UDP,
    };
    dump_protocol(Request {
        proto,
        family,
        protocol,
        states,
        local_ports,
    })
}

/// [`dump_mask`] over every port.
#[cfg(test)]
fn dump(proto: Proto, family: Family, states: u32) -> Result<Vec<RawSocket>, CollectError> {
    dump_mask(proto, family, states, None)
}

/// `INET_DIAG_REQ_BYTECODE`, the request attribute holding a filter program.
const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// Filter op: local port >= the value in the next op's `no` field.
const INET_DIAG_BC_S_GE: u8 = 2;
/// Filter op: local port <= the value in the next op's `no` field.
const INET_DIAG_BC_S_LE: u8 = 3;

/// The netlink attribute of a filter program accepting local ports `lo..=hi`.
///
/// Each op is `struct inet_diag_bc_op { u8 code; u8 yes; u16 no; }`; a port comparison is
/// followed by a second op whose `no` holds the port. The kernel runs the program from the start,
/// jumping `yes` bytes on a match and `no` bytes otherwise; a socket is kept when the jumps land
/// exactly on the end. A jump 4 bytes past the end rejects (the kernel's audit allows at most
/// that), which is how `ss` encodes it.
fn port_range_filter(lo: u16, hi: u16) -> [u8; 20] {
    const PROGRAM_LEN: u16 = 16;
    let op = |code: u8, yes: u8, no: u16| {
        let n = no.to_ne_bytes();
        [code, yes, n[0], n[1]]
    };
    let mut attr = [0u8; 20];
    attr[0..2].copy_from_slice(&(4 + PROGRAM_LEN).to_ne_bytes());
    attr[2..4].copy_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    // At offset 0 (16 bytes left): port >= lo, else jump past the end.
    attr[4..8].copy_from_slice(&op(INET_DIAG_BC_S_GE, 8, PROGRAM_LEN + 4));
    attr[8..12].copy_from_slice(&op(0, 0, lo));
    // At offset 8 (8 bytes left): port <= hi, else jump past the end.
    attr[12..16].copy_from_slice(&op(INET_DIAG_BC_S_LE, 8, 8 + 4));
    attr[16..20].copy_from_slice(&op(0, 0, hi));
    attr
}

/// One dump request. `protocol` is the `IPPROTO_*` number sent; it is `proto`'s except in tests
/// that provoke a kernel error.
#[derive(Debug, Clone, Copy)]
struct Request {
    proto: Proto,
    family: Family,
    protocol: u8,
    states: u32,
    local_ports: Option<(u16, u16)>,
}

impl Request {
    /// Names the request in error messages, e.g. "netlink sock_diag tcp/ipv6 dump".
    fn what(&self) -> String {
        format!(
            "netlink sock_diag {}/{} dump",
            self.proto,
            self.family.as_str()
        )
    }

    fn table_error(&self, source: io::Error) -> CollectError {
        let mut what = self.what();
        if source.raw_os_error() == Some(libc::ENOENT) {
            what.push_str(&format!(
                "; the kernel has no sock_diag handler for it: is the {}_diag module available?",
                self.proto
            ));
        }
        CollectError::SocketTable { what, source }
    }

    fn decode_error(&self, detail: impl std::fmt::Display) -> CollectError {
        CollectError::Decode {
            what: self.what(),
            detail: detail.to_string(),
        }
    }

    fn af(&self) -> u8 {
        match self.family {
            Family::Ipv4 => AF_INET,
            Family::Ipv6 => AF_INET6,
        }
    }
}

fn dump_protocol(req: Request) -> Result<Vec<RawSocket>, CollectError> {
    let socket = Socket::new(NETLINK_SOCK_DIAG).map_err(|e| req.table_error(e))?;

    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = 1;
    let mut message = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family: req.af(),
            protocol: req.protocol,
            extensions: extensions(),
            // Retain, not truncate: the crate's flags stop at CLOSING (11), and the caller may ask
            // for NEW_SYN_RECV (12).
            states: StateFlags::from_bits_retain(req.states),
            socket_id: match req.family {
                Family::Ipv4 => SocketId::new_v4(),
                Family::Ipv6 => SocketId::new_v6(),
            },
        })
        .into(),
    );
    message.finalize();

    let mut buf = vec![0_u8; RECV_BUF_LEN];
    let mut len = message.buffer_len();
    message.serialize(
        buf.get_mut(..len)
            .ok_or_else(|| req.decode_error("request larger than the buffer"))?,
    );
    if let Some((lo, hi)) = req.local_ports {
        // Append the filter attribute after the request and grow nlmsg_len (the first u32).
        let attr = port_range_filter(lo, hi);
        buf.get_mut(len..len + attr.len())
            .ok_or_else(|| req.decode_error("request larger than the buffer"))?
            .copy_from_slice(&attr);
        len += attr.len();
        let total = u32::try_from(len).map_err(|_| req.decode_error("request too long"))?;
        buf[0..4].copy_from_slice(&total.to_ne_bytes());
    }
    let request = buf.get(..len).unwrap_or_default();
    let kernel = SocketAddr::new(0, 0);
    loop {
        match socket.send_to(request, &kernel, 0) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(req.table_error(e)),
        }
    }

    let mut out = Vec::new();
    loop {
        // MSG_TRUNC makes recv return the datagram's real length, so truncation is detected.
        let len = match socket.recv(&mut &mut buf[..], libc::MSG_TRUNC) {
            Ok(len) => len,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(req.table_error(e)),
        };
        if len > buf.len() {
            return Err(req.decode_error(format!(
                "a {len}-byte reply does not fit the {RECV_BUF_LEN}-byte buffer"
            )));
        }
        if len == 0 {
            return Err(req.decode_error("the kernel ended the dump without NLMSG_DONE"));
        }
        let datagram = buf.get(..len).unwrap_or_default();
        if let Flow::Done = parse_datagram(datagram, &req, &mut out)? {
            return Ok(out);
        }
    }
}

/// Whether the dump goes on after a datagram.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    More,
    Done,
}

/// Decode every netlink message of one datagram, appending sockets to `out`.
fn parse_datagram(
    mut datagram: &[u8],
    req: &Request,
    out: &mut Vec<RawSocket>,
) -> Result<Flow, CollectError> {
    while !datagram.is_empty() {
        let message = NetlinkBuffer::new_checked(datagram).map_err(|e| req.decode_error(e))?;
        let payload = message.payload();
        match message.message_type() {
            SOCK_DIAG_BY_FAMILY => {
                if let Some(socket) =
                    decode_socket(payload, req).map_err(|e| req.decode_error(e))?
                {
                    out.push(socket);
                }
            }
            NLMSG_DONE => {
                // A dump that fails after it started (no handler for the protocol, for one)
                // reports its negative errno here; older kernels may send an empty payload.
                if let Ok(done) = DoneBuffer::new_checked(payload) {
                    if done.code() < 0 {
                        return Err(req.table_error(errno(done.code())));
                    }
                }
                return Ok(Flow::Done);
            }
            NLMSG_ERROR => {
                let error = ErrorBuffer::new_checked(payload).map_err(|e| req.decode_error(e))?;
                // Code 0 would be an acknowledgement, which was not asked for: ignore it.
                if let Some(code) = error.code() {
                    return Err(req.table_error(errno(code.get())));
                }
            }
            NLMSG_NOOP => {}
            NLMSG_OVERRUN => return Err(req.decode_error("the kernel reported NLMSG_OVERRUN")),
            other => return Err(req.decode_error(format!("unexpected message type {other}"))),
        }
        let align = usize::from(NLMSG_ALIGNTO) - 1;
        let advance = (message.length() as usize + align) & !align;
        datagram = datagram.get(advance..).unwrap_or_default();
    }
    Ok(Flow::More)
}

/// The `io::Error` of a netlink error code (a negative errno).
fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code.saturating_abs())
}

/// Decode one `inet_diag_msg` and its attributes. `None` for a state the model does not know.
fn decode_socket(
    payload: &[u8],
    req: &Request,
) -> Result<Option<RawSocket>, netlink_packet_core::DecodeError> {
    let header = InetResponseHeader::parse(payload)?;
    if header.family != req.af() {
        return Err(format!(
            "reply for address family {} to a request for {}",
            header.family,
            req.af()
        )
        .into());
    }
    let Some(state) = socket_state(req.proto, header.state) else {
        return Ok(None);
    };

    // One walk over the attributes: INET_DIAG_SKV6ONLY (see the module documentation) and
    // INET_DIAG_SHUTDOWN, which the kernel puts on every full socket (`inet_sk_diag_fill`) and
    // on no mini socket: a TIME_WAIT socket (`inet_twsk_diag_fill`) or a connection request
    // (`inet_req_diag_fill`, reported as SYN_RECV) has no owner, and the kernel writes 0 into
    // its `idiag_uid`, which is not root but "no uid".
    let mut v6only = None;
    let mut full_socket = false;
    for nla in NlasIterator::new(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default()) {
        let nla = nla?;
        match nla.kind() {
            INET_DIAG_SKV6ONLY if req.family == Family::Ipv6 => {
                let value = nla
                    .value()
                    .first()
                    .ok_or("empty INET_DIAG_SKV6ONLY attribute")?;
                v6only = Some(*value != 0);
            }
            INET_DIAG_SHUTDOWN => full_socket = true,
            _ => {}
        }
    }
    let uid = (full_socket && state != SocketState::TimeWait).then_some(header.uid);

    let id = &header.socket_id;
    let remote = id.destination_address.to_canonical();
    let (remote_addr, remote_port) = if remote.is_unspecified() && id.destination_port == 0 {
        (None, None)
    } else {
        (Some(remote), Some(id.destination_port))
    };
    Ok(Some(RawSocket {
        proto: req.proto,
        family: req.family,
        state,
        local_addr: id.source_address.to_canonical(),
        local_port: id.source_port,
        remote_addr,
        remote_port,
        uid,
        inode: Some(u64::from(header.inode)),
        bound_ifindex: (id.interface_id != 0).then_some(id.interface_id),
        v6only,
        netns: None,
    }))
}

#[cfg(test)]
mod tests;
