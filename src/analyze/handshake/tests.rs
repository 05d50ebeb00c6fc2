//! The greetings and the parsing of replies, on bytes recorded from real servers.

use super::*;
use crate::model::{AddrClass, IanaRange};

/// `openssl s_server` (OpenSSL 3.0, Debian 12) answering [`client_hello`]: ServerHello,
/// Certificate (a self-signed certificate for CN=db.example.test with subjectAltName DNS
/// db.example.test, alt.example.test and IP 127.0.0.1), ServerKeyExchange, ServerHelloDone.
const OPENSSL_TLS12: &[u8] = include_bytes!("openssl_tls12_reply.bin");

/// redis-server 7.0.15 (Debian 12) answering PING and INFO server without a password.
const REDIS_OPEN: &[u8] = include_bytes!("redis_ping_info.bin");

fn addr() -> SocketAddr {
    "127.0.0.1:6380".parse().unwrap()
}

fn seen(probe: HandshakeProbe, bytes: &[u8]) -> Handshake {
    let reply = HandshakeReply {
        probe,
        result: StepResult::Replied,
        bytes: bytes.to_vec(),
    };
    interpret(addr(), &[reply], &HandshakeLimits::default())
}

#[test]
fn banners() {
    use HandshakeProbe::Banner;
    let rows: &[(&[u8], Option<&str>, &str)] = &[
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", Some("ssh"), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"),
        (b"220 (vsFTPd 3.0.3)\r\n", Some("ftp"), "FTP: 220 (vsFTPd 3.0.3)"),
        (b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n", Some("smtp"), "SMTP: 220 mail.example.org ESMTP Postfix (Debian/GNU)"),
        (b"+OK Dovecot (Debian) ready.\r\n", Some("pop3"), "POP3: +OK Dovecot (Debian) ready."),
        (b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n", Some("imap"), "IMAP: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready."),
        // MariaDB 10.11 initial handshake packet (protocol 10), cut after the version.
        (b"\x5b\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB-0+deb12u1\x00\x08\x00\x00\x00", Some("mysql"), "MariaDB 5.5.5-10.11.6-MariaDB-0+deb12u1"),
        (b"\x01\x02garbage\x00", None, "unrecognised reply: ..garbage."),
    ];
    for &(bytes, service, summary) in rows {
        let seen = seen(Banner, bytes);
        assert_eq!(seen.service.as_deref(), service, "{summary}");
        assert_eq!(seen.identified, service.is_some());
        assert_eq!(seen.summary, summary);
    }
    assert_eq!(
        seen(Banner, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
            .server
            .as_deref(),
        Some("OpenSSH_9.2p1")
    );
}

#[test]
fn redis_replies() {
    let open = seen(HandshakeProbe::Redis, REDIS_OPEN);
    assert_eq!(open.service.as_deref(), Some("redis"));
    assert_eq!(open.auth, Some(AuthState::None));
    assert_eq!(open.summary, "Redis 7.0.15, no authentication required");
    let auth = seen(
        HandshakeProbe::Redis,
        b"-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n",
    );
    assert_eq!(auth.auth, Some(AuthState::Required));
    assert_eq!(auth.summary, "Redis, authentication required");
    let denied = seen(
        HandshakeProbe::Redis,
        b"-DENIED Redis is running in protected mode because protected mode is enabled\r\n",
    );
    assert_eq!(denied.auth, Some(AuthState::Required));
}

#[test]
fn memcached_replies() {
    let open = seen(HandshakeProbe::Memcached, b"VERSION 1.6.18\r\n");
    assert_eq!(open.service.as_deref(), Some("memcached"));
    assert_eq!(open.auth, Some(AuthState::None));
    assert_eq!(open.summary, "memcached 1.6.18, no authentication required");
    let sasl = seen(
        HandshakeProbe::Memcached,
        b"CLIENT_ERROR unauthenticated\r\n",
    );
    assert_eq!(sasl.auth, Some(AuthState::Required));
}

#[test]
fn http_replies() {
    let nginx = seen(
        HandshakeProbe::Http,
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: text/html\r\n\r\n",
    );
    assert_eq!(nginx.service.as_deref(), Some("http"));
    assert_eq!(nginx.summary, "HTTP 200, Server: nginx/1.22.1");
    assert_eq!((nginx.http_status, nginx.tls), (Some(200), Some(false)));
    let python = seen(
        HandshakeProbe::Http,
        b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nDate: x\r\n\r\n",
    );
    assert_eq!(
        python.server.as_deref(),
        Some("SimpleHTTP/0.6 Python/3.11.2")
    );
    let https_port = seen(
        HandshakeProbe::Http,
        b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head></html>",
    );
    assert_eq!(https_port.tls, Some(true));
    assert_eq!(
        https_port.summary,
        "HTTP over TLS (a plain request got 400)"
    );
    let go_tls = seen(
        HandshakeProbe::Docker,
        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
    );
    assert_eq!(go_tls.tls, Some(true));
    let alert = seen(HandshakeProbe::Http, b"\x15\x03\x01\x00\x02\x02\x46");
    assert_eq!(
        (alert.identified, alert.tls, alert.service),
        (true, Some(true), None)
    );
}

#[test]
fn docker_version() {
    let docker = seen(
        HandshakeProbe::Docker,
        b"HTTP/1.0 200 OK\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\nServer: Docker/24.0.7 (linux)\r\n\r\n{\"Platform\":{\"Name\":\"Docker Engine - Community\"},\"Version\":\"24.0.7\",\"ApiVersion\":\"1.43\",\"MinAPIVersion\":\"1.12\"}",
    );
    assert_eq!(docker.service.as_deref(), Some("docker"));
    assert_eq!(
        docker.summary,
        "Docker Engine API 24.0.7 (API 1.43) over plain HTTP, no authentication required"
    );
    assert_eq!(docker.tls, Some(false));
}

#[test]
fn tls_server_hello_and_certificate() {
    let tls = seen(HandshakeProbe::Tls, OPENSSL_TLS12);
    assert!(tls.identified);
    assert_eq!(tls.service, None);
    assert_eq!(tls.tls, Some(true));
    assert_eq!(tls.tls_version.as_deref(), Some("TLS 1.2"));
    assert_eq!(
        tls.certificate_names,
        ["db.example.test", "alt.example.test", "127.0.0.1"]
    );
    assert_eq!(tls.summary, "TLS 1.2, CN=db.example.test");
    // Cut anywhere, it never panics and keeps what it could read.
    for end in 0..OPENSSL_TLS12.len() {
        let _ = seen(HandshakeProbe::Tls, &OPENSSL_TLS12[..end]);
    }
    let cut = seen(HandshakeProbe::Tls, &OPENSSL_TLS12[..100]);
    assert_eq!(cut.tls_version.as_deref(), Some("TLS 1.2"));
    assert!(cut.certificate_names.is_empty());
    let alert = seen(HandshakeProbe::Tls, b"\x15\x03\x03\x00\x02\x02\x28");
    assert_eq!(
        alert.summary,
        "TLS (the server refused a TLS 1.2 hello: alert 40)"
    );
    // A plain HTTP server answering the hello.
    let plain = seen(
        HandshakeProbe::Tls,
        b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\n\r\n",
    );
    assert_eq!(
        (plain.service.as_deref(), plain.tls),
        (Some("http"), Some(false))
    );
}

#[test]
fn client_hello_is_a_tls12_hello() {
    let hello = client_hello();
    assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
    assert_eq!(
        usize::from(u16::from_be_bytes([hello[3], hello[4]])),
        hello.len() - 5
    );
    assert_eq!(hello[5], 1, "ClientHello");
    assert_eq!(&hello[9..11], &[3, 3], "TLS 1.2");
    // No supported_versions (43): TLS 1.3 cannot be chosen, so the certificate is readable.
    let ext_kinds: Vec<u16> = {
        let body = &hello[9..];
        let after_random = 2 + 32;
        let sid = usize::from(body[after_random]);
        let mut at = after_random + 1 + sid;
        let suites = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        at += 2 + suites;
        at += 1 + usize::from(body[at]);
        let total = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        at += 2;
        let end = at + total;
        assert_eq!(end, body.len());
        let mut kinds = Vec::new();
        while at < end {
            kinds.push(u16::from_be_bytes([body[at], body[at + 1]]));
            at += 4 + usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        }
        kinds
    };
    assert_eq!(ext_kinds, [0x000a, 0x000b, 0x000d, 0xff01]);
}

#[test]
fn not_answered() {
    let limits = HandshakeLimits::default();
    let reply = |result| HandshakeReply {
        probe: HandshakeProbe::Tls,
        result,
        bytes: Vec::new(),
    };
    let rows = [
        (StepResult::Silent, "no reply within 500 ms"),
        (StepResult::Closed, "closed the connection without a reply"),
        (StepResult::ConnectFailed, "connection refused"),
        (StepResult::ConnectTimeout, "no connection within 500 ms"),
    ];
    for (result, summary) in rows {
        let seen = interpret(addr(), &[reply(result)], &limits);
        assert!(!seen.identified);
        assert_eq!(seen.summary, summary);
        assert_eq!(seen.probe, HandshakeProbe::Tls);
    }
}

fn listener(
    addr: &str,
    port: u16,
    service: Option<&str>,
    sources: &[ServiceSource],
) -> SocketEntry {
    SocketEntry {
        service: service.map(str::to_owned),
        service_source: sources.to_vec(),
        port_range: IanaRange::Registered,
        exposure: Some(AddrClass::Public),
        ..SocketEntry::test_listener(addr, port)
    }
}

#[allow(clippy::type_complexity)] // a table of rows
#[test]
fn targets_and_greetings() {
    use HandshakeProbe::*;
    let owners = OwnerTable::builtin();
    let local: Vec<IpAddr> = vec!["203.0.113.7".parse().unwrap(), "fe80::1".parse().unwrap()];
    let plan = |entry: &SocketEntry| {
        target(entry, &local, owners).map(|t| {
            (
                t.address.to_string(),
                t.steps.iter().map(|s| s.probe).collect::<Vec<_>>(),
            )
        })
    };
    let rows: &[(&str, Option<&str>, Option<(&str, &[HandshakeProbe])>)] = &[
        ("0.0.0.0", Some("ssh"), Some(("127.0.0.1:9", &[Banner]))),
        ("::", Some("redis"), Some(("[::1]:9", &[Redis]))),
        (
            "203.0.113.7",
            Some("memcached"),
            Some(("203.0.113.7:9", &[Memcached])),
        ),
        ("127.0.0.2", Some("jupyter"), Some(("127.0.0.2:9", &[Http]))),
        ("0.0.0.0", Some("docker"), Some(("127.0.0.1:9", &[Docker]))),
        ("0.0.0.0", Some("https"), Some(("127.0.0.1:9", &[Tls]))),
        ("0.0.0.0", None, Some(("127.0.0.1:9", &[Banner, Http, Tls]))),
        (
            "0.0.0.0",
            Some("EtherNet-IP-1"),
            Some(("127.0.0.1:9", &[Banner, Http, Tls])),
        ),
        // Not greeted: no greeting speaks it, not this machine's address, link-local.
        ("0.0.0.0", Some("postgresql"), None),
        ("0.0.0.0", Some("vnc-1"), None),
        ("198.51.100.1", Some("ssh"), None),
        ("fe80::1", Some("ssh"), None),
    ];
    for &(addr, service, want) in rows {
        let entry = listener(addr, 9, service, &[]);
        let got = plan(&entry);
        let want = want.map(|(a, p)| (a.to_owned(), p.to_vec()));
        assert_eq!(got, want, "{addr} {service:?}");
    }
    let udp = SocketEntry {
        proto: Proto::Udp,
        state: SocketState::Unconnected,
        ..listener("0.0.0.0", 9, Some("ssh"), &[])
    };
    assert_eq!(plan(&udp), None);
    let http = request(Http, addr());
    assert!(http.starts_with(b"HEAD / HTTP/1.0\r\nHost: 127.0.0.1:6380\r\n"));
    assert!(request(Docker, addr()).starts_with(b"GET /version HTTP/1.0\r\n"));
    assert!(request(Banner, addr()).is_empty());
}

#[allow(clippy::type_complexity)] // a table of rows
#[test]
fn apply_agrees_or_replaces() {
    use ServiceSource::{Port, Process};
    let owners = OwnerTable::builtin();
    let named = |service: &str| crate::model::Handshake {
        identified: true,
        service: Some(service.to_owned()),
        ..seen(HandshakeProbe::Banner, b"")
    };
    const SHAKE: ServiceSource = ServiceSource::Handshake;
    let rows: &[(
        Option<&str>,
        &[ServiceSource],
        crate::model::Handshake,
        Option<&str>,
        &[ServiceSource],
    )] = &[
        (
            Some("ssh"),
            &[Process],
            named("ssh"),
            Some("ssh"),
            &[Process, SHAKE],
        ),
        (
            Some("ssh"),
            &[Port],
            named("ssh"),
            Some("ssh"),
            &[Port, SHAKE],
        ),
        (
            Some("jupyter"),
            &[Process],
            named("http"),
            Some("jupyter"),
            &[Process, SHAKE],
        ),
        (
            Some("EtherNet-IP-1"),
            &[Port],
            named("ssh"),
            Some("ssh"),
            &[SHAKE],
        ),
        (None, &[], named("redis"), Some("redis"), &[SHAKE]),
        // TLS names no protocol; silence changes nothing.
        (
            Some("https"),
            &[Process],
            seen(HandshakeProbe::Tls, OPENSSL_TLS12),
            Some("https"),
            &[Process],
        ),
        (
            Some("ssh"),
            &[Process],
            seen(HandshakeProbe::Banner, b"\x01"),
            Some("ssh"),
            &[Process],
        ),
    ];
    for (service, sources, handshake, want, want_sources) in rows {
        let mut entry = listener("0.0.0.0", 2222, *service, sources);
        apply(&mut entry, handshake.clone(), owners);
        assert_eq!(entry.service.as_deref(), *want, "{service:?} {handshake:?}");
        assert_eq!(entry.service_source, *want_sources, "{service:?}");
        assert_eq!(entry.handshake.as_ref(), Some(handshake));
    }
}

#[test]
fn risks_shown_only_by_a_handshake() {
    let redis_open = seen(HandshakeProbe::Redis, REDIS_OPEN);
    assert_eq!(
        risk(&redis_open, &[Why::Unauthenticated]).as_deref(),
        Some(
            "the handshake shows Redis 7.0.15, no authentication required (it answered redis without credentials)"
        )
    );
    let redis_auth = seen(
        HandshakeProbe::Redis,
        b"-NOAUTH Authentication required.\r\n",
    );
    assert_eq!(risk(&redis_auth, &[Why::Unauthenticated]), None);
    let memcached = seen(HandshakeProbe::Memcached, b"VERSION 1.6.18\r\n");
    assert!(risk(&memcached, &[]).is_some());
    let docker = seen(
        HandshakeProbe::Docker,
        b"HTTP/1.0 200 OK\r\nServer: Docker/24.0.7 (linux)\r\n\r\n{\"Version\":\"24.0.7\",\"ApiVersion\":\"1.43\"}",
    );
    assert!(risk(&docker, &[Why::RemoteAdmin]).is_some_and(|r| r.contains("plain HTTP")));
    let plain_admin = seen(HandshakeProbe::Http, b"HTTP/1.1 200 OK\r\n\r\n");
    assert!(risk(&plain_admin, &[Why::RemoteAdmin]).is_some_and(|r| r.contains("without TLS")));
    assert_eq!(risk(&plain_admin, &[Why::DataExposure]), None);
    let tls = seen(HandshakeProbe::Tls, OPENSSL_TLS12);
    assert_eq!(risk(&tls, &[Why::RemoteAdmin]), None);
    let silent = interpret(addr(), &[], &HandshakeLimits::default());
    assert_eq!(risk(&silent, &[Why::RemoteAdmin]), None);
    assert!(is_own("127.0.0.5".parse().unwrap(), &[]));
    assert!(!is_own("0.0.0.0".parse().unwrap(), &[]));
}
