//! Exposure classification on addresses this machine lacks, inside network namespaces the
//! tests create (veth pair with both ends inside; nothing is sent anywhere).

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, UdpSocket};

use portscope::model::{AddrClass, SocketEntry};

use crate::common::*;

fn row<'a>(doc: &'a ListDoc, port: u16, addr: &str) -> &'a SocketEntry {
    doc.sockets
        .iter()
        .find(|s| s.local_port == port && s.local_address == ip(addr))
        .unwrap_or_else(|| panic!("no socket {addr} port {port} in {:#?}", doc.sockets))
}

#[test]
fn public_private_and_wildcard_v4() {
    let Some(ns) = Netns::create("v4") else {
        return;
    };
    ns.addr("va", "11.22.33.44/24");
    ns.addr("vb", "10.9.8.7/24");
    ns.addr("vb", "169.254.5.5/16");
    let socks = ns.run(|| {
        [
            TcpListener::bind("11.22.33.44:0").unwrap(),
            TcpListener::bind("10.9.8.7:0").unwrap(),
            TcpListener::bind("169.254.5.5:0").unwrap(),
            TcpListener::bind("127.0.0.1:0").unwrap(),
            TcpListener::bind("0.0.0.0:0").unwrap(),
        ]
    });
    let ports: Vec<u16> = socks.iter().map(|s| port_of(s.local_addr())).collect();
    let doc = ns.list_json(&["-t"]);
    let me = std::process::id();
    let public = row(&doc, ports[0], "11.22.33.44");
    assert_eq!(public.exposure, Some(AddrClass::Public));
    assert!(!public.wildcard);
    assert!(public.processes.iter().any(|p| p.pid == me));
    assert_eq!(
        row(&doc, ports[1], "10.9.8.7").exposure,
        Some(AddrClass::Private)
    );
    assert_eq!(
        row(&doc, ports[2], "169.254.5.5").exposure,
        Some(AddrClass::LinkLocal)
    );
    assert_eq!(
        row(&doc, ports[3], "127.0.0.1").exposure,
        Some(AddrClass::Loopback)
    );
    let any = row(&doc, ports[4], "0.0.0.0");
    assert!(any.wildcard);
    assert_eq!(any.exposure, Some(AddrClass::Public));
    assert_eq!(any.exposure_address, Some(ip("11.22.33.44")));
    assert_eq!(any.exposure_interface.as_deref(), Some("va"));
    // Filtering by exposure: at least this far.
    let doc = ns.list_json(&["-t", "--exposure", "private"]);
    let mut shown: Vec<u16> = doc.sockets.iter().map(|s| s.local_port).collect();
    shown.sort_unstable();
    let mut want = vec![ports[0], ports[1], ports[4]];
    want.sort_unstable();
    assert_eq!(shown, want, "{:#?}", doc.sockets);
}

/// `--exposure CLASS` shows what is exposed at least that far: documentation and reserved rank
/// with private, multicast with link-local (docs/exposure.md).
#[test]
fn exposure_filter_is_at_least_this_far() {
    let Some(ns) = Netns::create("expf") else {
        return;
    };
    ns.addr("va", "11.22.33.44/24");
    ns.addr("va", "192.0.2.5/24");
    ns.addr("vb", "10.9.8.7/24");
    ns.addr("vb", "169.254.5.5/16");
    ns.addr("vb", "240.0.0.9/24");
    let socks = ns.run(|| {
        [
            "11.22.33.44:0",
            "192.0.2.5:0",
            "10.9.8.7:0",
            "240.0.0.9:0",
            "169.254.5.5:0",
            "127.0.0.1:0",
        ]
        .map(|a| TcpListener::bind(a).unwrap())
    });
    let ports: Vec<u16> = socks.iter().map(|s| port_of(s.local_addr())).collect();
    let classes = [
        AddrClass::Public,
        AddrClass::Documentation,
        AddrClass::Private,
        AddrClass::Reserved,
        AddrClass::LinkLocal,
        AddrClass::Loopback,
    ];
    let doc = ns.list_json(&["-t"]);
    for (port, class) in ports.iter().zip(classes) {
        let s = doc.sockets.iter().find(|s| s.local_port == *port).unwrap();
        assert_eq!(s.exposure, Some(class), "{s:#?}");
    }
    // --exposure X → how many of the sockets above (most exposed first) are shown.
    for (floor, count) in [
        ("public", 1),
        ("documentation", 4),
        ("private", 4),
        ("reserved", 4),
        ("link-local", 5),
        ("multicast", 5),
        ("loopback", 6),
        ("public,link_local", 5),
    ] {
        let doc = ns.list_json(&["-t", "--exposure", floor]);
        let mut shown: Vec<u16> = doc.sockets.iter().map(|s| s.local_port).collect();
        shown.sort_unstable();
        let mut want = ports[..count].to_vec();
        want.sort_unstable();
        assert_eq!(shown, want, "--exposure {floor}: {:#?}", doc.sockets);
    }
}

#[test]
fn wildcard_v6_dual_stack_versus_v6_only() {
    let Some(ns) = Netns::create("v6") else {
        return;
    };
    // Public IPv4, but only a unique-local IPv6 address: a dual-stack [::] reaches the public
    // IPv4 address, a v6-only one only the ULA.
    ns.addr("va", "11.22.33.44/24");
    ns.addr("vb", "fd12:3456::1/64");
    let (dual, v6only) = ns.run(|| (v6_wildcard_listener(false), v6_wildcard_listener(true)));
    let (pd, p6) = (port_of(dual.local_addr()), port_of(v6only.local_addr()));
    let doc = ns.list_json(&["-t"]);
    let d = row(&doc, pd, "::");
    assert_eq!(d.dual_stack, Some(true));
    assert_eq!(d.exposure, Some(AddrClass::Public));
    assert_eq!(d.exposure_address, Some(ip("11.22.33.44")));
    let s = row(&doc, p6, "::");
    assert_eq!(s.dual_stack, Some(false));
    // The veth ends also carry kernel-made fe80:: addresses; the ULA outranks them.
    assert_eq!(s.exposure, Some(AddrClass::Private));
    assert_eq!(s.exposure_address, Some(ip("fd12:3456::1")));
}

#[test]
fn ula_only_and_link_local_v6_binds() {
    let Some(ns) = Netns::create("ll") else {
        return;
    };
    ns.addr("va", "fd00:1::5/64");
    ns.addr("vb", "fe80::1234/64");
    let index = ns.ifindex("vb");
    let (ula, ll, udp) = ns.run(|| {
        let ula = TcpListener::bind("[fd00:1::5]:0").unwrap();
        let scoped = SocketAddr::V6(SocketAddrV6::new(
            "fe80::1234".parse::<Ipv6Addr>().unwrap(),
            0,
            0,
            index,
        ));
        let ll = TcpListener::bind(scoped).unwrap();
        let udp = UdpSocket::bind(scoped).unwrap();
        (ula, ll, udp)
    });
    let doc = ns.list_json(&[]);
    assert_eq!(
        row(&doc, port_of(ula.local_addr()), "fd00:1::5").exposure,
        Some(AddrClass::Private)
    );
    let l = row(&doc, port_of(ll.local_addr()), "fe80::1234");
    assert_eq!(l.exposure, Some(AddrClass::LinkLocal));
    assert_eq!(
        l.interface.as_deref(),
        Some("vb"),
        "a scoped bind is bound to its link"
    );
    let u = row(&doc, port_of(udp.local_addr()), "fe80::1234");
    assert_eq!(u.exposure, Some(AddrClass::LinkLocal));
}

#[test]
fn device_bound_wildcard_counts_only_that_interface() {
    let Some(ns) = Netns::create("dev") else {
        return;
    };
    ns.addr("va", "11.22.33.44/24");
    ns.addr("vb", "10.1.2.3/24");
    let listener = ns.run(|| {
        let fd = raw_socket(libc::AF_INET, libc::SOCK_STREAM);
        let dev = b"vb\0";
        // SAFETY: dev is a NUL-terminated buffer of the given length.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                dev.as_ptr().cast(),
                dev.len() as libc::socklen_t,
            )
        };
        assert_eq!(
            rc,
            0,
            "SO_BINDTODEVICE: {}",
            std::io::Error::last_os_error()
        );
        let l = TcpListener::from(fd);
        // Bind through std after the option: re-wrap via libc bind on 0.0.0.0:0.
        // SAFETY: sockaddr_in zeroed is 0.0.0.0:0.
        let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&l);
        // SAFETY: valid sockaddr_in of the given size.
        let rc = unsafe {
            libc::bind(
                raw,
                (&raw const sa).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: listen on a bound stream socket.
        assert_eq!(unsafe { libc::listen(raw, 4) }, 0);
        l
    });
    let port = port_of(listener.local_addr());
    let doc = ns.list_json(&["--port", &port.to_string()]);
    let r = row(&doc, port, "0.0.0.0");
    assert_eq!(r.interface.as_deref(), Some("vb"));
    assert_eq!(
        r.exposure,
        Some(AddrClass::Private),
        "va's public address does not count"
    );
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            bin(),
            "--color",
            "never",
            "--port",
            &port.to_string(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("0.0.0.0%vb"));
}

#[test]
fn loopback_only_namespace_wildcard_is_loopback() {
    let Some(ns) = Netns::create("lo") else {
        return;
    };
    let l = ns.run(|| TcpListener::bind("0.0.0.0:0").unwrap());
    let port = port_of(l.local_addr());
    let doc = ns.list_json(&["--port", &port.to_string()]);
    let r = row(&doc, port, "0.0.0.0");
    assert!(r.wildcard);
    assert_eq!(r.exposure, Some(AddrClass::Loopback));
}
