//! Service names for a (port, protocol) pair, and the IANA range a port falls in.
//!
//! Three tables answer, in this order: a curated table of services people actually run today
//! (the registry predates most of them: 9200 is registered as `wap-wsp`, not Elasticsearch),
//! the system's `/etc/services` as text handed in by the caller, and a table generated from
//! the IANA registry (`services_iana.rs`, see `docs/services.md`).
//!
//! This module must not do I/O: the caller reads `/etc/services` and passes its text. Lookups
//! are binary searches over sorted slices, cheap enough to run once per socket.

use crate::model::Proto::{Tcp, Udp};
use crate::model::{IanaRange, Proto};

#[path = "services_iana.rs"]
mod iana;

/// Curated (port, protocol, name), sorted by (port, protocol) with no duplicates (a test checks
/// both). Names are short lower-case identifiers in the style of `/etc/services`. A port gets an
/// entry only for the protocol its service really uses (5353 is mDNS on udp only).
static CURATED: &[(u16, Proto, &str)] = &[
    (21, Tcp, "ftp"),
    (22, Tcp, "ssh"),
    (23, Tcp, "telnet"),
    (25, Tcp, "smtp"),
    (53, Tcp, "dns"),
    (53, Udp, "dns"),
    (67, Udp, "dhcp-server"),
    (68, Udp, "dhcp-client"),
    (69, Udp, "tftp"),
    (80, Tcp, "http"),
    (88, Tcp, "kerberos"),
    (88, Udp, "kerberos"),
    (110, Tcp, "pop3"),
    (111, Tcp, "rpcbind"),
    (111, Udp, "rpcbind"),
    (123, Udp, "ntp"),
    (137, Udp, "netbios-ns"),
    (138, Udp, "netbios-dgm"),
    (139, Tcp, "netbios-ssn"),
    (143, Tcp, "imap"),
    (161, Udp, "snmp"),
    (162, Udp, "snmp-trap"),
    (389, Tcp, "ldap"),
    (443, Tcp, "https"),
    // HTTP/3 over QUIC.
    (443, Udp, "https"),
    (445, Tcp, "smb"),
    // The registry's first name for 465/tcp is the withdrawn `urd`.
    (465, Tcp, "submissions"),
    (500, Udp, "ike"),
    // 514 means two unrelated things: rsh on tcp, syslog on udp.
    (514, Tcp, "rsh"),
    (514, Udp, "syslog"),
    (546, Udp, "dhcpv6-client"),
    (547, Udp, "dhcpv6-server"),
    (587, Tcp, "submission"),
    (631, Tcp, "ipp"),
    // cups-browsed.
    (631, Udp, "ipp"),
    (636, Tcp, "ldaps"),
    (873, Tcp, "rsync"),
    (993, Tcp, "imaps"),
    (995, Tcp, "pop3s"),
    (1080, Tcp, "socks"),
    (1194, Tcp, "openvpn"),
    (1194, Udp, "openvpn"),
    (1433, Tcp, "mssql"),
    (1521, Tcp, "oracle"),
    (1883, Tcp, "mqtt"),
    (1900, Udp, "ssdp"),
    (2049, Tcp, "nfs"),
    (2049, Udp, "nfs"),
    (2181, Tcp, "zookeeper"),
    (2375, Tcp, "docker"),
    (2376, Tcp, "docker-tls"),
    (2377, Tcp, "docker-swarm"),
    (2379, Tcp, "etcd-client"),
    (2380, Tcp, "etcd-peer"),
    // Node (Express, Next.js), Rails, Grafana: most often a development server.
    (3000, Tcp, "dev-server"),
    (3128, Tcp, "http-proxy"),
    (3306, Tcp, "mysql"),
    (3389, Tcp, "rdp"),
    (3389, Udp, "rdp"),
    (3478, Tcp, "stun"),
    (3478, Udp, "stun"),
    (3702, Udp, "ws-discovery"),
    (4000, Tcp, "dev-server"),
    (4222, Tcp, "nats"),
    (4317, Tcp, "otlp-grpc"),
    (4318, Tcp, "otlp-http"),
    (4369, Tcp, "epmd"),
    (4500, Udp, "ipsec-nat-t"),
    (4789, Udp, "vxlan"),
    // Flask and friends; on macOS the AirPlay receiver (ControlCenter) also listens here.
    (5000, Tcp, "dev-server"),
    // The adb host server on a developer's machine; 5555 is adbd on the device.
    (5037, Tcp, "adb-server"),
    (5060, Tcp, "sip"),
    (5060, Udp, "sip"),
    (5061, Tcp, "sips"),
    (5173, Tcp, "vite"),
    (5353, Udp, "mdns"),
    (5355, Tcp, "llmnr"),
    (5355, Udp, "llmnr"),
    (5432, Tcp, "postgresql"),
    (5555, Tcp, "adb"),
    (5601, Tcp, "kibana"),
    // AMQP; named after the broker that nearly always serves it.
    (5671, Tcp, "rabbitmq-tls"),
    (5672, Tcp, "rabbitmq"),
    (5900, Tcp, "vnc"),
    (5901, Tcp, "vnc-1"),
    (5902, Tcp, "vnc-2"),
    (5903, Tcp, "vnc-3"),
    (5938, Tcp, "teamviewer"),
    (5938, Udp, "teamviewer"),
    (5984, Tcp, "couchdb"),
    (6379, Tcp, "redis"),
    (6432, Tcp, "pgbouncer"),
    (6443, Tcp, "kube-apiserver"),
    (7474, Tcp, "neo4j-http"),
    (7687, Tcp, "neo4j"),
    // Django, `python3 -m http.server`.
    (8000, Tcp, "dev-server"),
    (8080, Tcp, "http-alt"),
    (8086, Tcp, "influxdb"),
    (8200, Tcp, "vault"),
    (8443, Tcp, "https-alt"),
    // The Linux kernel's pre-IANA VXLAN port, used by flannel and Cilium.
    (8472, Udp, "vxlan"),
    (8500, Tcp, "consul"),
    (8883, Tcp, "mqtt-tls"),
    (8888, Tcp, "jupyter"),
    // Also php-fpm, MinIO, Portainer, ClickHouse: no single owner, so the generic name.
    (9000, Tcp, "dev-server"),
    (9042, Tcp, "cassandra"),
    (9050, Tcp, "tor-socks"),
    (9090, Tcp, "prometheus"),
    (9092, Tcp, "kafka"),
    (9093, Tcp, "alertmanager"),
    (9100, Tcp, "node-exporter"),
    (9200, Tcp, "elasticsearch"),
    (9300, Tcp, "es-transport"),
    (10250, Tcp, "kubelet"),
    (10255, Tcp, "kubelet-ro"),
    (10256, Tcp, "kube-proxy"),
    (10257, Tcp, "kube-controller"),
    (10259, Tcp, "kube-scheduler"),
    (11211, Tcp, "memcached"),
    (11211, Udp, "memcached"),
    (11434, Tcp, "ollama"),
    (15672, Tcp, "rabbitmq-mgmt"),
    (25565, Tcp, "minecraft"),
    (26257, Tcp, "cockroachdb"),
    (26379, Tcp, "redis-sentinel"),
    // Source dedicated servers (Steam games): game traffic on udp, RCON on tcp.
    (27015, Tcp, "srcds"),
    (27015, Udp, "srcds"),
    (27017, Tcp, "mongodb"),
    (32400, Tcp, "plex"),
    (33060, Tcp, "mysqlx"),
    (51820, Udp, "wireguard"),
    (61616, Tcp, "activemq"),
];

/// Service names for (port, protocol) pairs: the curated and IANA tables built into the binary,
/// plus the entries of an `/etc/services` file when one was given.
///
/// `ServiceDb::default()` is the same as [`ServiceDb::builtin`].
#[derive(Debug, Clone, Default)]
pub struct ServiceDb {
    /// Parsed `/etc/services` entries, sorted by (port, protocol), one per pair: the first in
    /// the file, as the C library's `getservbyport` returns it.
    etc: Vec<(u16, Proto, Box<str>)>,
}

impl ServiceDb {
    /// The built-in tables only: the curated table, then the IANA registry.
    #[must_use]
    pub fn builtin() -> Self {
        ServiceDb::default()
    }

    /// The curated table, then the entries of `text` (the contents of an `/etc/services` file,
    /// read by the caller), then the IANA registry.
    ///
    /// Each line is `name port/protocol [aliases…] [# comment]`; aliases are ignored and so are
    /// protocols other than `tcp` and `udp`. Lines that do not parse (no protocol, a port over
    /// 65535, a name with control or non-ASCII characters) are skipped, never fatal. When the
    /// file names one (port, protocol) twice the first line wins, as with `getservbyport`.
    #[must_use]
    pub fn with_etc_services(text: &str) -> Self {
        let mut etc: Vec<(u16, Proto, Box<str>)> = text.lines().filter_map(parse_line).collect();
        // A stable sort keeps file order within a key, so dedup keeps the first line.
        etc.sort_by_key(|&(port, proto, _)| (port, proto));
        etc.dedup_by(|later, earlier| (later.0, later.1) == (earlier.0, earlier.1));
        etc.shrink_to_fit();
        ServiceDb { etc }
    }

    /// The service name for `port` on `proto`, or `None` when no table knows it.
    #[must_use]
    pub fn lookup(&self, port: u16, proto: Proto) -> Option<&str> {
        let key = (port, proto);
        if let Ok(i) = CURATED.binary_search_by(|&(p, pr, _)| (p, pr).cmp(&key)) {
            return Some(CURATED[i].2);
        }
        if let Ok(i) = self.etc.binary_search_by(|(p, pr, _)| (*p, *pr).cmp(&key)) {
            return Some(&self.etc[i].2);
        }
        let key = (port, iana_proto(proto));
        iana::IANA
            .binary_search_by(|&(p, pr, _)| (p, pr).cmp(&key))
            .ok()
            .map(|i| iana::IANA[i].2)
    }
}

/// Every curated (port, protocol, name), sorted by (port, protocol): for look-ups by name
/// (`portscope explain postgresql`).
#[must_use]
pub fn curated() -> &'static [(u16, Proto, &'static str)] {
    CURATED
}

/// Every IANA registration kept (port, protocol, first name), sorted by (port, protocol).
pub fn iana() -> impl Iterator<Item = (u16, Proto, &'static str)> {
    iana::IANA
        .iter()
        .map(|&(port, proto, name)| (port, if proto == 0 { Tcp } else { Udp }, name))
}

/// The protocol code the generated IANA table uses.
fn iana_proto(proto: Proto) -> u8 {
    match proto {
        Tcp => 0,
        Udp => 1,
    }
}

/// One `/etc/services` line → (port, protocol, name), or `None` for comments, blank lines,
/// other protocols and anything malformed.
fn parse_line(line: &str) -> Option<(u16, Proto, Box<str>)> {
    let line = line.split_once('#').map_or(line, |(before, _)| before);
    let mut fields = line.split_ascii_whitespace();
    let name = fields.next()?;
    let (port, proto) = fields.next()?.split_once('/')?;
    // `u16::from_str` would accept "+80"; the file format has plain digits only.
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    // Exact match, as the C library compares protocol names.
    let proto = match proto {
        "tcp" => Tcp,
        "udp" => Udp,
        _ => return None,
    };
    // Names end up in tables and JSON: keep to printable ASCII, which every real entry is.
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some((port, proto, name.into()))
}

/// The IANA range `port` falls in: system (0–1023), registered (1024–49151) or dynamic
/// (49152–65535).
#[must_use]
pub fn port_range(port: u16) -> IanaRange {
    match port {
        0..=1023 => IanaRange::System,
        1024..=49151 => IanaRange::Registered,
        _ => IanaRange::Dynamic,
    }
}

#[cfg(test)]
mod tests;
