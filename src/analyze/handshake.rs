//! The polite local handshake of `--identify`, minus the network: which listeners to greet, at
//! which of this machine's addresses and with what ([`target`]); the bytes of each greeting
//! ([`request`], a TLS 1.2 ClientHello included); what the replies say ([`interpret`]: SSH, FTP,
//! SMTP, POP3, IMAP and MySQL greetings, Redis, memcached, HTTP, the Docker API, TLS with the
//! certificate's names); how that changes a listener's service ([`apply`]); and which replies
//! show a risk the socket alone cannot ([`risk`]).
//!
//! Pure: it must not connect (that is `collect/handshake.rs`), read the clock or print. Nothing
//! it sends carries credentials or changes the server's state.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::analyze::identify::OwnerTable;
use crate::model::{
    AuthState, Handshake, HandshakeLimits, HandshakeProbe, HandshakeReply, HandshakeStep,
    HandshakeTarget, Proto, ServiceSource, SocketEntry, SocketState, StepResult, Why,
};

/// Services whose protocol none of the greetings speaks: they are not greeted at all, rather
/// than sent an HTTP request they would log as garbage.
const NOT_GREETED: &[&str] = &[
    "postgresql",
    "mongodb",
    "mssql",
    "oracle",
    "dns",
    "smb",
    "netbios-ssn",
    "kafka",
    "zookeeper",
    "es-transport",
    "rdp",
    "vnc",
    "ldap",
    "rpcbind",
    "nfs",
    "epmd",
    "mqtt",
    "rabbitmq",
    "cassandra",
    "containerd",
    "etcd-peer",
    "x11",
];

/// Services that speak first: the greeting only listens.
const BANNER: &[&str] = &[
    "ssh",
    "ftp",
    "smtp",
    "submission",
    "pop3",
    "imap",
    "mysql",
    "telnet",
];

/// Services whose port speaks TLS from the first byte.
const TLS: &[&str] = &[
    "https",
    "https-alt",
    "imaps",
    "pop3s",
    "ldaps",
    "submissions",
    "docker-tls",
    "kube-apiserver",
    "etcd",
    "etcd-client",
    "kubelet",
    "vault",
];

/// The handshake for a listener, or `None` when it is not greeted: not a TCP listener, a
/// service no greeting speaks, or an address that is not one of `local` (this machine's
/// interface addresses) nor loopback. A wildcard bind is greeted on loopback; an IPv6 link-local
/// address, which needs a scope, is not greeted.
#[must_use]
pub fn target(
    entry: &SocketEntry,
    local: &[IpAddr],
    owners: &OwnerTable,
) -> Option<HandshakeTarget> {
    if entry.proto != Proto::Tcp || entry.state != SocketState::Listen {
        return None;
    }
    let ip = match entry.local_address {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    if !is_own(ip, local) {
        return None;
    }
    let hint = entry.service.as_deref().map(|s| owners.speaks(s));
    let probes = probes_for(hint);
    if probes.is_empty() {
        return None;
    }
    let address = SocketAddr::new(ip, entry.local_port);
    let steps = probes
        .iter()
        .map(|&probe| HandshakeStep {
            probe,
            send: request(probe, address),
        })
        .collect();
    Some(HandshakeTarget { address, steps })
}

/// True when `ip` is this machine's: loopback, or one of its interface addresses (an IPv6
/// link-local address needs a scope id and is refused).
#[must_use]
pub fn is_own(ip: IpAddr, local: &[IpAddr]) -> bool {
    match ip {
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => false,
        _ if ip.is_loopback() => true,
        _ if ip.is_unspecified() || ip.is_multicast() => false,
        _ => local.contains(&ip),
    }
}

/// The greetings for a listener whose service speaks `hint`, in order: each is a fresh
/// connection, tried only when the one before got no reply.
#[must_use]
pub fn probes_for(hint: Option<&str>) -> Vec<HandshakeProbe> {
    use HandshakeProbe::*;
    let Some(hint) = hint else {
        return vec![Banner, Http, Tls];
    };
    let base = hint.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
    if NOT_GREETED.contains(&hint) || NOT_GREETED.contains(&base) {
        Vec::new()
    } else if BANNER.contains(&hint) {
        vec![Banner]
    } else if TLS.contains(&hint) {
        vec![Tls]
    } else {
        match hint {
            "redis" | "redis-sentinel" => vec![Redis],
            "memcached" => vec![Memcached],
            "docker" => vec![Docker],
            "http" | "http-alt" | "dev-server" | "http-proxy" => vec![Http],
            // A name the port table gave but no greeting knows: listen, then ask as HTTP, then
            // as TLS.
            _ => vec![Banner, Http, Tls],
        }
    }
}

/// The bytes a greeting sends to `address` (none for a banner).
#[must_use]
pub fn request(probe: HandshakeProbe, address: SocketAddr) -> Vec<u8> {
    match probe {
        HandshakeProbe::Banner => Vec::new(),
        // PING, then INFO server (read-only; refused like PING when a password is set).
        HandshakeProbe::Redis => {
            b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n".to_vec()
        }
        HandshakeProbe::Memcached => b"version\r\n".to_vec(),
        HandshakeProbe::Http => {
            format!("HEAD / HTTP/1.0\r\nHost: {address}\r\nUser-Agent: portscope-identify\r\n\r\n")
                .into_bytes()
        }
        HandshakeProbe::Docker => format!(
            "GET /version HTTP/1.0\r\nHost: {address}\r\nUser-Agent: portscope-identify\r\n\r\n"
        )
        .into_bytes(),
        HandshakeProbe::Tls => client_hello(),
    }
}

/// A TLS 1.2-only ClientHello (no supported_versions extension, so a TLS 1.3 server answers
/// with TLS 1.2 and its Certificate message is not encrypted). The random is fixed: the
/// handshake is never completed, so nothing depends on it.
#[must_use]
pub fn client_hello() -> Vec<u8> {
    let suites: [u16; 15] = [
        0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009c,
        0x009d, 0x002f, 0x0035, 0x000a,
    ];
    let groups: [u16; 3] = [0x001d, 0x0017, 0x0018];
    let sigalgs: [u16; 11] = [
        0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201, 0x0203,
    ];
    let u16s = |list: &[u16]| -> Vec<u8> { list.iter().flat_map(|v| v.to_be_bytes()).collect() };
    let mut ext = Vec::new();
    let mut push_ext = |kind: u16, body: &[u8]| {
        ext.extend(kind.to_be_bytes());
        ext.extend(len16(body.len()));
        ext.extend_from_slice(body);
    };
    let groups = u16s(&groups);
    push_ext(0x000a, &[len16(groups.len()).as_slice(), &groups].concat());
    push_ext(0x000b, &[1, 0]);
    let sigalgs = u16s(&sigalgs);
    push_ext(
        0x000d,
        &[len16(sigalgs.len()).as_slice(), &sigalgs].concat(),
    );
    push_ext(0xff01, &[0]);
    let suites = u16s(&suites);
    let mut body = vec![0x03, 0x03];
    body.extend((0u8..32).map(|i| i.wrapping_mul(7).wrapping_add(0x5a)));
    body.push(0); // no session id
    body.extend(len16(suites.len()));
    body.extend(suites);
    body.extend([1, 0]); // null compression only
    body.extend(len16(ext.len()));
    body.extend(ext);
    let mut handshake = vec![1];
    handshake.extend(len24(body.len()));
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend(len16(handshake.len()));
    record.extend(handshake);
    record
}

fn len16(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes()
}

fn len24(n: usize) -> [u8; 3] {
    let [_, a, b, c] = u32::try_from(n).unwrap_or(0).to_be_bytes();
    [a, b, c]
}

/// What the replies of one listener's greetings say. The last reply is the one described: the
/// steps stop at the first that got an answer.
#[must_use]
pub fn interpret(
    address: SocketAddr,
    replies: &[HandshakeReply],
    limits: &HandshakeLimits,
) -> Handshake {
    let mut seen = Handshake {
        probe: replies.last().map_or(HandshakeProbe::Banner, |r| r.probe),
        address,
        identified: false,
        service: None,
        summary: String::new(),
        auth: None,
        tls: None,
        tls_version: None,
        certificate_names: Vec::new(),
        server: None,
        http_status: None,
    };
    let Some(last) = replies.last() else {
        seen.summary = "not greeted".to_owned();
        return seen;
    };
    seen.summary = match last.result {
        StepResult::Replied => {
            parse(last.probe, &last.bytes, &mut seen);
            return seen;
        }
        StepResult::Silent => format!("no reply within {} ms", limits.read_timeout.as_millis()),
        StepResult::Closed => "closed the connection without a reply".to_owned(),
        StepResult::ConnectFailed => "connection refused".to_owned(),
        StepResult::ConnectTimeout => format!(
            "no connection within {} ms",
            limits.connect_timeout.as_millis()
        ),
    };
    seen
}

/// Fill `seen` from the reply to `probe`.
fn parse(probe: HandshakeProbe, bytes: &[u8], seen: &mut Handshake) {
    // Whatever was asked, a TLS record or an HTTP status line says what the port speaks.
    if probe != HandshakeProbe::Tls
        && bytes.len() >= 2
        && matches!(bytes[0], 0x15 | 0x16)
        && bytes[1] == 3
    {
        found(
            seen,
            None,
            "TLS (answered a plain-text request with a TLS record)".to_owned(),
        );
        seen.tls = Some(true);
        return;
    }
    if bytes.starts_with(b"HTTP/") {
        parse_http(bytes, seen);
        return;
    }
    match probe {
        HandshakeProbe::Banner => parse_banner(bytes, seen),
        HandshakeProbe::Redis => parse_redis(bytes, seen),
        HandshakeProbe::Memcached => parse_memcached(bytes, seen),
        HandshakeProbe::Tls => parse_tls(bytes, seen),
        HandshakeProbe::Http | HandshakeProbe::Docker => unrecognised(bytes, seen),
    }
}

fn found(seen: &mut Handshake, service: Option<&str>, summary: String) {
    seen.identified = true;
    seen.service = service.map(str::to_owned);
    seen.summary = summary;
}

fn unrecognised(bytes: &[u8], seen: &mut Handshake) {
    seen.identified = false;
    seen.summary = format!("unrecognised reply: {}", printable(first_line(bytes), 60));
}

/// The first line of a reply, without its end.
fn first_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = &bytes[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Printable ASCII of `bytes`, other bytes as `.`, at most `max` characters: reply text ends up
/// in tables and JSON.
fn printable(bytes: &[u8], max: usize) -> String {
    bytes
        .iter()
        .take(max)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

fn contains_ci(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn parse_banner(bytes: &[u8], seen: &mut Handshake) {
    let line = first_line(bytes);
    let text = printable(line, 200);
    if let Some(rest) = text.strip_prefix("SSH-") {
        seen.server = rest.split_once('-').map(|(_, software)| {
            software
                .split_whitespace()
                .next()
                .unwrap_or(software)
                .to_owned()
        });
        found(seen, Some("ssh"), text);
    } else if text.starts_with("220") {
        let smtp = ["SMTP", "Postfix", "Exim", "Sendmail"]
            .iter()
            .any(|m| contains_ci(line, m));
        let service = if smtp { "smtp" } else { "ftp" };
        let label = if smtp { "SMTP" } else { "FTP" };
        found(seen, Some(service), format!("{label}: {text}"));
    } else if text.starts_with("+OK") {
        found(seen, Some("pop3"), format!("POP3: {text}"));
    } else if text.starts_with("* OK") || text.starts_with("* PREAUTH") {
        found(seen, Some("imap"), format!("IMAP: {text}"));
    } else if let Some(version) = mysql_greeting(bytes) {
        let product = if version.contains("MariaDB") {
            "MariaDB"
        } else {
            "MySQL"
        };
        seen.server = Some(format!("{product} {version}"));
        found(seen, Some("mysql"), format!("{product} {version}"));
    } else {
        unrecognised(bytes, seen);
    }
}

/// The server version of a MySQL/MariaDB initial handshake packet (protocol 10).
fn mysql_greeting(bytes: &[u8]) -> Option<String> {
    let (header, rest) = bytes.split_at_checked(4)?;
    let length =
        usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    // The packet may be cut at the byte limit: only the version, which comes first, is needed.
    if header[3] != 0 || rest.first() != Some(&10) || length < 2 {
        return None;
    }
    let version = &rest[1..];
    let end = version.iter().position(|&b| b == 0)?;
    let version = &version[..end];
    (!version.is_empty() && version.iter().all(|b| b.is_ascii_graphic()))
        .then(|| printable(version, 60))
}

fn parse_redis(bytes: &[u8], seen: &mut Handshake) {
    let line = first_line(bytes);
    let version = bytes
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"redis_version:"))
        .map(|v| printable(v.strip_suffix(b"\r").unwrap_or(v), 30));
    let product = match &version {
        Some(v) => format!("Redis {v}"),
        None => "Redis".to_owned(),
    };
    seen.server = version.as_ref().map(|v| format!("Redis {v}"));
    if line.starts_with(b"+PONG") {
        seen.auth = Some(AuthState::None);
        found(
            seen,
            Some("redis"),
            format!("{product}, no authentication required"),
        );
    } else if line.starts_with(b"-NOAUTH") || line.starts_with(b"-WRONGPASS") {
        seen.auth = Some(AuthState::Required);
        found(
            seen,
            Some("redis"),
            format!("{product}, authentication required"),
        );
    } else if line.starts_with(b"-DENIED") {
        seen.auth = Some(AuthState::Required);
        found(
            seen,
            Some("redis"),
            format!("{product}, protected mode refuses this client"),
        );
    } else if line.starts_with(b"-ERR") || line.starts_with(b"-") {
        found(
            seen,
            Some("redis"),
            format!("{product}: {}", printable(line, 80)),
        );
    } else {
        unrecognised(bytes, seen);
    }
}

fn parse_memcached(bytes: &[u8], seen: &mut Handshake) {
    let text = printable(first_line(bytes), 80);
    if let Some(version) = text.strip_prefix("VERSION ") {
        seen.server = Some(format!("memcached {version}"));
        seen.auth = Some(AuthState::None);
        found(
            seen,
            Some("memcached"),
            format!("memcached {version}, no authentication required"),
        );
    } else if text.starts_with("CLIENT_ERROR unauthenticated") {
        seen.auth = Some(AuthState::Required);
        found(
            seen,
            Some("memcached"),
            "memcached, authentication required".to_owned(),
        );
    } else {
        unrecognised(bytes, seen);
    }
}

fn parse_http(bytes: &[u8], seen: &mut Handshake) {
    let status_line = printable(first_line(bytes), 120);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |at| at + 4);
    let (head, body) = bytes.split_at(head_end);
    let server = head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = line.split_at(colon);
        name.eq_ignore_ascii_case(b"server")
            .then(|| printable(&value[1..], 80).trim().to_owned())
    });
    seen.http_status = status;
    seen.server = server.clone();
    seen.tls = Some(false);
    let status_text = status.map_or_else(|| "?".to_owned(), |s| s.to_string());
    // A TLS port that refuses a plain request in HTTP (nginx, Go's net/http).
    if contains_ci(body, "plain HTTP request was sent to HTTPS port")
        || contains_ci(body, "HTTP request to an HTTPS server")
    {
        seen.tls = Some(true);
        found(
            seen,
            Some("http"),
            format!("HTTP over TLS (a plain request got {status_text})"),
        );
        return;
    }
    let docker = server.as_deref().is_some_and(|s| s.starts_with("Docker/"))
        || (seen.probe == HandshakeProbe::Docker && contains_ci(body, "\"ApiVersion\""));
    if docker {
        let version = json_string(body, "Version");
        let api = json_string(body, "ApiVersion");
        let mut summary = "Docker Engine API".to_owned();
        if let Some(v) = version {
            summary.push_str(&format!(" {v}"));
        }
        if let Some(api) = api {
            summary.push_str(&format!(" (API {api})"));
        }
        summary.push_str(" over plain HTTP, no authentication required");
        seen.auth = Some(AuthState::None);
        found(seen, Some("docker"), summary);
        return;
    }
    let mut summary = format!("HTTP {status_text}");
    if let Some(server) = &server {
        summary.push_str(&format!(", Server: {server}"));
    }
    found(seen, Some("http"), summary);
}

/// The string value of `"key":"…"` in a JSON text, without a JSON parser (the body may be cut
/// at the byte limit).
fn json_string(body: &[u8], key: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let pattern = format!("\"{key}\":\"");
    let start = text.find(&pattern)? + pattern.len();
    let value = &text[start..];
    let end = value.find('"')?;
    Some(printable(&value.as_bytes()[..end], 40))
}

fn parse_tls(bytes: &[u8], seen: &mut Handshake) {
    // Gather the handshake messages of the leading handshake records.
    let mut messages = Vec::new();
    let mut rest = bytes;
    let mut alert = None;
    while let Some((header, after)) = rest.split_at_checked(5) {
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let fragment = &after[..length.min(after.len())];
        match header[0] {
            0x16 if header[1] == 3 => messages.extend_from_slice(fragment),
            0x15 if header[1] == 3 => alert = fragment.get(1).copied(),
            _ => break,
        }
        if length > after.len() {
            break;
        }
        rest = &after[length..];
    }
    if messages.is_empty() {
        match alert {
            Some(code) => {
                seen.tls = Some(true);
                found(
                    seen,
                    None,
                    format!("TLS (the server refused a TLS 1.2 hello: alert {code})"),
                );
            }
            None => unrecognised(bytes, seen),
        }
        return;
    }
    seen.tls = Some(true);
    let mut at = messages.as_slice();
    while let Some((header, body)) = at.split_at_checked(4) {
        let length =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        let message = &body[..length.min(body.len())];
        match header[0] {
            2 => seen.tls_version = message.get(..2).map(|v| tls_version(v[0], v[1])),
            11 => seen.certificate_names = certificate_names(message),
            _ => {}
        }
        if length > body.len() {
            break;
        }
        at = &body[length..];
    }
    let mut summary = match &seen.tls_version {
        Some(version) => version.clone(),
        None => "TLS".to_owned(),
    };
    if let Some(cn) = seen.certificate_names.first() {
        summary.push_str(&format!(", CN={cn}"));
    }
    found(seen, None, summary);
}

fn tls_version(major: u8, minor: u8) -> String {
    match (major, minor) {
        (3, 0) => "SSL 3.0".to_owned(),
        (3, n) => format!("TLS 1.{}", n - 1),
        _ => format!("TLS version {major}.{minor}"),
    }
}

/// The subject CN and the subjectAltName DNS names and addresses of the first certificate of a
/// Certificate message (which may be cut short: a name is read only when its bytes are there).
fn certificate_names(message: &[u8]) -> Vec<String> {
    // certificate_list<3 bytes>, then each: length<3 bytes> DER.
    let Some(first) = message.get(3..6) else {
        return Vec::new();
    };
    let length = usize::from(first[0]) << 16 | usize::from(first[1]) << 8 | usize::from(first[2]);
    let Some(der_bytes) = message.get(6..6 + length) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let Some((0x30, cert, _)) = der(der_bytes) else {
        return names;
    };
    let Some((0x30, tbs, _)) = der(cert) else {
        return names;
    };
    let mut fields = Vec::new();
    let mut rest = tbs;
    while let Some((tag, content, after)) = der(rest) {
        fields.push((tag, content));
        rest = after;
    }
    // [0] version is optional; subject is the fifth field after it.
    let skip = usize::from(fields.first().is_some_and(|(tag, _)| *tag == 0xa0));
    if let Some(&(0x30, subject)) = fields.get(skip + 4) {
        names.extend(common_names(subject));
    }
    if let Some(&(_, extensions)) = fields.iter().find(|(tag, _)| *tag == 0xa3) {
        for name in alt_names(extensions) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

fn common_names(name: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut sets = name;
    while let Some((0x31, set, after)) = der(sets) {
        let mut attrs = set;
        while let Some((0x30, attr, next)) = der(attrs) {
            if let Some((0x06, oid, value)) = der(attr)
                && oid == OID_CN
                && let Some((_, text, _)) = der(value)
            {
                out.push(printable(text, 100));
            }
            attrs = next;
        }
        sets = after;
    }
    out
}

fn alt_names(extensions: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some((0x30, mut list, _)) = der(extensions) else {
        return out;
    };
    while let Some((0x30, ext, after)) = der(list) {
        if let Some((0x06, oid, mut rest)) = der(ext)
            && oid == OID_SAN
        {
            // An optional critical flag, then the OCTET STRING.
            if let Some((0x01, _, after_flag)) = der(rest) {
                rest = after_flag;
            }
            if let Some((0x04, octets, _)) = der(rest)
                && let Some((0x30, mut general, _)) = der(octets)
            {
                while let Some((tag, value, next)) = der(general) {
                    match tag {
                        0x82 => out.push(printable(value, 100)),
                        0x87 if value.len() == 4 => {
                            out.push(
                                Ipv4Addr::new(value[0], value[1], value[2], value[3]).to_string(),
                            );
                        }
                        0x87 if value.len() == 16 => {
                            let mut octets = [0u8; 16];
                            octets.copy_from_slice(value);
                            out.push(Ipv6Addr::from(octets).to_string());
                        }
                        _ => {}
                    }
                    general = next;
                }
            }
        }
        list = after;
    }
    out
}

/// One DER element: (tag, content, the bytes after it); `None` when cut short or malformed.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 3 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        (
            bytes.iter().fold(0usize, |n, &b| n << 8 | usize::from(b)),
            rest,
        )
    };
    let (content, after) = rest.split_at_checked(length)?;
    Some((tag, content, after))
}

/// Record what a handshake saw on a listener: a named protocol that agrees with the service
/// (the same name, or the protocol the owner speaks: jupyter speaks http) adds `handshake` to
/// its sources; one that disagrees replaces the service, since what answers is what an attacker
/// meets. TLS alone names no protocol and changes nothing but the evidence.
pub fn apply(entry: &mut SocketEntry, seen: Handshake, owners: &OwnerTable) {
    if let Some(named) = seen.service.as_deref().filter(|_| seen.identified) {
        let agrees = entry
            .service
            .as_deref()
            .is_some_and(|current| current == named || owners.speaks(current) == named);
        if agrees {
            if !entry.service_source.contains(&ServiceSource::Handshake) {
                entry.service_source.push(ServiceSource::Handshake);
            }
        } else {
            entry.service = Some(named.to_owned());
            entry.service_source = vec![ServiceSource::Handshake];
        }
    }
    entry.handshake = Some(seen);
}

/// The risk a handshake showed that the socket alone cannot, for a listener a rule with reason
/// codes `why` covers: a service answering without authentication, the Docker API over plain
/// HTTP, or a remote-admin interface answering plain HTTP. `None` when it showed none.
#[must_use]
pub fn risk(seen: &Handshake, why: &[Why]) -> Option<String> {
    if !seen.identified {
        return None;
    }
    let plain_http =
        seen.tls == Some(false) && matches!(seen.service.as_deref(), Some("http" | "docker"));
    if seen.service.as_deref() == Some("docker") && plain_http {
        return Some(format!("the handshake shows {}", seen.summary));
    }
    if seen.auth == Some(AuthState::None) {
        return Some(format!(
            "the handshake shows {} (it answered {} without credentials)",
            seen.summary,
            seen.probe.as_str()
        ));
    }
    if plain_http && why.contains(&Why::RemoteAdmin) {
        return Some(format!(
            "the handshake shows an admin interface over plain HTTP, without TLS ({})",
            seen.summary
        ));
    }
    None
}

#[cfg(test)]
mod tests;
