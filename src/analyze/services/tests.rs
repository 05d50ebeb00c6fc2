//! Table tests of `analyze::services`.
use std::collections::BTreeMap;

use super::*;

#[test]
fn curated_lookups() {
    let db = ServiceDb::builtin();
    let cases: &[(u16, Proto, &str)] = &[
        (22, Tcp, "ssh"),
        (23, Tcp, "telnet"),
        (53, Tcp, "dns"),
        (53, Udp, "dns"),
        (67, Udp, "dhcp-server"),
        (68, Udp, "dhcp-client"),
        (80, Tcp, "http"),
        (111, Udp, "rpcbind"),
        (123, Udp, "ntp"),
        (137, Udp, "netbios-ns"),
        (138, Udp, "netbios-dgm"),
        (139, Tcp, "netbios-ssn"),
        (443, Tcp, "https"),
        (445, Tcp, "smb"),
        (465, Tcp, "submissions"),
        (631, Tcp, "ipp"),
        (1433, Tcp, "mssql"),
        (1521, Tcp, "oracle"),
        (1883, Tcp, "mqtt"),
        (1900, Udp, "ssdp"),
        (2049, Tcp, "nfs"),
        (2181, Tcp, "zookeeper"),
        (2375, Tcp, "docker"),
        (2376, Tcp, "docker-tls"),
        (2377, Tcp, "docker-swarm"),
        (2379, Tcp, "etcd-client"),
        (2380, Tcp, "etcd-peer"),
        (3000, Tcp, "dev-server"),
        (3306, Tcp, "mysql"),
        (3389, Tcp, "rdp"),
        (3389, Udp, "rdp"),
        (4000, Tcp, "dev-server"),
        (4222, Tcp, "nats"),
        (4369, Tcp, "epmd"),
        (4789, Udp, "vxlan"),
        (5000, Tcp, "dev-server"),
        (5173, Tcp, "vite"),
        (5353, Udp, "mdns"),
        (5432, Tcp, "postgresql"),
        (5555, Tcp, "adb"),
        (5672, Tcp, "rabbitmq"),
        (5900, Tcp, "vnc"),
        (5903, Tcp, "vnc-3"),
        (5938, Tcp, "teamviewer"),
        (5984, Tcp, "couchdb"),
        (6379, Tcp, "redis"),
        (6443, Tcp, "kube-apiserver"),
        (7687, Tcp, "neo4j"),
        (8000, Tcp, "dev-server"),
        (8080, Tcp, "http-alt"),
        (8086, Tcp, "influxdb"),
        (8443, Tcp, "https-alt"),
        (8472, Udp, "vxlan"),
        (8883, Tcp, "mqtt-tls"),
        (9000, Tcp, "dev-server"),
        (9042, Tcp, "cassandra"),
        (9090, Tcp, "prometheus"),
        (9092, Tcp, "kafka"),
        (9100, Tcp, "node-exporter"),
        (9200, Tcp, "elasticsearch"),
        (9300, Tcp, "es-transport"),
        (10250, Tcp, "kubelet"),
        (10255, Tcp, "kubelet-ro"),
        (10256, Tcp, "kube-proxy"),
        (11211, Tcp, "memcached"),
        (15672, Tcp, "rabbitmq-mgmt"),
        (25565, Tcp, "minecraft"),
        (26257, Tcp, "cockroachdb"),
        (27015, Tcp, "srcds"),
        (27015, Udp, "srcds"),
        (27017, Tcp, "mongodb"),
        (32400, Tcp, "plex"),
        (61616, Tcp, "activemq"),
    ];
    for &(port, proto, want) in cases {
        assert_eq!(db.lookup(port, proto), Some(want), "{port}/{proto}");
    }
}

#[test]
fn iana_answers_what_the_curated_table_does_not_know() {
    let db = ServiceDb::builtin();
    let cases: &[(u16, Proto, &str)] = &[
        (1, Tcp, "tcpmux"),
        (7000, Tcp, "afs3-fileserver"),
        // Ranges of at most 64 ports are expanded: x11 is 6000-6063.
        (6000, Tcp, "x11"),
        (6063, Udp, "x11"),
        // First name in registry order wins: http, not www or www-http.
        (80, Udp, "http"),
        // Curated has mDNS on udp only; the registry also lists tcp.
        (5353, Tcp, "mdns"),
    ];
    for &(port, proto, want) in cases {
        assert_eq!(db.lookup(port, proto), Some(want), "{port}/{proto}");
    }
}

#[test]
fn protocols_are_kept_apart() {
    let db = ServiceDb::builtin();
    assert_eq!(db.lookup(514, Tcp), Some("rsh"));
    assert_eq!(db.lookup(514, Udp), Some("syslog"));
    // Curated on one protocol only: the other falls through to IANA, or to nothing.
    assert_eq!(db.lookup(6443, Udp), Some("sun-sr-https"));
    assert_eq!(db.lookup(10250, Udp), None);
    assert_eq!(db.lookup(4789, Tcp), None);
}

#[test]
fn unknown_ports_have_no_name() {
    let db = ServiceDb::with_etc_services("ssh 22/tcp\n");
    for port in [0, 4, 65000, 65535] {
        for proto in [Tcp, Udp] {
            assert_eq!(db.lookup(port, proto), None, "{port}/{proto}");
        }
    }
}

#[test]
fn default_is_builtin() {
    assert_eq!(ServiceDb::default().lookup(22, Tcp), Some("ssh"));
    assert_eq!(
        ServiceDb::default().lookup(7000, Tcp),
        Some("afs3-fileserver")
    );
    assert_eq!(
        ServiceDb::with_etc_services("").lookup(7000, Tcp),
        Some("afs3-fileserver")
    );
}

#[test]
fn etc_services_wins_over_iana() {
    let db = ServiceDb::with_etc_services("afs-local 7000/tcp\nmy-game 65000/udp\n");
    assert_eq!(db.lookup(7000, Tcp), Some("afs-local"));
    // Only the protocol the line names.
    assert_eq!(db.lookup(7000, Udp), Some("afs3-fileserver"));
    assert_eq!(db.lookup(65000, Udp), Some("my-game"));
    assert_eq!(db.lookup(65000, Tcp), None);
}

#[test]
fn curated_wins_over_etc_services() {
    let text = "postgres 5432/tcp\nwap-wsp 9200/tcp\ndomain 53/udp\n";
    let db = ServiceDb::with_etc_services(text);
    assert_eq!(db.lookup(5432, Tcp), Some("postgresql"));
    assert_eq!(db.lookup(9200, Tcp), Some("elasticsearch"));
    assert_eq!(db.lookup(53, Udp), Some("dns"));
}

#[test]
fn etc_services_first_line_wins_and_aliases_are_ignored() {
    let text = "first\t65000/tcp\talias-a alias-b\t# a comment\r\n\
                second 65000/tcp\n\
                glued 65001/udp# comment right after the field\n";
    let db = ServiceDb::with_etc_services(text);
    assert_eq!(db.lookup(65000, Tcp), Some("first"));
    assert_eq!(db.lookup(65001, Udp), Some("glued"));
}

#[test]
fn malformed_etc_services_lines_are_skipped() {
    let lines = [
        "",
        "   ",
        "# commented 65000/tcp",
        "lonely",
        "65000/tcp",
        "noproto 65000",
        "noport /tcp",
        "toobig 65536/tcp",
        "negative -1/tcp",
        "plus +65000/tcp",
        "hex 0xfde8/tcp",
        "spaced 65000 /tcp",
        "sctp-only 65000/sctp",
        "upper 65000/TCP",
        "trailing 65000/tcp/x",
        "esc\u{1b}[31m 65000/tcp",
        "caf\u{e9} 65000/tcp",
    ];
    for line in lines {
        let db = ServiceDb::with_etc_services(line);
        assert!(
            db.etc.is_empty(),
            "{line:?} should be skipped, got {:?}",
            db.etc
        );
        assert_eq!(db.lookup(65000, Tcp), None, "{line:?}");
    }
    // Bad lines do not spoil the good ones around them.
    let db = ServiceDb::with_etc_services("junk\ngood 65000/tcp\ntoobig 99999/udp\n");
    assert_eq!(db.lookup(65000, Tcp), Some("good"));
    assert_eq!(db.etc.len(), 1);
}

#[test]
fn port_range_boundaries() {
    let cases = [
        (0, IanaRange::System),
        (1023, IanaRange::System),
        (1024, IanaRange::Registered),
        (49151, IanaRange::Registered),
        (49152, IanaRange::Dynamic),
        (65535, IanaRange::Dynamic),
    ];
    for (port, want) in cases {
        assert_eq!(port_range(port), want, "{port}");
    }
}

#[test]
fn curated_table_is_sorted_without_duplicates() {
    for pair in CURATED.windows(2) {
        let (a, b) = ((pair[0].0, pair[0].1), (pair[1].0, pair[1].1));
        assert!(
            a < b,
            "CURATED out of order or duplicated at {a:?} then {b:?}"
        );
    }
    for &(port, proto, name) in CURATED {
        let short = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        assert!(
            short && !name.is_empty(),
            "{port}/{proto}: {name:?} is not a short identifier"
        );
    }
}

#[test]
fn iana_table_is_sorted_without_duplicates() {
    assert!(
        iana::IANA.len() > 10_000,
        "IANA table looks truncated: {}",
        iana::IANA.len()
    );
    for pair in iana::IANA.windows(2) {
        let (a, b) = ((pair[0].0, pair[0].1), (pair[1].0, pair[1].1));
        assert!(a < b, "IANA out of order or duplicated at {a:?} then {b:?}");
    }
    for &(port, proto, name) in iana::IANA {
        assert!(proto <= 1, "{port}: protocol code {proto}");
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()),
            "{port}: {name:?}"
        );
    }
}

/// Minimal RFC 4180 reader: quoted fields may hold commas, doubled quotes and newlines,
/// which the registry's descriptions and notes do.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, _) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Re-derives the generated table from the CSV with the generator's rules (skip unnamed
/// rows, tcp/udp only, expand ranges of at most 64 ports, first name wins) and compares.
/// A failure after a registry update means: rerun scripts/gen_iana_services.py.
#[test]
fn iana_table_matches_the_registry_csv() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/iana-service-names-port-numbers.csv"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the registry CSV ships in the repository: {path}: {e}"));
    let rows = parse_csv(&text);
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (c_name, c_port, c_proto) = (
        col("Service Name"),
        col("Port Number"),
        col("Transport Protocol"),
    );

    let mut want: BTreeMap<(u16, u8), &str> = BTreeMap::new();
    for row in &rows[1..] {
        let name = row[c_name].trim();
        let proto = match row[c_proto].trim() {
            "tcp" => 0,
            "udp" => 1,
            _ => continue,
        };
        let ports = row[c_port].trim();
        if name.is_empty() || ports.is_empty() {
            continue;
        }
        let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
        let (lo, hi): (u16, u16) = (lo.parse().expect(ports), hi.parse().expect(ports));
        if u32::from(hi) - u32::from(lo) + 1 > 64 {
            continue;
        }
        for port in lo..=hi {
            want.entry((port, proto)).or_insert(name);
        }
    }

    assert_eq!(
        want.len(),
        iana::IANA.len(),
        "entry count differs from the CSV: regenerate services_iana.rs"
    );
    for (&(port, proto, name), (&key, &expected)) in iana::IANA.iter().zip(&want) {
        assert_eq!(
            ((port, proto), name),
            (key, expected),
            "regenerate services_iana.rs"
        );
    }
}
