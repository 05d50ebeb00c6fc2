//! Tests of the sock_diag reader: decoding of crafted replies, and live dumps of sockets this
//! process opens.

use super::*;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use netlink_packet_core::{Emitable, NLM_F_MULTIPART};

const LISTEN: u32 = 1 << TCP_LISTEN;
const CLOSE: u32 = 1 << TCP_CLOSE;
const ESTABLISHED: u32 = 1 << TCP_ESTABLISHED;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Socket inode of a file descriptor, as `/proc/self/fd` sees it.
fn inode(fd: &impl AsRawFd) -> u64 {
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .unwrap()
        .ino()
}

fn find(sockets: &[RawSocket], inode: u64) -> Option<&RawSocket> {
    assert_ne!(inode, 0);
    sockets.iter().find(|s| s.inode == Some(inode))
}

#[test]
fn states_become_the_kernel_mask() {
    use SocketState::{Bound, Established, Listen, TimeWait, Unconnected};
    // (states, TCP mask, UDP mask)
    let cases: [(StateSet, u32, u32); 8] = [
        (StateSet::of(&[Listen, Unconnected]), LISTEN, CLOSE),
        (StateSet::of(&[Listen]), LISTEN, 0),
        (StateSet::of(&[Unconnected]), 0, CLOSE),
        (StateSet::of(&[TimeWait]), 1 << 6, 0),
        // A bound TCP socket is asked for as TCP_BOUND_INACTIVE, never as CLOSE.
        (StateSet::of(&[Bound]), 1 << 13, 0),
        (StateSet::of(&[Established]), ESTABLISHED, ESTABLISHED),
        (StateSet::ALL, 0x3ffe, 0x3ffe),
        (StateSet::EMPTY, 0, 0),
    ];
    for (states, tcp, udp) in cases {
        assert_eq!(kernel_states(states, Proto::Tcp), tcp, "{states:?}");
        assert_eq!(kernel_states(states, Proto::Udp), udp, "{states:?}");
    }
    // Every state a protocol has is asked for by a number that reads back as that state.
    for proto in [Proto::Tcp, Proto::Udp] {
        for state in SocketState::ALL {
            let n = kernel_number(state, proto);
            assert_eq!(n.is_some(), state.occurs_in(proto), "{proto} {state}");
            if let Some(n) = n {
                assert_eq!(socket_state(proto, n), Some(state), "{proto} {state}");
            }
        }
    }
    assert_eq!(socket_state(Proto::Tcp, TCP_CLOSE), Some(Bound));
    assert_eq!(socket_state(Proto::Udp, TCP_LISTEN), None);
    assert_eq!(socket_state(Proto::Tcp, 0), None);
    assert_eq!(socket_state(Proto::Tcp, 14), None);
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether IPv6 loopback can be bound here; prints why a test is skipped when not.
fn ipv6_available(test: &str) -> bool {
    match TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => !crate::testing::skip(&format!("{test}: cannot bind [::1]: {e}")),
    }
}

/// An AF_INET6 socket of type `ty` with IPV6_V6ONLY set to `v6only`, bound to `[::]:0`.
fn v6_wildcard_socket(ty: libc::c_int, v6only: bool) -> OwnedFd {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET6, ty | libc::SOCK_CLOEXEC, 0) };
    assert!(raw >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let on = libc::c_int::from(v6only);
    // SAFETY: the option value points to a live c_int and its exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt IPV6_V6ONLY: {}",
        io::Error::last_os_error()
    );
    let addr = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: 0,
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr { s6_addr: [0; 16] },
        sin6_scope_id: 0,
    };
    // SAFETY: `addr` is a valid sockaddr_in6 and its exact size is passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind [::]:0: {}", io::Error::last_os_error());
    fd
}

fn v6_tcp_listener(v6only: bool) -> TcpListener {
    let fd = v6_wildcard_socket(libc::SOCK_STREAM, v6only);
    // SAFETY: `fd` is a bound TCP socket owned by this function.
    let rc = unsafe { libc::listen(fd.as_raw_fd(), 16) };
    assert_eq!(rc, 0, "listen: {}", io::Error::last_os_error());
    TcpListener::from(fd)
}

#[test]
fn tcp_listener_appears_with_port_inode_and_uid() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sockets = dump(Proto::Tcp, Family::Ipv4, LISTEN).unwrap();
    let s = find(&sockets, inode(&listener)).expect("listener missing from the dump");
    assert_eq!(
        *s,
        RawSocket {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            state: SocketState::Listen,
            local_addr: LOCALHOST,
            local_port: port,
            remote_addr: None,
            remote_port: None,
            uid: Some(euid()),
            inode: Some(inode(&listener)),
            bound_ifindex: None,
            v6only: None,
            netns: None,
        }
    );
    assert!(
        sockets
            .iter()
            .all(|s| s.state == SocketState::Listen && s.family == Family::Ipv4)
    );
}

#[test]
fn v6only_of_tcp_listeners() {
    if !ipv6_available("v6only_of_tcp_listeners") {
        return;
    }
    let dual = v6_tcp_listener(false);
    let only = v6_tcp_listener(true);
    let sockets = dump(Proto::Tcp, Family::Ipv6, LISTEN).unwrap();
    let d = find(&sockets, inode(&dual)).expect("dual-stack listener missing");
    let o = find(&sockets, inode(&only)).expect("v6-only listener missing");
    assert_eq!(d.v6only, Some(false));
    assert_eq!(o.v6only, Some(true));
    assert_eq!(d.local_addr, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    assert_eq!(d.local_port, dual.local_addr().unwrap().port());
    assert_eq!(
        (d.family, d.state, d.remote_addr),
        (Family::Ipv6, SocketState::Listen, None)
    );
    // Every IPv6 listener carries the attribute, not just ours.
    assert!(sockets.iter().all(|s| s.v6only.is_some()));
}

#[test]
fn v6only_of_udp_sockets() {
    if !ipv6_available("v6only_of_udp_sockets") {
        return;
    }
    let dual = UdpSocket::from(v6_wildcard_socket(libc::SOCK_DGRAM, false));
    let only = UdpSocket::from(v6_wildcard_socket(libc::SOCK_DGRAM, true));
    let specific = UdpSocket::bind("[::1]:0").unwrap();
    let sockets = dump(Proto::Udp, Family::Ipv6, CLOSE).unwrap();
    let d = find(&sockets, inode(&dual)).expect("dual-stack UDP socket missing");
    let o = find(&sockets, inode(&only)).expect("v6-only UDP socket missing");
    let s = find(&sockets, inode(&specific)).expect("[::1] UDP socket missing");
    // The kernel sets v6only when binding a specific IPv6 address.
    assert_eq!(s.v6only, Some(true));
    assert_eq!(
        (d.state, d.v6only, d.remote_addr),
        (SocketState::Unconnected, Some(false), None)
    );
    assert_eq!(
        (o.state, o.v6only, o.remote_port),
        (SocketState::Unconnected, Some(true), None)
    );
}

#[test]
fn udp_unconnected_and_connected() {
    let bound = UdpSocket::bind("127.0.0.1:0").unwrap();
    let connected = UdpSocket::bind("127.0.0.1:0").unwrap();
    connected.connect("127.0.0.1:9").unwrap();

    let unconnected_only = dump(Proto::Udp, Family::Ipv4, CLOSE).unwrap();
    let b = find(&unconnected_only, inode(&bound)).expect("bound UDP socket missing");
    assert_eq!(b.state, SocketState::Unconnected);
    assert_eq!(b.local_port, bound.local_addr().unwrap().port());
    assert_eq!((b.remote_addr, b.remote_port), (None, None));
    assert_eq!(b.uid, Some(euid()));
    assert!(find(&unconnected_only, inode(&connected)).is_none());

    let both = dump(Proto::Udp, Family::Ipv4, CLOSE | ESTABLISHED).unwrap();
    let c = find(&both, inode(&connected)).expect("connected UDP socket missing");
    assert_eq!(c.state, SocketState::Established);
    assert_eq!((c.remote_addr, c.remote_port), (Some(LOCALHOST), Some(9)));
    assert!(find(&both, inode(&bound)).is_some());
}

#[test]
fn kernel_port_filter_keeps_only_the_range() {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(a.local_addr().unwrap()).unwrap();
    let (accepted, _) = a.accept().unwrap();
    let port = a.local_addr().unwrap().port();
    let only = dump_filtered(Proto::Tcp, Family::Ipv4, StateSet::ALL, Some((port, port))).unwrap();
    assert!(only.iter().all(|s| s.local_port == port), "{only:?}");
    assert!(find(&only, inode(&a)).is_some());
    assert!(find(&only, inode(&accepted)).is_some());
    assert!(find(&only, inode(&b)).is_none());
    assert!(find(&only, inode(&client)).is_none());
    // A range: both listeners' ports.
    let pb = b.local_addr().unwrap().port();
    let (lo, hi) = (port.min(pb), port.max(pb));
    let listen = StateSet::of(&[SocketState::Listen]);
    let range = dump_filtered(Proto::Tcp, Family::Ipv4, listen, Some((lo, hi))).unwrap();
    assert!(find(&range, inode(&a)).is_some() && find(&range, inode(&b)).is_some());
    assert!(range.iter().all(|s| (lo..=hi).contains(&s.local_port)));
    // UDP takes the same filter.
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let up = u.local_addr().unwrap().port();
    let unconnected = StateSet::of(&[SocketState::Unconnected]);
    let udp = dump_filtered(Proto::Udp, Family::Ipv4, unconnected, Some((up, up))).unwrap();
    assert!(find(&udp, inode(&u)).is_some());
    assert!(udp.iter().all(|s| s.local_port == up));
}

#[test]
fn established_tcp_only_in_an_all_states_dump() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(server_addr).unwrap();
    let (accepted, client_addr) = listener.accept().unwrap();

    let listening = dump(Proto::Tcp, Family::Ipv4, LISTEN).unwrap();
    assert!(find(&listening, inode(&listener)).is_some());
    assert!(find(&listening, inode(&client)).is_none());
    assert!(find(&listening, inode(&accepted)).is_none());

    let all = dump(Proto::Tcp, Family::Ipv4, ALL_KERNEL_STATES).unwrap();
    let c = find(&all, inode(&client)).expect("client missing");
    assert_eq!(c.state, SocketState::Established);
    assert_eq!(
        (c.local_addr, c.local_port),
        (LOCALHOST, client_addr.port())
    );
    assert_eq!(
        (c.remote_addr, c.remote_port),
        (Some(LOCALHOST), Some(server_addr.port()))
    );
    let a = find(&all, inode(&accepted)).expect("accepted socket missing");
    assert_eq!(a.state, SocketState::Established);
    assert_eq!(
        (a.local_addr, a.local_port),
        (LOCALHOST, server_addr.port())
    );
    assert_eq!(
        (a.remote_addr, a.remote_port),
        (Some(LOCALHOST), Some(client_addr.port()))
    );
    assert_eq!(a.uid, Some(euid()));
}

/// True when the running kernel is at least `major.minor` (per `uname -r`).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

/// A TCP socket bound to 127.0.0.1:0 that never listens or connects, and its port.
fn bound_only_v4() -> (OwnedFd, u16) {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(raw >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_in is plain data; all-zero is a valid starting value.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_in and its exact size is passed.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) };
    assert_eq!(rc, 0, "bind: {}", io::Error::last_os_error());
    // SAFETY: `addr` and `len` are live and describe a buffer of `len` bytes.
    let rc = unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &raw mut len) };
    assert_eq!(rc, 0, "getsockname: {}", io::Error::last_os_error());
    (fd, u16::from_be(addr.sin_port))
}

#[test]
fn bound_but_inactive_tcp_socket_is_dumped_as_bound() {
    if !kernel_at_least(6, 5)
        && crate::testing::skip("bound_but_inactive_tcp_socket: TCP_BOUND_INACTIVE needs Linux 6.5")
    {
        return;
    }
    let (sock, port) = bound_only_v4();
    let bound = StateSet::of(&[SocketState::Bound]);
    let only = dump_filtered(Proto::Tcp, Family::Ipv4, bound, Some((port, port))).unwrap();
    let s = find(&only, inode(&sock)).expect("bound socket missing from the dump");
    assert_eq!(s.state, SocketState::Bound);
    assert_eq!((s.local_addr, s.local_port), (LOCALHOST, port));
    assert_eq!((s.remote_addr, s.remote_port), (None, None));
    assert_eq!(s.uid, Some(euid()));
    let all = dump(Proto::Tcp, Family::Ipv4, ALL_KERNEL_STATES).unwrap();
    assert!(find(&all, inode(&sock)).is_some());
    // Not part of the listening view.
    let listening = dump(Proto::Tcp, Family::Ipv4, LISTEN).unwrap();
    assert!(find(&listening, inode(&sock)).is_none());
}

#[test]
fn time_wait_socket_has_no_uid() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    // The side that closes first ends in TIME_WAIT: here the server, on the listener's port.
    drop(server);
    let _ = std::io::Read::read(&mut &client, &mut [0u8; 1]);
    drop(client);
    let time_wait = StateSet::of(&[SocketState::TimeWait]);
    for _ in 0..100 {
        let tw = dump_filtered(Proto::Tcp, Family::Ipv4, time_wait, Some((port, port))).unwrap();
        if let Some(s) = tw.iter().find(|s| s.state == SocketState::TimeWait) {
            assert_eq!((s.uid, s.inode), (None, Some(0)), "{s:?}");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("no TIME_WAIT socket on port {port}");
}

#[test]
fn v4_client_of_dual_stack_listener_is_canonicalised() {
    if !ipv6_available("v4_client_of_dual_stack_listener_is_canonicalised") {
        return;
    }
    let listener = v6_tcp_listener(false);
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let client_port = client.local_addr().unwrap().port();

    let all = dump(Proto::Tcp, Family::Ipv6, ALL_KERNEL_STATES).unwrap();
    let a = find(&all, inode(&accepted)).expect("accepted socket missing");
    assert_eq!(a.family, Family::Ipv6);
    assert_eq!(a.state, SocketState::Established);
    assert_eq!((a.local_addr, a.local_port), (LOCALHOST, port));
    assert_eq!(
        (a.remote_addr, a.remote_port),
        (Some(LOCALHOST), Some(client_port))
    );
    // The kernel sends INET_DIAG_SKV6ONLY only for LISTEN and CLOSE.
    assert_eq!(a.v6only, None);
    // The v4 client itself is an AF_INET socket: not in the IPv6 dump.
    assert!(find(&all, inode(&client)).is_none());
}

#[test]
fn kernel_error_is_returned_not_an_empty_table() {
    // No diag handler exists for protocol 253 (reserved for experiments).
    let req = Request {
        proto: Proto::Udp,
        family: Family::Ipv4,
        protocol: 253,
        states: CLOSE,
        local_ports: None,
    };
    match dump_protocol(req) {
        Err(CollectError::SocketTable { what, source }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT), "{source}");
            assert!(
                what.starts_with("netlink sock_diag udp/ipv4 dump"),
                "{what}"
            );
        }
        other => panic!("expected a socket table error, got {other:?}"),
    }
}

/// A netlink message of `kind` around `payload`.
fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(len).unwrap().to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&NLM_F_MULTIPART.to_ne_bytes());
    out.extend_from_slice(&1_u32.to_ne_bytes());
    out.extend_from_slice(&0_u32.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

fn inet_diag_msg(family: u8, state: u8, id: SocketId, attrs: &[u8]) -> Vec<u8> {
    inet_diag_msg_of(family, state, id, attrs, 1000, 42)
}

fn inet_diag_msg_of(
    family: u8,
    state: u8,
    id: SocketId,
    attrs: &[u8],
    uid: u32,
    inode: u32,
) -> Vec<u8> {
    let header = InetResponseHeader {
        family,
        state,
        timer: None,
        socket_id: id,
        recv_queue: 0,
        send_queue: 0,
        uid,
        inode,
    };
    let mut out = vec![0; header.buffer_len()];
    header.emit(&mut out);
    out.extend_from_slice(attrs);
    out
}

const V6_REQ: Request = Request {
    proto: Proto::Tcp,
    family: Family::Ipv6,
    protocol: IPPROTO_TCP,
    states: LISTEN,
    local_ports: None,
};

#[test]
fn decodes_mapped_addresses_ifindex_and_attributes() {
    let mut id = SocketId::new_v6();
    id.source_address = "::ffff:192.0.2.1".parse().unwrap();
    id.source_port = 8080;
    id.interface_id = 3;
    // INET_DIAG_SHUTDOWN = 0, then INET_DIAG_SKV6ONLY = 1, each a 1-byte value padded to 8.
    let attrs = [5, 0, 8, 0, 0, 0, 0, 0, 5, 0, 11, 0, 1, 0, 0, 0];
    let mut datagram = message(
        SOCK_DIAG_BY_FAMILY,
        &inet_diag_msg(AF_INET6, 10, id, &attrs),
    );
    datagram.extend(message(NLMSG_DONE, &0_i32.to_ne_bytes()));
    let mut out = Vec::new();
    assert_eq!(
        parse_datagram(&datagram, &V6_REQ, &mut out).unwrap(),
        Flow::Done
    );
    assert_eq!(
        out,
        [RawSocket {
            proto: Proto::Tcp,
            family: Family::Ipv6,
            state: SocketState::Listen,
            local_addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            local_port: 8080,
            remote_addr: None,
            remote_port: None,
            uid: Some(1000),
            inode: Some(42),
            bound_ifindex: Some(3),
            v6only: Some(true),
            netns: None,
        }]
    );
}

#[test]
fn remote_port_alone_makes_a_remote_end() {
    let mut id = SocketId::new_v6();
    id.destination_port = 53;
    let datagram = message(SOCK_DIAG_BY_FAMILY, &inet_diag_msg(AF_INET6, 1, id, &[]));
    let mut out = Vec::new();
    assert_eq!(
        parse_datagram(&datagram, &V6_REQ, &mut out).unwrap(),
        Flow::More
    );
    assert_eq!(out[0].remote_addr, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
    assert_eq!(out[0].remote_port, Some(53));
    assert_eq!(out[0].v6only, None);
}

/// INET_DIAG_SHUTDOWN (a full socket), padded to 8 bytes.
const SHUTDOWN_ATTR: [u8; 8] = [5, 0, 8, 0, 0, 0, 0, 0];
/// INET_DIAG_MARK, which the kernel also puts on TIME_WAIT and request sockets.
const MARK_ATTR: [u8; 8] = [8, 0, 15, 0, 0, 0, 0, 0];

#[test]
fn uid_is_known_only_for_full_sockets() {
    // (kernel state, attributes, idiag_uid, idiag_inode) → uid, as the kernel fills them:
    // inet_sk_diag_fill for full sockets, inet_twsk_diag_fill for TIME_WAIT (and a
    // FIN_WAIT2 that became a timewait socket), inet_req_diag_fill for requests (SYN_RECV).
    type Case<'a> = (u8, &'a [u8], u32, u32, Option<u32>);
    let cases: [Case; 8] = [
        (10, &SHUTDOWN_ATTR, 1000, 42, Some(1000)),
        (1, &SHUTDOWN_ATTR, 0, 42, Some(0)),
        // An orphaned full socket: no file any more, but the uid is real.
        (4, &SHUTDOWN_ATTR, 33, 0, Some(33)),
        (6, &MARK_ATTR, 0, 0, None),
        (6, &[], 0, 0, None),
        (5, &[], 0, 0, None),
        (3, &MARK_ATTR, 0, 0, None),
        // Never a uid for TIME_WAIT, whatever the attributes say.
        (6, &SHUTDOWN_ATTR, 0, 0, None),
    ];
    for (state, attrs, uid, inode, want) in cases {
        let datagram = message(
            SOCK_DIAG_BY_FAMILY,
            &inet_diag_msg_of(AF_INET6, state, SocketId::new_v6(), attrs, uid, inode),
        );
        let mut out = Vec::new();
        parse_datagram(&datagram, &V6_REQ, &mut out).unwrap();
        assert_eq!(out[0].uid, want, "state {state}, attributes {attrs:?}");
    }
}

#[test]
fn bound_inactive_is_bound() {
    let datagram = message(
        SOCK_DIAG_BY_FAMILY,
        &inet_diag_msg(AF_INET6, 7, SocketId::new_v6(), &SHUTDOWN_ATTR),
    );
    let mut out = Vec::new();
    parse_datagram(&datagram, &V6_REQ, &mut out).unwrap();
    assert_eq!(out[0].state, SocketState::Bound);
    assert_eq!(out[0].uid, Some(1000));
}

#[test]
fn unknown_state_is_skipped() {
    let datagram = message(
        SOCK_DIAG_BY_FAMILY,
        &inet_diag_msg(AF_INET6, 14, SocketId::new_v6(), &[]),
    );
    let mut out = Vec::new();
    assert_eq!(
        parse_datagram(&datagram, &V6_REQ, &mut out).unwrap(),
        Flow::More
    );
    assert!(out.is_empty());
}

#[test]
fn error_replies_become_socket_table_errors() {
    let mut nlmsgerr = (-libc::EACCES).to_ne_bytes().to_vec();
    nlmsgerr.extend_from_slice(&[0; 16]);
    for datagram in [
        message(NLMSG_ERROR, &nlmsgerr),
        message(NLMSG_DONE, &(-libc::EACCES).to_ne_bytes()),
    ] {
        match parse_datagram(&datagram, &V6_REQ, &mut Vec::new()) {
            Err(CollectError::SocketTable { source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::EACCES));
            }
            other => panic!("expected a socket table error, got {other:?}"),
        }
    }
    // An empty NLMSG_DONE (old kernels) ends the dump normally.
    assert_eq!(
        parse_datagram(&message(NLMSG_DONE, &[]), &V6_REQ, &mut Vec::new()).unwrap(),
        Flow::Done
    );
}

#[test]
fn malformed_replies_become_decode_errors() {
    let full = message(
        SOCK_DIAG_BY_FAMILY,
        &inet_diag_msg(AF_INET6, 10, SocketId::new_v6(), &[]),
    );
    let bad_attr = message(
        SOCK_DIAG_BY_FAMILY,
        &inet_diag_msg(AF_INET6, 10, SocketId::new_v6(), &[4, 0, 11, 0]),
    );
    let wrong_family = message(
        SOCK_DIAG_BY_FAMILY,
        &inet_diag_msg(AF_INET, 10, SocketId::new_v4(), &[]),
    );
    for datagram in [
        full[..full.len() - 8].to_vec(), // length field beyond the data
        message(SOCK_DIAG_BY_FAMILY, &[AF_INET6, 10, 0]), // inet_diag_msg cut short
        bad_attr,                        // SKV6ONLY without a value
        wrong_family,
        message(999, &[]),
        message(NLMSG_OVERRUN, &[]),
        vec![1, 2, 3],
    ] {
        match parse_datagram(&datagram, &V6_REQ, &mut Vec::new()) {
            Err(CollectError::Decode { what, .. }) => {
                assert_eq!(what, "netlink sock_diag tcp/ipv6 dump");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}
