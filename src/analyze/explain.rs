//! `portscope explain`: the ports a query names and what is known about each, from the built-in
//! tables (IANA registry, curated services, audit rules with their secure alternatives), the
//! kernel's ephemeral range and this machine's listeners.
//!
//! Pure: the caller collects the listeners and the port settings. It must not read the system
//! or format text.

use std::collections::BTreeSet;

use crate::analyze::rules::RuleSet;
use crate::analyze::services::{self, port_range};
use crate::model::Proto::{Tcp, Udp};
use crate::model::{
    ExplainQuery, Explanation, PortExplanation, PortRisk, PortSettings, Proto, ServiceName,
    SocketEntry, SourceRef,
};

/// Plain-text protocols that are normal to expose, with their secure replacement: (port,
/// protocol, service, alternative). Per port, since a rule may claim the plain and the TLS port
/// together (`exposed-http` claims 80 and 443); a rule's own `alternative` wins.
const PLAIN_TEXT: &[(u16, Proto, &str, &str)] = &[
    (
        25,
        Tcp,
        "SMTP",
        "For mail clients: submission with TLS on 587/tcp (or implicit TLS on 465/tcp); 25 stays for server-to-server mail, with STARTTLS.",
    ),
    (
        80,
        Tcp,
        "HTTP",
        "HTTPS on 443/tcp, with HTTP only redirecting to it.",
    ),
    (110, Tcp, "POP3", "POP3 over TLS (POP3S) on 995/tcp."),
    (143, Tcp, "IMAP", "IMAP over TLS (IMAPS) on 993/tcp."),
];

/// Names people type for a service that the tables spell otherwise.
const ALIASES: &[(&str, &str)] = &[
    ("postgres", "postgresql"),
    ("pg", "postgresql"),
    ("mongo", "mongodb"),
    ("www", "http"),
    ("k8s", "kube-apiserver"),
    ("docker-api", "docker"),
    ("remote-desktop", "rdp"),
    ("smtps", "submissions"),
];

/// Rules with more ports than this are not expanded into one entry per port by a name look-up
/// (X11 claims 6000–6063): their first port stands for them.
const MAX_RULE_EXPANSION: u32 = 8;

/// The ports `query` names: the port itself, or every port whose curated name, IANA name or
/// audit rule id (`exposed-NAME`, `exposed-NAME-tcp`) is the name, after the [`ALIASES`].
#[must_use]
pub fn ports_for(query: &ExplainQuery, rules: &RuleSet) -> Vec<u16> {
    let name = match query {
        ExplainQuery::Port(port) => return vec![*port],
        ExplainQuery::Name(name) => name.as_str(),
    };
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, real)| real);
    let mut ports = BTreeSet::new();
    ports.extend(
        services::curated()
            .iter()
            .filter(|(_, _, n)| *n == name)
            .map(|(p, _, _)| *p),
    );
    ports.extend(
        services::iana()
            .filter(|(_, _, n)| *n == name)
            .map(|(p, _, _)| p),
    );
    let ids = [
        format!("exposed-{name}"),
        format!("exposed-{name}-tcp"),
        format!("exposed-{name}-udp"),
    ];
    for rule in rules.rules().iter().filter(|r| ids.contains(&r.id)) {
        for range in &rule.ports {
            if u32::from(range.end) - u32::from(range.start) < MAX_RULE_EXPANSION {
                ports.extend(range.start..=range.end);
            } else {
                ports.insert(range.start);
            }
        }
    }
    ports.into_iter().collect()
}

/// Everything known about `port`: `listeners` are this machine's listening rows (any port;
/// those on `port` are kept), `settings` the kernel's port settings.
#[must_use]
pub fn explain_port(
    port: u16,
    rules: &RuleSet,
    settings: &PortSettings,
    listeners: &[SocketEntry],
) -> PortExplanation {
    let names = |table: &mut dyn Iterator<Item = (u16, Proto, &'static str)>| {
        table
            .filter(|(p, _, _)| *p == port)
            .map(|(_, proto, name)| ServiceName {
                proto,
                name: name.to_owned(),
            })
            .collect::<Vec<_>>()
    };
    let iana = names(&mut services::iana());
    let curated = names(&mut services::curated().iter().copied());
    let mut risks = Vec::new();
    for proto in [Tcp, Udp] {
        let plain = PLAIN_TEXT
            .iter()
            .find(|(p, pr, _, _)| *p == port && *pr == proto);
        if let Some(rule) = rules.lookup(port, proto) {
            risks.push(PortRisk {
                rule: Some(rule.id.clone()),
                service: rule.service.clone(),
                proto,
                severity: Some(rule.severity),
                why: rule.why.clone(),
                summary: Some(rule.summary.clone()),
                fix: Some(rule.fix.clone()),
                alternative: rule
                    .alternative
                    .clone()
                    .or_else(|| plain.map(|&(_, _, _, alt)| alt.to_owned())),
                sources: rule
                    .sources
                    .iter()
                    .filter_map(|reference| {
                        let source = rules.source(reference)?;
                        Some(SourceRef {
                            reference: reference.clone(),
                            title: source.title.clone(),
                            url: source.url.clone(),
                        })
                    })
                    .collect(),
            });
        } else if let Some(&(_, _, service, alternative)) = plain {
            risks.push(PortRisk {
                rule: None,
                service: service.to_owned(),
                proto,
                severity: None,
                why: Vec::new(),
                summary: None,
                fix: None,
                alternative: Some(alternative.to_owned()),
                sources: Vec::new(),
            });
        }
    }
    PortExplanation {
        port,
        range: port_range(port),
        ephemeral: settings.ephemeral_range.map(|r| r.contains(port)),
        iana,
        curated,
        risks,
        here: listeners
            .iter()
            .filter(|e| e.local_port == port)
            .cloned()
            .collect(),
    }
}

/// The answer to `query`.
#[must_use]
pub fn explain(
    query: &ExplainQuery,
    rules: &RuleSet,
    settings: &PortSettings,
    listeners: &[SocketEntry],
) -> Explanation {
    Explanation {
        query: query.to_string(),
        ephemeral_range: settings.ephemeral_range.map(|r| (r.start, r.end)),
        ports: ports_for(query, rules)
            .into_iter()
            .map(|port| explain_port(port, rules, settings, listeners))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> &'static RuleSet {
        RuleSet::builtin()
    }

    fn name(text: &str) -> ExplainQuery {
        ExplainQuery::Name(text.into())
    }

    #[test]
    fn names_find_their_ports() {
        // (query, ports)
        let cases: [(&str, &[u16]); 9] = [
            ("ssh", &[22]),
            ("postgres", &[5432]),
            ("postgresql", &[5432]),
            ("rdp", &[3389]),
            ("vnc", &[5900, 5901, 5902, 5903]),
            ("dev-server", &[3000, 4000, 5000, 8000, 9000]),
            // IANA only: not in the curated table.
            ("gopher", &[70]),
            ("tftp", &[69]),
            ("no-such-service", &[]),
        ];
        for (query, want) in cases {
            assert_eq!(ports_for(&name(query), rules()), want, "{query}");
        }
        assert_eq!(ports_for(&ExplainQuery::Port(8), rules()), [8]);
        // The registry names all 64 X11 ports.
        assert_eq!(ports_for(&name("x11"), rules()).len(), 64);
    }

    #[test]
    fn a_port_gets_registrations_range_rule_and_alternative() {
        let settings = PortSettings {
            ephemeral_range: Some(crate::model::PortRange {
                start: 32768,
                end: 60999,
            }),
            ..PortSettings::default()
        };
        let telnet = explain_port(23, rules(), &settings, &[]);
        assert_eq!(telnet.range, crate::model::IanaRange::System);
        assert_eq!(telnet.ephemeral, Some(false));
        assert!(telnet.iana.iter().any(|s| s.name == "telnet"));
        assert_eq!(telnet.curated.len(), 1);
        let risk = &telnet.risks[0];
        assert_eq!(risk.rule.as_deref(), Some("exposed-telnet"));
        assert!(risk.alternative.as_deref().unwrap_or("").contains("SSH"));
        assert!(!risk.sources.is_empty());

        // A rule without an alternative of its own gets the plain-text one of its port only.
        let http = explain_port(80, rules(), &settings, &[]);
        assert_eq!(http.risks.len(), 1);
        assert_eq!(http.risks[0].rule.as_deref(), Some("exposed-http"));
        assert!(
            http.risks[0]
                .alternative
                .as_deref()
                .unwrap_or("")
                .contains("443")
        );
        let https = explain_port(443, rules(), &settings, &[]);
        assert!(https.risks.iter().all(|r| r.alternative.is_none()));
        // No rule: the alternative alone.
        let pop3 = explain_port(110, rules(), &settings, &[]);
        assert_eq!(pop3.risks.len(), 1);
        assert_eq!(
            (pop3.risks[0].rule.as_deref(), pop3.risks[0].severity),
            (None, None)
        );
        assert!(
            pop3.risks[0]
                .alternative
                .as_deref()
                .unwrap_or("")
                .contains("995")
        );

        let dynamic = explain_port(55555, rules(), &settings, &[]);
        assert_eq!(dynamic.range, crate::model::IanaRange::Dynamic);
        assert_eq!(dynamic.ephemeral, Some(true));
        let unknown_range = explain_port(55555, rules(), &PortSettings::default(), &[]);
        assert_eq!(unknown_range.ephemeral, None);

        let mut row = SocketEntry::test_listener("0.0.0.0", 55555);
        row.local_port = 55555;
        let held = explain_port(55555, rules(), &settings, &[row.clone()]);
        assert_eq!(held.here, vec![row]);
        assert!(held.is_known());
    }

    #[test]
    fn unknown_ports_and_names_are_not_found() {
        let settings = PortSettings::default();
        let found = |q: ExplainQuery| explain(&q, rules(), &settings, &[]).found();
        assert!(found(ExplainQuery::Port(22)));
        assert!(found(name("rdp")));
        assert!(!found(name("no-such-service")));
        // 1023/tcp+udp is reserved in the registry without a name; nothing curated or ruled.
        let unregistered = (1..=65535u16)
            .find(|&p| !explain_port(p, rules(), &settings, &[]).is_known())
            .unwrap_or(0);
        assert!(unregistered > 0);
        assert!(!found(ExplainQuery::Port(unregistered)));
    }
}
