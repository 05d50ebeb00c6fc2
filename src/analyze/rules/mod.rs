//! The audit rule table: which (port, protocol) pairs are risky when a listener is reachable from
//! beyond the machine, how severe each is, why, how to fix it and where the facts come from.
//!
//! The rules are data (`src/analyze/rules.toml`, compiled in) and are validated when loaded. This
//! module holds the rule set and its look-ups and loads the built-in table; the severity levels
//! and the exposure arithmetic are in `severity.rs`, parsing and validation in `load.rs`, and
//! their public items are re-exported here. It is pure: it must not read the system, classify
//! addresses or decide a socket's exposure (that is [`crate::analyze::exposure`]), and must not
//! print or render; the Markdown reference `docs/rules.md` is generated outside the domain, by
//! `src/docgen/rules.rs`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::{Proto, Severity, Why};

mod load;
mod severity;

pub use crate::model::PortRange;
pub use load::RulesError;
pub use severity::effective_severity;
#[cfg(test)]
pub use severity::{EXPOSURE_CLASSES, exposure_steps};

/// The text of the built-in rule table.
const BUILTIN_TEXT: &str = include_str!("../rules.toml");

/// One audit rule: a risky service on some ports of one protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable kebab-case identifier, e.g. `exposed-telnet` (a finding's `rule` in the JSON output).
    pub id: String,
    /// Human name of the service.
    pub service: String,
    /// The protocol the rule applies to; TCP and UDP meanings of a port are separate rules.
    pub proto: Proto,
    /// The ports the rule claims, in file order.
    pub ports: Vec<PortRange>,
    /// The identified service names (`service` of a listener identified by its process or a
    /// handshake) the rule covers on any port, e.g. `redis`; empty: the ports only.
    pub services: Vec<String>,
    /// Base severity, for a listener reachable on a public address.
    pub severity: Severity,
    /// Why the service is risky.
    pub why: Vec<Why>,
    /// Why it matters, in one or two sentences.
    pub summary: String,
    /// What to do about it.
    pub fix: String,
    /// The secure replacement of a plain-text or remote-admin service (telnet → SSH), shown by
    /// `portscope explain`; `None` where the fix says it all.
    pub alternative: Option<String>,
    /// Source references: a source id (a key of [`RuleSet::sources`]), optionally followed by a
    /// space and a detail such as a report name or benchmark section (`"CIS-DEB12 2.1.19"`).
    pub sources: Vec<String>,
}

impl Rule {
    /// True when the rule covers `port` over `proto`.
    #[cfg(test)]
    #[must_use]
    pub fn matches(&self, port: u16, proto: Proto) -> bool {
        self.proto == proto && self.ports.iter().any(|range| range.contains(port))
    }

    /// The ports as text, e.g. `5900-5903/tcp` or `80, 443/tcp`.
    #[cfg(test)]
    #[must_use]
    pub fn ports_label(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(PortRange::to_string).collect();
        format!("{}/{}", ports.join(", "), self.proto)
    }
}

/// A cited source: a title and where to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// What the source is.
    pub title: String,
    /// Where to read it.
    pub url: String,
    /// Further addresses (mirrors, secondary reports).
    #[serde(default)]
    pub also: Vec<String>,
}

/// The source id of a rule's source reference: the text before the first space.
#[must_use]
pub fn source_id(reference: &str) -> &str {
    reference.split_once(' ').map_or(reference, |(id, _)| id)
}

/// A validated rule table with a lookup index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    rules: Vec<Rule>,
    sources: BTreeMap<String, Source>,
    /// Every claimed range as (proto, start, end, rule index), sorted, never overlapping.
    index: Vec<(Proto, u16, u16, usize)>,
}

/// The empty table [`RuleSet::builtin`] falls back to if the compiled-in table were invalid.
static EMPTY: RuleSet = RuleSet {
    rules: Vec::new(),
    sources: BTreeMap::new(),
    index: Vec::new(),
};

/// The built-in table, parsed on first use.
static BUILTIN: OnceLock<Result<RuleSet, RulesError>> = OnceLock::new();

impl RuleSet {
    /// The rule table compiled into portscope, parsed once.
    ///
    /// The table is validated by the unit tests, so in a released build it always loads; should it
    /// ever fail, this returns an empty table rather than panic (see [`RuleSet::try_builtin`]).
    #[must_use]
    pub fn builtin() -> &'static RuleSet {
        RuleSet::try_builtin().unwrap_or(&EMPTY)
    }

    /// The rule table compiled into portscope, or why it does not load.
    ///
    /// # Errors
    ///
    /// The error of [`RuleSet::load`] on the compiled-in text; a test guarantees there is none.
    pub fn try_builtin() -> Result<&'static RuleSet, &'static RulesError> {
        BUILTIN.get_or_init(|| RuleSet::load(BUILTIN_TEXT)).as_ref()
    }

    /// Parse and validate a rule table in the format of `src/analyze/rules.toml`.
    ///
    /// # Errors
    ///
    /// [`RulesError`] when the text is not TOML of the rule file's shape, or when a check fails:
    /// ids unique and kebab-case, text fields non-empty, ports in `1..=65535` with ranges written
    /// `"a-b"` and `a <= b`, every source reference naming a `[sources]` id, `amplification` only on
    /// UDP rules, and no (port, proto) claimed twice.
    pub fn load(text: &str) -> Result<RuleSet, RulesError> {
        load::parse(text)
    }

    /// The rule claiming `port` over `proto`, if any.
    #[must_use]
    pub fn lookup(&self, port: u16, proto: Proto) -> Option<&Rule> {
        // The index is sorted by (proto, start) and free of overlaps, so the only candidate is the
        // last range starting at or before the port.
        let after = self
            .index
            .partition_point(|&(p, start, _, _)| (p, start) <= (proto, port));
        let &(p, _, end, rule) = self.index.get(after.checked_sub(1)?)?;
        if p == proto && port <= end {
            self.rules.get(rule)
        } else {
            None
        }
    }

    /// The rule covering the identified service `service` over `proto`, on whatever port.
    #[must_use]
    pub fn lookup_service(&self, service: &str, proto: Proto) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.proto == proto && r.services.iter().any(|s| s == service))
    }

    /// Every rule, in file order.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every cited source by id.
    #[cfg(test)]
    #[must_use]
    pub fn sources(&self) -> &BTreeMap<String, Source> {
        &self.sources
    }

    /// The source a reference such as `"CIS-DEB12 2.1.19"` points to.
    #[must_use]
    pub fn source(&self, reference: &str) -> Option<&Source> {
        self.sources.get(source_id(reference))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Severity::*;

    fn builtin() -> &'static RuleSet {
        match RuleSet::try_builtin() {
            Ok(set) => set,
            Err(e) => panic!("src/analyze/rules.toml does not load: {e}"),
        }
    }

    #[test]
    fn builtin_table_loads_and_validates() {
        let set = builtin();
        assert!(set.rules().len() >= 46, "only {} rules", set.rules().len());
        assert_eq!(RuleSet::builtin(), set);
        for rule in set.rules() {
            assert!(rule.id.starts_with("exposed-"), "{}", rule.id);
            for reference in &rule.sources {
                assert!(set.source(reference).is_some(), "{}: {reference}", rule.id);
            }
        }
        // Every declared source is cited somewhere.
        for id in set.sources().keys() {
            assert!(
                set.rules()
                    .iter()
                    .any(|r| r.sources.iter().any(|s| source_id(s) == id)),
                "source {id} is never cited"
            );
        }
    }

    #[test]
    fn builtin_rows() {
        use Proto::{Tcp, Udp};
        let rows: &[(u16, Proto, &str, Severity)] = &[
            (2375, Tcp, "exposed-docker-api", Critical),
            (2376, Tcp, "exposed-docker-api", Critical),
            (10250, Tcp, "exposed-kubelet", Critical),
            (10255, Tcp, "exposed-kubelet", Critical),
            (2379, Tcp, "exposed-etcd", Critical),
            (5555, Tcp, "exposed-adb", Critical),
            (4786, Tcp, "exposed-cisco-smart-install", Critical),
            (6443, Tcp, "exposed-kube-apiserver", High),
            (6379, Tcp, "exposed-redis", High),
            (11211, Tcp, "exposed-memcached-tcp", High),
            (11211, Udp, "exposed-memcached-udp", High),
            (27017, Tcp, "exposed-mongodb", High),
            (9300, Tcp, "exposed-elasticsearch", High),
            (3306, Tcp, "exposed-mysql", High),
            (5432, Tcp, "exposed-postgresql", High),
            (1433, Tcp, "exposed-mssql", High),
            (1434, Udp, "exposed-mssql-browser", High),
            (23, Tcp, "exposed-telnet", High),
            (514, Tcp, "exposed-rsh", High),
            (445, Tcp, "exposed-smb", High),
            (137, Udp, "exposed-netbios", High),
            (139, Tcp, "exposed-netbios-session", High),
            (135, Tcp, "exposed-msrpc", High),
            (3389, Tcp, "exposed-rdp-tcp", High),
            (3389, Udp, "exposed-rdp-udp", High),
            (177, Udp, "exposed-xdmcp", High),
            (623, Udp, "exposed-ipmi", High),
            (161, Udp, "exposed-snmp", High),
            (389, Udp, "exposed-cldap", High),
            (389, Tcp, "exposed-ldap", High),
            (1900, Udp, "exposed-ssdp", High),
            (427, Udp, "exposed-slp-udp", High),
            (427, Tcp, "exposed-slp-tcp", Medium),
            (631, Udp, "exposed-cups-browsed", High),
            (631, Tcp, "exposed-ipp", High),
            (2049, Tcp, "exposed-nfs-tcp", High),
            (2049, Udp, "exposed-nfs-udp", High),
            (25672, Tcp, "exposed-erlang-epmd", High),
            (8088, Tcp, "exposed-hadoop", High),
            (5060, Udp, "exposed-sip-udp", High),
            (502, Tcp, "exposed-modbus", High),
            (47808, Udp, "exposed-bacnet", High),
            (1883, Tcp, "exposed-mqtt", Medium),
            (61616, Tcp, "exposed-activemq", Medium),
            (123, Udp, "exposed-ntp", Medium),
            (53, Udp, "exposed-dns-udp", Medium),
            (53, Tcp, "exposed-dns-tcp", Low),
            (5353, Udp, "exposed-mdns", Medium),
            (19, Udp, "exposed-chargen", Medium),
            (13, Udp, "exposed-echo-daytime", Medium),
            (111, Tcp, "exposed-rpcbind-tcp", Medium),
            (69, Udp, "exposed-tftp", Medium),
            (21, Tcp, "exposed-ftp", Medium),
            (873, Tcp, "exposed-rsync", Medium),
            (3128, Tcp, "exposed-http-proxy", Medium),
            (7547, Tcp, "exposed-cwmp", Medium),
            (22, Tcp, "exposed-ssh", Low),
            (25, Tcp, "exposed-smtp", Low),
            (80, Tcp, "exposed-http", Info),
            (443, Tcp, "exposed-http", Info),
        ];
        let set = builtin();
        for &(port, proto, id, severity) in rows {
            let rule = set.lookup(port, proto);
            assert_eq!(
                rule.map(|r| (r.id.as_str(), r.severity)),
                Some((id, severity)),
                "{port}/{proto}"
            );
        }
    }

    /// A listener identified by its owner keeps the port's name where the owner serves it
    /// (`combine`), so every curated name of a claimed port must lead back to the same rule.
    #[test]
    fn curated_port_names_lead_to_their_rules() {
        let set = builtin();
        for &(port, proto, name) in crate::analyze::services::curated() {
            if let Some(rule) = set.lookup(port, proto) {
                assert_eq!(
                    set.lookup_service(name, proto).map(|r| r.id.as_str()),
                    Some(rule.id.as_str()),
                    "{port}/{proto} is named {name}: add it to the services of {}",
                    rule.id
                );
            }
        }
        // Owner-table services that name a ruled port's service.
        for (service, proto, id) in [
            ("redis", Proto::Tcp, "exposed-redis"),
            ("memcached", Proto::Udp, "exposed-memcached-udp"),
            ("docker", Proto::Tcp, "exposed-docker-api"),
            ("etcd", Proto::Tcp, "exposed-etcd"),
            ("kubelet", Proto::Tcp, "exposed-kubelet"),
            ("elasticsearch", Proto::Tcp, "exposed-elasticsearch"),
            ("ssh", Proto::Tcp, "exposed-ssh"),
            ("http", Proto::Tcp, "exposed-http"),
        ] {
            assert_eq!(
                set.lookup_service(service, proto).map(|r| r.id.as_str()),
                Some(id),
                "{service}"
            );
        }
    }

    #[test]
    fn same_number_different_protocol() {
        let set = builtin();
        assert!(
            set.lookup(514, Proto::Udp).is_none(),
            "514/udp is syslog, not rsh"
        );
        assert!(set.lookup(23, Proto::Udp).is_none());
        assert!(set.lookup(161, Proto::Tcp).is_none());
        let memcached_udp = set.lookup(11211, Proto::Udp).map(|r| r.why.clone());
        assert!(memcached_udp.is_some_and(|why| why.contains(&Why::Amplification)));
        let memcached_tcp = set.lookup(11211, Proto::Tcp).map(|r| r.why.clone());
        assert!(memcached_tcp.is_some_and(|why| !why.contains(&Why::Amplification)));
        assert!(
            set.rules()
                .iter()
                .all(|r| r.proto == Proto::Udp || !r.why.contains(&Why::Amplification))
        );
    }

    #[test]
    fn range_lookup() {
        let set = builtin();
        let id = |port, proto| set.lookup(port, proto).map(|r| r.id.as_str());
        assert_eq!(id(5899, Proto::Tcp), None);
        assert_eq!(id(5900, Proto::Tcp), Some("exposed-vnc"));
        assert_eq!(id(5901, Proto::Tcp), Some("exposed-vnc"));
        assert_eq!(id(5903, Proto::Tcp), Some("exposed-vnc"));
        assert_eq!(id(5904, Proto::Tcp), None);
        assert_eq!(id(6000, Proto::Tcp), Some("exposed-x11"));
        assert_eq!(id(6010, Proto::Tcp), Some("exposed-x11"));
        assert_eq!(id(6063, Proto::Tcp), Some("exposed-x11"));
        assert_eq!(id(6064, Proto::Tcp), None);
        assert_eq!(id(6010, Proto::Udp), None);
        assert_eq!(id(512, Proto::Tcp), Some("exposed-rsh"));
        assert_eq!(id(138, Proto::Udp), Some("exposed-netbios"));
        assert_eq!(id(139, Proto::Udp), None);
        assert_eq!(id(1, Proto::Tcp), None);
        assert_eq!(id(65535, Proto::Udp), None);
        assert!(
            set.rules()
                .iter()
                .all(|r| r.ports.iter().all(|p| r.matches(p.end, r.proto)))
        );
    }
}
